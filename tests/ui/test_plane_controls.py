"""The data controls of points of the plane in the training panel: features, noise, training share and new data
are undoable edits of the document that apply at once, the input follows the features, and a run locks them."""

from __future__ import annotations

import pytest
import torch

from playground.core.data import load
from playground.core.spec import Project
from playground.ui import training_panel
from playground.ui.document import ProjectDocument
from playground.ui.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot, examples, monkeypatch):
    monkeypatch.setattr(training_panel, "available_devices", lambda: ["cpu"])
    document = ProjectDocument(Project.load(examples / "xor.json"))
    panel = TrainingPanel(document)
    qtbot.addWidget(panel)
    return panel, document


def test_the_features_are_an_edit_and_the_input_follows(panel):
    panel, document = panel
    controls = panel.plane_controls
    assert controls.isVisibleTo(panel)
    assert controls.chosen_features() == ["x1", "x2"] and document.project.data.features == []
    controls.feature_checks["x1^2"].setChecked(True)
    controls.feature_checks["x1*x2"].setChecked(True)
    assert document.project.data.features == ["x1", "x2", "x1^2", "x1*x2"]
    assert document.network.input_shape == [4] and document.network_info.ok
    controls.feature_checks["x1"].setChecked(False)
    controls.feature_checks["x2"].setChecked(False)
    controls.feature_checks["x1^2"].setChecked(False)
    assert document.project.data.features == ["x1*x2"]
    controls.feature_checks["x1*x2"].setChecked(False)      # the last one stays: the network needs an input
    assert controls.feature_checks["x1*x2"].isChecked() and document.project.data.features == ["x1*x2"]
    document.undo_stack.undo()
    assert document.project.data.features == ["x1^2", "x1*x2"] and controls.chosen_features() == ["x1^2", "x1*x2"]
    document.set_dataset("circles")                          # plane to plane: the features stay
    assert document.project.data.features == ["x1^2", "x1*x2"] and document.network.input_shape == [2]
    document.set_dataset("linear")
    assert document.project.data.features == [] and not controls.isVisibleTo(panel)


def test_noise_share_and_new_data_apply_at_once(panel):
    panel, document = panel
    controls = panel.plane_controls
    before = load(document.project.data)
    controls.noise.setValue(30)
    assert document.project.data.params["noise"] == 0.3 and controls.noise_label.text() == "0.3"
    controls.ratio.setValue(50)
    assert document.project.data.params["val_fraction"] == 0.5 and controls.ratio_label.text() == "50%"
    seed = document.project.data.params.get("seed", 0)
    controls.regenerate.click()
    assert document.project.data.params["seed"] == seed + 1
    after = load(document.project.data)
    assert len(after.x_val) == len(after.x_train) and not torch.equal(before.plane_train[:5], after.plane_train[:5])
    document.set_locked(True)     # a run: the data settings are locked, but for the noise a run follows live
    assert controls.noise.isEnabledTo(panel)
    assert not any(w.isEnabledTo(panel) for w in (controls.ratio, controls.regenerate, *controls.feature_checks.values()))
    document.set_locked(False)
    assert controls.ratio.isEnabledTo(panel) and controls.regenerate.isEnabledTo(panel)


def test_each_value_has_one_control_the_sliders_replace_the_spin_boxes_on_the_plane(panel):
    """The noise and the validation share showed twice (a spin box and a slider) for the 2-D sets."""
    panel, document = panel

    def shown(name: str) -> bool:
        form = panel.data.form   # a new dataset builds a new form
        return form.layout_.isRowVisible(form.editors[name])

    assert not shown("noise") and not shown("val_fraction") and shown("samples")
    assert panel.plane_controls.isVisibleTo(panel)
    document.set_dataset("quadratic")                      # 1-D regression: no sliders, the spin boxes back
    assert not panel.plane_controls.isVisibleTo(panel)
    assert shown("noise") and shown("val_fraction")
