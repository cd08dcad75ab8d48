"""Export to code: the generated script, run by plain python + torch, gives the app's outputs exactly."""

import subprocess
import sys
import textwrap

import pytest
import torch

from playground.core.codegen import panel_source, python_script, sequential_source
from playground.core.errors import ShapeError
from playground.core.shapes import build_network
from playground.core.spec import LayerSpec, NetworkSpec, Project

L = LayerSpec


def networks(examples) -> dict[str, NetworkSpec]:
    return {
        "lenet": Project.load(examples / "mnist_lenet.json").network,
        "mnist_mlp": Project.load(examples / "mnist_mlp.json").network,
        "images": NetworkSpec([3, 16, 16], [
            L("Conv2d", {"out_channels": 8, "kernel_size": [3, 5], "padding": [1, 2], "padding_mode": "reflect"}),
            L("BatchNorm2d", {"momentum": 0.2}), L("LeakyReLU", {"negative_slope": 0.2}),
            L("AvgPool2d", {"kernel_size": 2, "count_include_pad": False}), L("Dropout2d", {"p": 0.3}),
            L("ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2}),
            L("GroupNorm", {"num_groups": 2}), L("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
            L("AdaptiveAvgPool2d", {"output_size": [2, 3]}), L("Flatten"), L("Linear", {"out_features": 5}),
            L("Softmax", {"dim": 1}),
        ]),
        "features": NetworkSpec([20], [
            L("Linear", {"out_features": 16, "bias": False}), L("BatchNorm1d"), L("ELU", {"alpha": 0.5}),
            L("Dropout", {"p": 0.2}), L("Unflatten", {"dim": 1, "unflattened_size": [4, 4]}),
            L("LayerNorm", {"eps": 1e-3}), L("GELU", {"approximate": "tanh"}), L("Flatten", {"start_dim": 1}),
            L("Softplus", {"beta": 2.0}), L("Linear", {"out_features": 3}), L("LogSoftmax", {"dim": -1}),
        ]),
        "sequences": NetworkSpec([10, 6], [
            L("Conv1d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), L("MaxPool1d", {"kernel_size": 2}),
            L("LSTM", {"hidden_size": 12, "num_layers": 2, "dropout": 0.1, "output": "sequence"}),
            L("GRU", {"hidden_size": 6, "bidirectional": True, "output": "sequence"}),
            L("RNN", {"hidden_size": 5, "nonlinearity": "relu"}), L("SiLU"), L("Linear", {"out_features": 2}),
        ]),
    }


def test_lenet_reads_as_a_tutorial_writes_it(examples):
    assert sequential_source(Project.load(examples / "mnist_lenet.json").network) == textwrap.dedent("""\
        nn.Sequential(
            nn.Conv2d(1, 10, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(10, 20, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(320, 50),
            nn.ReLU(),
            nn.Linear(50, 10),
        )""")


def test_catalogue_defaults_torch_lacks_are_written_out():
    # Playground's Linear defaults to 10 outputs, its MaxPool2d to a 2x2 window; torch has no default
    source = sequential_source(NetworkSpec([1, 8, 8], [L("MaxPool2d"), L("Flatten"), L("Linear")]))
    assert "nn.MaxPool2d(2)" in source and "nn.Linear(16, 10)" in source


def test_a_network_that_does_not_fit_is_not_exported():
    with pytest.raises(ShapeError, match="layer 0 Conv2d"):
        sequential_source(NetworkSpec([4], [L("Conv2d")]))


def test_recurrent_layers_note_their_helper_in_the_panel(examples):
    assert panel_source(networks(examples)["sequences"]).startswith("# RNN / LSTM / GRU here are")
    assert not panel_source(networks(examples)["lenet"]).startswith("#")


def test_scripts_reproduce_the_apps_outputs_exactly(tmp_path, examples, one_torch_thread):
    """Each script runs in a fresh interpreter with plain torch, with and without exported weights."""
    cases = []
    for name, network in networks(examples).items():
        x = torch.randn(5, *network.input_shape, generator=torch.Generator().manual_seed(1))
        torch.save(x, tmp_path / f"{name}.in.pt")
        torch.manual_seed(7)  # the project's seed: the script without weights starts from the same ones
        fresh = build_network(network).eval()
        (tmp_path / f"{name}_seeded.py").write_text(python_script(network, name, seed=7))
        torch.manual_seed(123)
        trained = build_network(network).eval()
        for module in trained.modules():  # give batch norms non-trivial running statistics
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
        torch.save(trained.state_dict(), tmp_path / f"{name}.weights.pt")
        (tmp_path / f"{name}_weights.py").write_text(python_script(network, name, weights_file=f"{name}.weights.pt"))
        with torch.no_grad():
            cases += [(f"{name}_seeded", name, fresh(x)), (f"{name}_weights", name, trained(x))]

    driver = textwrap.dedent("""\
        import runpy, sys
        import torch
        torch.set_num_threads(1)  # as the test process: the same kernels sum in the same order
        for script, data in zip(sys.argv[1::2], sys.argv[2::2]):
            sys.argv = [script, data + ".in.pt", script + ".out.pt"]
            runpy.run_path(script, run_name="__main__")
        assert not any(m.startswith("playground") for m in sys.modules), "the script imported playground"
        """)
    args = [a for script, data, _ in cases for a in (f"{script}.py", data)]
    subprocess.run([sys.executable, "-I", "-c", driver, *args], cwd=tmp_path, check=True, timeout=240)
    for script, _, expected in cases:
        out = torch.load(tmp_path / f"{script}.py.out.pt", weights_only=True)
        assert out.dtype == torch.float32 and torch.equal(out, expected), script
    for script, _, _ in cases:
        assert "playground" not in (tmp_path / f"{script}.py").read_text().split('"""')[2]


def test_the_script_runs_without_arguments(tmp_path, examples):
    network = networks(examples)["sequences"]
    (tmp_path / "net.py").write_text(python_script(network, "Sequences", seed=0))
    result = subprocess.run([sys.executable, "-I", "net.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "output shape: (4, 2)"


def test_whole_numbers_written_as_floats_in_a_file_become_ints():
    source = sequential_source(NetworkSpec([1, 8, 8], [L("Conv2d", {"out_channels": 4.0, "kernel_size": [3.0, 3]})]))
    assert "nn.Conv2d(1, 4, (3, 3))" in source
