"""Headless commands on the same core as the GUI: train, inspect, export."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

COMMANDS = ("train", "inspect", "export", "runs", "sweep")
EXPORT_FORMATS = ("state_dict", "safetensors", "python", "pt2", "onnx")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playground",
        description="A desktop neural-network playground for PyTorch. Without a command, "
        "`playground [PROJECT.json]` opens the window.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train", help="train a project headless and write a checkpoint",
        description="Train a project headless and write a checkpoint and a metrics file.",
        epilog="Launched by torchrun (RANK, WORLD_SIZE and LOCAL_RANK set), it trains with "
        "DistributedDataParallel: gloo on cpu, nccl with each rank on cuda:LOCAL_RANK for cuda. The "
        "project's batch_size is the GLOBAL batch: each of the N ranks takes batch_size / N of every "
        "batch (batch_size must divide by N), so the same project and seed train the same weights on "
        "one process or many. Only rank 0 prints and writes files. Example: "
        "torchrun --standalone --nproc_per_node 4 -m playground train PROJECT.json --device cuda",
    )
    train.add_argument("project", metavar="PROJECT.json")
    train.add_argument("--epochs", type=int,
                       help="epochs to train (default: the project's); with --resume, epochs to add")
    train.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the project's)")
    train.add_argument("--out", metavar="CHECKPOINT", help="checkpoint to write (default: ./NAME.checkpoint.pt)")
    train.add_argument("--metrics", metavar="FILE.json", help="JSON history to write (default: ./NAME.metrics.json)")
    train.add_argument("--data-root", metavar="DIR",
                       help="folder holding MNIST / Fashion-MNIST / CIFAR-10, or an image folder's classes "
                       "(default: the project's, else ~/.local/share/playground/datasets)")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue from this checkpoint's weights and optimizer")
    train.add_argument("--seed", type=int, help="random seed (default: the project's)")
    train.add_argument("--quiet", action="store_true", help="print only the final line")
    train.add_argument("--runs", metavar="DIR",
                       help="the run store to record the run in, with its history and the weights of its "
                       "epochs (default: PROJECT.runs beside the project; for a shipped example, "
                       "~/.local/share/playground/runs/NAME.runs); not used under torchrun")
    train.add_argument("--no-runs", action="store_true", help="do not record the run in a run store")
    train.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="under torchrun: how long a rank waits for the others before the job fails "
                       "instead of hanging (default: 60)")

    inspect = sub.add_parser("inspect", help="print a project's or checkpoint's layer table")
    inspect.add_argument("file", metavar="FILE", help="a project (.json) or checkpoint")
    inspect.add_argument("--batch-size", type=int, default=1, metavar="N",
                         help="samples per batch for multiply-adds and activation memory (default: 1)")

    export = sub.add_parser(
        "export", help="export weights, a standalone Python script, a torch.export program or ONNX",
        description="state_dict / safetensors: the weights of a checkpoint or weights file. python: a "
        "script that needs only torch (from a checkpoint it loads the weights, saved beside it as "
        "OUT's name with .weights.pt; from a project it starts from the project's seed). pt2 / onnx: the "
        "checkpoint's trained network (ONNX needs pip install 'playground[onnx]').")
    export.add_argument("checkpoint", metavar="FILE", help="a checkpoint, a weights file, or (python) a project")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="state_dict")
    export.add_argument("--out", metavar="FILE", required=True)
    export.add_argument("--no-weights", action="store_true",
                        help="python: write only the script, even from a checkpoint")
    runs = sub.add_parser(
        "runs", help="list a project's stored runs and their metrics",
        description="List the runs in a project's run store (what the window and `playground train` "
        "recorded): name, status, epochs, the best validation metric, time, parent and note.")
    runs.add_argument("project", metavar="PROJECT.json")
    runs.add_argument("--runs", metavar="DIR", help="the run store (default: PROJECT.runs beside the project)")
    runs.add_argument("--export", nargs=2, metavar=("RUN", "CHECKPOINT"),
                      help="write run RUN (run-0003, or 3) as a checkpoint that --resume and the window open")
    runs.add_argument("--epoch", type=int, help="with --export: the snapshot of this epoch, not the end")

    sweep = sub.add_parser(
        "sweep", help="train a project once per combination of settings and print the results table",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the project once per combination of the --param values (a grid), or for "
        "--random N draws of them, one after another, recording every run in the run store, then print "
        "a table of each run's best validation metric and time (the best starred). The same seed gives "
        "every run the same initial weights. Ctrl-C stops the sweep; the finished runs stay.",
        epilog="""--param NAME=VALUES, repeated:
  NAME    lr, batch_size, optimizer, seed, epochs, l1, l2,
          optimizer.PARAM (optimizer.momentum, optimizer.weight_decay, ...),
          layers.N.PARAM: a parameter of layer N, numbered from 0 as `playground inspect`
          shows, e.g. layers.0.out_features for the width of the first Linear layer
  VALUES  a list: 16,32,64 or SGD,Adam
          a range: LOW:HIGH:log:COUNT (COUNT values evenly on a log scale)
                   LOW:HIGH:lin:COUNT (evenly on a linear scale);
          with --random a range is drawn from (log-uniformly for log)
