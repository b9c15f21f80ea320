"""The one custom training loop: Keras callbacks, progress, checkpoints and clean Ctrl-C.

Algorithms that do not fit ``Model.fit`` (RL agents, style transfer) express one step of work as
``step_fn(step) -> logs`` and hand it to `train_loop`. Every ``steps_per_epoch`` steps the loop
averages the logs and calls ``on_epoch_end`` of a `keras.callbacks.CallbackList`, so CSVLogger,
TensorBoard, EarlyStopping, TerminateOnNaN and the lab's own callbacks work unchanged.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import keras

from rllab.checks import check_int
from rllab.checkpoints import Checkpointer
from rllab.lifecycle import StopRequests

StepFn = Callable[[int], "Mapping[str, float] | None"]


@dataclass
class LoopResult:
    """How a `train_loop` call ended."""

    step: int
    """Steps completed in total (including those before a resume)."""
    epochs: int
    """Epochs whose end callbacks ran in this call."""
    interrupted: bool
    """Stopped by Ctrl-C/SIGTERM after saving a checkpoint."""
    stopped_early: bool
    """A callback set ``model.stop_training`` (EarlyStopping, TerminateOnNaN, a threshold)."""
    history: list[dict] = field(default_factory=list)
    """The logs of each epoch run in this call."""


def standin_model(optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    """A weightless model, compiled with ``optimizer``, for loops that have no Keras model of their own.

    Callbacks need ``model`` (TensorBoard reads ``model.optimizer``; EarlyStopping sets
    ``model.stop_training``), and they must see the optimizer that really trains.
    """
    model = keras.Sequential(name="loop")
    model.compile(optimizer=optimizer if optimizer is not None else "sgd")
    return model


class _EpochRecorder(keras.callbacks.Callback):
    """Last in the list, it sees each epoch's logs with what other callbacks added (evaluations)."""

    def __init__(self, history: list[dict]):
        super().__init__()
        self.history = history

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(dict(logs or {}))


def _uses_batch_hooks(callback: keras.callbacks.Callback) -> bool:
    """Whether a callback does anything per step; most act per epoch, and a per-step call to each costs
    more than a fast RL step (TensorBoard writing per epoch only counts batches)."""
    base = keras.callbacks.Callback
    if isinstance(callback, keras.callbacks.TensorBoard) and callback.update_freq == "epoch" and not getattr(callback, "_should_trace", False):
        return False
    hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    return any(getattr(type(callback), hook) is not getattr(base, hook) for hook in hooks)


class _EpochMeans:
    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, logs: Mapping[str, float]) -> None:
        for key, value in logs.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {key: self.sums[key] / self.counts[key] for key in self.sums}


