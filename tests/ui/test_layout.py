"""The layout a person finds at launch: it fits the screen, a broken saved one is not brought back,
and View > Reset layout puts every panel back."""

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox, QPushButton, QTabBar

from playground.ui import layout
from playground.ui.main_window import MainWindow


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def open_window(qtbot, settings) -> MainWindow:
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def dock(win, name) -> QDockWidget:
    return win.findChild(QDockWidget, name)


def test_the_first_window_fits_the_screen(qtbot, settings):
    win = open_window(qtbot, settings)
    screen = win.screen().availableGeometry()
    assert screen.contains(win.frameGeometry()), (screen, win.frameGeometry())
    start = win.findChild(QPushButton, "startButton")
    top_left = start.mapToGlobal(start.rect().topLeft())
    assert start.isVisible() and screen.contains(QRect(top_left, start.size()))
    assert layout.layout_problem(win) is None


@pytest.mark.parametrize("screen", [QRect(0, 0, 1024, 700), QRect(0, 0, 1920, 1080), QRect(1920, 0, 1280, 800)])
def test_first_geometry_is_within_the_available_screen(screen):
    rect = layout.first_geometry(screen)
    assert screen.contains(rect)
    assert rect.width() <= layout.FIRST_SIZE.width() and rect.height() <= layout.FIRST_SIZE.height()


def test_a_relaunch_does_not_bring_back_a_palette_that_crushes_the_editor(qtbot, settings):
    first = open_window(qtbot, settings)
    first.editor.setMinimumSize(0, 0)   # as an older version let it be: nothing kept the editor wide
    first.resizeDocks([dock(first, "paletteDock")], [first.width() - 300], Qt.Horizontal)
    first.layout().activate()
    assert first.editor.width() < 100   # the state the person found at relaunch
    first.close()

    second = open_window(qtbot, settings)
    assert second.editor.width() >= layout.EDITOR_MIN.width()
    assert dock(second, "paletteDock").width() <= second.width() * layout.SIDE_DOCK_MAX


def test_a_layout_with_a_dock_out_of_bounds_is_refused_and_reset(qtbot, settings):
    win = open_window(qtbot, settings)
    win.editor.setMinimumSize(0, 0)
    win.findChild(QDockWidget, "trainingDock").setMinimumWidth(int(win.width() * 0.5))
    win.layout().activate()
    assert layout.layout_problem(win) is not None
    win.findChild(QDockWidget, "trainingDock").setMinimumWidth(0)
    win.editor.setMinimumSize(layout.EDITOR_MIN)
    win._state_restored, win._layout_pending = True, True   # as at a launch that restored this state
    win._first_layout()
    assert layout.layout_problem(win) is None
    assert "saved layout did not fit" in win.statusBar().currentMessage()


def test_a_sane_saved_layout_is_restored(qtbot, settings):
    first = open_window(qtbot, settings)
    first.resizeDocks([dock(first, "paletteDock")], [150], Qt.Horizontal)
    first.resizeDocks([dock(first, "plotsDock")], [320], Qt.Vertical)
    dock(first, "viewsDock").hide()
    first.layout().activate()
    widths = dock(first, "paletteDock").width(), dock(first, "plotsDock").height()
    first.close()

    second = open_window(qtbot, settings)
    assert (dock(second, "paletteDock").width(), dock(second, "plotsDock").height()) == widths
    assert dock(second, "viewsDock").isHidden()   # what the person chose stays chosen
    assert "saved layout" not in second.statusBar().currentMessage()