examples:
  playground sweep xor.json --param lr=1e-4:1e-1:log:6 --param batch_size=16,64
  playground sweep mnist_mlp.json --random 8 --param lr=1e-4:1e-1:log:1 \
      --param layers.1.out_features=64,128,256 --param optimizer=SGD,Adam --epochs 3""")
    sweep.add_argument("project", metavar="PROJECT.json")
    sweep.add_argument("--param", action="append", default=[], metavar="NAME=VALUES", required=True,
                       help="a setting and its values (see below)")
    sweep.add_argument("--random", type=int, metavar="N", help="N random combinations instead of the grid")
    sweep.add_argument("--sweep-seed", type=int, default=0, metavar="S",
                       help="the seed of the random draws (default: 0); the runs' own seed is the project's")
    sweep.add_argument("--epochs", type=int, help="epochs per run (default: the project's)")
    sweep.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the project's)")
    sweep.add_argument("--runs", metavar="DIR", help="the run store (default: PROJECT.runs beside the project)")
    sweep.add_argument("--quiet", action="store_true", help="print only the table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .core.errors import PlaygroundError

    try:
        if args.command == "train":
            return _train(args)
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "export":
            return _export(args)
        if args.command == "runs":
            return _runs(args)
        if args.command == "sweep":
            return _sweep(args)
        build_parser().print_help()
        return 0
    except PlaygroundError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as e:  # noqa: BLE001 — a command line never shows a traceback by default
        if os.environ.get("PLAYGROUND_DEBUG"):
            raise
        return _fail(f"unexpected {type(e).__name__}: {e} (set PLAYGROUND_DEBUG=1 for the traceback)")


def _print_notes(project) -> None:
    from .core.validation import defaults_used

    for note in defaults_used(project):
        print(f"playground: note: {note}", file=sys.stderr)


def _fail(message: str) -> int:
    rank = os.environ.get("RANK") if os.environ.get("WORLD_SIZE") else None   # under torchrun: say whose
    print(f"playground: error: {'' if rank is None else f'rank {rank}: '}{message}", file=sys.stderr)
    return 1


# --- train --------------------------------------------------------------------------------


def _train(args) -> int:
    from .core.distributed import Launch
    from .core.memory import keep_freed_memory
    from .core.training import Trainer

    keep_freed_memory()   # this process trains: every step's buffers are reused, not faulted in again

    project, out, metrics = _train_project(args)
    launch = Launch.from_env()
    if launch is not None:
        return _train_ranks(args, launch, project, out, metrics)
    if args.timeout is not None:
        from .core.errors import ProjectError

        raise ProjectError("--timeout is for runs launched by torchrun")
    _check_writable(args, out, metrics)
    from .core.files import OutputLock

    # before the run and after it, SIGTERM interrupts as Ctrl-C does (and the lock files go with it)
    with _on_signals(_interrupt), OutputLock(out, metrics):   # a second run onto the same files is refused
        from .core.run_recorder import StoreRecorder

        progress = _Progress(quiet=args.quiet)
        resume = _resume_state(args, project)
        recorder = StoreRecorder(None, progress, on_error=lambda m: print(f"playground: warning: {m}", file=sys.stderr))
        trainer = Trainer(project, recorder, report_interval=0.1, **resume)
        trainer.prepare()  # bad settings fail here, before anything is written
        for warning in trainer.warnings:
            print(f"playground: warning: {warning}", file=sys.stderr)
        writer = _run_writer(args, project, resume)
        recorder.begin(trainer, writer)
        try:
            with _on_signals(lambda signum: _stop(trainer, signum)):
                end = trainer.run()
            progress.close()
            with _on_signals(_Deferred()) as deferred:   # a signal now would leave half a checkpoint
                code = _write_results(trainer, project, end, out, metrics)
                _record_end(recorder, trainer, end)
        finally:
            if writer is not None:
                writer.close()   # after an error the run reads as interrupted, its finished epochs kept
        return code if deferred.signum is None else 128 + deferred.signum


def _store_path(args, project_path: str) -> Path:
    from .core.run_store import default_store

    return Path(args.runs) if args.runs else default_store(project_path)


def _run_writer(args, project, resume: dict):
    """The run store's writer for this run, or None (--no-runs); a store that cannot be written is
    said once and the run trains anyway: its checkpoint is the file asked for."""
    from .core.errors import PlaygroundError
    from .core.run_store import RunStore

    if args.no_runs:
        return None
    path = _store_path(args, args.project)
    try:
        writer = RunStore(path).new_run(project, start_epoch=resume.get("start_epoch", 0),
                                        history=resume.get("history"))
    except (PlaygroundError, OSError) as e:
        print(f"playground: warning: the run is not recorded in {path}: {e}", file=sys.stderr)
        return None
    if not args.quiet:
        print(f"playground: recording {writer.id} in {path}", file=sys.stderr)
    return writer


def _record_end(recorder, trainer, end) -> None:
    from .core.errors import PlaygroundError

    try:
        recorder.end(trainer, end)
    except (PlaygroundError, OSError) as e:
        print(f"playground: warning: the run store could not record the end of the run: {e}", file=sys.stderr)


# SIGTERM is what kill, docker stop and Slurm's preemption send: the same as Ctrl-C
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)


class _on_signals:
    """Within the block, SIGINT and SIGTERM call `handler(signum)` instead of ending the process."""

    def __init__(self, handler):
        self.handler = handler

    def __enter__(self):
        self._previous = {s: signal.signal(s, lambda signum, _: self.handler(signum)) for s in STOP_SIGNALS}
        return self.handler

    def __exit__(self, *exc):
        for s, previous in self._previous.items():
            signal.signal(s, previous)


def _interrupt(signum: int) -> None:
    raise KeyboardInterrupt


def _stop(trainer, signum: int) -> None:
    if signum != signal.SIGINT:
        print(f"playground: {signal.Signals(signum).name}: stopping at the next step and saving the run",
              file=sys.stderr, flush=True)
    trainer.stop()


class _Deferred:
    """While the files are written: the first signal waits for them (the exit status says it came),
    a second abandons them — the temporary file is removed and the previous files stay."""

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum: int) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print(f"playground: {signal.Signals(signum).name}: finishing the files first (again to abandon them)",
              file=sys.stderr, flush=True)


def _train_ranks(args, launch, project, out: Path, metrics: Path) -> int:
    """One rank of a torchrun job: every rank trains its shard; rank 0 alone prints and writes files.

    A rank that fails posts its message and exits 1 without writing anything; torchrun then ends the
    others, and a rank that lost its peers prints the first failure it finds instead of its own
    symptom. Collectives time out after --timeout seconds, so a stuck rank cannot hang the job."""
    import copy

    from .core import data as datasets
    from .core.distributed import DEFAULT_TIMEOUT, Ranks
    from .core.training import Trainer

    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    ranks = Ranks.start(launch, project.training.device, timeout)
    trainer = None
    try:
        if ranks.is_main:
            _check_writable(args, out, metrics)
        # the checkpoint keeps the project's own device ("cuda"); each rank trains on its own one
        run = copy.deepcopy(project)
        run.training.device = str(ranks.device)
        resume = _resume_state(args, project)
        progress = _Progress(quiet=args.quiet or not ranks.is_main)
        trainer = Trainer(run, progress, report_interval=0.1, ranks=ranks,
                          dataset=_load_data_in_turn(ranks, run, datasets), **resume)
        trainer.prepare()
        if ranks.is_main:
            for warning in trainer.warnings:
                print(f"playground: warning: {warning}", file=sys.stderr)
        # Ctrl-C reaches every rank twice (the terminal's, then torchrun's): each asks the ranks to
        # stop at the next report, and none may interrupt rank 0 writing the stopped run's files
        previous = signal.signal(signal.SIGINT, lambda *_: ranks.request_stop())
        try:
            end = trainer.run()
            progress.close()
            if trainer.error is not None:
                raise trainer.error
            code = _write_results(trainer, project, end, out, metrics) if ranks.is_main else _exit_status(end)
            ranks.close()   # waits for rank 0's files, so a failure to write them reaches every rank
        finally:
            signal.signal(signal.SIGINT, previous)
        return code
    except BaseException as e:
        from .core.errors import PlaygroundError

        if isinstance(e, KeyboardInterrupt):
            reason = "interrupted"
        elif isinstance(e, PlaygroundError):
            reason = str(e)
        elif trainer is not None and trainer.error is e:
            reason = f"training failed: {type(e).__name__}: {e}"   # as the Trainer words it
        else:
            reason = f"unexpected {type(e).__name__}: {e}"
        if os.environ.get("PLAYGROUND_DEBUG"):
            import traceback

            traceback.print_exception(e)
        if "timed out" in reason.lower() or "timeout" in reason.lower():
            reason += (f" — a rank did not answer for {timeout:g} s (--timeout); its own output above "
                       "may say why")
        own = f"rank {ranks.rank}: {reason}"
        first = ranks.post_failure(own)
        if first == own:
            print(f"playground: error: {own}", file=sys.stderr, flush=True)
        elif first.split(": ", 1)[-1] != reason:   # the same error on every rank (settings) is said once
            print(f"playground: error: {first} (rank {ranks.rank} stopped with it)", file=sys.stderr, flush=True)
        return 1   # no process group teardown: after a failure it can wait on the ranks that are gone


def _load_data_in_turn(ranks, project, datasets):
    """Every rank holds the whole dataset on its device; a download happens once per machine, on local rank 0."""
    kind = datasets.DATASETS.get(project.data.dataset)
    if kind is None or not kind.image:
        return None   # generated from the seed: the Trainer makes it
    first = ranks.launch.local_rank == 0
    if not first:
        ranks.barrier()
    data = datasets.load(project.data, ranks.device)
    if first:
        ranks.barrier()
    return data


def _train_project(args):
    """The project with the command line's overrides, and where its checkpoint and metrics go."""
    from .core.errors import ProjectError
    from .core.spec import MAX_EPOCHS, MAX_SEED, Project

    project = Project.load(args.project)
    _print_notes(project)
    t = project.training
    if args.epochs is not None:
        if not 1 <= args.epochs <= MAX_EPOCHS:
            raise ProjectError(f"--epochs must be from 1 to {MAX_EPOCHS:,}, not {args.epochs}")
        t.epochs = args.epochs
    if args.device:
        t.device = args.device
    if args.seed is not None:
        if not 0 <= args.seed <= MAX_SEED:
            raise ProjectError(f"--seed must be from 0 to {MAX_SEED:,}, not {args.seed}")
        t.seed = args.seed
    if args.data_root:
        if project.data.dataset not in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
            raise ProjectError(f"--data-root is for MNIST, Fashion-MNIST, CIFAR-10 and image folders; this project "
                               f"uses {project.data.dataset}")
        project.data.params["root"] = str(Path(args.data_root).expanduser().resolve())
    stem = Path(args.project).stem
    out = Path(args.out or f"{stem}.checkpoint.pt")
    metrics = Path(args.metrics or f"{stem}.metrics.json")
    return project, out, metrics


