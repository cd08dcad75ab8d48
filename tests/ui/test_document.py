"""The document: every edit undoable, shapes fresh after each, locked while training."""

import pytest

from playground.core.errors import PlaygroundError
from playground.core.spec import Project
from playground.ui.document import ProjectDocument


@pytest.fixture
def doc(qapp, examples):
    return ProjectDocument(Project.load(examples / "mnist_lenet.json"))


def test_param_edit_updates_shapes_and_undoes(doc, qtbot):
    with qtbot.waitSignal(doc.network_changed):
        doc.set_layer_param(0, "out_channels", 6)
    assert doc.network_info.layers[3].inferred == {"in_channels": 6}
    assert doc.network_info.total_params == 21_840 - 260 - 4 * 20 * 25 + 6 * 25 + 6
    assert not doc.is_clean
    doc.undo_stack.undo()
    assert doc.layers[0].params["out_channels"] == 10
    assert doc.network_info.total_params == 21_840
    assert doc.is_clean
    doc.undo_stack.redo()
    assert doc.layers[0].params["out_channels"] == 6


def test_spinning_a_value_is_one_undo_step(doc):
    for value in (11, 12, 13, 14):
        doc.set_layer_param(7, "out_features", value)
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.layers[7].params["out_features"] == 50


def test_insert_move_duplicate_remove(doc, examples):
    doc.insert_layer(7, "Dropout", {"p": 0.25})
    assert [layer.type for layer in doc.layers][6:9] == ["Flatten", "Dropout", "Linear"]
    doc.move_layer(7, 9)
    assert [layer.type for layer in doc.layers][7:10] == ["Linear", "ReLU", "Dropout"]
    doc.duplicate_layer(0)
    assert doc.layers[1] == doc.layers[0] and doc.layers[1] is not doc.layers[0]
    doc.remove_layer(1)
    assert doc.undo_stack.count() == 4
    for _ in range(4):
        doc.undo_stack.undo()
    assert doc.is_clean
    assert doc.network == Project.load(examples / "mnist_lenet.json").network


def test_dataset_change_sets_the_input_shape(doc):
    doc.set_dataset("spiral")
    assert doc.network.input_shape == [2]
    assert not doc.network_info.ok  # a Conv2d cannot take (2,): the editor shows why
    doc.undo_stack.undo()
    assert doc.network.input_shape == [1, 28, 28]


def test_a_table_not_named_yet_keeps_the_shape_until_it_is(doc, examples):
    doc.set_dataset("table")
    assert doc.network.input_shape == [1, 28, 28] and doc.data_info is None
    assert doc.data_error == "data.params.path is empty: name the file to train on"
    doc.set_data_param("path", str(examples.parent / "tables" / "iris.csv"))
    assert doc.network.input_shape == [4] and doc.data_info.class_names == ("setosa", "versicolor", "virginica")


def test_optimizer_change_keeps_the_learning_rate(doc):
    doc.set_component("optimizer", "Adam")
    assert doc.project.training.optimizer.type == "Adam"
    assert doc.project.training.optimizer.params == {"lr": 0.01}
    doc.set_component("scheduler", "StepLR")
    doc.set_component_param("scheduler", "step_size", 3)
    assert doc.project.training.scheduler.params == {"step_size": 3}
    doc.set_training("batch_size", 128)
    assert doc.project.training.batch_size == 128


def test_locked_document_refuses_edits(doc):
    doc.set_locked(True)
    with pytest.raises(PlaygroundError, match="stop the run"):
        doc.append_layer("ReLU")
    assert len(doc.layers) == 10
    doc.set_locked(False)
    doc.append_layer("ReLU")
    assert len(doc.layers) == 11


def test_project_is_a_copy(doc):
    copy = doc.project
    copy.network.layers.clear()
    assert len(doc.layers) == 10
