"""The training panel: the document's data, loss, optimizer and run settings, the run buttons and progress."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from shiboken6 import Shiboken
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme
from ..core.data import DATASETS, REGRESSION, DatasetType, default_root
from ..core.errors import PlaygroundError
from ..core.losses import LOSSES
from ..core.optim import OPTIMIZERS, SCHEDULERS, available_devices, check_device, mixed_precision_dtype
from ..core.params import Choice
from ..core.progress import Progress, format_duration
from ..core.spec import MAX_BATCH, MAX_EPOCHS, MAX_PENALTY, MAX_SEED
from .data_settings import TABLE_FILTER, AugmentBox, DataSummary, TargetCombo
from .document import ProjectDocument
from .param_editors import ParamForm
from .plane_controls import SLIDER_PARAMS, PlaneDataControls
from .sections import CollapsibleSection, remember

_NONE = ""  # combo data of the "None" entry: an item's data cannot reliably hold None
_START_TIP = "Train the network with these settings."
_CONTINUE_TIP = "Train on from the weights the last run ended with, instead of freshly initialised ones."
_ERROR_STYLE = theme.ERROR_STYLE

PAUSED_PREFIX = "Paused — "   # on the progress bar while a run is paused
SHORT_SCREEN = 800   # px of available height: below it, the sections start folded
FIRST_EXPANDED = {"dataset": True, "loss": False, "optimizer": True, "scheduler": False, "training": True}


_SOURCE_WORDS = {"idx": "28×28 grey images", "cifar": "32×32 RGB images", "folder": "your images, a folder per class",
                 "table": "your CSV or TSV table"}


def _dataset_label(kind: DatasetType) -> str:
    """What the entry gives, true of every project that chooses it (the summary line says the rest)."""
    what = _SOURCE_WORDS.get(kind.source) or (
        ("2-D" if kind.plane else "1-D") + " regression" if kind.task == REGRESSION else "2-D classification")
    return f"{kind.name} ({what})"


def _compact(layout, spacing: int = 4):
    layout.setContentsMargins(8, 6, 8, 8)
    layout.setSpacing(spacing)
    return layout


def _rate_spin(name: str, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(objectName=name, minimum=0.0, maximum=MAX_PENALTY, decimals=6, toolTip=tip)
    spin.setKeyboardTracking(False)
    spin.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
    spin.setSpecialValueText("off")   # 0
    return spin


def _spin(name: str, minimum: int, maximum: int, suffix: str = "", value: int = 0) -> QSpinBox:
    spin = QSpinBox(objectName=name, minimum=minimum, maximum=maximum, suffix=suffix, value=value)
    spin.setKeyboardTracking(False)  # typing "128" is one edit, not three
    spin.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
    return spin


class _ChoiceSection(CollapsibleSection):
    """A catalogue choice in a combo and the chosen entry's parameter form, rebuilt when the choice changes."""

    chosen = Signal(object)              # the entry's name, or None for the "None" entry
    param_changed = Signal(str, object)  # name, checked value

    def __init__(self, title: str, combo_name: str, catalogue: dict[str, Choice], label=lambda c: c.name,
                 none_text: str | None = None):
        super().__init__(title, combo_name.removesuffix("Combo"))
        self.catalogue = catalogue
        self.combo = QComboBox(objectName=combo_name)
        # long labels must not widen a narrow dock; the popup still shows them in full
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        if none_text:
            self.combo.addItem(none_text, _NONE)
        for entry in catalogue.values():
            self.combo.addItem(label(entry), entry.name)
            self.combo.setItemData(self.combo.count() - 1, entry.doc, Qt.ToolTipRole)
        self.combo.currentIndexChanged.connect(self._on_combo_current_index_changed)
        self.form: ParamForm | None = None
        self._shown: object = self  # the type the form was built for; `self`: none yet
        self.body_layout.addWidget(self.combo)
        self._forms = QVBoxLayout()
        self.body_layout.addLayout(self._forms)

    def show_choice(self, type_: str | None, params: dict) -> bool:
        """Show `type_` with `params`; True when the form was rebuilt (a new type)."""
        self.combo.setCurrentIndex(self.combo.findData(type_ or _NONE))
        entry = self.catalogue.get(type_)
        self.combo.setToolTip(entry.doc if entry else "")
        if type_ == self._shown:
            if self.form is not None:
                self.form.set_values(params)
            return False
        if self.form is not None:
            # deleteLater: this may run inside a signal of the old form
            self._forms.removeWidget(self.form)
            self.form.hide()
            self.form.deleteLater()
            self.form = None
        if entry is not None and entry.params:
            self.form = ParamForm(entry.params, params)
            self.form.param_changed.connect(self.param_changed)
            self._forms.addWidget(self.form)
        self._shown = type_
        return True

    def _on_combo_current_index_changed(self, index: int) -> None:
        data = self.combo.itemData(index)
        self.chosen.emit(None if data == _NONE else data)