def _check_writable(args, out: Path, metrics: Path) -> None:
    """Every output checked before a long run, not after it: not the project or the checkpoint being
    read, not each other, not a folder, a read-only file or a name the file system refuses."""
    from .core.errors import ProjectError
    from .core.files import check_distinct, check_target

    check_distinct({"--out": out, "--metrics": metrics},
                   {"the project": Path(args.project), "the checkpoint to resume from": args.resume})
    for target in (out, metrics):
        folder = check_target(target)
        if not os.access(folder, os.W_OK):
            raise ProjectError(f"cannot write {target}: no permission to write in {folder}")


def _resume_state(args, project) -> dict:
    """The Trainer's keyword arguments to continue from --resume's checkpoint ({} without one)."""
    from .core.checkpoint import load_checkpoint
    from .core.resume import carry_over, resume_arguments

    if not args.resume:
        return {}
    state, notes = carry_over(load_checkpoint(args.resume), project)
    for note in notes:
        print(f"playground: note: {note}", file=sys.stderr)
    return resume_arguments(state)


def _write_results(trainer, project, end, out: Path, metrics: Path) -> int:
    """Write the checkpoint and the metrics, say how the run ended; the exit status."""
    from .core.checkpoint import save_checkpoint
    from .core.files import atomic_write_bytes
    from .core.resume import run_state
    from .core.training import FINISHED

    state = run_state(trainer)
    state.project = project   # the project as given, before the run's own overrides for this process
    save_checkpoint(state, out)
    atomic_write_bytes(metrics, (json.dumps(_metrics(trainer.history), indent=2) + "\n").encode())
    print(f"{end.status}: {end.reason}", file=sys.stderr if end.status != FINISHED else sys.stdout)
    if end.test_accuracy is not None:
        print(f"test accuracy: {end.test_accuracy:.2%}")
    print(f"wrote {out} and {metrics}")
    return _exit_status(end)


