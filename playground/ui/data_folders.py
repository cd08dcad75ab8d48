"""Where each image dataset's files were last found, remembered between sessions (QSettings), so an
example of MNIST or Fashion-MNIST opens on the folder that holds them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from ..core.data import default_root, holds_image_files, image_root
from ..core.spec import DataSpec, Project

KEY = "data/{}/root"   # per dataset: data/mnist/root, data/fashion_mnist/root


class DataFolders:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def remembered(self, dataset: str) -> str | None:
        """The folder last seen holding `dataset`'s files, while it still does; None otherwise."""
        folder = self.settings.value(KEY.format(dataset))
        if isinstance(folder, str) and folder and holds_image_files(folder, dataset):
            return folder
        return None

    def remember(self, data: DataSpec) -> bool:
        """Note the folder of `data` when it holds the files (False: other data, or files missing)."""
        root = image_root(data)
        if root is None or not holds_image_files(root, data.dataset):
            return False
        folder = str(root.resolve())
        if self.settings.value(KEY.format(data.dataset)) != folder:
            self.settings.setValue(KEY.format(data.dataset), folder)
        return True

    def defaults(self, dataset: str) -> dict:
        """What a dataset just chosen in the panel starts with: {"root": the remembered folder}, or {}."""
        folder = self.remembered(dataset) if dataset in ("mnist", "fashion_mnist") else None
        return {"root": folder} if folder and Path(folder) != default_root().resolve() else {}

    def apply(self, project: Project) -> str | None:
        """Point a project that names no folder (the examples) at the remembered one; returns it, or
        None when the project keeps its own (a folder of its own, none remembered, or the default)."""
        data = project.data
        if image_root(data) is None or data.params.get("root"):
            return None
        folder = self.remembered(data.dataset)
        if folder is None or Path(folder) == default_root().resolve():
            return None
        data.params["root"] = folder
        return folder
