"""The A/B race: the open project (A) and one that changes a few settings (B), trained in lock-step
from the same initial weights, their curves side by side in the plots as they go.

Two TrainingRuns, two worker processes (the pool starts the second while A trains its first epoch).
A starts and holds after epoch 1; its initial weights (the run's epoch-0 snapshot) become B's starting
weights, so the two start bit for bit from the same place whatever B changes; B then trains epoch 1
and holds; A trains epoch 2, B epoch 2, and so on: at any moment the curves differ by at most one
epoch. Only one of the two trains at a time, so each gets the machine's cores for its epoch.

The race keeps out of the session's single-run paths (its `run`, the live views, live changes): the
session hands Stop, Pause and closing to it and refuses other starts while it trains."""

from __future__ import annotations

import copy

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from ..core import sweep
from ..core.errors import PlaygroundError
from ..core.spec import Project
from .runs import settings_summary
from .worker import TrainingRun, worker_pool

# what B may change: settings that keep the network, so both start from the same initial weights
PARAMS = (("lr", "lr"), ("optimizer", "optimizer"), ("batch_size", "batch size"),
          ("optimizer.momentum", "momentum"), ("l1", "l1"), ("l2", "l2"))


def race_project(base: Project, texts: dict[str, str]) -> tuple[Project, dict]:
    """B: `base` with one value per parameter named in `texts` (the sweep's syntax; empty: as A), and
    the values it changes. SweepError in words."""
    changes = {}
    for name, text in texts.items():
        text = text.strip()
        if not text:
            continue
        param = sweep.parse_param(f"{name}={text}")
        values = param.grid()
        if len(values) != 1:
            raise sweep.SweepError(f"{name}: B takes one value, not {text!r}")
        changes[name] = values[0]
    if not changes:
        raise sweep.SweepError("B changes nothing: give B at least one setting that differs from A")
    (project,) = sweep.projects(base, [changes])
    return project, changes


def _value(project: Project, name: str):
    t = project.training
    if name == "optimizer":
        return t.optimizer.type
    if name.startswith("optimizer."):
        return t.optimizer.params.get(name.split(".", 1)[1], "—")
    if name == "lr":
        return t.optimizer.params.get("lr", "—")
    return getattr(t, name)


def race_name(letter: str, project: Project, changed) -> str:
    """'A: Adam lr=0.01' / 'B: SGD lr=0.1 batch_size=64': the optimizer, its lr and what B changes."""
    words = [str(_value(project, "optimizer")), f"lr={sweep._show(_value(project, 'lr'))}"]
    words += [f"{n}={sweep._show(_value(project, n))}" for n in changed if n not in ("lr", "optimizer")]
    return f"{letter}: {' '.join(words)}"


