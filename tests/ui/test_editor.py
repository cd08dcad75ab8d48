"""The network editor: cards follow the document; drops, reorder, keys and param edits go through it."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from playground.core.spec import LayerSpec, Project
from playground.ui.cards import (
    CARD_MIME,
    LOCKED_TEXT,
    RED,
    UNREACHABLE_TEXT,
    LayerCard,
    card_mime_data,
)
from playground.ui.document import ProjectDocument
from playground.ui.editor import NetworkEditor
from playground.ui.palette import layer_mime_data


def _editor(qtbot, doc) -> NetworkEditor:
    editor = NetworkEditor(doc)
    qtbot.addWidget(editor)
    editor.resize(600, 900)
    with qtbot.waitActive(editor):  # shortcuts need an active window
        editor.show()
    editor.setFocus()
    return editor


@pytest.fixture
def lenet(qtbot, examples):
    doc = ProjectDocument(Project.load(examples / "mnist_lenet.json"))
    return doc, _editor(qtbot, doc)


@pytest.fixture
def xor(qtbot, examples):
    doc = ProjectDocument(Project.load(examples / "xor.json"))
    return doc, _editor(qtbot, doc)


def types(doc) -> list[str]:
    return [layer.type for layer in doc.layers]


def gap_between(editor, above: int, below: int) -> QPointF:
    """A point in viewport coordinates halfway between two cards."""
    # a structural edit re-lays the cards out when the layout's posted request runs, as between real drags
    QApplication.sendPostedEvents()
    editor.column.layout().activate()
    a, b = editor.cards[above].geometry(), editor.cards[below].geometry()
    point = editor.column.mapTo(editor.viewport(), QPoint(a.center().x(), (a.bottom() + b.top()) // 2))
    return QPointF(point)


def drag_and_drop(editor, mime, pos: QPointF, drop: bool = True) -> tuple[bool, bool]:
    """Enter, move and (optionally) drop as Qt delivers them; returns (enter accepted, line shown while moving)."""
    action = Qt.MoveAction if mime.hasFormat(CARD_MIME) else Qt.CopyAction
    enter = QDragEnterEvent(pos.toPoint(), action, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(editor.viewport(), enter)
    if not enter.isAccepted():
        return False, False
    move = QDragMoveEvent(pos.toPoint(), action, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(editor.viewport(), move)
    shown = editor.insertion_line.isVisible()
    if drop:
        QApplication.sendEvent(editor.viewport(), QDropEvent(pos, action, mime, Qt.LeftButton, Qt.NoModifier))
    else:
        QApplication.sendEvent(editor.viewport(), QDragLeaveEvent())
    return True, shown


def test_cards_show_the_network(lenet):
    doc, editor = lenet
    assert [card.type_label.text() for card in editor.cards] == types(doc)
    assert [card.index_label.text() for card in editor.cards] == [str(i) for i in range(10)]
    assert editor.input_card.shape.text() == "(1, 28, 28)"
    assert "mnist" in editor.input_card.data.text()
    assert editor.cards[0].footer.text() == "→ (10, 24, 24) · 260 params"
    assert editor.cards[2].footer.text() == "→ (10, 12, 12)"
    assert editor.cards[3].inferred["in_channels"].text() == "10"
    assert editor.cards[3].form.editors["out_channels"].value() == 20
    assert editor.summary_card.params.text() == "21,840 parameters · 21,840 trainable"
    assert editor.summary_card.output.text() == "(10,)"


def test_param_edit_updates_later_cards_and_summary_and_undoes(lenet):
    doc, editor = lenet
    cards = list(editor.cards)
    editor.cards[0].form.editors["out_channels"].widget.setValue(6)
    assert doc.layers[0].params["out_channels"] == 6
    assert editor.cards is not cards and editor.cards == cards  # same cards: the spin box keeps focus
    assert editor.cards[0].footer.text() == "→ (6, 24, 24) · 156 params"
    assert editor.cards[3].inferred["in_channels"].text() == "6"
    assert editor.cards[3].footer.text() == "→ (20, 8, 8) · 3,020 params"
    assert editor.summary_card.params.text().startswith(f"{21_840 - 260 - 2_000 + 156:,} parameters")

    doc.undo_stack.undo()
    assert editor.cards[0].form.editors["out_channels"].value() == 10
    assert editor.cards[3].inferred["in_channels"].text() == "10"
    assert editor.summary_card.params.text().startswith("21,840 parameters")


def test_a_broken_layer_is_red_with_the_core_message_and_later_cards_unchecked(lenet):
    doc, editor = lenet
    field = editor.cards[6].form.editors["start_dim"].widget  # Flatten
    field.setFocus()
    assert editor.selected_index == 6  # focusing a card's field selects the card
    QTest.keyClick(field, Qt.Key_Down)
    assert doc.layers[6].params["start_dim"] == 0
    broken = editor.cards[6]
    assert broken.property("status") == "error"
    assert broken.colours()[1] == RED
    assert broken.footer.text() == doc.network_info.layers[6].error
    assert broken.footer.text().startswith("layer 6 Flatten: start_dim 0 is the batch dimension")
    assert [card.property("status") for card in editor.cards[7:]] == ["unreachable"] * 3
    assert editor.cards[7].footer.text() == UNREACHABLE_TEXT
    assert editor.cards[5].property("status") == "ok"
    assert editor.summary_card.fit.property("state") == "error"
    assert "batch dimension" in editor.summary_card.fit.text()

    doc.undo_stack.undo()
    assert [card.property("status") for card in editor.cards] == ["ok"] * 10
    doc.set_layer_param(3, "kernel_size", 15)
    assert editor.cards[3].property("status") == "error" and "too small" in editor.cards[3].footer.text()
    assert editor.cards[6].property("status") == "unreachable"


def test_dropping_a_palette_layer_between_two_cards_inserts_it_there(lenet):
    doc, editor = lenet
    pos = gap_between(editor, 1, 2)
    assert editor.insertion_index_at(pos) == 2
    accepted, shown = drag_and_drop(editor, layer_mime_data("Dropout2d"), pos)
    assert accepted and shown
    assert not editor.insertion_line.isVisible()
    assert types(doc)[:4] == ["Conv2d", "MaxPool2d", "Dropout2d", "ReLU"]
    assert editor.cards[2].type_name == "Dropout2d" and editor.selected_index == 2
    doc.undo_stack.undo()
    assert types(doc)[:3] == ["Conv2d", "MaxPool2d", "ReLU"]


def test_insertion_line_sits_in_the_gap_and_hides_on_leave(lenet):
    doc, editor = lenet
    pos = gap_between(editor, 1, 2)  # away from the edges, where a drag scrolls the editor
    accepted, shown = drag_and_drop(editor, layer_mime_data("ReLU"), pos, drop=False)
    assert accepted and shown
    assert not editor.insertion_line.isVisible()
    mime = layer_mime_data("ReLU")  # kept in a name: the event does not own it
    move = QDragMoveEvent(pos.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    editor.dragMoveEvent(move)
    line = editor.insertion_line.geometry()
    assert editor.cards[1].geometry().bottom() < line.center().y() < editor.cards[2].geometry().top()
    assert len(doc.layers) == 10
    assert editor.insertion_index_at(QPoint(5, 1)) == 0
    summary = editor.column.mapTo(editor.viewport(), editor.summary_card.geometry().center())
    assert editor.insertion_index_at(summary) == 10


def test_unknown_mime_is_refused(lenet):
    doc, editor = lenet
    accepted, _ = drag_and_drop(editor, layer_mime_data("NotALayer"), gap_between(editor, 0, 1))
    assert not accepted and len(doc.layers) == 10


def test_dragging_a_card_reorders(xor):
    doc, editor = xor
    assert bytes(card_mime_data(0).data(CARD_MIME)) == b"0"
    bottom = editor.column.mapTo(editor.viewport(), editor.summary_card.geometry().topLeft())
    accepted, shown = drag_and_drop(editor, card_mime_data(0), QPointF(bottom))
    assert accepted and shown
    assert [(layer.type, layer.params) for layer in doc.layers] == [
        ("Tanh", {}), ("Linear", {"out_features": 2}), ("Linear", {"out_features": 8})]
    assert editor.selected_index == 2

    drag_and_drop(editor, card_mime_data(2), gap_between(editor, 0, 1))  # up: lands where it is dropped
    assert [layer.params.get("out_features") for layer in doc.layers] == [None, 8, 2]
    assert editor.selected_index == 1

    count = doc.undo_stack.count()
    drag_and_drop(editor, card_mime_data(1), gap_between(editor, 1, 2))  # its own gap: nothing moves
    assert doc.undo_stack.count() == count


def test_dragging_a_card_by_its_header_starts_a_card_drag(qtbot):
    card = LayerCard("Linear")
    qtbot.addWidget(card)
    card.update_from(2, LayerSpec("Linear"), None)
    card.show()
    qtbot.waitExposed(card)
    far = QPoint(QApplication.startDragDistance() + 2, 0)
    footer = card.footer.geometry().center()
    with qtbot.assertNotEmitted(card.drag_started):
        QTest.mousePress(card, Qt.LeftButton, Qt.NoModifier, footer)
        QTest.mouseMove(card, footer + far)
        QTest.mouseRelease(card, Qt.LeftButton, Qt.NoModifier, footer + far)
    header = card.header.geometry().center()
    with qtbot.waitSignal(card.drag_started) as blocker:
        QTest.mousePress(card, Qt.LeftButton, Qt.NoModifier, header)
        QTest.mouseMove(card, header + far)
    assert blocker.args == [2]
    QTest.mouseRelease(card, Qt.LeftButton, Qt.NoModifier, header + far)


def test_keyboard_deletes_moves_and_duplicates_the_selected_card(xor, qtbot):
    doc, editor = xor
    with qtbot.waitSignal(editor.layer_selected) as blocker:
        QTest.mouseClick(editor.cards[1], Qt.LeftButton, Qt.NoModifier, QPoint(8, 8))
    assert blocker.args == [1] and editor.cards[1].property("selected")

    QTest.keyClick(editor, Qt.Key_D, Qt.ControlModifier)
    assert types(doc) == ["Linear", "Tanh", "Tanh", "Linear"] and editor.selected_index == 2
    QTest.keyClick(editor, Qt.Key_Down, Qt.ControlModifier)
    assert types(doc) == ["Linear", "Tanh", "Linear", "Tanh"] and editor.selected_index == 3
    QTest.keyClick(editor, Qt.Key_Down, Qt.ControlModifier)  # already last
    assert types(doc) == ["Linear", "Tanh", "Linear", "Tanh"]
    QTest.keyClick(editor, Qt.Key_Up, Qt.ControlModifier)
    QTest.keyClick(editor, Qt.Key_Up, Qt.ControlModifier)
    assert types(doc) == ["Linear", "Tanh", "Tanh", "Linear"] and editor.selected_index == 1
    QTest.keyClick(editor, Qt.Key_Delete)
    assert types(doc) == ["Linear", "Tanh", "Linear"] and editor.selected_index == 1
    assert editor.cards[1].property("selected") and not editor.cards[0].property("selected")

    QTest.keyClick(editor, Qt.Key_Up)  # plain arrows walk the selection
    assert editor.selected_index == 0
    QTest.keyClick(editor, Qt.Key_Escape)
    assert editor.selected_index == -1
    QTest.keyClick(editor, Qt.Key_Delete)  # nothing selected: nothing deleted
    assert len(doc.layers) == 3


def test_locked_document_refuses_edits(xor):
    doc, editor = xor
    editor.select(0)
    doc.set_locked(True)
    assert editor.banner.isVisible() and editor.banner.text() == LOCKED_TEXT
    assert not editor.cards[0].form.isEnabled() and not editor.cards[0].remove_button.isEnabled()
    accepted, _ = drag_and_drop(editor, layer_mime_data("ReLU"), gap_between(editor, 0, 1))
    assert not accepted
    for key, modifier in ((Qt.Key_Delete, Qt.NoModifier), (Qt.Key_D, Qt.ControlModifier),
                          (Qt.Key_Down, Qt.ControlModifier)):
        QTest.keyClick(editor, key, modifier)
    assert types(doc) == ["Linear", "Tanh", "Linear"] and doc.undo_stack.count() == 0

    doc.set_locked(False)
    assert not editor.banner.isVisible() and editor.cards[0].form.isEnabled()
    accepted, _ = drag_and_drop(editor, layer_mime_data("ReLU"), gap_between(editor, 0, 1))
    assert accepted and types(doc) == ["Linear", "ReLU", "Tanh", "Linear"]


def test_summary_says_whether_the_output_fits_the_loss(xor):
    doc, editor = xor
    fit = editor.summary_card.fit
    assert fit.property("state") == "ok" and "fits CrossEntropyLoss" in fit.text()
    editor.cards[2].form.editors["out_features"].widget.setValue(3)
    assert fit.property("state") == "error"
    assert "out_features 2" in fit.text() and "fits" not in fit.text()
    assert editor.summary_card.output.text() == "(3,)"
    doc.undo_stack.undo()
    assert fit.property("state") == "ok"


def test_cards_fold_parameters_left_at_defaults(lenet):
    doc, editor = lenet
    card = editor.cards[0]
    rows = list(card.form.editors)
    dilation = rows.index("dilation")
    assert card.form.layout_.isRowVisible(rows.index("kernel_size"))
    assert not card.form.layout_.isRowVisible(dilation)
    assert card.more_button.text().startswith("5 more")   # four defaults and the inferred in_channels
    assert not card.inferred["in_channels"].isVisibleTo(card)
    card.more_button.click()
    assert card.form.layout_.isRowVisible(dilation)
    card.more_button.click()
    doc.set_layer_param(0, "dilation", 2)  # a value someone set is never hidden
    assert card.form.layout_.isRowVisible(dilation)


def test_an_empty_network_says_what_to_do_next(qtbot):
    doc = ProjectDocument()
    editor = NetworkEditor(doc)
    qtbot.addWidget(editor)
    editor.show()
    for layer in list(doc.layers):
        doc.remove_layer(0)
    assert editor.empty_hint.isVisible() and "Drag one here" in editor.empty_hint.text()
    doc.append_layer("Linear")
    assert not editor.empty_hint.isVisible()