def test_reset_layout_brings_every_panel_back(qtbot, settings):
    win = open_window(qtbot, settings)
    dock(win, "viewsDock").hide()
    dock(win, "paletteDock").setFloating(True)
    dock(win, "codeDock").raise_()
    win.resizeDocks([dock(win, "trainingDock")], [win.width() // 3], Qt.Horizontal)
    win.reset_layout_action.trigger()
    for d in win.findChildren(QDockWidget):
        assert not d.isFloating() and not d.isHidden(), d.objectName()
    training = dock(win, "trainingDock")
    tabs = win.childAt(training.geometry().bottomLeft() + QPoint(8, 8))   # the tab bar the person sees
    assert isinstance(tabs, QTabBar)
    assert tabs.tabText(tabs.currentIndex()) == "Training"   # Code tabbed behind it, as at first launch
    assert win.dockWidgetArea(dock(win, "paletteDock")) == Qt.LeftDockWidgetArea
    assert layout.layout_problem(win) is None
    view = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    assert win.reset_layout_action in view.actions()


def test_a_frame_built_while_shown_gets_the_first_sizes(qtbot, settings):
    """As the app starts: the frame paints first, the panels arrive once torch is loaded."""
    win = MainWindow(settings=settings, build=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.build()
    qtbot.waitUntil(lambda: not win._layout_pending)
    palette = dock(win, "paletteDock").width()
    assert palette <= layout.SIDE_WIDTHS["paletteDock"] + 10, palette   # not the 400-500 px it grew to
    assert win.editor.width() >= layout.EDITOR_MIN.width()
    assert layout.layout_problem(win) is None


def test_docks_keep_their_size_while_the_views_change(qtbot, settings, examples):
    """The Views dock widened while the person drew (a longer caption): the canvas moved mid-stroke.
    Content that grows or shrinks (other projects' views, long captions) scrolls inside the dock."""
    win = open_window(qtbot, settings)
    qtbot.waitUntil(lambda: not win._layout_pending)
    sizes = {d.objectName(): d.size() for d in win.findChildren(QDockWidget)}
    for name in ("mnist_lenet.json", "spiral.json", "quadratic.json", "xor.json"):
        win.files.open_path(examples / name)
        for view in win.views.views:
            for label in view.findChildren(QLabel):
                label.setText(label.text() + " a caption that grows " * 6)
        win.layout().activate()
        assert {d.objectName(): d.size() for d in win.findChildren(QDockWidget)} == sizes, name


def test_a_relaunch_built_while_shown_brings_back_the_layout_it_left(qtbot, settings):
    """As a person relaunches: the frame paints, the panels arrive and the saved layout is restored.
    Restored into docks just added to the shown frame, the side docks took the editor's room (a
    palette of a third of the window at every relaunch, seen under Xvfb)."""
    widths = []
    for _ in range(3):
        win = MainWindow(settings=settings, build=False)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        win.build()
        qtbot.waitUntil(lambda: not win._layout_pending)
        widths.append((dock(win, "paletteDock").width(), dock(win, "trainingDock").width(), win.editor.width()))
        win.document.undo_stack.setClean()
        assert win.close()   # saves the layout for the next launch
    first = widths[0]
    assert first[0] <= layout.SIDE_WIDTHS["paletteDock"] + 10, widths
    for again in widths[1:]:
        assert all(abs(a - b) <= 2 for a, b in zip(again, first)), widths


def test_at_1024x700_the_editor_start_the_plots_and_every_section_are_usable(qtbot, settings, examples):
    """The small laptop screen of issue 16: the window it opens at there, with the sections as a first
    launch on such a screen folds them."""
    from PySide6.QtWidgets import QScrollArea

    from playground.core.spec import Project

    win = MainWindow(Project.load(examples / "spiral.json"), settings=settings)
    qtbot.addWidget(win)
    win.panel.remember_sections(settings, screen_height=700 - layout.FRAME_ROOM.height())
    win.setGeometry(layout.first_geometry(QRect(0, 0, 1024, 700)))
    win.show()
    qtbot.waitExposed(win)
    win.reset_layout()
    inside = win.rect()

    def shown(widget) -> bool:
        top_left = widget.mapTo(win, widget.rect().topLeft())
        return widget.isVisible() and inside.contains(QRect(top_left, widget.size()))

    assert shown(win.panel.start_button) and win.panel.start_button.visibleRegion().boundingRect() == \
        win.panel.start_button.rect()
    assert win.editor.viewport().height() >= 200 and win.editor.viewport().width() >= layout.EDITOR_MIN.width()
    assert win.plots.loss_plot.width() >= 200 and win.plots.loss_plot.height() >= 120
    assert win.views.width() >= 400
    scroll = win.panel.findChild(QScrollArea)
    assert scroll.verticalScrollBar().maximum() == 0   # five folded lines: every section in sight
    for section in win.panel.sections:
        assert shown(section.header) and not section.header.visibleRegion().isEmpty(), section.title
    win.panel.optimizer.header.click()   # unfolded, the settings scroll under it; Start stays put
    win.layout().activate()
    assert win.panel.optimizer.body.isVisible() and shown(win.panel.start_button)
    assert layout.layout_problem(win) is None


    # after a run the plots still fit their dock, also once the views were made large and back
    from playground.core.training import EpochEvent, StepEvent

    win.plots.begin_run(1, "Run 1", "")
    win.plots.add_steps(1, [StepEvent(1, i, 50, i, 1.0 / i, 0.01, 1000.0) for i in range(1, 51)])
    win.plots.add_epoch(1, EpochEvent(1, 60, 0.5, 0.0311634, 0.96, 1000.0, 0.5, 0.01))
    win.plots.refresh()
    assert win.plots.best_label.isVisible()
    plots_area = win.findChild(QScrollArea, "plotsSplitterScroll")
    for large in (False, True, False):
        if large != win.large_views.action.isChecked():
            win.large_views.action.trigger()
        win.layout().activate()
        if not large:
            bars = plots_area.horizontalScrollBar().maximum(), plots_area.verticalScrollBar().maximum()
            assert bars == (0, 0), f"the Plots dock scrolls {bars}"
