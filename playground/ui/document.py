"""The open project as the one source of truth the widgets edit, with undo/redo for every edit."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.data import DATASETS, DataInfo, dataset_info
from ..core.errors import PlaygroundError
from ..core.layers import LAYERS
from ..core.shapes import NetworkInfo, infer_shapes
from ..core.live import only_live_differs
from ..core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project

TRAINING_FIELDS = (
    "batch_size", "epochs", "device", "seed", "mixed_precision", "grad_clip", "early_stopping",
    "shuffle", "drop_last", "l1", "l2",
)
COMPONENTS = ("loss", "optimizer", "scheduler")


def new_project() -> Project:
    """What File > New opens: a small MLP on XOR, ready to train."""
    return Project(
        NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("Tanh"),
                          LayerSpec("Linear", {"out_features": 2})]),
        DataSpec("xor", {}),
        name="Untitled",
    )


class _Snapshot(QUndoCommand):
    """An edit as the project before and after: simple, and always exactly reversible."""

    def __init__(self, doc: "ProjectDocument", text: str, before: Project, after: Project, merge_key=None):
        super().__init__(text)
        self.doc, self.before, self.after, self.merge_key = doc, before, after, merge_key

    def id(self) -> int:
        return 1 if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Spinning a spin box makes many edits of one parameter: one undo step for all of them.
        if not isinstance(other, _Snapshot) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self.doc._apply(self.after)

    def undo(self) -> None:
        self.doc._apply(self.before)


class ProjectDocument(QObject):
    network_changed = Signal()     # layers or input shape changed; `network_info` is fresh
    settings_changed = Signal()    # data or training settings changed
    path_changed = Signal()        # saved under a new name, or another file opened
    clean_changed = Signal(bool)   # True when the project matches its file
    locked_changed = Signal(bool)  # True while a run trains this network
    opened = Signal()              # another project replaced this one (Open, New, an example): no payload

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self.clean_changed)
        self._project = project or new_project()
        self.path: Path | None = None
        self._on_disk: tuple | None = None   # the file as this window last read or wrote it
        self._locked = False
        # dataset name -> params a newly chosen dataset starts with (the remembered data folder); the window sets it
        self.data_defaults = lambda dataset: {}
        self._refresh()

    # --- reading ----------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        """A copy: every change goes through an edit method so it can be undone."""
        return copy.deepcopy(self._project)

    @property
    def network(self) -> NetworkSpec:
        return self._project.network

    @property
    def layers(self) -> list[LayerSpec]:
        return self._project.network.layers

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self._project.name

    @property
    def is_clean(self) -> bool:
        return self.undo_stack.isClean()

    @property
    def locked(self) -> bool:
        return self._locked

    def set_locked(self, locked: bool) -> None:
        if locked != self._locked:
            self._locked = locked
            self.locked_changed.emit(locked)

    # --- whole files ------------------------------------------------------------------------

    def open(self, project: Project, path: str | Path | None, modified: bool = False) -> None:
        """Show `project`; `modified` when it differs from `path` (a restored autosave)."""
        self._project = copy.deepcopy(project)
        self.path = Path(path) if path else None
        self._on_disk = _disk_signature(self.path)
        self.undo_stack.clear()
        self.undo_stack.setClean()
        if modified:
            self.undo_stack.resetClean()  # no state of the stack matches the file
        self._refresh()
        self.opened.emit()   # first: what belonged to the old project is gone before the new one is shown
        self.network_changed.emit()
        self.settings_changed.emit()
        self.path_changed.emit()
        self.clean_changed.emit(not modified)

    def save(self, path: str | Path) -> None:
        project = self.project
        project.name = Path(path).stem
        project.save(path)  # atomic; raises FileWriteError with a plain message
        self._project.name = project.name
        self.path = Path(path)
        self._on_disk = _disk_signature(self.path)
        self.undo_stack.setClean()
        self.path_changed.emit()

    def changed_on_disk(self) -> bool:
        """True when another window or program replaced (or removed) the file since this one read
        or wrote it: saving now would silently discard their version."""
        return self.path is not None and _disk_signature(self.path) != self._on_disk

    # --- network edits ----------------------------------------------------------------------

    def insert_layer(self, index: int, type_: str, params: dict | None = None) -> None:
        if type_ not in LAYERS:
            raise PlaygroundError(f"unknown layer type {type_!r}")
        index = max(0, min(index, len(self.layers)))
        self._edit(f"Add {type_}", lambda p: p.network.layers.insert(index, LayerSpec(type_, dict(params or {}))))

    def append_layer(self, type_: str) -> None:
        self.insert_layer(len(self.layers), type_)

    def remove_layer(self, index: int) -> None:
        self._edit(f"Delete {self.layers[index].type}", lambda p: p.network.layers.pop(index))

    def duplicate_layer(self, index: int) -> None:
        layer = self.layers[index]
        self._edit(f"Duplicate {layer.type}", lambda p: p.network.layers.insert(index + 1, copy.deepcopy(layer)))

    def move_layer(self, source: int, target: int) -> None:
        """Move the layer at `source` so that it ends up at index `target`."""
        target = max(0, min(target, len(self.layers) - 1))
        if source == target:
            return

        def move(p: Project) -> None:
            p.network.layers.insert(target, p.network.layers.pop(source))

        self._edit(f"Move {self.layers[source].type}", move)

    def set_layer_param(self, index: int, name: str, value) -> None:
        layer = self.layers[index]
        if layer.params.get(name, _MISSING) == value:
            return

        def set_(p: Project) -> None:
            p.network.layers[index].params[name] = value

        self._edit(f"Set {layer.type} {name}", set_, merge_key=("layer", index, name))

    def replace_layers(self, layers: list[LayerSpec], text: str = "Replace layers") -> None:
        """All layers at once (code applied from the code panel): one undo step."""
        if list(layers) == self.layers:
            return
        new = copy.deepcopy(list(layers))

        def set_(p: Project) -> None:
            p.network.layers = copy.deepcopy(new)

        self._edit(text, set_)

    def use_settings_of(self, project: Project, text: str) -> None:
        """The network, data and training settings of `project` (a run's) as one undo step; the
        name and the file stay."""
        if (project.network, project.data, project.training) == (self._project.network, self._project.data,
                                                                  self._project.training):
            return

        def set_(p: Project) -> None:
            p.network, p.data, p.training = (copy.deepcopy(x) for x in (project.network, project.data,
                                                                        project.training))

        self._edit(text, set_)

    # --- settings edits ---------------------------------------------------------------------

    def set_dataset(self, dataset: str) -> None:
        """Another dataset; the input card follows its sample shape."""
        if dataset == self._project.data.dataset:
            return
        kept = {k: v for k, v in self._project.data.params.items() if k in _common_params(dataset)}
        kept.update(self.data_defaults(dataset))   # in the same undo step as the dataset
        # from one image dataset to another the augmentation stays (it is about images, not these)
        augment = copy.deepcopy(self._project.data.augment) if DATASETS[dataset].image else {}
        # points of the plane to points of the plane: the chosen input features stay
        features = list(self._project.data.features) if DATASETS[dataset].plane else []

        def set_(p: Project) -> None:
            p.data = DataSpec(dataset, kept, augment, features=features)
            try:
                p.network.input_shape = list(dataset_info(p.data).input_shape)
            except PlaygroundError:
                pass  # a table or image folder not named yet: data_error says so; the shape follows it

        self._edit(f"Use {dataset}", set_)

    def set_data_param(self, name: str, value) -> None:
        if self._project.data.params.get(name, _MISSING) == value:
            return

        def set_(p: Project) -> None:
            p.data.params[name] = value
            try:
                p.network.input_shape = list(dataset_info(p.data).input_shape)
            except PlaygroundError:
                pass  # a bad value is shown by the panel; the shape stays

        self._edit(f"Set {name}", set_, merge_key=("data", name))

    def set_data_params(self, changes: dict, text: str) -> None:
        """Several data parameters as one undo step (a new table file and the target it has)."""
        if all(self._project.data.params.get(k, _MISSING) == v for k, v in changes.items()):
            return

        def set_(p: Project) -> None:
            p.data.params.update(changes)
            try:
                p.network.input_shape = list(dataset_info(p.data).input_shape)
            except PlaygroundError:
                pass  # the panel says what is wrong; the shape stays

        self._edit(text, set_)

    def set_augment(self, augment: dict) -> None:
        """The training batches' augmentation (data.augment: torchvision names and arguments, in order)."""
        if augment == self._project.data.augment:
            return
        new = copy.deepcopy(augment)

        def set_(p: Project) -> None:
            p.data.augment = copy.deepcopy(new)

        # a spin box's many steps are one undo step; ticking or unticking one is a step of its own
        self._edit("Set augmentation", set_, merge_key=("augment", tuple(new)))

    def set_features(self, features: list[str]) -> None:
        """The input features of points of the plane ([]: x1, x2 as they are); the input card follows."""
        if list(features) == list(self._project.data.features):
            return

        def set_(p: Project) -> None:
            p.data.features = list(features)
            try:
                p.network.input_shape = list(dataset_info(p.data).input_shape)
            except PlaygroundError:
                pass

        self._edit("Set input features", set_)

    def set_component(self, kind: str, type_: str | None) -> None:
        """Choose the loss, optimizer or scheduler (None: no scheduler); params start at defaults,
        except the learning rate, which survives a change of optimizer."""
        current = getattr(self._project.training, kind)
        if (current.type if current else None) == type_:
            return
        params = {}
        if kind == "optimizer" and current and "lr" in current.params:
            params["lr"] = current.params["lr"]
        self._edit(
            f"Use {type_ or 'no ' + kind}",
            lambda p: setattr(p.training, kind, ComponentSpec(type_, params) if type_ else None),
        )

    def set_component_param(self, kind: str, name: str, value) -> None:
        component = getattr(self._project.training, kind)
        if component is None or component.params.get(name, _MISSING) == value:
            return

        def set_(p: Project) -> None:
            getattr(p.training, kind).params[name] = value

        self._edit(f"Set {name}", set_, merge_key=(kind, name))

    def set_training(self, name: str, value) -> None:
        assert name in TRAINING_FIELDS, name
        if getattr(self._project.training, name) == value:
            return
        self._edit(f"Set {name}", lambda p: setattr(p.training, name, value), merge_key=("training", name))

    # --- internals --------------------------------------------------------------------------

    def _edit(self, text: str, change, merge_key=None) -> None:
        before = copy.deepcopy(self._project)
        after = copy.deepcopy(self._project)
        change(after)
        # while a run trains, only what it follows live may change (core/live.py): it gets the edit too
        if self._locked and not only_live_differs(before, after):
            raise PlaygroundError("the network is training — stop the run to change it")
        self.undo_stack.push(_Snapshot(self, text, before, after, merge_key))

    def _apply(self, project: Project) -> None:
        old = self._project
        self._project = copy.deepcopy(project)
        self._refresh()
        if old.network != project.network:
            self.network_changed.emit()
        if old.data != project.data or old.training != project.training:
            self.settings_changed.emit()

    def _refresh(self) -> None:
        self.network_info: NetworkInfo = infer_shapes(self._project.network)
        try:
            self.data_info: DataInfo | None = dataset_info(self._project.data)
            self.data_error: str | None = None
        except PlaygroundError as e:
            self.data_info, self.data_error = None, str(e)


_MISSING = object()


def _common_params(dataset: str) -> set[str]:
    return {p.name for p in DATASETS[dataset].params} & {"seed", "val_fraction", "samples", "noise"}


# Each layer is a card of widgets: 500 cards open in about 3 s on 2 cores and edits stay under half
# a second; 10,000 froze the window for minutes. Longer networks train and inspect headless.
MAX_EDITOR_LAYERS = 500


def editor_refusal(n_layers: int) -> str | None:
    """Why the editor does not take a network this long, or None."""
    if n_layers <= MAX_EDITOR_LAYERS:
        return None
    return (f"it has {n_layers:,} layers, and the editor shows at most {MAX_EDITOR_LAYERS:,} — train or "
            "inspect it with `playground train` / `playground inspect`, which take any length")


def _disk_signature(path: Path | None) -> tuple | None:
    """What changes when a file is replaced: every save is a new file (atomic rename), so the inode
    changes even within one mtime tick; size and mtime catch writers that rewrite in place."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns
