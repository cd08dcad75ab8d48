"""Draw a digit (or a piece of clothing) with the mouse and watch the model's class probabilities change."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .. import theme
from ...core.evaluation import Predictor, digit_input, image_normalization
from .gallery import applies_to_images, gray_image
from .live import PredictionView, dataset_info

CANVAS_PX = 280        # ten screen pixels per input pixel
PEN_PX = 24            # a digit drawn across the canvas ends with MNIST's 2-3 pixel strokes
PREVIEW_PX = 112       # the 28×28 input, four times as large
UPDATE_MS = 30         # probabilities follow the pen about 30 times a second
BAR, TOP_BAR = theme.BAR, theme.TOP_BAR
# what one image of each dataset shows, for "Draw ... here"
SUBJECT = {"mnist": "a digit", "fashion_mnist": "a piece of clothing"}
BAR_THICKNESS = 0.72


class DrawingCanvas(QWidget):
    """White ink on black, as MNIST stores its digits; a thick round pen."""

    drawing_changed = Signal()  # ink was added or the canvas was cleared

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawingCanvas")
        self.setFixedSize(CANVAS_PX, CANVAS_PX)
        self.setCursor(Qt.CrossCursor)
        self._image = QImage(CANVAS_PX, CANVAS_PX, QImage.Format_Grayscale8)
        self._image.fill(0)
        self._last: QPointF | None = None   # where the pen is while a button is held
        self._empty = True
        self.prompt = f"Draw {SUBJECT['mnist']} here"   # shown on the empty canvas

    def clear(self) -> None:
        self._image.fill(0)
        self._empty = True
        self.update()
        self.drawing_changed.emit()

    def is_empty(self) -> bool:
        return self._empty

    def ink(self) -> torch.Tensor:
        """(H, W) ink in [0, 1]."""
        bits = np.frombuffer(self._image.constBits(), np.uint8, self._image.sizeInBytes())
        rows = bits.reshape(CANVAS_PX, self._image.bytesPerLine())[:, :CANVAS_PX]
        return torch.from_numpy(rows.astype(np.float32) / 255)

    def _stroke(self, to: QPointF) -> None:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor("white"), PEN_PX, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
        painter.drawLine(self._last if self._last is not None else to, to)
        painter.end()
        self._last = to
        self._empty = False
        self.update()
        self.drawing_changed.emit()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._last = None
            self._stroke(event.position())
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._last is not None:
            self._stroke(event.position())

    def mouseReleaseEvent(self, event) -> None:
        self._last = None

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        if self._empty:
            painter.setPen(QColor(255, 255, 255, 110))
            painter.drawText(self.rect(), Qt.AlignCenter, self.prompt)
        painter.end()


def applies_to_grey_images(project) -> bool:
    """A drawing is grey ink: the view is for one-channel images (of any size; the drawing is resized)."""
    return applies_to_images(project) and dataset_info(project).input_shape[0] == 1


class DrawDigitView(PredictionView):
    """A canvas, the 28×28 input the network receives, and its class probabilities as bars.

    Computed here, in the window, even while a run trains in a worker: one sample, the person's own
    drawing, answered as the pen moves — a round trip to the worker would only lag it. So it asks the
    worker for nothing (no requests) and is never remote.
    """

    title = "Draw"
    applies_to = staticmethod(applies_to_grey_images)
    hint = "Train the model or load weights, then draw a digit."   # set_project names the dataset's subject

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawDigitView")
        self._probabilities: torch.Tensor | None = None

        self.canvas = DrawingCanvas()
        self.canvas.drawing_changed.connect(self._on_canvas_drawing_changed)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearDrawingButton")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.preview = QLabel()
        self.preview.setObjectName("inputPreview")
        self.preview.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.preview.setToolTip("What the network receives: the drawing cropped, shrunk to 20×20 and centred "
                                "in 28×28 by its centre of mass, as MNIST's digits were")
        self.prediction = QLabel()
        self.prediction.setObjectName("drawPrediction")
        self.prediction.setAlignment(Qt.AlignCenter)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 2.6)
        big.setBold(True)
        self.prediction.setFont(big)
        self.certainty = QLabel()
        self.certainty.setAlignment(Qt.AlignCenter)

        self.bars_plot = pg.PlotWidget(background=self.bg)
        self.bars_plot.setObjectName("probabilityBars")
        item = self.bars_plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(y=True, alpha=0.18)
        # across: the class names read on the left axis whatever their length ("Ankle boot")
        item.showGrid(x=True, y=False, alpha=0.18)
        item.setXRange(0, 1, padding=0.02)
        item.getViewBox().invertY(True)      # class 0 on top, as a list reads
        for side in ("bottom", "left"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(self.fg))
            axis.setTextPen(pg.mkPen(self.fg))
        item.getAxis("bottom").setLabel("probability", color=self.fg.name())
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(10), width=np.zeros(10), height=BAR_THICKNESS,
                                    brush=BAR, pen=None)
        item.addItem(self.bars)

        self._update_timer = QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.setInterval(UPDATE_MS)
        self._update_timer.timeout.connect(self._update_output)

        left = QVBoxLayout()
        left.addStretch(1)
        left.addWidget(self.canvas)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Hold the left button and draw"))
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        left.addLayout(buttons)
        left.addStretch(1)
        self.caption = caption = QLabel("The network's input (28×28)")
        caption.setStyleSheet(self.muted_style())
        answer = QVBoxLayout()
        answer.addStretch(1)
        answer.addWidget(self.prediction)
        answer.addWidget(self.certainty)
        answer.addStretch(1)
        seen = QHBoxLayout()
        seen.addWidget(self.preview)
        seen.addLayout(answer, 1)
        right = QVBoxLayout()
        right.addWidget(caption)
        right.addLayout(seen)
        right.addWidget(self.bars_plot, 1)
        row = QHBoxLayout()
        row.addLayout(left)
        row.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.message)
        layout.addLayout(row, 1)
        self._update_output()

    # --- what the network sees and says --------------------------------------------------------------

    def input_tensor(self) -> torch.Tensor:
        """(1, 1, 28, 28): the drawing prepared and normalised as the dataset's images are."""
        mean, std = image_normalization(self.project.data) if self.project is not None else (0.0, 1.0)
        pixels = torch.zeros(28, 28) if self.canvas.is_empty() else digit_input(self.canvas.ink())
        x = pixels[None, None]
        size = tuple(self.project.network.input_shape[1:]) if self.project is not None else (28, 28)
        if len(size) == 2 and size != tuple(x.shape[2:]):   # an image folder of another size
            x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        return (x.clamp(0, 1) - mean) / std

    def probabilities(self) -> torch.Tensor | None:
        """(C,) the model's class probabilities for the drawing; None without weights or a drawing."""
        if self._state is None or self.canvas.is_empty() or self.dataset is None:
            return None
        if self.predictor is None or not self._state_loaded:
            self._current_predictor()   # the weights wait unloaded while the canvas is empty
        if self.predictor is None:
            return None
        return self.predictor.probabilities(self.input_tensor())[0]

    # --- PredictionView ------------------------------------------------------------------------------

    def set_project(self, project) -> None:
        subject = SUBJECT.get(project.data.dataset, "an image")
        self.canvas.prompt = f"Draw {subject} here"
        self.hint = f"Train the model or load weights, then draw {subject}."
        self.canvas.update()
        h, w = (project.network.input_shape[1:] + [28, 28])[:2] if len(project.network.input_shape) == 3 else (28, 28)
        self.caption.setText(f"The network's input ({h}×{w})")
        super().set_project(project)

    def class_names(self) -> tuple[str, ...]:
        """The labels of the bars, top to bottom: the dataset's class names."""
        return self.dataset.info.class_names if self.dataset is not None else tuple(map(str, range(10)))

    def data_changed(self) -> None:
        names = self.class_names()
        self.bars_plot.getPlotItem().getAxis("left").setTicks([list(enumerate(names))])
        self.bars_plot.getPlotItem().setYRange(-0.6, len(names) - 0.4, padding=0)
        self._update_output()

    def set_remote(self, remote: bool) -> None:
        """Never remote: the weights that arrive during a run are drawn here (see the class docstring)."""

    def refresh(self, full: bool | None = None) -> None:
        """An empty canvas needs no model: loading the newest weights into it for nothing, five
        times a second while a run trains, took the window ~40 ms each time (LeNet). They load when
        the person draws."""
        if self.canvas.is_empty():
            self._redraw_timer.stop()
            self._dirty = False
            if self._state is None:
                self._show_message(self.hint)
            else:
                self.message.hide()
            self._update_output()
            self.redrawn.emit()
            return
        super().refresh(full)

    def draw_predictions(self, predictor: Predictor, full: bool) -> None:
        self._update_output()

    def clear_predictions(self) -> None:
        self._update_output()

    @Slot()
    def _on_canvas_drawing_changed(self) -> None:
        if not self._update_timer.isActive():
            self._update_timer.start()

    @Slot()
    def _update_output(self) -> None:
        self._update_timer.stop()
        x = self.input_tensor()
        mean, std = image_normalization(self.project.data) if self.project is not None else (0.0, 1.0)
        pixels = (x[0, 0] * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
        self.preview.setPixmap(QPixmap.fromImage(gray_image(pixels)).scaled(PREVIEW_PX, PREVIEW_PX))
        p = self.probabilities()
        names = self.dataset.info.class_names if self.dataset is not None else ()
        n = len(names) or 10
        if p is None:
            self.bars.setOpts(y=np.arange(n), width=np.zeros(n), brushes=[BAR] * n)
            self.prediction.setText("?")
            self.certainty.setText("draw something" if self._state is not None else "no weights yet")
            return
        best = int(p.argmax())
        self.bars.setOpts(y=np.arange(len(p)), width=p.numpy(),
                          brushes=[TOP_BAR if k == best else BAR for k in range(len(p))])
        self.prediction.setText(names[best] if best < len(names) else str(best))
        self.certainty.setText(f"{float(p[best]):.0%} sure")
