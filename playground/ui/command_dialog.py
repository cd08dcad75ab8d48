"""The "Export training command" dialog: torchrun lines for one GPU, N GPUs and several machines, each with Copy."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.distributed import torchrun_command
from ..core.spec import Project

DEFAULT_HOST, DEFAULT_PORT = "node0.example.com", 29400   # 29400: torchrun's default rendezvous port
INTRO = (
    "Train this project on machines with more GPUs, with PyTorch's own launcher. Playground must be "
    "installed where the commands run; the project file was just saved."
)
MACHINES_NOTE = (
    "Run the same line on every machine, with the project file at the same path. The machine at the "
    "rendezvous address need not run first. Only rank 0 writes the checkpoint and metrics, into the "
    "folder where it was started; add --out and --metrics on a shared folder to find them in one place."
)


class TrainingCommandDialog(QDialog):
    """Shows torchrun command lines for a saved project file; every change rewrites them."""

    copied = Signal(str)   # the command line put on the clipboard

    def __init__(self, project: Project, path: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingCommandDialog")
        self.setWindowTitle("Export training command")
        self.path = Path(path).resolve()
        self.batch_size = project.training.batch_size

        intro = QLabel(INTRO, wordWrap=True)
        file_label = QLabel(f"Project file: <b>{self.path}</b>", wordWrap=True)
        file_label.setObjectName("commandProjectLabel")

        self.device_combo = QComboBox(objectName="commandDeviceCombo")
        self.device_combo.addItem("GPUs (cuda, nccl)", "cuda")
        self.device_combo.addItem("CPU processes (gloo)", "cpu")
        self.device_combo.setToolTip("cuda: one process per GPU, each on cuda:LOCAL_RANK. cpu: gloo, for "
                                     "clusters without GPUs or to try the command here.")
        self.processes_spin = _spin("gpusSpin", 2, 64, _local_gpus())
        self.nodes_spin = _spin("nodesSpin", 2, 1024, 2)
        self.host_edit = QLineEdit(DEFAULT_HOST, objectName="hostEdit")
        self.host_edit.setToolTip("A machine of the job that the others can reach: it hosts the rendezvous")
        self.port_spin = _spin("portSpin", 1, 65535, DEFAULT_PORT)

        self.one_box, self.one_text = self._block("oneGpu")
        self.plain_label = QLabel(wordWrap=True, objectName="plainCommandNote")
        self.one_box.layout().addWidget(self.plain_label)
        self.many_box, self.many_text = self._block("gpus", self._row("Processes:", self.processes_spin))
        machines = QHBoxLayout()
        for label, widget, stretch in (("Machines:", self.nodes_spin, 0), ("Rendezvous host:", self.host_edit, 1),
                                       ("port", self.port_spin, 0)):
            machines.addWidget(QLabel(label))
            machines.addWidget(widget, stretch)
        self.nodes_box, self.nodes_text = self._block("nodes", machines)
        note = QLabel(MACHINES_NOTE, wordWrap=True)
        note.setObjectName("machinesNote")
        self.nodes_box.layout().addWidget(note)

        self.batch_label = QLabel(wordWrap=True, objectName="batchNote")
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(file_label)
        layout.addLayout(self._row("Train on:", self.device_combo))
        for box in (self.one_box, self.many_box, self.nodes_box):
            layout.addWidget(box)
        layout.addWidget(self.batch_label)
        layout.addWidget(buttons)

        for spin in (self.processes_spin, self.nodes_spin, self.port_spin):
            spin.valueChanged.connect(self._update)
        self.host_edit.textChanged.connect(self._update)
        self.device_combo.currentIndexChanged.connect(self._update)
        self._update()
        self.resize(800, self.sizeHint().height())

    # --- building ----------------------------------------------------------------------------

    def _row(self, label: str, widget: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel(label))
        row.addWidget(widget)
        row.addStretch(1)
        return row

    def _block(self, name: str, controls=None) -> tuple[QGroupBox, QPlainTextEdit]:
        box = QGroupBox(objectName=f"{name}Box")
        layout = QVBoxLayout(box)
        if controls is not None:
            layout.addLayout(controls)
        text = QPlainTextEdit(objectName=f"{name}Command", readOnly=True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        text.setLineWrapMode(QPlainTextEdit.NoWrap)   # wrapping would break lines at "--" and inside paths
        text.setFixedHeight(text.fontMetrics().lineSpacing() * 3 + 2 * text.frameWidth() + 10)
        copy = QPushButton("Copy", objectName=f"copy{name[0].upper()}{name[1:]}Button")
        copy.setToolTip("Put this command line on the clipboard")
        copy.clicked.connect(lambda: self._copy(text.toPlainText()))
        line = QHBoxLayout()
        line.addWidget(text, 1)
        line.addWidget(copy)
        layout.addLayout(line)
        return box, text

    # --- reactions ---------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return self.device_combo.currentData()

    def commands(self) -> dict[str, str]:
        """The three commands as shown: one GPU, N on this machine, several machines (shell lines
        with backslash continuations, so what is shown is what pastes)."""
        n, device = self.processes_spin.value(), self.device
        endpoint = f"{self.host_edit.text().strip() or DEFAULT_HOST}:{self.port_spin.value()}"
        return {
            "one": torchrun_command(self.path, processes=1, device=device, multiline=True),
            "many": torchrun_command(self.path, processes=n, device=device, multiline=True),
            "nodes": torchrun_command(self.path, processes=n, device=device, nodes=self.nodes_spin.value(),
                                      endpoint=endpoint, multiline=True),
        }

    def _update(self, *_) -> None:
        gpu = self.device == "cuda"
        unit = "GPUs" if gpu else "processes"
        n, machines = self.processes_spin.value(), self.nodes_spin.value()
        self.one_box.setTitle("One GPU" if gpu else "One process")
        self.many_box.setTitle(f"{n} {unit} on this machine")
        self.nodes_box.setTitle(f"{machines} machines with {n} {unit} each")
        commands = self.commands()
        for text, key in ((self.one_text, "one"), (self.many_text, "many"), (self.nodes_text, "nodes")):
            text.setPlainText(commands[key])
        self.plain_label.setText(f"In one process without torchrun, the same run is "
                                 f"<code>playground train {self.path.name} --device {self.device}</code>.")
        b = self.batch_size
        note = (f"batch_size {b} is the global batch: each of the N processes takes {b} / N of every batch, "
                "so one process or many train the same weights for the same seed.")
        misfits = [w for w in (n, n * machines) if b % w]
        if misfits:
            note += (f" <b>{b} does not divide by {misfits[0]}</b>: that command will refuse to start — "
                     f"set a batch size that is a multiple of {misfits[0]}.")
        self.batch_label.setText(note)

    def _copy(self, command: str) -> None:
        QGuiApplication.clipboard().setText(command)
        self.copied.emit(command)


def _spin(name: str, low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox(objectName=name)
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def _local_gpus() -> int:
    """This machine's GPU count as the first guess for N (2 without GPUs: the smallest job worth a command)."""
    import torch

    return max(2, torch.cuda.device_count()) if torch.cuda.is_available() else 2
