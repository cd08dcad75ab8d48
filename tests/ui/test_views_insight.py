"""The insight views and the learning-rate finder dialog: layer outputs, training health, the cost
table, and a range test that runs in its own thread, draws its result and applies the choice."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from playground.core.health import HealthEvent, LayerHealth
from playground.core.insight import initial_state, layer_outputs
from playground.core.shapes import build_network
from playground.core.spec import LayerSpec, NetworkSpec, Project
from playground.ui.lr_finder_dialog import LRFinderDialog
from playground.ui.views.analysis import MACS, PARAMS, SHAPE, NetworkAnalysisView
from playground.ui.views.data_cache import shared_cache
from playground.ui.views.health import TrainingHealthView
from playground.ui.views.insight import LayerOutputView

SEARCH_MS = 60_000   # a short range test on a busy 2-core machine


def seeded_state(network: NetworkSpec, seed: int = 11) -> dict:
    torch.manual_seed(seed)
    return build_network(network).state_dict()


@pytest.fixture
def lenet(examples, mnist_root) -> Project:
    project = Project.load(examples / "mnist_lenet.json")
    project.data.params.update(root=str(mnist_root), download=False, train_samples=300)
    return project


@pytest.fixture
def tiny_conv(examples) -> Project:
    """XOR points unflattened to 1×1×2 images, so a Conv2d runs without any image files."""
    project = Project.load(examples / "xor.json")
    project.data.params["samples"] = 60
    project.network = NetworkSpec([2], [
        LayerSpec("Unflatten", {"dim": 1, "unflattened_size": [1, 1, 2]}),
        LayerSpec("Conv2d", {"out_channels": 5, "kernel_size": 1}),
        LayerSpec("Flatten", {}),
        LayerSpec("Linear", {"out_features": 2}),
    ])
    return project


@pytest.fixture
def layer_view(qtbot) -> LayerOutputView:
    view = LayerOutputView()
    qtbot.addWidget(view)
    return view


# --- layer output ---------------------------------------------------------------------------


def test_lenet_conv_layer_shows_its_feature_maps(layer_view, lenet):
    state = seeded_state(lenet.network)
    layer_view.set_project(lenet)
    layer_view.set_weights(state)
    layer_view.set_layer(0)
    layer_view.sample_spin.setValue(4)

    x_val = shared_cache.get(lenet.data).x_val
    expected = layer_outputs(lenet.network, state, x_val[:8])[0][4]
    assert layer_view.shown_kind() == "maps"
    torch.testing.assert_close(layer_view.shown_values(), expected)
    # the mosaic drawn holds the maps themselves: the first tile is channel 0, the next channel 1
    mosaic = layer_view.image.image
    np.testing.assert_allclose(mosaic[:24, :24], expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(mosaic[:24, 25:49], expected[1].numpy(), rtol=1e-6)
    assert layer_view.input_preview.pixmap() is not None and not layer_view.input_preview.pixmap().isNull()


def test_lenet_linear_layer_shows_a_histogram_of_every_output_value(layer_view, lenet):
    state = seeded_state(lenet.network)
    layer_view.set_project(lenet)
    layer_view.set_weights(state)
    layer_view.set_layer(7)   # Linear(320 -> 50)

    assert layer_view.shown_kind() == "histogram"
    x_val = shared_cache.get(lenet.data).x_val
    torch.testing.assert_close(layer_view.shown_values(), layer_outputs(lenet.network, state, x_val[:1])[7][0])
    edges, counts = layer_view.histogram.getData()
    assert len(edges) == len(counts) + 1
    assert counts.sum() == 50
    assert edges[0] <= layer_view.shown_values().min() and edges[-1] >= layer_view.shown_values().max()


def test_no_selection_shows_the_last_layer_and_samples_change_the_values(layer_view, tiny_conv):
    state = seeded_state(tiny_conv.network)
    layer_view.set_project(tiny_conv)
    layer_view.set_weights(state)
    layer_view.set_layer(-1)
    assert layer_view.shown_layer() == 3
    assert layer_view.shown_kind() == "histogram"

    layer_view.set_layer(1)
    x_val = shared_cache.get(tiny_conv.data).x_val
    outputs = layer_outputs(tiny_conv.network, state, x_val)[1]
    assert layer_view.shown_kind() == "maps"
    torch.testing.assert_close(layer_view.shown_values(), outputs[0])
    layer_view.sample_spin.setValue(7)
    torch.testing.assert_close(layer_view.shown_values(), outputs[7])
    assert layer_view.sample_spin.maximum() == len(x_val) - 1


def test_without_weights_it_shows_the_seeded_initial_weights(layer_view, tiny_conv):
    layer_view.set_project(tiny_conv)
    layer_view.set_weights(None)
    layer_view.set_layer(1)
    x_val = shared_cache.get(tiny_conv.data).x_val
    state = initial_state(tiny_conv.network, tiny_conv.training.seed)
    torch.testing.assert_close(layer_view.shown_values(), layer_outputs(tiny_conv.network, state, x_val[:1])[1][0])
    assert "initial weights" in layer_view.heading.text()


def test_a_broken_network_or_stale_weights_show_a_message(layer_view, tiny_conv):
    layer_view.set_project(tiny_conv)
    layer_view.set_weights(seeded_state(tiny_conv.network))
    tiny_conv.network.layers[3].params["out_features"] = 3   # the weights no longer fit
    layer_view.set_project(tiny_conv)
    assert layer_view.shown_kind() == "none"
    assert "layer 3 Linear" in layer_view.message.text()

    tiny_conv.network.layers.insert(0, LayerSpec("Conv2d", {"out_channels": 2, "kernel_size": 3}))
    layer_view.set_project(tiny_conv)
    assert layer_view.shown_kind() == "none"
    assert "layer 0 Conv2d" in layer_view.message.text()
    assert layer_view.shown_values().numel() == 0


# --- training health ------------------------------------------------------------------------


def health_event(step: int, warnings: list[str] | None = None) -> HealthEvent:
    return HealthEvent(step, [
        LayerHealth(0, "Linear", grad_norm=0.5 / (step + 1), update_ratio=1e-3, dead_fraction=None, saturation=None),
        LayerHealth(1, "ReLU", grad_norm=None, update_ratio=None, dead_fraction=step / 100, saturation=None),
        LayerHealth(2, "Linear", grad_norm=0.1, update_ratio=None, dead_fraction=None, saturation=None),
        LayerHealth(3, "Tanh", grad_norm=None, update_ratio=None, dead_fraction=None, saturation=0.25),
    ], warnings or [])


def test_health_curves_grow_a_point_per_event(qtbot, examples):
    view = TrainingHealthView()
    qtbot.addWidget(view)
    view.set_project(Project.load(examples / "xor.json"))
    steps = [10, 20, 30, 40, 50]
    for step in steps:
        view.add_health(health_event(step))

    assert view.layer_rows() == [(0, "gradients"), (1, "activity"), (2, "gradients"), (3, "activity")]
    x, y = view.curve_data(0, "grad_norm")
    assert x.tolist() == steps
    np.testing.assert_allclose(y, [0.5 / (s + 1) for s in steps])
    assert len(view.curve_data(0, "update_ratio")[0]) == 5
    np.testing.assert_allclose(view.curve_data(1, "dead_fraction")[1], [s / 100 for s in steps])
    np.testing.assert_allclose(view.curve_data(3, "saturation")[1], [0.25] * 5)
    assert len(view.curve_data(2, "grad_norm")[0]) == 5
    with pytest.raises(KeyError):
        view.curve_data(2, "update_ratio")   # never measured: no curve at all
    assert view.strip_is_log(0, "gradients")          # sizes on a log axis
    assert not view.strip_is_log(1, "activity")
    assert view.warnings.count() == 0


def test_health_warnings_are_listed_once_in_red_and_clear_goes_back_to_empty(qtbot, examples):
    view = TrainingHealthView()
    qtbot.addWidget(view)
    project = Project.load(examples / "xor.json")
    view.set_project(project)
    dead = "layer 1 ReLU: 60% of its units output 0 for every sample in the batch (dead ReLUs)"
    view.add_health(health_event(10))
    view.add_health(health_event(20, [dead]))
    view.add_health(health_event(30, [dead, "layer 0 Linear: gradient norm 2e+03 — exploding"]))

    texts = view.warning_texts()
    assert texts == [
        f"step 30: {dead}  (×2 since step 20)",
        "step 30: layer 0 Linear: gradient norm 2e+03 — exploding",
    ]
    # the same problem with new numbers updates its line; another layer's gets its own
    view.add_health(health_event(40, ["layer 0 Linear: gradient norm 5e+03 — exploding",
                                      "layer 2 Linear: gradient norm 5e+03 — exploding"]))
    assert view.warning_texts()[1:] == [
        "step 40: layer 0 Linear: gradient norm 5e+03 — exploding  (×2 since step 30)",
        "step 40: layer 2 Linear: gradient norm 5e+03 — exploding",
    ]
    assert view.warnings.item(0).foreground().color() == view._red
    assert "3 warnings" in view.warnings_title.text()

    view.set_project(project)            # the same network: the history stays
    assert view.layer_rows() and view.warnings.count() == 3
    project.network.layers[0].params["out_features"] = 16
    view.set_project(project)            # another network: the old strips mean nothing
    assert view.layer_rows() == [] and view.warnings.count() == 0
    assert view.stack.currentWidget() is view.empty


# --- network analysis -----------------------------------------------------------------------


def test_analysis_table_has_a_row_per_layer_and_totals(qtbot, examples):
    project = Project.load(examples / "mnist_lenet.json")
    project.training.batch_size = 1
    view = NetworkAnalysisView()
    qtbot.addWidget(view)
    view.set_project(project)

    layers = len(project.network.layers)
    assert view.table.rowCount() == layers + 1
    assert view.cell(0, 1) == "Conv2d"
    assert view.cell(0, SHAPE) == "(10, 24, 24)"
    assert view.cell(0, MACS) == "144,000"   # 10 maps of 24×24, each a 5×5 kernel
    assert view.cell(layers, 1) == "Total"
    assert view.cell(layers, PARAMS) == "21,840"
    assert view.cell(layers, MACS) == f"{view.analysis.macs:,}"

    project.training.batch_size = 64      # the costs follow the training batch size
    view.set_project(project)
    assert view.cell(0, MACS) == f"{144_000 * 64:,}"
    assert "64 samples" in view.caption.text()


def test_analysis_marks_the_broken_layer_and_what_follows(qtbot, examples):
    project = Project.load(examples / "mnist_lenet.json")
    project.network.layers[7].params["in_features"] = 500
    view = NetworkAnalysisView()
    qtbot.addWidget(view)
    view.set_project(project)
    assert view.cell(7, SHAPE) == "error"
    assert view.cell(8, MACS) == "—"
    assert not view.error_label.isHidden() and "layer 7 Linear" in view.error_label.text()


# --- learning-rate finder ---------------------------------------------------------------------


def test_lr_finder_runs_draws_the_result_and_applies_the_suggestion(qtbot, examples):
    project = Project.load(examples / "xor.json")
    state = seeded_state(project.network)
    before = {k: v.clone() for k, v in state.items()}
    dialog = LRFinderDialog(project, state)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.empty_state.isVisible() and "Press Run" in dialog.empty_state.plain_text()

    with qtbot.waitSignal(dialog.finished_search, timeout=SEARCH_MS, raising=False) as found:
        dialog.start(steps=60)
    assert found.signal_triggered, dialog.status.text()   # the status says why when it failed
    assert not dialog.empty_state.isVisible()   # the curve is there now
    result = found.args[0]
    assert result is dialog.result and not dialog.is_running()
    assert 0 < len(result.lrs) <= 60
    x, y = dialog.curve.getData()
    assert len(x) == len(result.lrs)
    np.testing.assert_allclose(y, result.losses)
    assert result.suggested_lr is not None
    assert dialog.suggested_line.isVisible()
    assert 10 ** dialog.suggested_line.value() == pytest.approx(result.suggested_lr, rel=1e-9)
    assert dialog.suggested_line.label.toPlainText().startswith("suggested lr = ")
    assert dialog.apply_button.isEnabled()

    with qtbot.waitSignal(dialog.lr_applied) as applied:
        qtbot.mouseClick(dialog.apply_button, Qt.LeftButton)
    assert applied.args == [result.suggested_lr]
    assert not dialog.isVisible()
    assert all(torch.equal(state[k], before[k]) for k in before)   # the edited model is untouched
    assert project.training.optimizer.params["lr"] == 0.03


def test_closing_the_dialog_mid_search_stops_its_thread(qtbot, examples):
    dialog = LRFinderDialog(Project.load(examples / "xor.json"))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.stepped, timeout=SEARCH_MS, raising=False) as stepped:
        dialog.start(steps=5000)
    assert stepped.signal_triggered, dialog.status.text()
    assert dialog.is_running() and not dialog.run_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.finished_search, wait=100):
        dialog.close()
        assert not dialog.is_running()   # close waited for the thread


def test_stop_keeps_what_was_found_and_bad_ranges_are_refused(qtbot, examples):
    dialog = LRFinderDialog(Project.load(examples / "xor.json"))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.failed) as failed:
        dialog.start(start_lr=1.0, end_lr=0.1)
    assert "below the second" in failed.args[0] and not dialog.is_running()

    with qtbot.waitSignal(dialog.stepped, timeout=SEARCH_MS, raising=False) as stepped:
        dialog.start(start_lr=1e-6, end_lr=1.0, steps=5000)
    assert stepped.signal_triggered, dialog.status.text()
    with qtbot.waitSignal(dialog.finished_search, timeout=SEARCH_MS) as found:
        qtbot.mouseClick(dialog.stop_button, Qt.LeftButton)
    result = found.args[0]
    assert result.stopped_early and 0 < len(result.lrs) < 5000
    assert "Stopped after" in dialog.status.text()
    assert dialog.run_button.isEnabled() and not dialog.stop_button.isEnabled()


def test_a_project_that_cannot_train_fails_in_plain_words(qtbot, examples):
    project = Project.load(examples / "xor.json")
    project.network.input_shape = [3]
    dialog = LRFinderDialog(project)
    qtbot.addWidget(dialog)
    with qtbot.assertNotEmitted(dialog.finished_search), qtbot.waitSignal(dialog.failed, timeout=SEARCH_MS) as failed:
        dialog.start(steps=20)
    assert "input shape" in failed.args[0]
    assert "input shape" in dialog.status.text() and not dialog.apply_button.isEnabled()


def test_lr_text_reads_like_a_person_writes_it():
    from playground.ui.lr_finder_dialog import _lr_text

    assert _lr_text(3e-3) == "3e-3"
    assert _lr_text(0.0025) == "2.5e-3"
    assert _lr_text(0.1) == "0.1"
    assert _lr_text(10.0) == "10"
    assert math.isclose(float(_lr_text(3.16e-4)), 3.2e-4)



def test_new_weights_and_a_changed_network_reach_the_kept_module(layer_view, tiny_conv):
    layer_view.set_project(tiny_conv)
    x_val = shared_cache.get(tiny_conv.data).x_val
    for seed in (1, 2):   # the module is built once; each arrival's weights are copied into it
        state = seeded_state(tiny_conv.network, seed)
        layer_view.set_weights(state)
        expected = layer_outputs(tiny_conv.network, state, x_val[:1])[-1][0]
        torch.testing.assert_close(layer_view.shown_values(), expected)
    changed = copy.deepcopy(tiny_conv)
    changed.network.layers[1].params["out_channels"] = 3   # another network: built anew
    layer_view.set_project(changed)
    state = seeded_state(changed.network, 3)
    layer_view.set_weights(state)
    torch.testing.assert_close(layer_view.shown_values(), layer_outputs(changed.network, state, x_val[:1])[-1][0])


def test_the_health_view_builds_no_widget_per_layer_and_paints_only_when_shown(qtbot):
    """A pyqtgraph plot per strip cost ~30 ms each to build: LeNet's ten held the window a third
    of a second as a run began. Strips are numbers painted by one widget: however many layers
    report, the view has the same widgets, and a hidden view never repaints them."""
    view = TrainingHealthView()
    qtbot.addWidget(view)
    widgets = len(view.findChildren(QWidget))
    painted = []
    original = view.strips.paintEvent
    view.strips.paintEvent = lambda event: painted.append(1) or original(event)
    for step in (10, 20):
        view.add_health(health_event(step))
    assert len(view.findChildren(QWidget)) == widgets
    assert view.layer_rows() == [(0, "gradients"), (1, "activity"), (2, "gradients"), (3, "activity")]
    assert not view._refresh_timer.isActive() and view._dirty   # hidden: nothing is scheduled to paint
    assert not painted
    view.resize(700, 500)
    view.show()
    qtbot.waitUntil(lambda: bool(painted), timeout=5000)
    assert not view._dirty
    assert list(view.curve_data(0, "grad_norm")[0]) == [10.0, 20.0]
    assert len(view.findChildren(QWidget)) == widgets


def test_strip_decimation_keeps_every_column_s_lowest_and_highest_value():
    from playground.ui.views.strips import decimate
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 50, 5000))
    y = rng.normal(size=5000)
    y[1234] = 40.0                      # a spike in one column survives the reduction
    y[77] = np.nan                      # a gap does not poison its column
    xs, ys = decimate(x, y, 50)
    assert len(xs) == 100 and np.nanmax(ys) == 40.0
    cols = x.astype(int)
    for c in (0, int(x[1234]), 49):
        inside = y[cols == c]
        assert ys[2 * c] == np.nanmin(inside) and ys[2 * c + 1] == np.nanmax(inside)


def test_hovering_a_health_strip_tells_its_values_at_the_nearest_step(qtbot, examples):
    view = TrainingHealthView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    for step in (10, 20, 30):
        view.add_health(health_event(step))
    view.refresh()
    canvas = view.strips
    rect = canvas._plot_rect(0)              # layer 0's gradients: the first strip
    text = canvas.hover_text(rect.right() - 1, rect.center().y(), canvas.describe)
    assert text == "step 30: grad 0.016, update 1e-3"
    assert canvas.hover_text(2, rect.center().y(), canvas.describe) is None   # over the label
