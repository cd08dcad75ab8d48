"""Runs the corpus's original code in a throwaway process, for tests/core/test_code_corpus.py only.

Playground never executes pasted code; the test needs the originals as the oracle. Reads a JSON list
of jobs from argv[1]; for each it builds the original module, counts its parameters, loads the
Playground weights strictly (`strict=True`) and runs the saved input through it, then saves the
original's own freshly initialised weights and its output on the same input.
"""

import json
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


class _Self:
    """`self` for a snippet cut from a class body (`self.stack = nn.Sequential(...)`)."""


def main(jobs_path: str) -> None:
    torch.set_num_threads(1)
    results = {}
    for job in json.loads(open(jobs_path).read()):
        source = open(job["source"]).read()
        namespace = {"torch": torch, "nn": nn, "F": F, "OrderedDict": OrderedDict, "self": _Self()}
        exec(compile(_dedent(source), job["source"], "exec"), namespace)
        torch.manual_seed(1)
        model = eval(job["model"], namespace).eval()
        x = torch.load(job["x"])
        with torch.no_grad():
            model(x)                             # a dry run: lazy layers take their sizes
        model.load_state_dict(torch.load(job["weights"]), strict=True)
        with torch.no_grad():
            torch.save(model(x), job["out_theirs_on_ours"])
        own = eval(job["model"], namespace).eval()
        with torch.no_grad():
            own(x)
        torch.save(own.state_dict(), job["own_weights"])
        with torch.no_grad():
            torch.save(own(x), job["out_own"])
        results[job["name"]] = {"params": sum(p.numel() for p in model.parameters()),
                                "keys": list(model.state_dict())}
    print(json.dumps(results))


def _dedent(source: str) -> str:
    lines = source.splitlines()
    if all(line.lstrip().startswith((">>>", "...")) for line in lines if line.strip() and not line.startswith("#")):
        lines = [line if line.startswith("#") else line.lstrip()[4:] if line.lstrip()[3:4] == " "
                 else line.lstrip()[3:] for line in lines]
    code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    margin = min(len(line) - len(line.lstrip()) for line in code)
    return "\n".join(line[margin:] if len(line) - len(line.lstrip()) >= margin else line.lstrip()
                     for line in lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1])
