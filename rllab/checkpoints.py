"""Resumable state: `tf.train.Checkpoint` + `CheckpointManager`, plus NumPy side files.

TensorFlow objects (models, optimizers, counters) go in the TF checkpoint; small state that lives outside
TensorFlow (RNG states, counters, a Q-table) goes in ``ckpt-N.state.npz`` beside checkpoint N, one per
kept checkpoint. Bulk state (a replay buffer: gigabytes for Atari) is kept ONCE, for the newest
checkpoint only, in ``ckpt-N.bulk.npz``; see `Checkpointer.save` for why a kill mid-save is harmless.
Every file is written atomically and *before* the TF checkpoint is committed, so the latest checkpoint
the manager lists always has its side files.
"""
from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from rllab.errors import UsageError
from rllab.runs import save_npz_atomic

def _number_of(path: Path) -> int:
    match = re.match(r"ckpt-(\d+)\.", path.name)
    return int(match.group(1)) if match else -1


class _DamagedCheckpoint(Exception):
    """A checkpoint whose files cannot be read back (restore falls back to an older one)."""


StateGetter = Callable[[], dict[str, np.ndarray]]
StateSetter = Callable[[dict[str, np.ndarray]], None]


class Checkpointer:
    """Save and restore a run's state on a cadence.

    ``trackables`` are TensorFlow-trackable objects (Keras models, optimizers, ``tf.Variable``).
    Build an optimizer (``optimizer.build(model.trainable_variables)``) before `restore`, so its
    slots exist to receive the saved values.

    ``get_state``/``set_state`` save and load the small NumPy state of every kept checkpoint;
    ``get_bulk_state``/``set_bulk_state`` the bulk state, of which only the newest checkpoint's is kept
    (`restore` only ever restores the newest checkpoint, so older ones never need theirs).

    Example::

        ckpt = Checkpointer(run.checkpoints_dir, model=model, optimizer=model.optimizer)
        resumed = ckpt.restore()          # False on a fresh run
        ...
        ckpt.step.assign(step); ckpt.save()
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        max_to_keep: int = 3,
        get_state: StateGetter | None = None,
        set_state: StateSetter | None = None,
        get_bulk_state: StateGetter | None = None,
        set_bulk_state: StateSetter | None = None,
        **trackables,
    ):
        import tensorflow as tf

        self.directory = Path(directory)
        self.get_state = get_state
        self.set_state = set_state
        self.get_bulk_state = get_bulk_state
        self.set_bulk_state = set_bulk_state
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._checkpoint = tf.train.Checkpoint(step=self.step, **trackables)
        try:
            self._manager = self._make_manager(max_to_keep)
        except ValueError:  # TF refuses an empty or garbled index file: set it aside, find checkpoints by their files
            index = self.directory / "checkpoint"
            os.replace(index, index.with_name("checkpoint.damaged"))
            print(f"rllab: {str(index)!r} was damaged; moved it to checkpoint.damaged", file=sys.stderr, flush=True)
            self._manager = self._make_manager(max_to_keep)

    def _make_manager(self, max_to_keep: int):
        import tensorflow as tf

        return tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=max_to_keep,
                                          checkpoint_name="ckpt")

    @property
    def latest_step(self) -> int | None:
        """The step counter stored in the newest checkpoint, or None when there is none."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return None
        import tensorflow as tf

        return int(tf.train.load_variable(latest, "step/.ATTRIBUTES/VARIABLE_VALUE"))

    def _state_path(self, checkpoint_prefix: str) -> Path:
        return Path(f"{checkpoint_prefix}.state.npz")

    def _bulk_path(self, checkpoint_prefix: str) -> Path:
        return Path(f"{checkpoint_prefix}.bulk.npz")

    def save(self) -> str:
        """Write checkpoint N (N = the current step); returns its path prefix.

        Commit order: ``ckpt-N.bulk.npz``, then ``ckpt-N.state.npz`` (each written to a temporary name and
        renamed), then the TF checkpoint, whose commit (the manager's ``checkpoint`` index file naming
        ckpt-N) is what makes N the checkpoint `restore` uses. Only then are the older bulk files deleted.
        The bulk file is tagged with its checkpoint's number by its name, so a kill at any point leaves
        the previous checkpoint M complete: before the commit the index still names M, and
        ``ckpt-M.bulk.npz`` still exists beside it (the half-finished save's files are orphans that the
        next save deletes). The price is that during a save, two bulk files exist for a moment.
        Saving the same N twice rewrites its files in place, which is safe because the loop only does
        that with unchanged state.
        """
        number = int(self.step.numpy())
        prefix = str(self.directory / f"ckpt-{number}")
        if self.get_bulk_state is not None:
            save_npz_atomic(self._bulk_path(prefix), **self.get_bulk_state())
        if self.get_state is not None:
            save_npz_atomic(self._state_path(prefix), **self.get_state())
        path = self._manager.save(checkpoint_number=number)
        self._prune_state_files()
        return path

    def checkpoint_prefixes(self) -> list[str]:
        """Checkpoint path prefixes, newest first: those the manager's index lists and any other
        ``ckpt-N.index`` on disk (a garbled or deleted ``checkpoint`` index file loses nothing)."""
        numbers = {}
        for prefix in self._manager.checkpoints:
            match = re.search(r"ckpt-(\d+)$", prefix)
            if match:
                numbers[int(match.group(1))] = prefix
        for index in self.directory.glob("ckpt-*.index"):
            match = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
            if match:
                numbers.setdefault(int(match.group(1)), str(self.directory / f"ckpt-{match.group(1)}"))
        return [numbers[n] for n in sorted(numbers, reverse=True)]

    def restore(self) -> bool:
        """Load the newest intact checkpoint into the tracked objects; False when there is none.

        A damaged checkpoint (a TF file or side file missing, truncated or garbled) is reported in one
        line on stderr and the previous one is used; when every checkpoint is damaged, a one-line
        `UsageError` names them. Side files are read completely before anything is assigned, so a
        damaged one changes nothing. Bulk state exists for the newest checkpoint only, so a DQN-like
        run cannot fall back past a damaged newest checkpoint: the error says so.
        """
        prefixes = self.checkpoint_prefixes()
        if not prefixes:
            return False
        damaged = []
        for prefix in prefixes:
            try:
                self._restore_from(prefix, newest=prefix == prefixes[0])
            except _DamagedCheckpoint as exc:
                damaged.append(f"{Path(prefix).name} ({exc})")
                continue
            if damaged:
                print(f"rllab: damaged checkpoint{'s' if len(damaged) > 1 else ''} {'; '.join(damaged)}: "
                      f"resuming from {Path(prefix).name}", file=sys.stderr, flush=True)
            return True
        raise UsageError(f"no intact checkpoint in {str(self.directory)!r}: {'; '.join(damaged)}")

    def _restore_from(self, prefix: str, *, newest: bool) -> None:
        import tensorflow as tf

        side_files = [(self._state_path(prefix), self.set_state, "state"),
                      (self._bulk_path(prefix), self.set_bulk_state, "bulk state")]
        loaded = []
        for path, setter, what in side_files:
            if setter is None:
                continue
            if not path.is_file() and what == "bulk state" and not newest:
                # Bulk state is kept once, for the newest checkpoint. Falling back past a damaged newest
                # checkpoint, take the newest intact bulk file: newer data (a replay buffer a few
                # thousand transitions ahead) beats no run at all; the notice says so.
                path = self._newest_intact_bulk(prefix) or path
            if not path.is_file():
                why = "missing" if newest or what != "bulk state" else "kept for the newest checkpoint only"
                raise _DamagedCheckpoint(f"its {what} file {path.name} is {why}")
            try:
                with np.load(path, allow_pickle=False) as data:
                    loaded.append((setter, {key: data[key] for key in data.files}))
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
                raise _DamagedCheckpoint(f"{path.name} unreadable: {type(exc).__name__}") from None
        try:
            self._checkpoint.restore(prefix).assert_existing_objects_matched()
        except AssertionError as exc:
            raise UsageError(f"checkpoint {prefix!r} does not match this model/config ({exc})") from None
        except (tf.errors.OpError, ValueError, IndexError, OSError) as exc:
            raise _DamagedCheckpoint(f"TensorFlow files unreadable: {type(exc).__name__}") from None
        for setter, state in loaded:
            setter(state)
        self.step.assign(self._step_of(prefix))

    def _newest_intact_bulk(self, prefix: str) -> Path | None:
        for candidate in sorted(self.directory.glob("ckpt-*.bulk.npz"), key=_number_of, reverse=True):
            try:
                with np.load(candidate, allow_pickle=False) as data:
                    for key in data.files:
                        data[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
                continue
            print(f"rllab: {Path(prefix).name} uses the bulk state of {candidate.name} (bulk state is kept for the "
                  "newest checkpoint only)", file=sys.stderr, flush=True)
            return candidate
        return None

    @staticmethod
    def _step_of(prefix: str) -> int:
        import tensorflow as tf

        return int(tf.train.load_variable(prefix, "step/.ATTRIBUTES/VARIABLE_VALUE"))

    def _prune_state_files(self) -> None:
        """Drop side files of checkpoints the manager no longer keeps, and every bulk file but the newest's."""
        kept = {Path(p).name for p in self._manager.checkpoints}
        newest = Path(self._manager.latest_checkpoint).name if self._manager.latest_checkpoint else None
        for side_file in self.directory.glob("ckpt-*.npz"):
            match = re.fullmatch(r"(ckpt-\d+)\.(state|bulk)\.npz", side_file.name)
            if match is None:
                continue
            prefix, kind = match.groups()
            if (prefix != newest) if kind == "bulk" else (prefix not in kept):
                side_file.unlink(missing_ok=True)
