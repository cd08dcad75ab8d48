"""The layer palette: every catalogue entry under its category, search, tooltips, drags and activation."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from playground.core.layers import CATEGORIES, LAYERS, by_category
from playground.ui.palette import LAYER_MIME, LayerPalette, layer_mime_data


@pytest.fixture
def palette(qtbot):
    widget = LayerPalette()
    qtbot.addWidget(widget)
    widget.resize(260, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_every_entry_sits_under_its_category_in_catalogue_order(palette):
    tree = palette.tree
    shown = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert shown == [c for c in CATEGORIES if by_category()[c]]
    seen = []
    for i in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(i)
        assert group.isExpanded()
        children = [group.child(j).text(0) for j in range(group.childCount())]
        assert children == [t.name for t in by_category()[group.text(0)]]
        seen += children
    assert sorted(seen) == sorted(LAYERS)


def test_tooltips_are_the_one_line_docs(palette):
    for name, item in palette.entries.items():
        assert item.toolTip(0) == LAYERS[name].doc


def test_search_filters_by_name_and_doc_and_hides_empty_categories(palette, qtbot):
    qtbot.keyClicks(palette.search, "CONV")
    assert palette.visible_entries() == ["Conv1d", "Conv2d", "ConvTranspose2d"]
    assert not palette.categories["Convolution"].isHidden()
    assert palette.categories["Activation"].isHidden()
    assert palette.categories["Linear"].isHidden()

    palette.search.setText("log-probab")  # only in a doc: "Log of Softmax; pairs with NLLLoss." does not match
    assert palette.visible_entries() == []
    palette.search.setText("squashes")  # in the docs of Sigmoid and Tanh only
    assert palette.visible_entries() == ["Sigmoid", "Tanh"]
    assert [c for c, item in palette.categories.items() if not item.isHidden()] == ["Activation"]

    palette.search.clear()
    assert palette.visible_entries() == list(palette.entries)


def test_mime_data_carries_the_type_name(palette):
    assert bytes(layer_mime_data("Conv2d").data(LAYER_MIME)) == b"Conv2d"
    item = palette.entries["MaxPool2d"]
    palette.tree.setCurrentItem(item)
    mime = palette.tree.mimeData(palette.tree.selectedItems())
    assert mime.formats() == [LAYER_MIME]
    assert bytes(mime.data(LAYER_MIME)) == b"MaxPool2d"
    assert item.flags() & Qt.ItemIsDragEnabled
    assert not palette.categories["Pooling"].flags() & Qt.ItemIsDragEnabled


def test_double_click_and_enter_emit_layer_activated(palette, qtbot):
    tree = palette.tree
    item = palette.entries["Dropout"]
    tree.scrollToItem(item)
    center = tree.visualItemRect(item).center()
    with qtbot.waitSignal(palette.layer_activated) as blocker:
        # A real double click: the first click, then the press Qt reports as a double click.
        QTest.mouseClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, center)
        QTest.mouseDClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, center)
    assert blocker.args == ["Dropout"]

    tree.setFocus()
    tree.setCurrentItem(palette.entries["GELU"])
    with qtbot.waitSignal(palette.layer_activated) as blocker:
        QTest.keyClick(tree, Qt.Key_Return)
    assert blocker.args == ["GELU"]

    tree.setCurrentItem(palette.categories["Activation"])
    with qtbot.assertNotEmitted(palette.layer_activated):
        QTest.keyClick(tree, Qt.Key_Return)


def test_enter_in_search_selects_the_first_match(palette, qtbot):
    palette.search.setText("lstm")
    QTest.keyClick(palette.search, Qt.Key_Return)
    assert palette.tree.currentItem() is palette.entries["LSTM"]
    with qtbot.waitSignal(palette.layer_activated) as blocker:
        QTest.keyClick(palette.tree, Qt.Key_Return)
    assert blocker.args == ["LSTM"]


def test_not_editable_while_training(palette, qtbot):
    palette.set_enabled_for_editing(False)
    assert not palette.tree.dragEnabled()
    palette.tree.setCurrentItem(palette.entries["ReLU"])
    with qtbot.assertNotEmitted(palette.layer_activated):
        QTest.keyClick(palette.tree, Qt.Key_Return)
    palette.set_enabled_for_editing(True)
    assert palette.tree.dragEnabled()