class Race(QObject):
    """Two runs in lock-step, epoch by epoch: A, B, A, B, ..."""

    finished = Signal()   # both runs ended (or B never started: A ended before its first epoch)

    def __init__(self, session, a: Project, b: Project, names: tuple[str, str]):
        super().__init__(session)
        self.session = session
        self.window = session.window
        self.projects = {"A": copy.deepcopy(a), "B": copy.deepcopy(b)}
        self.names = dict(zip("AB", names))
        self.runs: dict[str, TrainingRun] = {}
        self.run_ids: dict[str, int] = {}
        self.order: list[tuple[str, int]] = []   # (letter, epoch) as the epochs finished
        self.initial: dict | None = None         # A's initial weights: B's starting ones
        self.turn = "A"                          # the run training now (or held by a pause)
        self._epochs = {"A": 0, "B": 0}          # the epochs each had finished when it last held
        self._epoch_done = False                 # the run in turn has finished its epoch
        self.paused = False
        self.stopping = False
        self.ended: dict[str, object] = {}       # letter -> EndEvent

    @property
    def active(self) -> bool:
        return not self._over()

    # --- starting ------------------------------------------------------------------------------

    def start(self) -> None:
        w = self.window
        w.document.set_locked(True)
        w.document.settings_changed.connect(self._on_settings_changed)
        w.panel.reset_progress()
        w.panel.set_state("running")
        self._launch("A", None)
        worker_pool().warm_up()   # B's process gets ready while A trains its first epoch

    def _launch(self, letter: str, resume: dict | None) -> None:
        w, session = self.window, self.session
        project, name = self.projects[letter], self.names[letter]
        session.run_id += 1
        run_id = self.run_ids[letter] = session.run_id
        session._names[run_id] = name
        summary = settings_summary(project)
        color = w.plots.begin_run(run_id, name, summary)
        w.runs.add_run(run_id, name, summary, color, task=project.data.dataset)
        archive = getattr(w, "archive", None)
        # snapshots always: A's epoch-0 snapshot is B's start (the store keeps them when it records)
        run = TrainingRun(project, resume, parent=self, snapshots=True)
        if archive is not None and archive.enabled:
            archive.record(run_id, run, project, name, resume=resume)
        run.step_reported.connect(lambda steps, rid=run_id: w.plots.add_steps(rid, steps))
        run.epoch_finished.connect(lambda event, rid=run_id: w.plots.add_epoch(rid, event))
        run.epoch_finished.connect(lambda event, x=letter: self.order.append((x, event.epoch)))
        run.progressed.connect(w.panel.show_progress)
        run.warned.connect(lambda text, x=letter: w.statusBar().showMessage(f"{self.names[x]}: warning: {text}", 8000))
        run.held.connect(lambda x=letter: self._on_held(x))
        run.finished.connect(lambda end, x=letter: self._on_finished(x, end))
        if letter == "A":
            run.snapshot_taken.connect(self._on_a_snapshot)
        self.runs[letter] = run
        self.turn = letter
        self._epoch_done = False
        run.start_paused_after("epoch")
        w.statusBar().showMessage(f"A/B race: {name} trains epoch 1")
        session.run_started.emit(run_id)

    def _on_a_snapshot(self, epoch: int, state: dict) -> None:
        if self.initial is None and epoch == 0:
            self.initial = state

    # --- lock-step -----------------------------------------------------------------------------

    def _on_held(self, letter: str) -> None:
        run = self.runs[letter]
        if self.stopping or letter != self.turn:
            return
        if run.epoch > self._epochs[letter]:   # it finished its epoch (not a pause inside it)
            self._epochs[letter] = run.epoch
            self._epoch_done = True
        if self._epoch_done and not self.paused:
            self._next()

    def _next(self) -> None:
        """The run in turn finished its epoch: the other trains its own (or this one goes on alone)."""
        other = "B" if self.turn == "A" else "A"
        if other == "B" and "B" not in self.runs:
            if self.initial is None:   # A gave no initial weights (it cannot: snapshots come first)
                self.stop()
                return
            self._launch("B", {"model_state": self.initial})
            return
        nxt = other if other not in self.ended else self.turn
        if nxt in self.ended:
            return
        self.turn, self._epoch_done = nxt, False
        run = self.runs[nxt]
        run.advance("epoch")
        self.window.statusBar().showMessage(f"A/B race: {self.names[nxt]} trains epoch {run.epoch + 1}")

    def _on_finished(self, letter: str, end) -> None:
        w, session = self.window, self.session
        run_id, run = self.run_ids[letter], self.runs[letter]
        self.ended[letter] = end
        if run.result is not None:
            from .session import TrainedWeights

            weights = TrainedWeights(run.result)
            w.runs.keep_weights(run_id, copy.deepcopy(run.project), weights)
            if letter == "A":   # the open project's own run: its weights are the ones to continue
                session.set_weights(weights)
        if getattr(w, "archive", None) is not None:
            w.archive.finish(run_id, run, end)
        if not self.stopping and not self._over() and letter == self.turn:
            self._epoch_done = True
            if not self.paused:
                self._next()
        session._finish(run_id, end, run)
        if self._over():
            self._wind_up()

    def _over(self) -> bool:
        started = set(self.runs)   # B starts from A's hold or end, before this is asked
        return bool(started) and started <= set(self.ended)

    def _wind_up(self) -> None:
        w = self.window
        w.document.set_locked(False)
        w.document.settings_changed.disconnect(self._on_settings_changed)
        w.panel.set_state("idle")
        for run in self.runs.values():
            run.deleteLater()
        words = ", ".join(f"{self.names[x]} {self.ended[x].status}" for x in self.runs)
        w.statusBar().showMessage(f"A/B race over: {words}", 10000)
        self.finished.emit()

    def _on_settings_changed(self) -> None:
        """A live setting edited: a race's runs keep the settings they started with (A and B alike)."""
        self.window.statusBar().showMessage("The A/B race's runs keep the settings they started with: "
                                            "the edit applies to the next run", 8000)

    # --- controls --------------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        if self.stopping or self.paused == paused:
            return
        self.paused = paused
        run = self.runs.get(self.turn)
        if run is None or self.turn in self.ended:
            return
        if paused:
            run.pause()
            self.window.panel.set_state("paused")
            self.window.statusBar().showMessage("A/B race paused — Resume goes on from here, Stop ends both runs")
        else:
            self.window.panel.set_state("running")
            if self._epoch_done:
                self._next()
            else:
                run.advance("epoch")   # to the end of the epoch it was paused in

    def stop(self) -> None:
        """Stop both (B never starts if it has not yet)."""
        self.stopping = True
        for letter, run in self.runs.items():
            if letter not in self.ended:
                run.stop()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self.stopping = True
        for letter, run in list(self.runs.items()):
            if letter not in self.ended:
                run.shutdown(timeout_ms)


class RaceDialog(QDialog):
    """Training > A/B race: what B changes against the open project; Start race trains both."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setObjectName("raceDialog")
        self.setWindowTitle("A/B race")
        intro = QLabel("A is the open project. B is A with the settings below changed (empty: as A); "
                       "both start from the same initial weights and train one epoch each in turn.")
        intro.setWordWrap(True)
        form = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        for name, label in PARAMS:
            field = QLineEdit()
            field.setObjectName(f"race_{name}")
            self.fields[name] = field
            form.addRow(f"B's {label}:", field)
        self.status = QLabel()
        self.status.setObjectName("raceStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.start_button = buttons.addButton("Start race", QDialogButtonBox.AcceptRole)
        self.start_button.setObjectName("raceStartButton")
        buttons.accepted.connect(self.start)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.show_a()

    def show_a(self) -> None:
        """A's values as the fields' placeholders."""
        project = self.window.document.project
        for name, field in self.fields.items():
            field.setPlaceholderText(f"A: {sweep._show(_value(project, name))}")

    def start(self) -> bool:
        session = self.window.session
        try:
            project, changes = race_project(self.window.document.project,
                                            {n: f.text() for n, f in self.fields.items()})
        except PlaygroundError as e:
            self.status.setText(str(e))
            return False
        reason = session.start_race(project, changes)
        if reason:
            self.status.setText(f"Cannot start the race: {reason}")
            return False
        self.status.clear()
        self.accept()
        return True