def train_loop(
    step_fn: StepFn,
    *,
    total_steps: int,
    steps_per_epoch: int,
    callbacks: Iterable[keras.callbacks.Callback] = (),
    model: keras.Model | None = None,
    optimizer: keras.optimizers.Optimizer | None = None,
    checkpointer: Checkpointer | None = None,
    checkpoint_every_epochs: int = 1,
    progress: bool = True,
) -> LoopResult:
    """Run ``step_fn`` from the checkpointer's step (0 on a fresh run) up to ``total_steps``.

    ``model`` is what callbacks see (an uncompiled one is compiled with ``optimizer`` so that
    TensorBoard can read its learning rate). Restore the checkpointer *before* calling this to resume. Checkpoints are written every
    ``checkpoint_every_epochs`` epochs, at the end, and when Ctrl-C or SIGTERM arrives (the loop
    then returns ``interrupted=True``; a second Ctrl-C raises KeyboardInterrupt at once).

    Example::

        def step(i):
            return {"loss": float(train_step())}
        train_loop(step, total_steps=1000, steps_per_epoch=100,
                   callbacks=standard_callbacks(run), model=model, checkpointer=ckpt)
    """
    total_steps = check_int("total_steps", total_steps, min_value=0)
    steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, min_value=1)
    checkpoint_every_epochs = check_int("checkpoint_every_epochs", checkpoint_every_epochs, min_value=1)
    if model is None:
        model = standin_model(optimizer)
    elif getattr(model, "optimizer", None) is None:
        # Callbacks read model.optimizer (TensorBoard logs its learning rate); compiling only attaches it.
        model.compile(optimizer=optimizer if optimizer is not None else "sgd")
    elif optimizer is not None and model.optimizer is not optimizer:
        raise ValueError("train_loop: model is compiled with another optimizer than the one passed")
    model.stop_training = False
    start = int(checkpointer.step.numpy()) if checkpointer is not None else 0
    epochs = math.ceil(total_steps / steps_per_epoch)
    result = LoopResult(step=start, epochs=0, interrupted=False, stopped_early=False)
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, _EpochRecorder(result.history)], model=model, epochs=epochs, steps=steps_per_epoch, verbose=0
    )
    batch_callbacks = [c for c in callback_list.callbacks if _uses_batch_hooks(c)]
    bar = _Progress(total_steps, start) if progress else None

    def save(step: int) -> None:
        if checkpointer is not None:
            checkpointer.step.assign(step)
            checkpointer.save()

    step = start
    with StopRequests() as stop:
        callback_list.on_train_begin()
        while step < total_steps and not model.stop_training and not stop.requested:
            epoch = step // steps_per_epoch
            epoch_end = min((epoch + 1) * steps_per_epoch, total_steps)
            means = _EpochMeans()
            callback_list.on_epoch_begin(epoch)
            while step < epoch_end and not stop.requested and not model.stop_training:
                for callback in batch_callbacks:
                    callback.on_train_batch_begin(step)
                logs = step_fn(step)
                if logs:
                    means.add(logs)
                for callback in batch_callbacks:
                    callback.on_train_batch_end(step, logs)
                step += 1
                if bar is not None:
                    bar.update(step)
            if stop.requested and step < epoch_end:
                break  # a partial epoch: its logs are not an epoch's worth; the checkpoint keeps the step
            epoch_logs = {**means.means(), "step": float(step)}
            callback_list.on_epoch_end(epoch, epoch_logs)
            result.epochs += 1
            if bar is not None:
                bar.epoch_done(epoch, result.history[-1])
            if (epoch + 1) % checkpoint_every_epochs == 0 and step < total_steps:
                save(step)
        save(step)
        callback_list.on_train_end(result.history[-1] if result.history else None)
    result.step = step
    result.interrupted = stop.requested
    result.stopped_early = bool(model.stop_training) and not stop.requested and step < total_steps
    if bar is not None:
        bar.close()
    return result


class _Progress:
    """A Keras Progbar on a terminal; one line per epoch when output goes to a file or pipe."""

    def __init__(self, total: int, start: int):
        self.total = total
        self.interactive = sys.stdout.isatty()
        self.started = time.monotonic()
        self.start = start
        self._every = max(1, total // 200)
        self.bar = keras.utils.Progbar(total, unit_name="step") if self.interactive else None
        if self.bar is not None:
            self.bar.update(start)

    def update(self, step: int) -> None:
        if self.bar is not None and (step % self._every == 0 or step == self.total):
            self.bar.update(step)

    def epoch_done(self, epoch: int, logs: Mapping[str, float]) -> None:
        if self.bar is not None:
            return
        elapsed = time.monotonic() - self.started
        shown = " ".join(f"{k}={format_number(v)}" for k, v in sorted(logs.items()) if k != "step")
        print(f"epoch {epoch + 1} step {int(logs['step'])}/{self.total} {elapsed:.1f}s {shown}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            print(flush=True)


def format_number(value: float) -> str:
    """A metric as a person reads it: counts as integers (10000, not 1e+04), the rest to 4 digits.

    >>> format_number(10000.0), format_number(0.123456), format_number(float("nan"))
    ('10000', '0.1235', 'nan')
    """
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"
