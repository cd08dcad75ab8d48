"""Start-up: wall time from launching `python -m playground` to the main window's first paint, and to
the window being fully built (torch loaded, panels ready). The app reports both and quits when
PLAYGROUND_STARTUP_PROBE is set. Median of several cold-ish launches."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, emit, machine, median  # noqa: E402


def launch() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-start-") as home:
        env = dict(os.environ, PLAYGROUND_STARTUP_PROBE="1", PYTHONPATH=str(REPO),
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   XDG_CONFIG_HOME=home)   # no saved window state: a first launch
        start = time.time()
        out = subprocess.run([sys.executable, "-m", "playground"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"the app did not report its start-up:\n{out.stdout}\n{out.stderr}")
        probe = json.loads(line)
        return {"painted_s": probe["painted"] - start, "ready_s": probe["ready"] - start,
                "torch_loaded_at_paint": probe["torch_at_paint"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        runs.append(launch())
        print(runs[-1], file=sys.stderr, flush=True)
    emit({"benchmark": "startup", "painted_s": median([r["painted_s"] for r in runs]),
          "ready_s": median([r["ready_s"] for r in runs]),
          "torch_loaded_at_paint": any(r["torch_loaded_at_paint"] for r in runs),
          "runs": runs, "machine": machine()})


if __name__ == "__main__":
    main()
