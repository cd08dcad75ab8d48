"""The training panel's widgets for a person's own data: labels true for the data chosen, a table's
file and target column, every bad file said in the core's sentence with nothing lost, and the
augmentation written as data.augment with torchvision's names."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QToolButton

import playground.ui.training_panel as training_panel
from playground.core.data import DATASETS, dataset_info
from playground.core.errors import PlaygroundError
from playground.core.spec import DataSpec, Project
from playground.ui.document import ProjectDocument
from playground.ui.training_panel import TrainingPanel
from tests.conftest import EXAMPLES


@pytest.fixture
def make_panel(qtbot, monkeypatch):
    def make(project: Project):
        monkeypatch.setattr(training_panel, "available_devices", lambda: ["cpu"])
        document = ProjectDocument(project)
        panel = TrainingPanel(document)
        qtbot.addWidget(panel)
        return panel, document

    return make


def iris() -> Project:
    return Project.load(EXAMPLES / "iris.json")


def summary(panel) -> str:
    label = panel.findChild(QLabel, "dataSummaryLabel")
    return label.text() if label.isVisibleTo(panel) else ""


def error(panel) -> str:
    label = panel.findChild(QLabel, "dataErrorLabel")
    return label.text() if label.isVisibleTo(panel) else ""


def test_every_dataset_label_is_true_of_what_it_gives():
    for name, kind in DATASETS.items():
        label = training_panel._dataset_label(kind)
        if kind.source == "idx":
            assert dataset_info(DataSpec(name)).input_shape == (1, 28, 28) and "28×28 grey" in label
        elif kind.source == "cifar":
            assert dataset_info(DataSpec(name)).input_shape == (3, 32, 32) and "32×32 RGB" in label
        else:
            assert "28×28" not in label, label    # a folder's size and a table's width are the summary's


def test_a_table_shows_rows_features_classes_and_its_target_is_a_combo_of_the_header(make_panel):
    panel, document = make_panel(iris())
    assert summary(panel) == "150 rows · 4 features · 3 classes (target 'species')" and error(panel) == ""
    combo = panel.findChild(QComboBox, "tableTargetCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "last column (species)", "sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert combo.currentText() == "species" and not panel.data.form.editors["target"].widget.isVisibleTo(panel)
    combo.activated.emit(combo.findData("petal_width"))          # as a person picks it
    assert document.project.data.params["target"] == "petal_width"
    assert summary(panel) == "150 rows · 6 features · regression (target 'petal_width')"
    assert document.network.input_shape == [6]                     # species one-hot: the inputs follow
    document.undo_stack.undo()
    assert combo.currentText() == "species" and document.network.input_shape == [4]


def test_the_file_dialog_sets_the_path(make_panel, monkeypatch, tmp_path, qtbot):
    panel, document = make_panel(iris())
    path = tmp_path / "mine.tsv"
    path.write_text("x\ty\tlabel\n1\t2\ta\n3\t4\tb\n5\t6\ta\n")
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda parent, caption, directory, filters: asked.append(filters) or (str(path), ""))
    qtbot.mouseClick(panel.findChild(QToolButton, "tableBrowseButton"), Qt.LeftButton)
    assert "*.csv" in asked[0] and "*.tsv" in asked[0]
    assert document.project.data.params["path"] == str(path)
    assert summary(panel) == "3 rows · 2 features · 2 classes (target 'label')"
    assert panel.target_combo.itemText(0) == "last column (label)"   # its header has no 'species'
    assert document.project.data.params["target"] == ""
    document.undo_stack.undo()                                       # file and target: one step
    assert document.project.data.params["target"] == "species" and summary(panel).startswith("150 rows")


BAD = {
    "wrong delimiter": ("a,b,c\n1,2,x\n3,4,y\n", {"delimiter": ";"}, "has only one column"),
    "empty file": ("", {}, "is empty: a table needs one row per sample"),
    "one class": ("a,b,label\n1,2,x\n3,4,x\n", {}, "holds one value ('x') in all 2 rows: a classifier needs at least two"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_table_is_the_cores_sentence_and_keeps_the_settings(make_panel, tmp_path, case):
    text, params, words = BAD[case]
    path = tmp_path / "t.csv"
    path.write_text(text)
    project = iris()
    project.data.params.update(path=str(path), target="", **params)
    panel, document = make_panel(project)
    with pytest.raises(PlaygroundError) as core:
        dataset_info(project.data)
    assert error(panel) == str(core.value) and words in error(panel) and summary(panel) == ""
    assert document.project.data.params["path"] == str(path) and document.network.input_shape == [4]


def test_image_folder_and_cifar_problems_are_said_in_the_panel(make_panel, tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "flat" / "a.png")
    project = Project.load(EXAMPLES / "mnist_mlp.json")
    project.data = DataSpec("image_folder", {"root": str(tmp_path / "flat")})
    panel, document = make_panel(project)
    assert "holds no class folders (its images lie in it directly)" in error(panel)
    for cls, mode in (("cat", "L"), ("dog", "RGB")):             # mixed modes: all decoded to the chosen one
        (tmp_path / "pets" / cls).mkdir(parents=True)
        Image.new(mode, (40, 30)).save(tmp_path / "pets" / cls / "1.png")
    document.set_data_param("root", str(tmp_path / "pets"))
    assert error(panel) == "" and summary(panel) == "2 images · 28×28 grey · 2 classes"
    panel.data.form.editors["channels"].widget.setCurrentIndex(1)
    panel.data.form.editors["size"].widget.setValue(32)
    assert summary(panel) == "2 images · 32×32 RGB · 2 classes" and document.network.input_shape == [3, 32, 32]
    document.set_dataset("cifar10")
    document.set_data_param("root", str(tmp_path))
    assert error(panel).startswith("CIFAR-10 needs 7 files that are not in ") and "data_batch_1" in error(panel)
    assert document.project.data.dataset == "cifar10"            # nothing lost: the choice stands


def test_the_augmentation_box_writes_torchvision_names_and_keeps_what_it_has_no_field_for(make_panel, tmp_path):
    project = Project.load(EXAMPLES / "mnist_mlp.json")
    project.data.augment = {"RandomCrop": {"padding": 2, "padding_mode": "edge"}, "RandomVerticalFlip": {"p": 0.3}}
    panel, document = make_panel(project)
    box = panel.augment_box
    assert box.isVisibleTo(panel) and box.checks["RandomCrop"].isChecked() and box.spins["RandomCrop"].value() == 2
    box.checks["RandomHorizontalFlip"].setChecked(True)
    box.spins["RandomCrop"].setValue(3)
    box.checks["RandomErasing"].setChecked(True)
    box.spins["RandomErasing"].setValue(0.25)
    assert document.project.data.augment == {
        "RandomCrop": {"padding": 3, "padding_mode": "edge"}, "RandomHorizontalFlip": {"p": 0.5},
        "RandomVerticalFlip": {"p": 0.3}, "RandomErasing": {"p": 0.25}}
    dataset_info(document.project.data)                            # the core takes it as it is
    box.checks["RandomCrop"].setChecked(False)
    assert "RandomCrop" not in document.project.data.augment
    document.undo_stack.undo()
    assert box.checks["RandomCrop"].isChecked() and document.project.data.augment["RandomCrop"]["padding"] == 3
    document.set_dataset("fashion_mnist")                           # images to images: it stays
    assert document.project.data.augment["RandomErasing"] == {"p": 0.25}
    document.set_dataset("xor")
    assert document.project.data.augment == {} and not box.isVisibleTo(panel)
