"""Real public PyTorch code (tests/data/code_corpus) imported as it is written: the cards build with
the original's parameter count, and weights go both ways by the original's own names, strictly.

The originals run once, all together, in a throwaway subprocess (corpus_runner.py) — never in the
app. Outputs are compared to a few float32 ulps: the same weights meet the same operations in the
same order, but the two processes may pick different kernels' summation orders (threads), which
moves results by rounding only (float32 epsilon 1.2e-7; the activations here are of order 1).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from playground.core.checkpoint import apply_state_dict
from playground.core.code_import import CodeImportError, import_code
from playground.core.naming import original_state_dict
from playground.core.shapes import build_network, infer_shapes

CORPUS = Path(__file__).parent.parent / "data" / "code_corpus"
RUNNER = Path(__file__).parent / "corpus_runner.py"
ULPS = dict(rtol=1e-5, atol=1e-6)

# Real code this Playground cannot import yet, and why (each is said in the import's own message):
EXPECTED_FAILURES = {
    "seq_dcgan_generator_main": "pasted alone, its sizes are unbound: argparse sets ngf, the --dataset branch nc",
    "seq_dcgan_discriminator_main": "the same: ndf from argparse, outside the pasted Sequential",
    "seq_examples_nn_polynomial": "Flatten(0, 1) flattens the batch into the output; cards keep the batch",
    "class_examples_dqn_mlp": "its sizes are constructor arguments without defaults (a list, hidden_structure)",
}
# The bar (issue 17): what share of each kind must import and round-trip its weights.
TARGETS = {"sequential": 0.85, "class": 0.70}


def snippets() -> list[dict]:
    out = []
    for path in sorted(CORPUS.glob("*.py")):
        text = path.read_text()
        head = dict(line[2:].split(": ", 1) for line in text.splitlines()[:4])
        assert head["source"].split(" @ ")[1][:40].isalnum(), f"{path.name}: the header names a commit"
        out.append({"name": path.stem, "path": path, "text": text, "kind": head["kind"], "model": head["model"],
                    "input": [int(s) for s in head["input"].split(",")]})
    return out


def test_every_snippet_names_its_source_and_licence():
    for s in snippets():
        first = s["text"].splitlines()[0]
        assert first.startswith("# source: ") and " @ " in first and first.endswith(")"), s["name"]


def test_classes_that_are_not_a_chain_are_refused_with_the_line_and_the_reason():
    refused = [s for s in snippets() if s["kind"] == "refused"]
    assert refused
    for s in refused:
        with pytest.raises(CodeImportError) as e:
            import_code(s["text"], s["input"])
        assert all(line > 4 for line, _ in e.value.problems)          # a line of the code, not the header
        assert "cannot be a chain of cards" in str(e.value)


def test_the_corpus_imports_and_its_weights_go_both_ways(tmp_path):
    importable = [s for s in snippets() if s["kind"] in ("sequential", "class")]
    jobs, ours, failed = [], {}, []
    for s in importable:
        try:
            result = import_code(s["text"], s["input"])
        except CodeImportError as e:
            failed.append((s["name"], str(e)))
            continue
        network = result.network
        info = infer_shapes(network)
        if not info.ok:                      # imported, but a card says what does not fit: not a success
            failed.append((s["name"], info.error))
            continue
        torch.manual_seed(0)
        model = build_network(network).eval()
        x = torch.randn(2, *s["input"], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = model(x)
        files = {k: str(tmp_path / f"{s['name']}.{k}.pt") for k in
                 ("x", "weights", "out_theirs_on_ours", "own_weights", "out_own")}
        torch.save(x, files["x"])
        torch.save(original_state_dict(network, model.state_dict()), files["weights"])
        jobs.append({"name": s["name"], "source": str(s["path"]), "model": s["model"], **files})
        ours[s["name"]] = (network, info.total_params, x, y)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "jobs.json")], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = json.loads(run.stdout.splitlines()[-1])

    for name, (network, params, x, y) in ours.items():
        files = next(j for j in jobs if j["name"] == name)
        assert theirs[name]["params"] == params, name                  # the same parameter count
        # ours -> theirs: the original class loaded our export strictly; same outputs
        torch.testing.assert_close(torch.load(files["out_theirs_on_ours"]), y, **ULPS)
        # theirs -> ours: the original's own weights, by its own names, strictly into the cards
        model = build_network(network, initialise=False).eval()
        apply_state_dict(model, torch.load(files["own_weights"]), network)
        with torch.no_grad():
            torch.testing.assert_close(model(x), torch.load(files["out_own"]), **ULPS)

    rates = {kind: (sum(1 for s in importable if s["kind"] == kind and s["name"] in ours),
                    sum(1 for s in importable if s["kind"] == kind)) for kind in ("sequential", "class")}
    print("import rates:", {k: f"{a}/{b} = {a / b:.0%}" for k, (a, b) in rates.items()})
    for name, reason in failed:
        print(f"  not imported: {name}: {reason.splitlines()[0]}")
    # what this corpus measures today, so a change that imports less fails here (EXPECTED_FAILURES says why)
    assert sorted(name for name, _ in failed) == sorted(EXPECTED_FAILURES), failed
    for kind, (imported, total) in rates.items():
        assert imported / total >= TARGETS[kind], (kind, imported, total)
