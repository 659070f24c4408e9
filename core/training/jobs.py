"""Training several zoo models at once: one child process per model, in dependency order.

``invariance train --all --jobs 2`` on a 2-core machine runs two one-thread trainings side by side, which does
more work per second than one training on two threads (our CNNs are too small to keep two threads busy).
A model waits for the zoo models it is built from (``init_from``, ``share_weights_with``) when they are trained
in the same run; the rest start longest first (by the seconds recorded on their current card), which keeps the
total time close to the longest dependency chain or the summed time divided by the number of jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.errors import ModelError
from core.paths import run_dir
from core.zoo.cards import read_card
from core.zoo.registry import get_entry


class Job(Protocol):
    def poll(self) -> int | None: ...


Launch = Callable[[str], Job]


def prerequisites(name: str) -> list[str]:
    """The zoo models whose checkpoints ``name``'s recipe starts from."""
    entry = get_entry(name)
    return [source for source in (entry.init_from, entry.share_weights_with) if source]


def recorded_seconds(name: str) -> float:
    """What ``invariance train name`` took last time by its current card: the training time plus the time of
    each figure measured afterwards; 0 when there is no readable card."""
    try:
        card = read_card(name)
    except ModelError:  # a missing or unreadable card only loses its place in the queue
        return 0.0
    evaluation = sum(float(figure.get("seconds", 0.0)) for figure in card.evaluation.values())
    return float(card.training.get("seconds", 0.0)) + evaluation


@dataclass
class Outcome:
    """What became of each model: ``finished`` (exit 0), ``failed`` (name → exit code) and ``skipped`` (name →
    the failed prerequisite)."""

    finished: list[str] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def run_jobs(
    names: Sequence[str],
    jobs: int,
    launch: Launch,
    *,
    needs: Callable[[str], list[str]] = prerequisites,
    cost: Callable[[str], float] = recorded_seconds,
    report: Callable[[str], None] = print,
    poll_interval_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    finished: Callable[[str], None] = lambda name: None,
    running: list[str] | None = None,
) -> Outcome:
    """Train ``names`` with at most ``jobs`` children at a time; ``launch(name)`` starts one.

    ``finished(name)`` is called as each model finishes. On Ctrl-C or SIGTERM the children still running are
    sent SIGTERM (each keeps its last completed epoch) and waited for, their names are left in ``running``,
    and the interruption goes on to the caller.
    """
    children: list[Job] = []
    try:
        return _run_jobs(names, jobs, launch, needs, cost, report, poll_interval_s, sleep, finished, running, children)
    except KeyboardInterrupt:
        for job in children:
            if isinstance(job, subprocess.Popen) and job.poll() is None:
                job.terminate()
        for job in children:
            if isinstance(job, subprocess.Popen):
                job.wait(timeout=120)
        raise


def _run_jobs(
    names: Sequence[str],
    jobs: int,
    launch: Launch,
    needs: Callable[[str], list[str]],
    cost: Callable[[str], float],
    report: Callable[[str], None],
    poll_interval_s: float,
    sleep: Callable[[float], None],
    on_finished: Callable[[str], None],
    running_names: list[str] | None,
    children: list[Job],
) -> Outcome:
    queue = sorted(names, key=lambda name: -cost(name))  # stable: equal costs keep the registry order
    wanted = set(names)
    running: dict[str, Job] = {}
    outcome = Outcome()
    while queue or running:
        for name in list(queue):
            blockers = [need for need in needs(name) if need in wanted]
            failed = [need for need in blockers if need in outcome.failed or need in outcome.skipped]
            if failed:
                queue.remove(name)
                outcome.skipped[name] = failed[0]
                report(f"{name}: skipped, because {failed[0]} did not train")
            elif len(running) < jobs and all(need in outcome.finished for need in blockers):
                queue.remove(name)
                running[name] = launch(name)
                children.append(running[name])
                if running_names is not None:
                    running_names[:] = list(running)
                report(f"{name}: started (log: {run_dir(name) / 'train.log'})")
        for name, job in list(running.items()):
            code = job.poll()
            if code is None:
                continue
            del running[name]
            if running_names is not None:
                running_names[:] = list(running)
            if code == 0:
                outcome.finished.append(name)
                on_finished(name)
                report(f"{name}: finished")
            else:
                outcome.failed[name] = code
                report(f"{name}: failed with exit code {code} (see {console_path(name)})")
        if running:
            sleep(poll_interval_s)
    return outcome


@dataclass(frozen=True)
class PlannedRun:
    name: str
    start_s: float
    end_s: float


def plan_jobs(names: Sequence[str], jobs: int, *, resolution_s: float = 1.0) -> list[PlannedRun]:
    """The schedule :func:`run_jobs` would follow if every model took the time recorded on its current card
    (training and evaluation): same order, same waiting, on a simulated clock."""
    durations = {name: recorded_seconds(name) for name in names}
    clock = [0.0]
    runs: list[PlannedRun] = []

    class _Simulated:
        def __init__(self, run: PlannedRun) -> None:
            self.end = run.end_s

        def poll(self) -> int | None:
            return 0 if clock[0] >= self.end else None

    def launch(name: str) -> Job:
        runs.append(PlannedRun(name, clock[0], clock[0] + durations[name]))
        return _Simulated(runs[-1])

    def advance(seconds: float) -> None:
        clock[0] += seconds

    run_jobs(
        names,
        jobs,
        launch,
        cost=durations.__getitem__,
        report=lambda line: None,
        poll_interval_s=resolution_s,
        sleep=advance,
    )
    return runs


def child_launcher(
    *, seed: int, device: str | None, threads: int, time_budget_s: float | None, resume: bool, eval_n: int | None
) -> Launch:
    """Starts ``invariance train NAME …`` as a child process with ``threads`` torch threads; its console output
    (progress bars included) goes to ``runs/NAME/console.log``, next to the resumable training state."""

    def launch(name: str) -> Job:
        command = [sys.executable, "-m", "core.cli", "train", name, "--seed", str(seed)]
        command += ["--device", device] if device else []
        command += ["--time-budget", str(time_budget_s)] if time_budget_s is not None else []
        command += ["--resume"] if resume else ["--force-new"]
        command += ["--eval-n", str(eval_n)] if eval_n is not None else []
        console = console_path(name)
        console.parent.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "INVARIANCE_THREADS": str(threads)}
        with console.open("w", encoding="utf-8") as stream:
            return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=environment)

    return launch


def console_path(name: str) -> Path:
    return run_dir(name) / "console.log"