def _exit_status(end) -> int:
    from .core.training import FINISHED, STOPPED

    if end.status == FINISHED:
        return 0
    return 130 if end.status == STOPPED else 1


def _metrics(history: dict) -> dict:
    return {
        "status": history["status"],
        "reason": history["reason"],
        "epochs": history["epochs"],
        "test_accuracy": history["test_accuracy"],
    }


class _Progress:
    """A one-line progress bar on a terminal; one line per epoch otherwise (logs, CI)."""

    WIDTH = 24

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._line = False

    def __call__(self, event) -> None:
        if self.quiet:
            return
        if event.kind == "step" and self.tty:
            done = int(self.WIDTH * event.step / max(event.steps, 1))
            bar = "#" * done + "." * (self.WIDTH - done)
            self.stream.write(
                f"\repoch {event.epoch} [{bar}] {event.step}/{event.steps}  loss {event.loss:.4f}"
                f"  lr {event.lr:.3g}  {event.samples_per_second:,.0f} samples/s "
            )
            self.stream.flush()
            self._line = True
        elif event.kind == "epoch":
            self._clear()
            parts = [f"epoch {event.epoch}/{event.epochs}", f"train_loss {event.train_loss:.4f}"]
            if event.penalty is not None:   # training.l1 / l2: added to train_loss in the objective
                parts.append(f"penalty {event.penalty:.4g}")
            if event.val_loss is not None:
                parts.append(f"val_loss {event.val_loss:.4f}")
            if event.val_accuracy is not None:
                parts.append(f"val_accuracy {event.val_accuracy:.2%}")
            parts += [f"{event.samples_per_second:,.0f} samples/s", f"{event.seconds:.1f} s"]
            print("  ".join(parts), file=self.stream, flush=True)

    def _clear(self) -> None:
        if self._line:
            self.stream.write("\r" + " " * 100 + "\r")
            self._line = False

    def close(self) -> None:
        self._clear()


