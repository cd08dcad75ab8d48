"""The main window: for now a read-only view of a project's network (the editor comes with the GUI issue)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import PlaygroundError
from ..core.shapes import format_shape, infer_shapes
from ..core.spec import Project
from ..resources_path import example_path, resource_path

COLUMNS = ("#", "Layer", "Output shape", "Parameters")


class MainWindow(QMainWindow):
    def __init__(self, project: Project | None = None, path: Path | None = None):
        super().__init__()
        self.project: Project | None = None
        self.path: Path | None = None
        self.resize(760, 520)

        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        self.setCentralWidget(central)

        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self, shortcut=QKeySequence.Open, triggered=self._on_open_triggered)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.Quit, triggered=self.close)
        file_menu.addAction(open_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        if project is not None:
            self.show_project(project, path)

    def show_project(self, project: Project, path: Path | None = None) -> None:
        self.project, self.path = project, path
        self.setWindowTitle(f"{project.name} — Playground")
        info = infer_shapes(project.network)
        self.table.setRowCount(len(info.layers))
        for row, layer in enumerate(info.layers):
            ok = layer.status == "ok"
            cells = (
                str(layer.index),
                layer.type,
                format_shape(layer.output_shape) if ok else layer.status,
                f"{layer.params:,}" if ok else "—",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if layer.error:
                    item.setToolTip(layer.error)
                    item.setForeground(Qt.red)
                if col in (0, 3):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(row, col, item)
        status = (
            f"output {format_shape(info.output_shape)}" if info.ok else f"<span style='color:#c00'>{info.error}</span>"
        )
        self.summary.setText(
            f"<b>{project.name}</b> — data <b>{project.data.dataset}</b>, input "
            f"{format_shape(info.input_shape)}, {info.total_params:,} parameters, {status}"
        )

    def open_file(self, path: str | Path) -> bool:
        try:
            project = Project.load(path)
        except PlaygroundError as e:
            QMessageBox.warning(self, "Cannot open project", str(e))
            return False
        self.show_project(project, Path(path))
        return True

    def _on_open_triggered(self) -> None:
        start = str(self.path.parent) if self.path else str(example_path(""))
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, "Playground projects (*.json)")
        if path:
            self.open_file(path)


def run_gui(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Playground")
    app.setOrganizationName("Playground")
    app.setDesktopFileName("playground")  # lets Wayland match the window to the .desktop entry's icon
    app.setWindowIcon(QIcon(str(resource_path("icons", "playground.svg"))))
    args = [a for a in app.arguments()[1:] if not a.startswith("-")]
    window = MainWindow()
    if args:
        if not window.open_file(args[0]):
            window.show_project(Project.load(example_path("xor.json")))
    else:
        window.show_project(Project.load(example_path("xor.json")))
    window.show()
    return app.exec()
