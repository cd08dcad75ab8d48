"""The command line in a pipeline whose reader has gone, as with `playground train … | head -2`."""

import json
import os
import subprocess
import sys

from playground.pipes import SIGPIPE_STATUS, closed_pipes_tolerated


def run_with_reader_gone(args, cwd, stderr_too: bool):
    """`playground ARGS` writing into a pipe nobody reads any more (head has printed its lines and
    exited): the read end is closed before the command writes a byte, so every write meets EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "playground", *args], cwd=cwd, stdout=write,
                              stderr=write if stderr_too else subprocess.PIPE, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    finally:
        os.close(write)
    return proc


def test_train_piped_into_head_finishes_its_run(tmp_path, examples):
    proc = run_with_reader_gone(["train", str(examples / "xor.json"), "--epochs", "2"], tmp_path, stderr_too=True)
    assert proc.returncode == 0
    metrics = json.loads((tmp_path / "xor.metrics.json").read_text())
    assert metrics["status"] == "finished", metrics["reason"]   # it was "failed: BrokenPipeError"
    assert (tmp_path / "xor.checkpoint.pt").stat().st_size > 0


def test_inspect_piped_into_head_ends_as_unix_tools_do(tmp_path, examples):
    proc = run_with_reader_gone(["inspect", str(examples / "mnist_lenet.json")], tmp_path, stderr_too=False)
    assert proc.returncode == SIGPIPE_STATUS   # 141, as `seq 100000 | head` reports; it was 1
    assert proc.stderr == b""                  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_guarded_streams_drop_what_no_reader_takes(monkeypatch):
    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", stream)
    with closed_pipes_tolerated() as stdout_closed:
        print("first line")
        sys.stdout.flush()
        print("and everything after")
        assert stdout_closed()
    assert sys.stdout is stream
    stream.close()   # its file descriptor points at /dev/null now: the last flush cannot fail
