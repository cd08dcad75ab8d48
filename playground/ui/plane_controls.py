"""TensorFlow Playground's data controls for points of the plane: the input features, the noise and the share
of training data as sliders that apply at once, and new data from a new seed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from ..core import features as input_features
from ..core.data import DATASETS
from ..core.spec import MAX_SEED
from .document import ProjectDocument

NOISE_STEPS = 100      # the noise slider: 0 to 1 in hundredths (every set's default is below 0.5)
NOISE_MAX = 1.0
SLIDER_PARAMS = ("noise", "val_fraction")   # the data parameters edited here (the panel hides their spin boxes)


class PlaneDataControls(QWidget):
    """Shown for datasets of points of the plane; every change is an undoable edit of the document (the
    panel disables it with the rest of the data settings while a run trains)."""

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("planeDataControls")
        self.document = document
        self._showing = False
        self.feature_checks: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        for i, name in enumerate(input_features.FEATURES):
            check = QCheckBox(input_features.label(name), objectName=f"feature_{name}")
            check.setToolTip(f"Feed the network {input_features.label(name)} of each point")
            check.toggled.connect(self._on_feature_check_toggled)
            self.feature_checks[name] = check
            grid.addWidget(check, i // 4, i % 4)
        self.noise = QSlider(Qt.Horizontal, objectName="noiseSlider", minimum=0, maximum=NOISE_STEPS)
        self.noise.setToolTip("The noise of the generated data (data.params.noise); applies at once")
        self.noise.valueChanged.connect(self._on_noise_value_changed)
        self.noise_label = QLabel(objectName="noiseValue")
        self.ratio = QSlider(Qt.Horizontal, objectName="trainingShareSlider", minimum=10, maximum=100, singleStep=5,
                             pageStep=10)
        self.ratio.setToolTip("The share of the points the network trains on; the rest is held out for "
                              "validation (data.params.val_fraction)")
        self.ratio.valueChanged.connect(self._on_ratio_value_changed)
        self.ratio_label = QLabel(objectName="trainingShareValue")
        self.regenerate = QPushButton("New data", objectName="regenerateButton")
        self.regenerate.setToolTip("Generate the points again with the next seed (data.params.seed)")
        self.regenerate.clicked.connect(self._on_regenerate_clicked)
        form = QFormLayout(self)
        form.setContentsMargins(0, 4, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow(QLabel("features"), _wrap(grid))
        form.addRow("noise", _row(self.noise, self.noise_label))
        form.addRow("training share", _row(self.ratio, self.ratio_label))
        form.addRow(self.regenerate)
        document.settings_changed.connect(self.show_document)
        self.show_document()

    @Slot()
    def show_document(self) -> None:
        data = self.document.project.data
        kind = DATASETS.get(data.dataset)
        self.setVisible(kind is not None and kind.plane)
        if kind is None or not kind.plane:
            return
        params = {p.name: p.default for p in kind.params} | data.params
        chosen = set(data.features or input_features.RAW)
        self._showing = True
        try:
            for name, check in self.feature_checks.items():
                check.setChecked(name in chosen)
            noise = params.get("noise", 0.0) if isinstance(params.get("noise"), (int, float)) else 0.0
            self.noise.setValue(round(min(noise, NOISE_MAX) / NOISE_MAX * NOISE_STEPS))
            self.noise_label.setText(f"{noise:g}")
            share = 1 - params["val_fraction"] if isinstance(params.get("val_fraction"), (int, float)) else 0.8
            self.ratio.setValue(round(share * 100))
            self.ratio_label.setText(f"{share:.0%}")
        finally:
            self._showing = False

    def chosen_features(self) -> list[str]:
        return [name for name, check in self.feature_checks.items() if check.isChecked()]

    @Slot(bool)
    def _on_feature_check_toggled(self, on: bool) -> None:
        if self._showing:
            return
        chosen = self.chosen_features()
        if not chosen:   # the network needs an input: the last box stays ticked
            self.show_document()
            return
        self.document.set_features([] if tuple(chosen) == input_features.RAW else chosen)

    @Slot(int)
    def _on_noise_value_changed(self, value: int) -> None:
        if not self._showing:
            self.document.set_data_param("noise", round(value * NOISE_MAX / NOISE_STEPS, 4))

    @Slot(int)
    def _on_ratio_value_changed(self, value: int) -> None:
        if not self._showing:
            self.document.set_data_param("val_fraction", round(1 - value / 100, 4))

    @Slot()
    def _on_regenerate_clicked(self) -> None:
        seed = self.document.project.data.params.get("seed", 0)
        seed = seed if isinstance(seed, int) else 0
        self.document.set_data_param("seed", (seed + 1) % (MAX_SEED + 1))


def _row(*widgets) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    layout.setStretch(0, 1)
    return box


def _wrap(layout) -> QWidget:
    box = QWidget()
    box.setLayout(layout)
    return box
