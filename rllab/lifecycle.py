"""One run lifecycle for every trainer: open a run (new or resumed), keep the best, stop cleanly.

Free of TensorFlow, so tabular RL uses it too; the Keras pieces built on it live in
`rllab.callbacks` (``KeepBestCallback``, ``EvalCallback``, ``StopOnSignal``).

- `open_run`: a new run folder, or the stored one with ``resume=True``. Re-running the same command
  with ``--resume`` appended works: a flag whose value equals the stored one is accepted, a budget
  flag (``--total-steps``, ``--epochs``, ``--episodes``) extends the run and is recorded in
  ``config.json``, any other difference is a one-line error naming the flag and both values. A run
  with nothing saved yet (no folder) starts from the beginning with a notice, as Keras'
  ``BackupAndRestore`` does.
- `KeepBest`: the best value of a monitored figure over the whole run, resumes included (it lives in
  ``checkpoints/best.json``), and the hook that saves what was best.
- `StopRequests` / `RunInterrupted`: Ctrl-C or SIGTERM becomes a flag that a trainer checks between
  steps; it saves, then raises `RunInterrupted`, which the CLI turns into exit status 130 and a line
  saying how to continue.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from rllab.checks import check_choice
from rllab.errors import UsageError
from rllab.runs import CONFIG_NAME, LOCK_NAME, Run, check_run_dir, config_to_dict, lock_run_folder, write_json_atomic


def flag_name(path: str) -> str:
    """The command-line flag of a config field path: ``total_steps`` -> ``--total-steps``."""
    return "--" + path.replace("_", "-").replace(".", "-")


def notice(message: str) -> None:
    """A one-line notice on stderr (not an error: the command goes on)."""
    print(f"rllab: {message}", file=sys.stderr, flush=True)


# --- opening a run ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunStart:
    """What `open_run` hands a trainer."""

    run: Run
    config: Any
    """The config to train with: the given one for a new run, the stored one (with budget changes) on resume."""
    seed: int
    resumed: bool
    """True when an existing run folder is continued (its checkpoints, if any, should be restored)."""

    def no_checkpoint_yet(self) -> None:
        """Call when a resumed run has no checkpoint: it restarts from the beginning, with a notice."""
        notice(f"{str(self.run.path)!r} holds no checkpoint yet (stopped in its first seconds): "
               "starting it from the beginning")


def _get_path(mapping: Mapping, path: str) -> Any:
    value: Any = mapping
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set_path(mapping: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        mapping = mapping.setdefault(part, {})
    mapping[last] = value


_MISSING = object()


def _same(stored: Any, given: Any) -> bool:
    if isinstance(stored, float) or isinstance(given, float):
        try:
            return math.isclose(float(stored), float(given), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return stored == given


def merge_resume_flags(
    stored: Mapping[str, Any],
    given: Mapping[str, Any],
    *,
    budget: Iterable[str] = (),
    flags: Mapping[str, str] | None = None,
) -> tuple[dict, dict[str, list]]:
    """The stored config with the given flags checked against it.

    ``given`` maps config paths (``"total_steps"``, ``"epsilon.start"``) to the values of the flags
    the user typed. Equal values pass; a ``budget`` path takes the new value; anything else is a
    `UsageError` naming the flag and both values. Returns the merged config and the changes as
    ``{path: [stored, given]}``.

    >>> merge_resume_flags({"lr": 0.1, "steps": 100}, {"lr": 0.1, "steps": 500}, budget=["steps"])
    ({'lr': 0.1, 'steps': 500}, {'steps': [100, 500]})
    >>> merge_resume_flags({"lr": 0.1}, {"lr": 0.2})
    Traceback (most recent call last):
    ...
    rllab.errors.UsageError: --lr differs from the run being resumed (stored 0.1, given 0.2); drop the flag to continue the run, or start a new run with another --run-dir
    """
    flags = dict(flags or {})
    merged = json.loads(json.dumps(dict(stored)))
    given_plain = config_to_dict(dict(given))
    budget = set(budget)
    changes: dict[str, list] = {}
    for path, value in given_plain.items():
        old = _get_path(merged, path)
        if old is not _MISSING and _same(old, value):
            continue
        flag = flags.get(path, flag_name(path))
        if path in budget:
            changes[path] = [None if old is _MISSING else old, value]
            _set_path(merged, path, value)
            continue
        shown = "unset" if old is _MISSING else json.dumps(old)
        raise UsageError(f"{flag} differs from the run being resumed (stored {shown}, given {json.dumps(value)}); "
                         "drop the flag to continue the run, or start a new run with another --run-dir")
    return merged, changes


def open_run(
    group: str,
    kind: str,
    config: Any,
    *,
    seed: int | None,
    run_dir: str | Path | None,
    resume: bool,
    from_dict: Callable[[dict], Any],
    given: Mapping[str, Any] | None = None,
    budget: Iterable[str] = (),
    flags: Mapping[str, str] | None = None,
    before_create: Callable[[Any], None] | None = None,
) -> RunStart:
    """Open the run a ``train`` command works on.

    New run (``resume=False``): ``config`` (a dataclass built from defaults and flags) goes into a new
    folder; ``before_create(config)`` runs first, so that a bad env or dataset leaves no folder behind.
    ``resume=True``: the stored config and seed win; ``given`` (the flags typed, as config paths) must
    agree with them except for the ``budget`` paths, which extend the run (the change is recorded in
    config.json under ``resumes``). A folder that does not exist yet had nothing saved: the run starts
    anew from ``config``, with a notice.
    """
    seed_value = 0 if seed is None else int(seed)
    if resume and run_dir is None:
        raise UsageError("--resume needs --run-dir naming the run folder to continue")
    if run_dir is not None:
        check_run_dir(run_dir)
    if resume and not (Path(run_dir) / CONFIG_NAME).is_file() and not _is_run_folder_in_use(Path(run_dir)):
        notice(f"nothing to resume in {str(run_dir)!r} yet (stopped before its first save): starting a new run")
        resume = False
    if not resume:
        if config is None:
            raise UsageError("a new run needs a config")
        if before_create is not None:
            before_create(config)
        run = Run.create(group, kind, config, seed=seed_value, run_dir=run_dir)
        return RunStart(run, config, run.seed, resumed=False)

    run = Run.open(run_dir, kind)
    lock_run_folder(run.path)
    if seed is not None and int(seed) != run.seed:
        raise UsageError(f"--seed differs from the run being resumed (stored {run.seed}, given {seed}); "
                         "drop the flag to continue the run, or start a new run with another --run-dir")
    merged, changes = merge_resume_flags(run.config, given or {}, budget=budget, flags=flags)
    try:
        resumed_config = from_dict(merged)
    except TypeError as exc:
        raise UsageError(f"{str(run.config_path)!r} does not hold a valid {kind} config ({exc})") from None
    if changes:
        _record_resume(run, merged, changes, flags or {})
    run.config = config_to_dict(resumed_config)
    return RunStart(run, resumed_config, run.seed, resumed=True)


def _is_run_folder_in_use(path: Path) -> bool:
    """A folder with content but no config.json is not ours to restart over."""
    return path.exists() and (not path.is_dir() or any(p.name != LOCK_NAME for p in path.iterdir()))


def _record_resume(run: Run, merged: dict, changes: dict[str, list], flags: Mapping[str, str]) -> None:
    record = json.loads(run.config_path.read_text())
    record["config"] = merged
    record.setdefault("resumes", []).append({
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "changes": {flags.get(path, flag_name(path)): values for path, values in changes.items()},
        "command": sys.argv,
    })
    write_json_atomic(run.config_path, record)
    shown = ", ".join(f"{flags.get(p, flag_name(p))} {old} -> {new}" for p, (old, new) in changes.items())
    notice(f"resuming {str(run.path)!r} with {shown} (recorded in {CONFIG_NAME})")


# --- keep-the-best ----------------------------------------------------------------------------------------
class KeepBest:
    """The best value a monitored figure reached over a whole run, resumes included.

    ``update(value, step)`` calls ``save()`` when ``value`` beats every earlier one (strictly), then
    records it in ``path`` (JSON, atomically), so that a resumed run compares against the true best
    and not against the first value it sees after the resume.

    >>> import tempfile, os
    >>> saved = []
    >>> best = KeepBest(os.path.join(tempfile.mkdtemp(), "best.json"), "score", save=lambda: saved.append(1))
    >>> best.update(1.0, step=10), best.update(0.5, step=20), best.update(2.0, step=30)
    (True, False, True)
    >>> KeepBest(best.path, "score").value, len(saved)
    (2.0, 2)
    """

    def __init__(self, path: str | Path, monitor: str, *, mode: str = "max", save: Callable[[], None] | None = None):
        self.path = Path(path)
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("max", "min"))
        self.save = save
        self.value: float | None = None
        self.step: int | None = None
        if self.path.is_file():
            try:
                record = json.loads(self.path.read_text())
                if record.get("monitor") == monitor:
                    self.value, self.step = float(record["value"]), int(record["step"])
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{str(self.path)!r} is unreadable or corrupt; delete it to restart keep-the-best") from None

    def is_better(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.value is None:
            return True
        return value > self.value if self.mode == "max" else value < self.value

    def update(self, value: float, step: int) -> bool:
        """Save and record ``value`` if it is the best so far; returns whether it was."""
        value = float(value)
        if not self.is_better(value):
            return False
        if self.save is not None:
            self.save()
        self.value, self.step = value, int(step)
        write_json_atomic(self.path, {"monitor": self.monitor, "mode": self.mode, "value": value, "step": int(step)})
        return True


# --- interruption -----------------------------------------------------------------------------------------
_last_stop_signal: int = signal.SIGINT


class RunInterrupted(KeyboardInterrupt):
    """Raised by a trainer after Ctrl-C/SIGTERM once its state is saved; the CLI prints this text and
    exits with ``exit_status``: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, run_path: str | Path, saved: str):
        typed = sys.argv[1:]
        if "--run-dir" not in typed and not any(a.startswith("--run-dir=") for a in typed):
            hint = f"add --resume --run-dir {run_path} to the same command to continue"
        elif "--resume" in typed:
            hint = "run the same command again to continue"
        else:
            hint = "run the same command with --resume to continue"
        super().__init__(f"{saved} in {run_path}; {hint}")
        self.run_path = Path(run_path)
        self.exit_status = 128 + int(_last_stop_signal)


class StopRequests:
    """Turns SIGINT/SIGTERM into a flag checked between steps; a second Ctrl-C aborts at once.

    Used as a context manager around a training loop (only the main thread can install handlers;
    elsewhere it is an inert flag).
    """

    def __init__(self, what: str = "finishing this step and saving a checkpoint"):
        self.requested = False
        self.what = what
        self._previous: dict = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        global _last_stop_signal
        _last_stop_signal = signum
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name} received: {self.what} "
              "(press Ctrl-C again to abort without saving)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