class _OptionalValue(QWidget):
    """A check box that turns a value on (the spin box's) or off (None)."""

    value_changed = Signal(object)  # the value, or None when off

    def __init__(self, check: QCheckBox, spin: QAbstractSpinBox, parent: QWidget | None = None):
        super().__init__(parent)
        self.check, self.spin = check, spin
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(check)
        layout.addWidget(spin, 1)
        check.toggled.connect(self._on_check_toggled)
        spin.valueChanged.connect(self._on_spin_value_changed)

    def set_value(self, value) -> None:
        self.check.setChecked(value is not None)
        self.spin.setEnabled(value is not None)
        if value is not None:
            self.spin.setValue(value)

    def _on_check_toggled(self, on: bool) -> None:
        self.spin.setEnabled(on)
        self.value_changed.emit(self.spin.value() if on else None)

    def _on_spin_value_changed(self, value) -> None:
        if self.check.isChecked():
            self.value_changed.emit(value)


class TrainingPanel(QWidget):
    start_requested = Signal()    # no payload: the run uses the document's settings and `continue_requested`
    pause_toggled = Signal(bool)  # True: pause, False: resume
    stop_requested = Signal()     # no payload
    step_requested = Signal(str)  # "step" | "epoch": train that much, then pause (a run starts if none is)
    state_changed = Signal(str)   # "idle" | "running" | "paused", after the buttons show it

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.document = document
        self._updating = False  # True while widgets show the document: their signals are not edits
        self._state = "idle"
        self._start_blocked: str | None = None
        self._can_continue = False
        self._locked: list[QWidget] = []   # what a run disabled, to enable again after it

        self.data = _ChoiceSection("Data", "datasetCombo", DATASETS, _dataset_label)
        self.data_summary = DataSummary()
        self.data_error = QLabel(objectName="dataErrorLabel", wordWrap=True, styleSheet=_ERROR_STYLE)
        self.augment_box = AugmentBox()
        self.augment_box.augment_edited.connect(self._on_augment_box_augment_edited)
        self.target_combo: TargetCombo | None = None   # a table's columns, in its form
        self.plane_controls = PlaneDataControls(document)   # points of the plane: features, noise, share, new data
        for widget in (self.data_summary, self.data_error, self.augment_box, self.plane_controls):
            self.data.body_layout.addWidget(widget)
        self.loss = _ChoiceSection("Loss", "lossCombo", LOSSES)
        self.optimizer = _ChoiceSection("Optimizer", "optimizerCombo", OPTIMIZERS)
        self.scheduler = _ChoiceSection("Scheduler", "schedulerCombo", SCHEDULERS, none_text="None (constant lr)")

        self.training = self._build_training_box()
        self.sections = [self.data, self.loss, self.optimizer, self.scheduler, self.training]

        self._settings = QWidget(objectName="trainingSettings")
        column = QVBoxLayout(self._settings)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(2)
        for section in self.sections:
            column.addWidget(section)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.NoFocus)   # a Tab stop with nothing to show; Tab scrolls to each field
        scroll.setWidget(self._settings)
        self._scroll = scroll
        for section in self.sections:   # unfolded below the fold: brought into sight
            section.expanded_changed.connect(
                lambda on, section=section: self._on_section_expanded_changed(section, on))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self._build_run_box())  # outside the scroll area: always in reach

        self.data.chosen.connect(self._on_data_chosen)
        self.data.param_changed.connect(self._on_data_param_changed)
        for kind in ("loss", "optimizer", "scheduler"):
            section = getattr(self, kind)
            section.chosen.connect(lambda type_, kind=kind: self._on_component_chosen(kind, type_))
            section.param_changed.connect(
                lambda name, value, kind=kind: self._on_component_param_changed(kind, name, value))
        document.settings_changed.connect(self._on_document_settings_changed)
        document.locked_changed.connect(self._on_document_locked_changed)

        self._on_document_settings_changed()
        self._on_document_locked_changed(document.locked)
        self.set_can_continue(False, "No weights yet: train once to continue from them.")
        self.set_state("idle")
        self.reset_progress()

    # --- building ---------------------------------------------------------------------------

    def remember_sections(self, settings: QSettings, screen_height: int | None = None) -> None:
        """Fold the sections as the person last left them. On first launch the loss and the scheduler,
        whose defaults fit most runs, fold to one line each; on a short screen (`screen_height`, the
        available height) every section does, and the five lines say what the run will do."""
        short = screen_height is not None and screen_height < SHORT_SCREEN
        remember(self.sections, settings, dict.fromkeys(FIRST_EXPANDED, False) if short else FIRST_EXPANDED)

    def _on_section_expanded_changed(self, section: CollapsibleSection, expanded: bool) -> None:
        if expanded:   # once the layout has made room for its body
            QTimer.singleShot(0, lambda: self.reveal(section))

    def reveal(self, section: CollapsibleSection) -> None:
        """Scroll the settings so that `section` is in sight, its header first if it is taller than the panel."""
        bar, height = self._scroll.verticalScrollBar(), self._scroll.viewport().height()
        top = section.mapTo(self._settings, section.rect().topLeft()).y()
        bottom = top + section.height()
        if bottom > bar.value() + height:
            bar.setValue(min(top, bottom - height))
        elif top < bar.value():
            bar.setValue(top)

    def _build_training_box(self) -> CollapsibleSection:
        self.batch_size = _spin("batchSizeSpin", 1, MAX_BATCH)   # the project's own ranges: none clamps
        self.epochs = _spin("epochsSpin", 1, MAX_EPOCHS)
        self.seed = _spin("seedSpin", 0, MAX_SEED)
        self.seed.setToolTip("Same seed: same initial weights, same batches, same losses.")
        self.device = QComboBox(objectName="deviceCombo")
        self.device.currentIndexChanged.connect(self._on_device_current_index_changed)
        self.mixed_precision = QCheckBox("Mixed precision", objectName="mixedPrecisionCheck")
        clip = QDoubleSpinBox(objectName="gradClipSpin", minimum=0.001, maximum=1e6, value=1.0, decimals=3)
        clip.setKeyboardTracking(False)
        clip.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        self.grad_clip = _OptionalValue(QCheckBox(objectName="gradClipCheck"), clip)
        self.grad_clip.setToolTip("Clip the total gradient norm to this value (off: no clipping).")
        self.early_stopping = _OptionalValue(
            QCheckBox(objectName="earlyStoppingCheck"), _spin("patienceSpin", 1, MAX_EPOCHS, " epochs", value=5))
        self.early_stopping.setToolTip("Stop when the validation loss has not improved for this many epochs.")
        self.l1 = _rate_spin("l1Spin", "L1 penalty: adds l1·Σ|w| over the weights (not the biases) to the loss; "
                             "0: off. Drives weights to exactly 0. Can change while training.")
        self.l2 = _rate_spin("l2Spin", "L2 penalty: adds l2·Σw² over the weights (not the biases) to the loss; "
                             "0: off. Shrinks every weight. Can change while training.")
        self.batch_size.setToolTip("Samples per step. Can change while training: the epoch goes on from "
                                   "the same sample.")
        self.shuffle = QCheckBox("Shuffle", objectName="shuffleCheck",
                                 toolTip="Reshuffle the batches every epoch.")
        self.drop_last = QCheckBox("Drop last", objectName="dropLastCheck",
                                   toolTip="Skip the last, smaller batch of each epoch.")
        flags = QHBoxLayout()
        for check in (self.shuffle, self.drop_last, self.mixed_precision):
            flags.addWidget(check)
        flags.addStretch(1)

        box = CollapsibleSection("Training", "training")
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(4)
        box.body_layout.addLayout(form)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, field in (("batch size", self.batch_size), ("epochs", self.epochs), ("device", self.device),
                             ("seed", self.seed), ("L1 penalty", self.l1), ("L2 penalty", self.l2),
                             ("clip grad norm", self.grad_clip), ("early stopping", self.early_stopping)):
            form.addRow(label, field)
        form.addRow(flags)

        # field -> (how to show a value, the signal that carries the user's new value)
        self._fields = {
            "batch_size": (self.batch_size.setValue, self.batch_size.valueChanged),
            "epochs": (self.epochs.setValue, self.epochs.valueChanged),
            "seed": (self.seed.setValue, self.seed.valueChanged),
            "mixed_precision": (self.mixed_precision.setChecked, self.mixed_precision.toggled),
            "grad_clip": (self.grad_clip.set_value, self.grad_clip.value_changed),
            "early_stopping": (self.early_stopping.set_value, self.early_stopping.value_changed),
            "shuffle": (self.shuffle.setChecked, self.shuffle.toggled),
            "drop_last": (self.drop_last.setChecked, self.drop_last.toggled),
            "l1": (self.l1.setValue, self.l1.valueChanged),
            "l2": (self.l2.setValue, self.l2.valueChanged),
        }
        for field, (_, signal) in self._fields.items():
            signal.connect(lambda value, field=field: self._on_field_edited(field, value))
        return box

    def _build_run_box(self) -> QWidget:
        style = self.style()
        self.continue_check = QCheckBox("Continue from current weights", objectName="continueCheck")
        self.start_button = QPushButton(style.standardIcon(QStyle.SP_MediaPlay), "Start", objectName="startButton")
        self.pause_button = QPushButton(objectName="pauseButton")
        self.stop_button = QPushButton(style.standardIcon(QStyle.SP_MediaStop), "Stop", objectName="stopButton",
                                       toolTip="Stop after the current step; the weights so far are kept.")
        # TF Playground's step button, and its epoch-sized sibling: train that much and pause there
        # icons only (their tooltips and the Training menu name them): the row stays narrow
        self.step_button = QPushButton(style.standardIcon(QStyle.SP_MediaSeekForward), "", objectName="stepButton")
        self.epoch_button = QPushButton(style.standardIcon(QStyle.SP_MediaSkipForward), "", objectName="epochButton")
        for button, name in ((self.step_button, "Step"), (self.epoch_button, "Epoch")):
            button.setAccessibleName(name)
        self.start_button.clicked.connect(self.start_requested)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.stop_button.clicked.connect(self.stop_requested)
        self.step_button.clicked.connect(lambda: self.step_requested.emit("step"))
        self.epoch_button.clicked.connect(lambda: self.step_requested.emit("epoch"))
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button, self.step_button, self.epoch_button):
            buttons.addWidget(button)
        # a worded button is as narrow as its icon and longest word allow, not the style's 80 px: five
        # of those in a row made the panel, and so the first window, wider than an 800-pixel screen
        metrics = self.fontMetrics()
        for button, words in ((self.start_button, ("Start",)), (self.pause_button, ("Pause", "Resume")),
                              (self.stop_button, ("Stop",))):
            text = max(metrics.horizontalAdvance(w) for w in words)
            button.setMinimumWidth(text + button.iconSize().width() + 3 * metrics.averageCharWidth())
        self.blocked_label = QLabel(objectName="startBlockedLabel", wordWrap=True, styleSheet=_ERROR_STYLE)
        self.progress_bar = QProgressBar(objectName="progressBar", minimum=0, maximum=1000, textVisible=True)
        self.speed_label = QLabel(objectName="speedLabel")
        self.elapsed_label = QLabel(objectName="elapsedLabel", alignment=Qt.AlignCenter)
        self.eta_label = QLabel(objectName="etaLabel", alignment=Qt.AlignRight | Qt.AlignVCenter)
        stats = QHBoxLayout()
        for label in (self.speed_label, self.elapsed_label, self.eta_label):
            stats.addWidget(label, 1)

        box = QFrame(objectName="runBox", frameShape=QFrame.StyledPanel)
        layout = _compact(QVBoxLayout(box))
        layout.addWidget(self.continue_check)
        layout.addLayout(buttons)
        layout.addWidget(self.blocked_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(stats)
        return box

    # --- run controls -----------------------------------------------------------------------

    @property
    def continue_requested(self) -> bool:
        """True when the next run should start from the current weights."""
        return self._can_continue and self.continue_check.isChecked()

    def set_can_continue(self, possible: bool, reason: str = "") -> None:
        self._can_continue = possible
        self.continue_check.setEnabled(possible)
        self.continue_check.setToolTip(_CONTINUE_TIP if possible else reason)

    def set_state(self, state: str) -> None:
        """"idle" | "running" | "paused": which buttons make sense now."""
        if state not in ("idle", "running", "paused"):
            raise ValueError(f"unknown run state {state!r}")
        self._state = state
        idle, paused = state == "idle", state == "paused"
        self.start_button.setEnabled(idle and self._start_blocked is None)
        self.pause_button.setEnabled(not idle)
        self.stop_button.setEnabled(not idle)
        for button, what in ((self.step_button, "one step (one batch)"), (self.epoch_button, "to the end of the epoch")):
            button.setEnabled(self._start_blocked is None or not idle)
            start = "Start a run, train" if idle else "Train"
            button.setToolTip(f"{start} {what}, then pause there: every view shows the weights it leaves "
                              f"({'F6' if button is self.step_button else 'Shift+F6'})")
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Go on from where the run paused" if paused
                                     else "Pause after the current step; Resume goes on from there")
        self._show_paused(paused)
        icon = QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause
        self.pause_button.setIcon(self.style().standardIcon(icon))
        self.blocked_label.setVisible(idle and self._start_blocked is not None)
        self.state_changed.emit(state)

    def set_start_blocked(self, reason: str | None) -> None:
        """Disable Start and say why (an invalid network, a loss that does not fit); None: allow it."""
        self._start_blocked = reason or None
        self.start_button.setToolTip(reason or _START_TIP)
        self.blocked_label.setText(reason or "")
        self.set_state(self._state)

    def _show_paused(self, paused: bool) -> None:
        """While paused, the bar and the ETA say so (the numbers stand still, which alone reads as a hang)."""
        text = self.progress_bar.format().removeprefix(PAUSED_PREFIX)
        self.progress_bar.setFormat(PAUSED_PREFIX + text if paused else text)
        self.progress_bar.setProperty("paused", paused)
        if paused:
            self.eta_label.setText("paused")

    def show_progress(self, progress: Progress) -> None:
        p = progress
        self.progress_bar.setValue(round(p.fraction * self.progress_bar.maximum()))
        self.progress_bar.setFormat(f"epoch {p.epoch}/{p.epochs} · step {p.step}/{p.steps} · %p%")
        if self._state == "paused":   # a report sent just before the pause arrives after it
            self._show_paused(True)
            self.speed_label.setText(f"{p.samples_per_second:,.0f} samples/s")
            self.elapsed_label.setText(f"elapsed {format_duration(p.elapsed)}")
            return
        self.speed_label.setText(f"{p.samples_per_second:,.0f} samples/s")
        self.elapsed_label.setText(f"elapsed {format_duration(p.elapsed)}")
        self.eta_label.setText(f"ETA {format_duration(p.eta)}")

    def forget_runs(self) -> None:
        """Another project is open: no progress of the old one's run, and no continuing from its weights."""
        self.reset_progress()
        self.continue_check.setChecked(False)

    def reset_progress(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("not started")
        self.speed_label.setText("— samples/s")
        self.elapsed_label.setText(f"elapsed {format_duration(None)}")
        self.eta_label.setText(f"ETA {format_duration(None)}")

    def _on_pause_button_clicked(self) -> None:
        pause = self._state == "running"
        self.set_state("paused" if pause else "running")
        self.pause_toggled.emit(pause)

    # --- showing the document ---------------------------------------------------------------

    @contextmanager
    def _showing(self):
        self._updating = True
        try:
            yield
        finally:
            self._updating = False

    def _on_document_settings_changed(self) -> None:
        project = self.document.project
        data, t = project.data, project.training
        with self._showing():
            if self.data.show_choice(data.dataset, data.params):
                self._add_root_button()
                self._add_table_widgets()
            self._show_data_extras(data)
            for kind in ("loss", "optimizer", "scheduler"):
                component = getattr(t, kind)
                getattr(self, kind).show_choice(component.type if component else None,
                                                component.params if component else {})
            self._show_device(t.device)
            for field, (show, _) in self._fields.items():
                show(getattr(t, field))
        self._show_summaries()

    def _show_summaries(self) -> None:
        """What a folded section is set to, in its header."""
        t = self.document.project.training
        self.data.set_summary(self.data.combo.currentText())
        self.loss.set_summary(t.loss.type if t.loss else "")
        form = self.optimizer.form
        lr = form.editors["lr"].value() if form is not None and "lr" in form.editors else None
        self.optimizer.set_summary("" if t.optimizer is None else t.optimizer.type if lr is None
                                   else f"{t.optimizer.type}, lr {lr:g}")
        self.scheduler.set_summary(t.scheduler.type if t.scheduler else "None")
        penalties = "".join(f" · {k.upper()} {getattr(t, k):g}" for k in ("l1", "l2") if getattr(t, k))
        self.training.set_summary(f"{t.epochs} epochs · batch {t.batch_size} · {t.device}{penalties}")

    def _show_device(self, device: str) -> None:
        available = available_devices()
        shown = "cuda:0" if device == "cuda" and "cuda:0" in available else device
        self.device.clear()
        # An unavailable device (a project from another machine) is shown, not silently replaced:
        # replacing it would be an edit (undo entry, unsaved changes) just for opening the file.
        if shown not in available:
            self.device.addItem(f"{device} (not available here)", device)
            try:
                check_device(device)
            except PlaygroundError as e:
                self.device.setItemData(0, str(e), Qt.ToolTipRole)
        for name in available:
            self.device.addItem(name, name)
        self.device.setCurrentIndex(self.device.findData(shown))
        self.device.setToolTip(self.device.itemData(0, Qt.ToolTipRole) if shown not in available
                               else "Where the network trains.")
        dtype = mixed_precision_dtype(torch.device(shown)) if shown in available else None
        self.mixed_precision.setEnabled(dtype is not None)
        self.mixed_precision.setToolTip(
            "float16 autocast with a GradScaler: faster on recent GPUs." if dtype == torch.float16
            else "bfloat16 autocast: this CPU's bfloat16 instructions train convolutions about twice as fast."
            if dtype == torch.bfloat16
            else "Mixed precision needs a CUDA device or a CPU with bfloat16 instructions.")

    def _add_root_button(self) -> None:
        form = self.data.form
        if form is None or "root" not in form.editors:
            return
        button = QToolButton(text="…", objectName="rootBrowseButton", toolTip="Choose the data folder.")
        button.clicked.connect(self._on_root_button_clicked)
        editor = form.editors["root"]
        own = DATASETS[self.document.project.data.dataset].source == "folder"   # no default folder for one's own
        editor.widget.setPlaceholderText("a folder with one sub-folder per class" if own else str(default_root()))
        editor.layout().addWidget(button)

    def _add_table_widgets(self) -> None:
        """A table's file gets a file dialog, its target a combo of the header's columns."""
        form = self.data.form
        self.target_combo = None
        if form is None or "path" not in form.editors or "target" not in form.editors:
            return
        button = QToolButton(text="…", objectName="tableBrowseButton", toolTip="Choose the CSV or TSV file.")
        button.clicked.connect(self._on_table_button_clicked)
        form.editors["path"].widget.setPlaceholderText("a .csv or .tsv file")
        form.editors["path"].layout().addWidget(button)
        target = form.editors["target"]
        target.widget.hide()   # the combo edits it; the file's header is what can be chosen
        self.target_combo = TargetCombo()
        self.target_combo.target_chosen.connect(self._on_target_combo_target_chosen)
        target.layout().addWidget(self.target_combo)

    def _show_data_extras(self, data) -> None:
        """The summary line or the error, the table's columns, the augmentation of images."""
        from ..core.data_overview import table_columns

        error = self.data_summary.show_data(data, self.document.data_error)
        self.data_error.setText(error or "")
        self.data_error.setVisible(bool(error))
        if self.target_combo is not None:
            try:
                names = table_columns(data)
            except PlaygroundError:
                names = ()
            self.target_combo.show_columns(names, str(data.params.get("target", "")))
        if self.data.form is not None:   # points of the plane: the sliders edit these, one control each
            for name in SLIDER_PARAMS:
                self.data.form.set_row_visible(name, not DATASETS[data.dataset].plane)
        image = DATASETS[data.dataset].image
        self.augment_box.setVisible(image)
        if image:
            self.augment_box.show_augment(data.augment)

    def _on_document_locked_changed(self, locked: bool) -> None:
        # the run controls live outside the sections, so they keep working during a run; the headers
        # too: folding a section is no edit. The settings a run takes while it trains (core/live.py)
        # stay editable; the rest is locked, and given back as it was
        if locked:
            live = self.live_widgets()
            for section in self.sections:
                if any(section.body.isAncestorOf(w) for w in live):
                    self._lock_except(section.body, live)
                elif section.body.isEnabled():
                    section.body.setEnabled(False)
                    self._locked.append(section.body)
        else:
            for widget in self._locked:
                if Shiboken.isValid(widget):
                    widget.setEnabled(True)
            self._locked = []

    def live_widgets(self) -> list[QWidget]:
        """The editors of the settings a running run follows: lr, momentum or betas, L1, L2, batch size,
        and a synthetic dataset's noise."""
        live: list[QWidget] = [self.batch_size, self.l1, self.l2]
        for section, names in ((self.optimizer, ("lr", "momentum", "betas")), (self.data, ("noise",))):
            if section.form is not None:
                live += [section.form.editors[n] for n in names if n in section.form.editors]
        if self.plane_controls.isVisibleTo(self):   # the points' noise slider (its spin box is hidden)
            live.append(self.plane_controls.noise)
        return live

    def _lock_except(self, root: QWidget, live: list[QWidget]) -> None:
        for widget in root.findChildren(QWidget, options=Qt.FindDirectChildrenOnly):
            if widget in live or widget.isWindow():
                continue
            if any(widget.isAncestorOf(w) for w in live):
                self._lock_except(widget, live)
            elif widget.isEnabled():   # one disabled for its own reason stays so after the run
                widget.setEnabled(False)
                self._locked.append(widget)

    # --- user edits -> document -------------------------------------------------------------

    def _on_data_chosen(self, dataset: str) -> None:
        if not self._updating:
            self.document.set_dataset(dataset)

    def _on_data_param_changed(self, name: str, value) -> None:
        if not self._updating:
            self.document.set_data_param(name, value)

    def _on_component_chosen(self, kind: str, type_: str | None) -> None:
        if not self._updating:
            self.document.set_component(kind, type_)

    def _on_component_param_changed(self, kind: str, name: str, value) -> None:
        if not self._updating:
            self.document.set_component_param(kind, name, value)

    def _on_field_edited(self, field: str, value) -> None:
        if not self._updating:
            self.document.set_training(field, value)

    def _on_device_current_index_changed(self, index: int) -> None:
        if not self._updating and index >= 0:
            self.document.set_training("device", self.device.itemData(index))

    def _on_target_combo_target_chosen(self, target: str) -> None:
        if not self._updating:
            self.document.set_data_param("target", target)

    def _on_augment_box_augment_edited(self, augment: dict) -> None:
        if not self._updating:
            self.document.set_augment(augment)

    def _on_table_button_clicked(self) -> None:
        current = self.document.project.data.params.get("path") or ""
        if not current and self.document.path is not None:
            current = str(self.document.path.parent)
        path, _ = QFileDialog.getOpenFileName(self, "Table to train on", current, TABLE_FILTER)
        if path:
            from ..core.data_overview import table_columns

            self.data_summary.forget()   # the same name may hold another file now
            data = self.document.project.data
            data.params["path"] = path
            changes = {"path": path}
            target = data.params.get("target", "")
            names = table_columns(data)
            if target and names and target not in names:   # the last file's column: this one's last instead
                changes["target"] = ""
            self.document.set_data_params(changes, "Use table")

    def _on_root_button_clicked(self) -> None:
        current = self.document.project.data.params.get("root") or str(default_root())
        folder = QFileDialog.getExistingDirectory(self, "Folder with the dataset files", current)
        if folder:
            self.document.set_data_param("root", folder)
