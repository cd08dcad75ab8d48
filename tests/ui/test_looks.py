"""The window's looks a newcomer meets: a toolbar of the main actions with their icons, Pause that
follows the run, a plot that says what to do before the first run, the views made large on request,
and a text size kept across launches."""

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMessageBox, QToolBar

from playground.core.spec import Project
from playground.ui.main_window import MainWindow
from playground.ui.text_size import SETTING, TextSize


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    return QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings, examples):
    win = MainWindow(Project.load(examples / "spiral.json"), settings=settings)
    qtbot.addWidget(win)
    with qtbot.waitActive(win):   # shortcuts reach only the active window
        win.show()
        win.activateWindow()
    yield win
    win.text_size.reset()   # the application's font is shared by every later test


def test_the_toolbar_holds_the_menus_own_actions_with_icons(window):
    bar = window.findChild(QToolBar, "mainToolBar")
    actions = [a for a in bar.actions() if not a.isSeparator()]
    files = {a.text(): a for a in window.file_menu.actions()}
    assert actions == [files["&New"], files["&Open…"], files["&Save"], window.undo_action, window.redo_action,
                       window.start_action, window.run_actions.pause, window.stop_action,
                       window.find_layer_action, window.large_views.action]
    assert all(not a.icon().isNull() for a in actions)
    assert bar.isVisible() and "F5" in window.start_action.toolTip()


def test_pause_and_stop_follow_the_run(window):
    pause, stop, start = window.run_actions.pause, window.stop_action, window.start_action
    assert not pause.isEnabled() and not stop.isEnabled() and start.isEnabled()
    window.panel.set_state("running")   # as the session shows a run
    assert pause.isEnabled() and stop.isEnabled() and not start.isEnabled()
    pause.trigger()                      # goes through the panel's Pause button
    assert window.panel._state == "paused" and pause.text() == "&Resume"
    pause.trigger()
    assert window.panel._state == "running" and pause.text() == "&Pause"
    window.panel.set_state("idle")
    assert not pause.isEnabled() and start.isEnabled()


def test_before_the_first_run_the_loss_plot_says_what_to_do(window):
    plots = window.plots
    assert plots.empty_state.isVisible() and "Start (F5)" in plots.empty_state.plain_text()
    assert plots.empty_state.geometry() == plots.loss_plot.rect()   # covers the empty axes
    plots.begin_run(1, "Run 1", "")
    assert not plots.empty_state.isVisible()
    plots.remove_run(1)
    assert plots.empty_state.isVisible()


def test_the_lr_plot_appears_once_a_scheduler_moves_the_lr_and_the_step_axis_is_drawn_once(window):
    from playground.core.training import StepEvent

    plots = window.plots

    def report(run_id, first, lrs):
        plots.add_steps(run_id, [StepEvent(1, i + 1, 50, first + i, 1.0, lr, 1000.0) for i, lr in enumerate(lrs)])

    def step_axes():
        return [p.objectName() for p in (plots.loss_plot, plots.accuracy_plot, plots.lr_plot)
                if not p.isHidden() and p.getPlotItem().getAxis("bottom").style["showValues"]]

    plots.begin_run(1, "Run 1", "")
    report(1, 1, [0.01] * 10)   # a constant lr: a flat line is not worth a third of a short dock
    assert plots.lr_plot.isHidden() and step_axes() == ["lossPlot"]
    report(1, 11, [0.01, 0.009, 0.008])
    assert not plots.lr_plot.isHidden() and step_axes() == ["lrPlot"]


def test_large_views_gives_the_views_most_of_the_window_and_back(qtbot, window, settings):
    views = window.findChild(QDockWidget, "viewsDock")
    qtbot.waitUntil(lambda: not window._layout_pending)
    before = {d.objectName(): d.size() for d in window.findChildren(QDockWidget) if d.isVisible()}
    window.large_views.action.trigger()
    assert views.height() > window.height() * 0.6 and views.width() > window.width() * 0.6
    assert window.editor.height() >= 100
    window._save_settings()   # quitting while large keeps the layout it was made large from
    window.large_views.action.trigger()
    assert {d.objectName(): d.size() for d in window.findChildren(QDockWidget) if d.isVisible()} == before
    assert window.restoreState(settings.value("window/state"))
    assert views.size() == before["viewsDock"]
    window.large_views.action.trigger()
    window.reset_layout_action.trigger()
    assert not window.large_views.action.isChecked() and views.height() < window.height() * 0.6


def test_text_size_keys_scale_the_whole_application_and_are_kept(qtbot, window, settings):
    base = TextSize.base_font().pointSizeF()
    window.editor.setFocus()
    qtbot.keySequence(window.editor, QKeySequence("Ctrl+="))   # typed: Qt's shortcut map decides
    bigger = QApplication.font().pointSizeF()
    assert bigger > base
    qtbot.waitUntil(lambda: window.panel.start_button.font().pointSizeF() == bigger)   # Qt posts the change
    assert window.panel.optimizer.header.font().bold()   # a bold header scales with the rest
    assert window.panel.optimizer.header.font().pointSizeF() == bigger
    assert float(settings.value(SETTING)) == window.text_size.scale > 1
    again = TextSize(settings)   # the next launch reads at the size chosen
    assert QApplication.font().pointSizeF() == bigger and again.scale == window.text_size.scale
    qtbot.keySequence(window.editor, QKeySequence("Ctrl+0"))
    assert QApplication.font().pointSizeF() == base
    qtbot.keySequence(window.editor, QKeySequence("Ctrl+-"))
    assert QApplication.font().pointSizeF() < base
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    names = {a.text() for a in view.actions()}
    assert {"Lar&ger text", "S&maller text", "Reset te&xt size", "&Large views"} <= names


def test_the_accuracy_plot_shown_mid_run_gets_its_share_of_the_height(qtbot, window):
    from playground.core.training import EpochEvent

    plots = window.plots
    plots.begin_run(1, "Run 1", "")
    plots.add_epoch(1, EpochEvent(1, 5, 0.5, 0.4, 0.9, 1000.0, 0.5, 0.01))
    assert not plots.accuracy_plot.isHidden()
    loss, accuracy = plots.loss_plot.height(), plots.accuracy_plot.height()
    assert accuracy >= 0.5 * loss, (loss, accuracy)   # 3 : 2, not the 10 px it was left
