"""The training panel shows the document's settings, writes edits back as undoable commands, and runs."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QLabel, QProgressBar, QPushButton, QSpinBox, QToolButton,
)

import playground.core.optim as optim
import playground.ui.training_panel as training_panel
from playground.core.data import DATASETS, default_root
from playground.core.progress import Progress
from playground.core.spec import ComponentSpec, DataSpec, Project
from playground.ui.document import ProjectDocument
from playground.ui.training_panel import TrainingPanel


@pytest.fixture
def make_panel(qtbot, examples, monkeypatch):
    def make(example="xor", devices=("cpu",), cpu_bfloat16=False):
        # the same devices on every machine: a GPU runner must not change what the tests see,
        # nor a CPU with bfloat16 instructions
        monkeypatch.setattr(training_panel, "available_devices", lambda: list(devices))
        monkeypatch.setattr(optim, "cpu_has_bfloat16", lambda: cpu_bfloat16)
        document = ProjectDocument(Project.load(examples / f"{example}.json"))
        panel = TrainingPanel(document)
        qtbot.addWidget(panel)
        return panel, document

    return make


def child(panel, cls, name):
    widget = panel.findChild(cls, name)
    assert widget is not None, name
    return widget


def choose(combo: QComboBox, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def test_object_names_exist(make_panel):
    panel, _ = make_panel()
    assert panel.objectName() == "trainingPanel"
    for cls, name in [
        (QComboBox, "datasetCombo"), (QComboBox, "lossCombo"), (QComboBox, "optimizerCombo"),
        (QComboBox, "schedulerCombo"), (QComboBox, "deviceCombo"), (QSpinBox, "batchSizeSpin"),
        (QSpinBox, "epochsSpin"), (QCheckBox, "continueCheck"), (QPushButton, "startButton"),
        (QPushButton, "pauseButton"), (QPushButton, "stopButton"), (QProgressBar, "progressBar"),
    ]:
        child(panel, cls, name)


def test_dataset_combo_lists_the_catalogue_with_labels(make_panel):
    panel, _ = make_panel()
    combo = child(panel, QComboBox, "datasetCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == list(DATASETS)
    assert combo.currentText() == "xor (2-D classification)"
    assert combo.itemData(combo.currentIndex(), Qt.ToolTipRole) == DATASETS["xor"].doc


def test_choosing_a_dataset_edits_the_document_and_rebuilds_the_form(make_panel):
    panel, document = make_panel()
    assert panel.findChild(QToolButton, "rootBrowseButton") is None
    choose(child(panel, QComboBox, "datasetCombo"), "mnist")
    assert document.project.data.dataset == "mnist"
    assert document.network.input_shape == [1, 28, 28]
    assert list(panel.data.form.editors) == [p.name for p in DATASETS["mnist"].params]
    assert panel.data.form.findChild(QToolButton, "rootBrowseButton") is not None
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert child(panel, QComboBox, "datasetCombo").currentData() == "xor"
    assert "samples" in panel.data.form.editors and document.network.input_shape == [2]


def test_editing_lr_is_undoable_in_document_and_widget(make_panel):
    panel, document = make_panel()
    lr = panel.optimizer.form.editors["lr"].widget
    assert lr.value() == pytest.approx(0.03)
    lr.setValue(0.05)
    assert document.project.training.optimizer.params["lr"] == pytest.approx(0.05)
    document.undo_stack.undo()
    assert document.project.training.optimizer.params["lr"] == pytest.approx(0.03)
    assert lr.value() == pytest.approx(0.03)


def test_switching_optimizer_keeps_lr(make_panel):
    panel, document = make_panel()
    choose(child(panel, QComboBox, "optimizerCombo"), "SGD")
    optimizer = document.project.training.optimizer
    assert (optimizer.type, optimizer.params) == ("SGD", {"lr": 0.03})
    assert "momentum" in panel.optimizer.form.editors
    assert panel.optimizer.form.editors["lr"].widget.value() == pytest.approx(0.03)


def test_scheduler_none_and_back(make_panel):
    panel, document = make_panel()
    combo = child(panel, QComboBox, "schedulerCombo")
    assert panel.scheduler.form is None
    choose(combo, "StepLR")
    assert document.project.training.scheduler.type == "StepLR"
    panel.scheduler.form.editors["step_size"].widget.setValue(3)
    assert document.project.training.scheduler.params == {"step_size": 3}
    combo.setCurrentIndex(0)
    assert combo.currentText().startswith("None")
    assert document.project.training.scheduler is None
    assert panel.scheduler.form is None


def test_loss_combo_and_params(make_panel):
    panel, document = make_panel()
    panel.loss.form.editors["label_smoothing"].widget.setValue(0.1)
    assert document.project.training.loss.params == {"label_smoothing": 0.1}
    choose(child(panel, QComboBox, "lossCombo"), "NLLLoss")
    assert document.project.training.loss.type == "NLLLoss"
    assert panel.loss.form is None  # NLLLoss has no parameters to show


def test_spins_write_batch_size_and_epochs(make_panel):
    panel, document = make_panel()
    child(panel, QSpinBox, "batchSizeSpin").setValue(128)
    child(panel, QSpinBox, "epochsSpin").setValue(7)
    child(panel, QSpinBox, "seedSpin").setValue(42)
    child(panel, QCheckBox, "shuffleCheck").setChecked(False)
    t = document.project.training
    assert (t.batch_size, t.epochs, t.seed, t.shuffle) == (128, 7, 42, False)


def test_device_combo_offers_the_available_devices(make_panel):
    panel, _ = make_panel()
    combo = child(panel, QComboBox, "deviceCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == ["cpu"]
    assert not child(panel, QCheckBox, "mixedPrecisionCheck").isEnabled()


def test_mixed_precision_is_offered_on_cuda(make_panel):
    panel, document = make_panel(devices=("cpu", "cuda:0"))
    check = child(panel, QCheckBox, "mixedPrecisionCheck")
    assert not check.isEnabled()
    choose(child(panel, QComboBox, "deviceCombo"), "cuda:0")
    assert document.project.training.device == "cuda:0"
    assert check.isEnabled()
    check.setChecked(True)
    assert document.project.training.mixed_precision is True


def test_mixed_precision_is_offered_on_a_cpu_with_bfloat16(make_panel):
    panel, document = make_panel(cpu_bfloat16=True)
    check = child(panel, QCheckBox, "mixedPrecisionCheck")
    assert check.isEnabled() and "bfloat16" in check.toolTip()
    check.setChecked(True)
    assert document.project.training.mixed_precision is True


def test_an_unavailable_device_is_shown_not_replaced(make_panel, examples):
    panel, document = make_panel()
    project = Project.load(examples / "xor.json")
    project.training.device = "cuda:7"
    document.open(project, None)
    combo = child(panel, QComboBox, "deviceCombo")
    assert combo.currentText() == "cuda:7 (not available here)"
    assert [combo.itemData(i) for i in range(combo.count())] == ["cuda:7", "cpu"]
    assert "cannot be used on this machine" in combo.toolTip()
    assert document.project.training.device == "cuda:7"
    assert document.undo_stack.count() == 0
    choose(combo, "cpu")
    assert document.project.training.device == "cpu"


def test_grad_clip_and_early_stopping_toggle_between_none_and_a_value(make_panel):
    panel, document = make_panel()
    clip, clip_spin = child(panel, QCheckBox, "gradClipCheck"), panel.grad_clip.spin
    patience, patience_spin = child(panel, QCheckBox, "earlyStoppingCheck"), panel.early_stopping.spin
    assert not clip_spin.isEnabled() and not patience_spin.isEnabled()
    clip.setChecked(True)
    clip_spin.setValue(0.5)
    patience.setChecked(True)
    patience_spin.setValue(4)
    t = document.project.training
    assert (t.grad_clip, t.early_stopping) == (0.5, 4)
    clip.setChecked(False)
    patience.setChecked(False)
    t = document.project.training
    assert (t.grad_clip, t.early_stopping) == (None, None)


def test_opening_a_project_updates_every_control_without_edits(make_panel, examples):
    panel, document = make_panel()
    project = Project.load(examples / "mnist_lenet.json")
    t = project.training
    t.optimizer = ComponentSpec("AdamW", {"lr": 0.002})
    t.scheduler = ComponentSpec("StepLR", {"step_size": 4})
    t.batch_size, t.epochs, t.seed = 256, 12, 9
    t.grad_clip, t.early_stopping, t.shuffle, t.drop_last = 2.5, 3, False, True
    project.data.params["root"] = "/data/mnist"
    document.open(project, None)

    assert child(panel, QComboBox, "datasetCombo").currentData() == "mnist"
    assert panel.data.form.editors["root"].widget.text() == "/data/mnist"
    assert child(panel, QComboBox, "lossCombo").currentData() == t.loss.type
    assert child(panel, QComboBox, "optimizerCombo").currentData() == "AdamW"
    assert panel.optimizer.form.editors["lr"].widget.value() == pytest.approx(0.002)
    assert child(panel, QComboBox, "schedulerCombo").currentData() == "StepLR"
    assert panel.scheduler.form.editors["step_size"].widget.value() == 4
    assert [child(panel, QSpinBox, n).value() for n in ("batchSizeSpin", "epochsSpin", "seedSpin")] == [256, 12, 9]
    assert panel.grad_clip.check.isChecked() and panel.grad_clip.spin.value() == pytest.approx(2.5)
    assert panel.early_stopping.check.isChecked() and panel.early_stopping.spin.value() == 3
    assert not child(panel, QCheckBox, "shuffleCheck").isChecked()
    assert child(panel, QCheckBox, "dropLastCheck").isChecked()
    assert document.undo_stack.count() == 0
    assert document.project.training == t


def test_data_error_is_shown(make_panel):
    panel, document = make_panel()
    label = child(panel, QLabel, "dataErrorLabel")
    assert not label.isVisibleTo(panel)
    document.open(Project(document.project.network, DataSpec("gaussians", {"classes": 50})), None)
    assert label.isVisibleTo(panel)
    assert label.text() == document.data_error and "classes" in label.text()


def test_locked_disables_settings_but_not_run_controls(make_panel):
    panel, document = make_panel()
    document.set_locked(True)
    panel.set_state("running")
    for cls, name in [(QComboBox, "datasetCombo"), (QComboBox, "optimizerCombo"), (QSpinBox, "epochsSpin"),
                      (QComboBox, "deviceCombo")]:
        assert not child(panel, cls, name).isEnabled(), name
    # what a run follows while it trains stays editable (tests/ui/test_live_controls.py)
    assert panel.optimizer.form.editors["lr"].widget.isEnabled() and child(panel, QSpinBox, "batchSizeSpin").isEnabled()
    assert not panel.optimizer.form.editors["eps"].widget.isEnabled()
    assert child(panel, QPushButton, "pauseButton").isEnabled()
    assert child(panel, QPushButton, "stopButton").isEnabled()
    document.set_locked(False)
    assert child(panel, QComboBox, "datasetCombo").isEnabled()


@pytest.mark.parametrize("state, enabled", [
    ("idle", (True, False, False)), ("running", (False, True, True)), ("paused", (False, True, True)),
])
def test_set_state_enables_the_right_buttons(make_panel, state, enabled):
    panel, _ = make_panel()
    panel.set_state(state)
    buttons = [child(panel, QPushButton, n) for n in ("startButton", "pauseButton", "stopButton")]
    assert tuple(b.isEnabled() for b in buttons) == enabled
    assert buttons[1].text() == ("Resume" if state == "paused" else "Pause")


def test_buttons_emit_their_signals(make_panel, qtbot):
    panel, _ = make_panel()
    with qtbot.waitSignal(panel.start_requested):
        qtbot.mouseClick(child(panel, QPushButton, "startButton"), Qt.LeftButton)
    panel.set_state("running")
    pause = child(panel, QPushButton, "pauseButton")
    with qtbot.waitSignal(panel.pause_toggled) as blocker:
        qtbot.mouseClick(pause, Qt.LeftButton)
    assert blocker.args == [True] and pause.text() == "Resume"
    with qtbot.waitSignal(panel.pause_toggled) as blocker:
        qtbot.mouseClick(pause, Qt.LeftButton)
    assert blocker.args == [False] and pause.text() == "Pause"
    with qtbot.waitSignal(panel.stop_requested):
        qtbot.mouseClick(child(panel, QPushButton, "stopButton"), Qt.LeftButton)


def test_set_start_blocked_disables_start_with_the_reason(make_panel, qtbot):
    panel, _ = make_panel()
    start = child(panel, QPushButton, "startButton")
    reason = "CrossEntropyLoss needs one output per class"
    panel.set_start_blocked(reason)
    assert not start.isEnabled() and start.toolTip() == reason
    with qtbot.assertNotEmitted(panel.start_requested):
        qtbot.mouseClick(start, Qt.LeftButton)
    panel.set_start_blocked(None)
    assert start.isEnabled() and start.toolTip() != reason


def test_continue_check(make_panel):
    panel, _ = make_panel()
    check = child(panel, QCheckBox, "continueCheck")
    panel.set_can_continue(False, "the network changed since the last run")
    assert not check.isEnabled() and check.toolTip() == "the network changed since the last run"
    assert not panel.continue_requested
    panel.set_can_continue(True, "")
    check.setChecked(True)
    assert check.isEnabled() and panel.continue_requested


def test_show_progress_formats_bar_and_labels(make_panel):
    panel, _ = make_panel()
    panel.show_progress(Progress(3, 10, 120, 469, 0.25, 1234.0, 12.0, 36.0))
    bar = child(panel, QProgressBar, "progressBar")
    assert "epoch 3/10" in bar.text() and "step 120/469" in bar.text() and "25%" in bar.text()
    assert child(panel, QLabel, "etaLabel").text() == "ETA 0:36"
    assert child(panel, QLabel, "elapsedLabel").text() == "elapsed 0:12"
    assert child(panel, QLabel, "speedLabel").text() == "1,234 samples/s"
    panel.reset_progress()
    assert bar.value() == 0 and "epoch" not in bar.text()
    assert child(panel, QLabel, "etaLabel").text() == "ETA —"


@pytest.mark.parametrize("root, start", [("", str(default_root())), ("/data/mnist", "/data/mnist")])
def test_folder_picker_sets_data_root(make_panel, qtbot, monkeypatch, tmp_path, root, start):
    panel, document = make_panel("mnist_lenet")
    if root:
        panel.data.form.editors["root"].widget.setText(root)
        panel.data.form.editors["root"].widget.editingFinished.emit()
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda parent, caption, directory: asked.append(directory) or str(tmp_path))
    qtbot.mouseClick(child(panel, QToolButton, "rootBrowseButton"), Qt.LeftButton)
    assert asked == [start]
    assert document.project.data.params["root"] == str(tmp_path)
    assert panel.data.form.editors["root"].widget.text() == str(tmp_path)


def test_sections_fold_to_one_line_that_says_what_they_hold(make_panel, qtbot):
    panel, document = make_panel()
    panel.show()
    qtbot.waitExposed(panel)
    assert [s.title for s in panel.sections] == ["Data", "Loss", "Optimizer", "Scheduler", "Training"]
    combo = child(panel, QComboBox, "optimizerCombo")
    qtbot.mouseClick(panel.optimizer.header, Qt.LeftButton)   # as a person folds it
    assert not panel.optimizer.expanded and not combo.isVisible()
    assert panel.optimizer.header.text() == "Optimizer  ·  Adam, lr 0.03"
    document.set_training("epochs", 7)
    qtbot.keyClick(panel.training.header, Qt.Key_Space)        # from the keyboard too
    assert "7 epochs" in panel.training.header.text()
    qtbot.mouseClick(panel.optimizer.header, Qt.LeftButton)
    assert panel.optimizer.expanded and combo.isVisible() and panel.optimizer.header.text() == "Optimizer"


def test_folded_sections_are_remembered(make_panel, tmp_path):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    panel, _ = make_panel()
    panel.remember_sections(settings)   # first launch: loss and scheduler folded, the rest open
    assert [s.expanded for s in panel.sections] == [True, False, True, False, True]
    panel.data.set_expanded(False)
    panel.loss.set_expanded(True)
    again, _ = make_panel()
    again.remember_sections(settings)
    assert [s.expanded for s in again.sections] == [False, True, True, False, True]


def test_a_run_locks_the_settings_but_not_the_folding(make_panel):
    panel, document = make_panel()
    document.set_locked(True)
    assert not panel.loss.body.isEnabled() and panel.loss.header.isEnabled()
    assert not panel.optimizer.combo.isEnabled() and panel.optimizer.header.isEnabled()
    panel.optimizer.set_expanded(False)
    assert not panel.optimizer.expanded


def test_on_a_short_screen_every_section_starts_folded(make_panel, tmp_path):
    from PySide6.QtCore import QSettings

    panel, _ = make_panel()
    panel.remember_sections(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), screen_height=668)
    assert not any(s.expanded for s in panel.sections)
    assert [s.header.text() for s in panel.sections] == [
        "Data  ·  xor (2-D classification)", "Loss  ·  CrossEntropyLoss", "Optimizer  ·  Adam, lr 0.03",
        "Scheduler  ·  None", "Training  ·  " + panel.training._summary]


def test_a_section_unfolded_below_the_fold_scrolls_into_sight(make_panel, qtbot):
    from PySide6.QtWidgets import QScrollArea

    panel, _ = make_panel()
    for section in panel.sections:
        section.set_expanded(False)
    panel.resize(340, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.data.set_expanded(True)
    bar = panel.findChild(QScrollArea).verticalScrollBar()
    assert bar.value() == 0
    qtbot.mouseClick(panel.training.header, Qt.LeftButton)
    qtbot.waitUntil(lambda: bar.value() > 0)
    assert not panel.training.visibleRegion().isEmpty() and not panel.training.header.visibleRegion().isEmpty()
