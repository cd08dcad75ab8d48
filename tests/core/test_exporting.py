"""Standard formats and `playground export --format python|pt2|onnx`: outputs match the app's on a batch."""

import importlib.util
import subprocess
import sys

import pytest
import torch

from playground.cli import main
from playground.core.checkpoint import Checkpoint, save_checkpoint
from playground.core.exporting import ExportError, export_model, onnx_problem
from playground.core.shapes import build_network
from playground.core.spec import Project
from tests.core.test_codegen import networks


@pytest.fixture
def lenet_checkpoint(tmp_path, examples):
    """LeNet with weights that are not the seed's, as a trained checkpoint would hold."""
    project = Project.load(examples / "mnist_lenet.json")
    torch.manual_seed(5)
    model = build_network(project.network).eval()
    path = tmp_path / "lenet.checkpoint.pt"
    save_checkpoint(Checkpoint(project=project, model=model.state_dict(), epoch=1), path)
    return path, model


def batch(shape, n=6):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(3))


def test_pt2_from_the_command_line_matches_the_app(tmp_path, lenet_checkpoint, capsys, one_torch_thread):
    path, model = lenet_checkpoint
    out = tmp_path / "lenet.pt2"
    assert main(["export", str(path), "--format", "pt2", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (pt2, input (batch, 1, 28, 28))\n"
    program = torch.export.load(out).module()
    for n in (1, 6):  # the batch size is free
        x = batch((1, 28, 28), n)
        with torch.no_grad():
            assert torch.equal(program(x), model(x))


@pytest.mark.parametrize("name", ["images", "features", "sequences"])
def test_pt2_for_every_kind_of_layer(tmp_path, examples, name, one_torch_thread):
    network = networks(examples)[name]
    torch.manual_seed(0)
    model = build_network(network).eval()
    export_model(network, model.state_dict(), tmp_path / "m.pt2", "pt2")
    x = batch(network.input_shape)
    with torch.no_grad():
        assert torch.equal(torch.export.load(tmp_path / "m.pt2").module()(x), model(x))


def run_onnx(path, x):
    """Outputs from onnxruntime, else onnx's reference evaluator, else a skip that says why."""
    if importlib.util.find_spec("onnxruntime"):
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    if importlib.util.find_spec("onnx"):
        from onnx.reference import ReferenceEvaluator

        return torch.from_numpy(ReferenceEvaluator(str(path)).run(None, {"input": x.numpy()})[0])
    pytest.skip("neither onnxruntime nor onnx is installed to run the exported model")


@pytest.mark.skipif(onnx_problem() is not None, reason=f"the onnx extra is not installed: {onnx_problem()}")
@pytest.mark.parametrize("name", ["lenet", "sequences"])
def test_onnx_matches_the_app(tmp_path, examples, name, one_torch_thread):
    network = networks(examples)[name]
    torch.manual_seed(0)
    model = build_network(network).eval()
    export_model(network, model.state_dict(), tmp_path / "m.onnx", "onnx")
    for n in (1, 6):
        x = batch(network.input_shape, n)
        with torch.no_grad():
            expected = model(x)
        got = run_onnx(tmp_path / "m.onnx", x)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)  # other kernels: not bit-equal


@pytest.mark.skipif(onnx_problem() is not None, reason=f"the onnx extra is not installed: {onnx_problem()}")
def test_onnx_from_the_command_line(tmp_path, lenet_checkpoint, one_torch_thread):
    path, model = lenet_checkpoint
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "l.onnx")]) == 0
    x = batch((1, 28, 28))
    with torch.no_grad():
        torch.testing.assert_close(run_onnx(tmp_path / "l.onnx", x), model(x), rtol=1e-5, atol=1e-5)


def test_without_the_onnx_extra_the_message_says_what_to_install(tmp_path, examples, monkeypatch, capsys):
    real = importlib.util.find_spec
    found = {"onnx": None, "onnxscript": None}  # whether or not they are installed here
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: found[name] if name in found else real(name, *a))
    assert onnx_problem() == "ONNX export needs the onnx and onnxscript packages: pip install 'playground[onnx]'"
    found["onnx"] = real("json")  # some spec: "installed"
    network = networks(examples)["mnist_mlp"]
    with pytest.raises(ExportError, match=r"^ONNX export needs the onnxscript package: pip install 'playground\[onnx\]'$"):
        export_model(network, build_network(network).state_dict(), tmp_path / "m.onnx", "onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_python_script_from_a_checkpoint_loads_its_weights(tmp_path, lenet_checkpoint, capsys):
    path, model = lenet_checkpoint
    script = tmp_path / "lenet.py"
    assert main(["export", str(path), "--format", "python", "--out", str(script)]) == 0
    assert capsys.readouterr().out == f"wrote {script} and {tmp_path / 'lenet.weights.pt'}\n"
    x = batch((1, 28, 28))
    torch.save(x, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-I", "-c", "import torch, runpy, sys; torch.set_num_threads(1); "
                    "sys.argv = ['lenet.py', 'x.pt', 'y.pt']; runpy.run_path('lenet.py', run_name='__main__')"],
                   cwd=tmp_path, check=True, timeout=120)
    torch.set_num_threads(1)
    with torch.no_grad():
        assert torch.equal(torch.load(tmp_path / "y.pt", weights_only=True), model(x))


def test_python_script_from_a_project_or_without_weights(tmp_path, examples, lenet_checkpoint):
    assert main(["export", str(examples / "xor.json"), "--format", "python", "--out", str(tmp_path / "x.py")]) == 0
    assert "torch.manual_seed(" in (tmp_path / "x.py").read_text()
    path, _ = lenet_checkpoint
    assert main(["export", str(path), "--format", "python", "--no-weights", "--out", str(tmp_path / "n.py")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".py", ".pt")) == [
        "lenet.checkpoint.pt", "n.py", "x.py"]


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_a_trained_format_from_a_project_is_refused(tmp_path, examples, capsys, fmt):
    assert main(["export", str(examples / "xor.json"), "--format", fmt, "--out", str(tmp_path / "m")]) == 1
    assert capsys.readouterr().err == (
        f"playground: error: {examples / 'xor.json'} is a project without weights; --format {fmt} exports "
        "a trained network — pass a checkpoint (playground train writes one)\n")


def test_a_script_never_writes_its_weights_over_the_checkpoint_they_come_from(tmp_path, capsys, examples):
    """`export lenet.pt --format python --out lenet.py` once replaced lenet.pt with bare weights."""
    from playground.core.checkpoint import load_checkpoint

    project = Project.load(examples / "xor.json")
    ckpt = tmp_path / "xor.pt"
    save_checkpoint(Checkpoint(project=project, model=build_network(project.network).state_dict()), ckpt)
    before = ckpt.read_bytes()
    assert main(["export", str(ckpt), "--format", "python", "--out", str(tmp_path / "xor.py")]) == 0
    assert ckpt.read_bytes() == before and (tmp_path / "xor.weights.pt").is_file()
    assert load_checkpoint(ckpt).project == project
    twin = tmp_path / "net.weights.pt"
    save_checkpoint(Checkpoint(project=project, model=build_network(project.network).state_dict()), twin)
    assert main(["export", str(twin), "--format", "python", "--out", str(tmp_path / "net.py")]) == 1
    assert "which this command reads — writing its weights there would replace it" in capsys.readouterr().err
    assert load_checkpoint(twin).project == project
