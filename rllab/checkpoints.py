"""Resumable state: `tf.train.Checkpoint` + `CheckpointManager`, plus NumPy side files.

TensorFlow objects (models, optimizers, counters) go in the TF checkpoint; state that lives outside
TensorFlow (a replay buffer, RNG states, a Q-table) goes in ``ckpt-N.state.npz`` beside checkpoint
N. The side file is written (atomically) *before* the TF checkpoint is committed, so the latest
checkpoint the manager lists always has its side file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from rllab.errors import UsageError
from rllab.runs import save_npz_atomic

StateGetter = Callable[[], dict[str, np.ndarray]]
StateSetter = Callable[[dict[str, np.ndarray]], None]


class Checkpointer:
    """Save and restore a run's state on a cadence.

    ``trackables`` are TensorFlow-trackable objects (Keras models, optimizers, ``tf.Variable``).
    Build an optimizer (``optimizer.build(model.trainable_variables)``) before `restore`, so its
    slots exist to receive the saved values.

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
        **trackables,
    ):
        import tensorflow as tf

        self.directory = Path(directory)
        self.get_state = get_state
        self.set_state = set_state
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._checkpoint = tf.train.Checkpoint(step=self.step, **trackables)
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=max_to_keep, checkpoint_name="ckpt")

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

    def save(self) -> str:
        """Write a checkpoint numbered by the current step; returns its path prefix."""
        number = int(self.step.numpy())
        prefix = str(self.directory / f"ckpt-{number}")
        if self.get_state is not None:
            save_npz_atomic(self._state_path(prefix), **self.get_state())
        path = self._manager.save(checkpoint_number=number)
        self._prune_state_files()
        return path

    def restore(self) -> bool:
        """Load the newest checkpoint into the tracked objects; False when there is none."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return False
        try:
            self._checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError) as exc:
            raise UsageError(f"checkpoint {latest!r} does not match this model/config ({exc})") from None
        if self.set_state is not None:
            state_path = self._state_path(latest)
            if not state_path.is_file():
                raise UsageError(f"checkpoint {latest!r} lacks its state file {state_path.name!r}")
            with np.load(state_path, allow_pickle=False) as data:
                self.set_state({key: data[key] for key in data.files})
        return True

    def _prune_state_files(self) -> None:
        kept = {Path(p).name for p in self._manager.checkpoints}
        for side_file in self.directory.glob("ckpt-*.state.npz"):
            prefix = re.sub(r"\.state\.npz$", "", side_file.name)
            if prefix not in kept:
                side_file.unlink(missing_ok=True)
