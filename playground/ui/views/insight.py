"""Layer output: what the selected layer makes of one validation sample — feature maps or a histogram."""

from __future__ import annotations

import json
import math

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QPointF, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core import insight
from ...core.errors import CheckpointError, PlaygroundError
from ...core.evaluation import Predictor
from ...core.shapes import format_shape
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult, compute, shown_split
from ..colors import rgba, with_alpha
from . import View
from .data_cache import shared_cache

MAPS, HISTOGRAM, NONE = "maps", "histogram", "none"
MAX_MAPS = 256           # a wider layer shows its first 256 channels: more tiles are specks
MAP_GAP = 1              # pixels of background between tiles, so neighbouring maps never merge
PREVIEW_PX = 56          # the input sample's thumbnail: a glance, not a study
LISTED_VALUES = 10       # outputs this small also list their values (logits, a regression output)
_SIGNED_MAP, _POSITIVE_MAP = "CET-D1", "viridis"  # diverging around 0 / sequential from 0


class LayerOutputView(View):
    """The selected layer's output for one validation sample, under the newest weights.

    Redraws only while on screen: a hidden tab marks itself stale and catches up when shown. While a
    run trains in the worker (`set_remote(True)`) the worker computes the output (`requests`) and
    `show_result` paints it; without any weights it shows the initial ones, computed here.
    """

    title = "Layer output"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerOutputView")
        self._project: Project | None = None
        self._state: dict | None = None
        self._initial: tuple[str, dict] | None = None   # (network+seed key, initial weights)
        # (network key, predictor): built once per network, weights copied in at each arrival —
        # building it again four times a second during a run was half of every refresh
        self._model: tuple[str, Predictor] | None = None
        self._layer = -1
        self._shown_layer = -1
        self._stale = True
        self._remote = False        # a run trains in the worker: its results draw, not local weights
        self._kind = NONE
        self._values = torch.empty(0)
        self._grid = (0, 0, 0, 0)                       # columns, tile height, tile width, channels
        self._bg, self._fg = theme.canvas_colors(self)

        self.heading = QLabel()
        self.heading.setObjectName("layerOutputHeading")
        self.heading.setTextFormat(Qt.RichText)
        self.sample_spin = QSpinBox()
        self.sample_spin.setObjectName("sampleSpin")
        self.sample_spin.setToolTip("Which validation sample goes through the network")
        self.sample_spin.setKeyboardTracking(False)
        self.sample_spin.valueChanged.connect(self._on_sample_spin_value_changed)
        self.sample_label = QLabel("Validation sample")
        self.input_preview = QLabel()
        self.input_preview.setObjectName("inputPreview")
        self.input_preview.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.input_preview.setAlignment(Qt.AlignCenter)
        self.input_preview.setStyleSheet(f"QLabel {{ border: 1px solid {rgba(self._fg, 60)}; }}")
        self.input_text = QLabel()
        self.input_text.setObjectName("inputText")
        self.input_text.setTextFormat(Qt.RichText)
        self.stats_label = QLabel()
        self.stats_label.setObjectName("outputStats")
        self.stats_label.setTextFormat(Qt.RichText)
        self.stats_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.hover_label = QLabel()
        self.hover_label.setObjectName("mapHover")
        self.hover_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

        self.maps_widget = pg.GraphicsLayoutWidget()
        self.maps_widget.setBackground(self._bg)
        self.maps_plot = self.maps_widget.addPlot()
        self.maps_plot.hideAxis("left")
        self.maps_plot.hideAxis("bottom")
        self.maps_plot.hideButtons()
        self.maps_plot.setMenuEnabled(False)
        self.maps_plot.getViewBox().invertY(True)        # row 0 at the top, as images read
        self.maps_plot.getViewBox().setAspectLocked(True)
        self.maps_plot.getViewBox().setDefaultPadding(0.01)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.maps_plot.addItem(self.image)
        self.color_bar = pg.ColorBarItem(
            width=14, colorMap=pg.colormap.get(_SIGNED_MAP), interactive=False, colorMapMenu=False,
            pen=pg.mkPen(with_alpha(self._fg, 120)),
        )
        self.color_bar.setImageItem(self.image, insert_in=self.maps_plot)
        self.color_bar.getAxis("right").setTextPen(pg.mkPen(self._fg))
        self.color_bar.getAxis("right").setPen(pg.mkPen(with_alpha(self._fg, 120)))
        self._hover_proxy = pg.SignalProxy(
            self.maps_widget.scene().sigMouseMoved, rateLimit=60, slot=self._on_maps_scene_mouse_moved
        )

        self.hist_widget = pg.PlotWidget(background=self._bg)
        self.hist_widget.setObjectName("outputHistogram")
        plot = self.hist_widget.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.18)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        for side, text in (("left", "count"), ("bottom", "output value")):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(with_alpha(self._fg, 140)))
            axis.setTextPen(pg.mkPen(self._fg))
            axis.enableAutoSIPrefix(False)
            axis.setLabel(text, color=self._fg.name(), **{"font-size": "10pt"})
        accent = QColor(self.palette().color(QPalette.Highlight))
        self.histogram = pg.PlotCurveItem(
            x=np.zeros(1), y=np.zeros(0), stepMode="center", fillLevel=0,
            pen=pg.mkPen(accent, width=1.5), brush=with_alpha(accent, 90),
        )
        plot.addItem(self.histogram)
        self.zero_line = pg.InfiniteLine(0, angle=90, pen=pg.mkPen(with_alpha(self._fg, 110), style=Qt.DashLine))
        plot.addItem(self.zero_line, ignoreBounds=True)

        self.message = QLabel()
        self.message.setObjectName("layerOutputMessage")
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setMargin(24)
        self.message.setForegroundRole(QPalette.PlaceholderText)
        self.stack = QStackedWidget()
        for page in (self.maps_widget, self.hist_widget, self.message):
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(self.message)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.heading)
        text.addWidget(self.input_text)
        text.addWidget(self.stats_label)
        picker = QVBoxLayout()
        picker.setSpacing(2)
        picker.addWidget(self.sample_label)
        picker.addWidget(self.sample_spin)
        picker.addStretch(1)
        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 0)
        top.addWidget(self.input_preview)
        top.addLayout(text, 1)
        top.addLayout(picker)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        hover_row = QHBoxLayout()
        hover_row.setContentsMargins(8, 0, 8, 4)
        hover_row.addWidget(self.hover_label, 1)
        layout.addLayout(hover_row)
        self._show_message("Open a project to see what its layers make of a sample.")

    # --- the View protocol -------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        if self._project is None or project.data.to_dict() != self._project.data.to_dict():
            self.sample_spin.blockSignals(True)   # the refresh below draws it
            self.sample_spin.setValue(0)          # sample 7 of other data is not "the same sample"
            self.sample_spin.blockSignals(False)
        self._project = project
        self._changed()
        self.requests_changed.emit()

    def set_weights(self, state: dict | None) -> None:
        self._state = state
        if not self._remote:   # remote: the worker's results draw; these weights draw the run's end
            self._changed()

    @Slot(int)
    def set_layer(self, index: int) -> None:
        """Show layer `index`; -1 (nothing selected) shows the last layer, the network's output."""
        self._layer = index
        self._changed()
        self.requests_changed.emit()

    # --- what is shown, for tests and tools --------------------------------------------------

    def shown_kind(self) -> str:
        """"maps" | "histogram" | "none" (a message instead: no data, an error)."""
        self._refresh_if_stale()
        return self._kind

    def shown_values(self) -> torch.Tensor:
        """The output drawn: one sample, without the batch dimension (empty when nothing is)."""
        self._refresh_if_stale()
        return self._values

    def shown_layer(self) -> int:
        """The layer index drawn (-1 resolved to the last layer), -1 when none is."""
        self._refresh_if_stale()
        return self._shown_layer

    # --- redrawing ------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh_if_stale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._kind == MAPS and not self._stale:
            self._show_maps(self._values)   # the best number of columns depends on the room

    def _changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self._refresh_if_stale()

    def _refresh_if_stale(self) -> None:
        if self._stale:
            self._stale = False
            self._refresh()

    @Slot(int)
    def _on_sample_spin_value_changed(self, value: int) -> None:
        self._changed()
        self.requests_changed.emit()

    def _predictor(self, network, state: dict) -> Predictor:
        """The network with `state` copied in: built once per network, kept between refreshes."""
        key = json.dumps(network.to_dict(), sort_keys=True)
        if self._model is None or self._model[0] != key:
            self._model = (key, Predictor.of_network(network, state))
        else:
            self._model[1].load_state(state)
        return self._model[1]

    def _layer_index(self) -> int:
        layers = self._project.network.layers
        return self._layer if 0 <= self._layer < len(layers) else len(layers) - 1

    def requests(self, full: bool) -> list[ViewRequest]:
        """The selected layer's output for the chosen sample; [] when nothing can be shown (the
        message says why). `full` changes nothing: it is one sample."""
        project = self._project
        if project is None or not project.network.layers:
            return []
        try:
            split = shown_split(shared_cache.get(project.data))
        except PlaygroundError:
            return []
        if tuple(split.x.shape[1:]) != tuple(project.network.input_shape):
            return []
        sample = min(max(self.sample_spin.value(), 0), len(split.x) - 1)
        return [ViewRequest(self.objectName(), "layer_output", {"layer": self._layer_index(), "sample": sample})]

    def set_remote(self, remote: bool) -> None:
        """True while a run trains in the worker: its results draw (show_result). False: draw here
        again, from the newest weights."""
        if remote != self._remote:
            self._remote = remote
            if not remote:
                self._changed()

    def show_result(self, result: ViewResult) -> None:
        """Paint the worker's output of one layer for one sample (or say why it failed)."""
        self._refresh_if_stale()   # the input and its words first; remote, that computes nothing
        if result.error:
            return self._show_message(result.error)
        asked = self.requests(False)
        if not asked or asked[0].params != {"layer": result.data["layer"], "sample": result.data["sample"]}:
            return        # asked for another layer or sample before this one came back
        self._paint(result.data["output"], result.data["layer"])

    def _refresh(self) -> None:
        self._shown_layer = -1
        self._clear_input()   # a message below never sits beside another project's sample
        project = self._project
        if project is None:
            return self._show_message("Open a project to see what its layers make of a sample.")
        layers = project.network.layers
        if not layers:
            return self._show_message("The network has no layers yet: drag one in from the palette.")
        index = self._layer_index()
        try:
            dataset = shared_cache.get(project.data)
        except PlaygroundError as e:
            return self._show_message(f"The data cannot be loaded: {e}")
        x_all, y_all, split, note = shown_split(dataset)   # never 0 samples, whatever val_fraction is
        self.sample_label.setText(f"{split.capitalize()} sample")
        self.sample_label.setToolTip(note)
        self.sample_spin.blockSignals(True)
        self.sample_spin.setRange(0, len(x_all) - 1)
        self.sample_spin.blockSignals(False)
        sample = self.sample_spin.value()
        x = x_all[sample : sample + 1]
        self._show_input(x[0], y_all[sample], dataset.info)
        if tuple(x.shape[1:]) != tuple(project.network.input_shape):
            return self._show_message(
                f"The data's samples are shaped {format_shape(tuple(x.shape[1:]))} but the network takes "
                f"{format_shape(tuple(project.network.input_shape))} — change the input shape or the data."
            )
        if self._remote:
            return        # the worker's result paints the output (show_result)
        try:
            state = self._state if self._state is not None else self._initial_state(project)
            predictor = self._predictor(project.network, state)
        except CheckpointError as e:
            return self._show_message(f"{e}\n\nTrain again, or load weights made for this network.")
        except PlaygroundError as e:
            return self._show_message(str(e))
        request = ViewRequest(self.objectName(), "layer_output", {"layer": index, "sample": sample})
        result = compute(request, predictor, dataset)   # the job the worker runs during a run
        if result.error:
            return self._show_message(result.error)
        self._paint(result.data["output"], index)

    def _paint(self, output: torch.Tensor, index: int) -> None:
        layers = self._project.network.layers
        self._shown_layer = index
        trained = self._state is not None or self._remote
        weights = "trained weights" if trained else f"initial weights (seed {self._project.training.seed})"
        self.heading.setText(
            f"<b>Layer {index} · {layers[index].type}</b> → {format_shape(tuple(output.shape))}"
            f" <span style='color:{rgba(self._fg, 150)}'>· {weights}</span>"
        )
        self._values = output
        self.stats_label.setText(_stats(output))
        if output.dim() == 3:
            self._show_maps(output)
        else:
            self._show_histogram(output)

    def _initial_state(self, project: Project) -> dict:
        key = json.dumps([project.network.to_dict(), project.training.seed], sort_keys=True)
        if self._initial is None or self._initial[0] != key:
            self._initial = (key, insight.initial_state(project.network, project.training.seed))
        return self._initial[1]

    def _show_message(self, text: str) -> None:
        self._kind = NONE
        self._values = torch.empty(0)
        self.message.setText(text)
        self.stats_label.setText("")
        self.hover_label.hide()
        self.heading.setText("<b>Layer output</b>")
        self.stack.setCurrentWidget(self.message)

    def _show_maps(self, output: torch.Tensor) -> None:
        values = output.float().numpy()
        channels, h, w = values.shape
        shown = min(channels, MAX_MAPS)
        box = self.maps_plot.getViewBox().size()
        columns = _best_columns(shown, h + MAP_GAP, w + MAP_GAP, box.width() or 1, box.height() or 1)
        rows = math.ceil(shown / columns)
        mosaic = np.full((rows * (h + MAP_GAP) - MAP_GAP, columns * (w + MAP_GAP) - MAP_GAP), np.nan, np.float32)
        for c in range(shown):
            r, col = divmod(c, columns)
            top, left = r * (h + MAP_GAP), col * (w + MAP_GAP)
            mosaic[top : top + h, left : left + w] = values[c]
        self._grid = (columns, h, w, shown)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        if low < 0:   # signed: white is 0, so the sign reads at a glance
            reach = max(abs(low), abs(high), 1e-12)
            self.color_bar.setColorMap(pg.colormap.get(_SIGNED_MAP))
            levels = (-reach, reach)
        else:
            self.color_bar.setColorMap(pg.colormap.get(_POSITIVE_MAP))
            levels = (0.0, max(high, 1e-12))
        self.image.setImage(mosaic, autoLevels=False)
        self.color_bar.setLevels(levels)
        self.maps_plot.getViewBox().autoRange(padding=0.01)
        if shown < channels:
            self.stats_label.setText(self.stats_label.text() + f" · showing the first {shown} of {channels} channels")
        self.hover_label.setText("Point at a map to read its values.")
        self.hover_label.show()
        self._kind = MAPS
        self.stack.setCurrentWidget(self.maps_widget)

    def _show_histogram(self, output: torch.Tensor) -> None:
        values = output.double().flatten().numpy()
        finite = values[np.isfinite(values)]
        bins = int(min(60, max(8, math.sqrt(max(len(finite), 1)) * 2)))
        if len(finite) and finite.min() == finite.max():
            spread = max(abs(finite[0]) * 0.05, 0.05)   # one value: a single bar centred on it
            counts, edges = np.histogram(finite, bins=1, range=(finite[0] - spread, finite[0] + spread))
        else:
            counts, edges = np.histogram(finite, bins=bins)
        self.histogram.setData(edges, counts.astype(float))
        count_axis = self.hist_widget.getPlotItem().getAxis("left")
        if counts.max(initial=0) <= 10:
            count_axis.setTickSpacing(1, 1)   # whole samples: never "2.5 values"
        else:
            count_axis.setTickSpacing()
        self.hist_widget.getPlotItem().enableAutoRange()
        self.hover_label.hide()
        self._kind = HISTOGRAM
        self.stack.setCurrentWidget(self.hist_widget)

    def _clear_input(self) -> None:
        self.input_preview.clear()
        self.input_preview.hide()
        self.input_text.setText("")

    def _show_input(self, x: torch.Tensor, y: torch.Tensor, info) -> None:
        label = ""
        if y.dim() == 0 and info.class_names and 0 <= int(y) < len(info.class_names):
            label = f"class <b>{info.class_names[int(y)]}</b>"
        elif y.numel() == 1:
            label = f"target <b>{float(y):.4g}</b>"
        image = _thumbnail(x)
        if image is not None:
            self.input_preview.setPixmap(image)
            self.input_preview.show()
            self.input_text.setText(f"Input {format_shape(tuple(x.shape))}" + (f" · {label}" if label else ""))
        else:
            self.input_preview.clear()
            self.input_preview.hide()
            flat = x.flatten().tolist()
            shown = ", ".join(f"{v:.3g}" for v in flat[:6]) + (", …" if len(flat) > 6 else "")
            self.input_text.setText(f"Input ({shown})" + (f" · {label}" if label else ""))

    @Slot(object)
    def _on_maps_scene_mouse_moved(self, args) -> None:
        if self._kind != MAPS:
            return
        point = self.image.mapFromScene(QPointF(args[0]))
        columns, h, w, shown = self._grid
        col, row = int(math.floor(point.x())), int(math.floor(point.y()))
        tile_c, x = divmod(col, w + MAP_GAP)
        tile_r, y = divmod(row, h + MAP_GAP)
        channel = tile_r * columns + tile_c
        if col < 0 or row < 0 or tile_c >= columns or x >= w or y >= h or channel >= shown:
            self.hover_label.setText("")
            return
        value = float(self._values[channel, y, x])
        self.hover_label.setText(f"channel {channel} · row {y}, column {x} · value {value:.4g}")