# --- runs and sweeps ----------------------------------------------------------------------


def _open_store(args, create: bool):
    from .core.errors import ProjectError
    from .core.run_store import RunStore

    path = _store_path(args, args.project)
    if not create and not path.is_dir():
        raise ProjectError(f"{args.project} has no run store yet ({path} does not exist) — train it first, "
                           "or pass --runs DIR")
    return RunStore(path, create=create)


def _runs(args) -> int:
    from .core.errors import ProjectError

    store = _open_store(args, create=False)
    if args.export:
        run_id, out = args.export
        run_id = f"run-{int(run_id):04d}" if run_id.isdigit() else run_id
        _check_export_target(argparse.Namespace(out=out, checkpoint=args.project))
        store.export(run_id, out, args.epoch)
        print(f"wrote {out} ({run_id}{'' if args.epoch is None else f', epoch {args.epoch}'})")
        return 0
    if args.epoch is not None:
        raise ProjectError("--epoch goes with --export")
    records, problems = store.runs()
    for problem in problems:
        print(f"playground: warning: {problem}", file=sys.stderr)
    print(_runs_table(records))
    print(f"{len(records)} run{'s' if len(records) != 1 else ''} in {store.root}, "
          f"{_bytes(store.size())} of a {_bytes(store.budget)} budget")
    return 0