def _best_columns(tiles: int, tile_h: int, tile_w: int, width: float, height: float) -> int:
    """The number of mosaic columns that draws the tiles largest in a width × height area."""
    def scale(columns: int) -> float:
        rows = math.ceil(tiles / columns)
        return min(width / (columns * tile_w), height / (rows * tile_h))

    return max(range(1, tiles + 1), key=scale)


def _stats(output: torch.Tensor) -> str:
    v = output.double().flatten()
    finite = v[torch.isfinite(v)]
    if len(finite) == 0:
        return "no finite values"
    parts = [
        f"min {finite.min().item():.3g}", f"max {finite.max().item():.3g}",
        f"mean {finite.mean().item():.3g}",
    ]
    zeros = (finite == 0).double().mean().item()
    if zeros > 0:
        parts.append(f"{zeros:.0%} exactly zero")
    text = f"{v.numel():,} values · " + " · ".join(parts)
    if v.numel() <= LISTED_VALUES:
        text += "<br>values " + ", ".join(f"{x:.3g}" for x in v.tolist())
    return text


def _thumbnail(x: torch.Tensor) -> QPixmap | None:
    """The sample as a small picture when it is one (1 or 3 channels of at least 4×4), else None."""
    if x.dim() != 3 or x.shape[0] not in (1, 3) or min(x.shape[1:]) < 4:
        return None
    v = x.float()
    low, high = v.min(), v.max()
    v = ((v - low) / (high - low).clamp(min=1e-12) * 255).round().to(torch.uint8)
    if x.shape[0] == 1:
        data = np.ascontiguousarray(v[0].numpy())
        image = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format_Grayscale8)
    else:
        data = np.ascontiguousarray(v.permute(1, 2, 0).numpy())
        image = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format_RGB888)
    # copy: the QImage borrows numpy's buffer, which dies with this function
    pixmap = QPixmap.fromImage(image.copy())
    return pixmap.scaled(PREVIEW_PX - 2, PREVIEW_PX - 2, Qt.KeepAspectRatio, Qt.FastTransformation)