def _runs_table(records) -> str:
    rows = [("run", "name", "status", "epochs", "val_loss", "val_acc", "seconds", "parent", "note")]
    for r in records:
        loss, acc = r.best("val_loss"), r.best("val_accuracy")
        parent = f"{r.parent['run']}@{r.parent['epoch']}" if r.parent else ""
        rows.append((r.id, r.name, r.status, str(r.last_epoch), f"{loss[1]:.4g}" if loss else "—",
                     f"{acc[1]:.2%}" if acc else "—", f"{r.seconds:.1f}", parent, r.note.replace("\n", " ")[:40]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _bytes(n: int) -> str:
    from .core.shapes import format_bytes

    return format_bytes(n)


def _sweep(args) -> int:
    import time

    from .core import sweep
    from .core.errors import ProjectError
    from .core.memory import keep_freed_memory
    from .core.run_recorder import train_recorded
    from .core.spec import MAX_EPOCHS, Project

    keep_freed_memory()   # this process trains its runs one after another
    project = Project.load(args.project)
    _print_notes(project)
    if args.epochs is not None:
        if not 1 <= args.epochs <= MAX_EPOCHS:
            raise ProjectError(f"--epochs must be from 1 to {MAX_EPOCHS:,}, not {args.epochs}")
        project.training.epochs = args.epochs
    if args.device:
        project.training.device = args.device
    params = [sweep.parse_param(text) for text in args.param]
    combos = sweep.plan(params, "random" if args.random is not None else "grid", args.random, args.sweep_seed)
    projects = sweep.projects(project, combos)   # every run's settings checked before the first trains
    store = _open_store(args, create=True)
    sweep_id = time.strftime("sweep-%Y%m%d-%H%M%S")
    stopping = {"asked": False}
    records, dataset, data_key = [], None, None

    def on_signal(signum):
        stopping["asked"] = True

    with _on_signals(on_signal):
        for i, (values, run_project) in enumerate(zip(combos, projects), 1):
            if stopping["asked"]:
                break
            label = sweep.describe(values)
            writer = store.new_run(run_project, label, sweep={"id": sweep_id, "values": values})
            key = (json.dumps(run_project.data.to_dict(), sort_keys=True), run_project.training.device)
            trainer, end = train_recorded(run_project, writer, dataset=dataset if key == data_key else None,
                                          should_stop=lambda: stopping["asked"])
            if trainer.dataset is not None:
                dataset, data_key = trainer.dataset, key   # the next run with the same data reuses it
            records.append(store.run(writer.id))
            if not args.quiet:
                best = records[-1].best("val_loss")
                at = f"best val_loss {best[1]:.4g} at epoch {best[0]}" if best else end.reason
                print(f"[{i}/{len(combos)}] {writer.id} {label}: {end.status}, {at}", file=sys.stderr, flush=True)
    metric, rows = sweep.results(records)
    print(sweep.format_table(metric, rows))
    best = sweep.best_row(metric, rows)
    if best is not None:
        print(f"best: {best['run']} {sweep.describe(best['values'])}")
    print(f"{len(records)} of {len(combos)} runs in {store.root} ({_bytes(store.size())} of a "
          f"{_bytes(store.budget)} budget)")
    if stopping["asked"]:
        print("playground: sweep stopped; the finished runs are kept", file=sys.stderr)
        return 130
    return 0


# --- inspect and export -------------------------------------------------------------------


def _inspect(args) -> int:
    from .core.analysis import analyze
    from .core.checkpoint import load_project_or_checkpoint
    from .core.errors import ProjectError
    from .core.shapes import format_bytes, format_shape

    if args.batch_size < 1:
        raise ProjectError(f"--batch-size must be at least 1, not {args.batch_size}")
    path = Path(args.file)
    kind, project, ckpt = load_project_or_checkpoint(path)
    _print_notes(project)
    analysis = analyze(project.network, args.batch_size)
    info = analysis.info
    print(f"{project.name} — {kind} {path}")
    print(f"data: {project.data.dataset}   input: {format_shape(info.input_shape)}")
    rows = [("#", "layer", "output shape", "parameters", "multiply-adds", "activations")]
    for layer in analysis.layers:
        if layer.status == "ok":
            costs = (f"{layer.params:,}", f"{layer.macs:,}", format_bytes(layer.activation_bytes))
            rows.append((str(layer.index), layer.type, format_shape(layer.output_shape), *costs))
        else:
            rows.append((str(layer.index), layer.type, layer.status, "—", "—", "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        left = f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}"
        print(left + "".join(f"  {v:>{w}}" for v, w in zip(r[3:], widths[3:])))
    print(f"total parameters: {info.total_params:,} (trainable {info.trainable_params:,})")
    batch = f"for a batch of {args.batch_size}" + ("" if info.ok else ", layers before the error only")
    print(f"multiply-adds: {analysis.macs:,} {batch}")
    print(f"activation memory: {format_bytes(analysis.activation_bytes)} {batch} "
          f"(float32; input {format_bytes(analysis.input_bytes)})")
    if not info.ok:
        return _fail(info.error)
    print(f"output: {format_shape(info.output_shape)}")
    if ckpt is not None:
        epochs = ckpt.history.get("epochs") or []
        line = f"trained epochs: {ckpt.epoch}"
        if epochs:
            last = epochs[-1]
            line += f"   last train_loss {last['train_loss']:.4f}"
            if last.get("val_accuracy") is not None:
                line += f"   val_accuracy {last['val_accuracy']:.2%}"
        print(line)
    return 0


def _export(args) -> int:
    from .core.checkpoint import load_state_dict, save_weights

    if args.format in ("python", "pt2", "onnx"):
        return _export_network(args)
    _check_export_target(args)
    from .core.checkpoint import describe_file, load_checkpoint
    from .core.naming import original_state_dict

    if describe_file(args.checkpoint) == "checkpoint":   # a network imported from code keeps its names
        ckpt = load_checkpoint(args.checkpoint)
        state = original_state_dict(ckpt.project.network, ckpt.model)
    else:
        state = load_state_dict(args.checkpoint)
    save_weights(state, args.out, format=args.format)
    print(f"wrote {args.out} ({args.format}, {len(state)} tensors)")
    return 0


def _check_export_target(args) -> None:
    from .core.files import check_distinct, check_target

    check_distinct({"--out": args.out}, {"the file being exported": args.checkpoint})
    check_target(args.out)


def _export_network(args) -> int:
    from .core.checkpoint import load_project_or_checkpoint
    from .core.errors import ProjectError
    from .core.exporting import export_model, export_script

    if args.format != "python":   # the script and its weights: export_script checks both
        _check_export_target(args)
    kind, project, ckpt = load_project_or_checkpoint(Path(args.checkpoint))
    if args.format == "python":
        state = ckpt.model if ckpt is not None and not args.no_weights else None
        written = export_script(project.network, args.out, project.name, state_dict=state,
                                seed=project.training.seed, source=args.checkpoint)
        print("wrote " + " and ".join(str(p) for p in written))
        return 0
    if ckpt is None:
        raise ProjectError(
            f"{args.checkpoint} is a {kind} without weights; --format {args.format} exports a trained "
            "network — pass a checkpoint (playground train writes one)"
        )
    export_model(project.network, ckpt.model, args.out, args.format)
    print(f"wrote {args.out} ({args.format}, input (batch, {', '.join(map(str, project.network.input_shape))}))")
    return 0
