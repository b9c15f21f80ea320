"""Keras callbacks shared by `fit()` and the custom loop (`rllab.loop.train_loop`)."""
from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import keras
import numpy as np

from rllab import plotting
from rllab.checks import check_choice, check_int
from rllab.lifecycle import KeepBest, RunInterrupted, StopRequests
from rllab.metrics import drop_rows_from, read_metrics_csv, set_aside_if_damaged


class MetricsCSVLogger(keras.callbacks.CSVLogger):
    """`keras.callbacks.CSVLogger` fit for custom loops as well as `fit()`.

    Keras' logger fixes its columns at the first epoch and invents ``val_*`` columns when it sees
    none; in a custom loop that drops metrics that first appear later (an evaluation every 5
    epochs, an episode return once an episode ends) and adds empty columns. Give ``keys`` up front
    to fix the columns (missing values are written as ``NA``); without ``keys`` the first epoch's
    keys are used as they are.
    """

    def __init__(self, filename, keys: Sequence[str] | None = None, separator: str = ",", append: bool = False):
        super().__init__(filename, separator=separator, append=append)
        self._declared_keys = list(keys) if keys else None

    def on_train_begin(self, logs=None):
        if self.append:
            set_aside_if_damaged(self.filename, self._declared_keys)
        super().on_train_begin(logs)
        self._trimmed = False
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            # Resuming: keep the columns the file already has.
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), [])
            self.keys = [k for k in header if k != "epoch"] or None

    def on_epoch_begin(self, epoch, logs=None):
        if self.append and not self._trimmed:
            # Resuming at ``epoch``: rows from a later epoch were written after the checkpoint we resume
            # from (a kill between the two) and are about to be written again.
            self._trimmed = True
            self.csv_file.close()
            drop_rows_from(self.filename, epoch)
            self.csv_file = open(self.filename, "a", newline="")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = self._declared_keys or sorted(logs)
            extra = sorted(set(logs) - set(self.keys))
            self.keys = self.keys + extra
        super().on_epoch_end(epoch, logs)


class LossHistoryPlot(keras.callbacks.Callback):
    """Writes a PNG with one panel per logged numeric metric, after every ``every`` epochs and at the end.

    ``every=None`` draws only at the end (a redraw costs a fraction of a second: too much per epoch
    for a run of many short epochs).

    With ``csv_path`` (the run's metrics CSV) a resumed run plots its whole history, not only the
    epochs since the resume.
    """

    def __init__(self, path: str | os.PathLike, *, every: int | None = 1, csv_path: str | os.PathLike | None = None):
        super().__init__()
        self.path = Path(path)
        self.every = None if every is None else check_int("every", every, min_value=1)
        self.csv_path = csv_path
        self.history: dict[str, list[float]] = {}
        self._epochs_seen = 0

    def on_train_begin(self, logs=None):
        self.history = {}
        self._epochs_seen = 0
        if self.csv_path is not None:
            past = read_metrics_csv(self.csv_path)
            past.pop("epoch", None)
            self.history = {k: list(v) for k, v in past.items() if not np.isnan(v).all()}
            self._epochs_seen = max((len(v) for v in self.history.values()), default=0)

    def on_epoch_end(self, epoch, logs=None):
        numeric = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        for key in set(self.history) | set(numeric):
            column = self.history.setdefault(key, [math.nan] * self._epochs_seen)
            column.append(numeric.get(key, math.nan))
        self._epochs_seen += 1
        if self.every is not None and self._epochs_seen % self.every == 0:
            self._write()

    def on_train_end(self, logs=None):
        if self.history:
            self._write()

    def _write(self):
        plotting.plot_metric_panels(self.path, self.history)


class ImageGridMonitor(keras.callbacks.Callback):
    """Saves a grid of model outputs as ``directory/epoch_XXXX.png`` every ``every`` epochs.

    ``generate(epoch)`` returns images (N, H, W[, C]) in [0, 1] (or uint8); keep its inputs fixed
    (e.g. a fixed latent batch) so that the grids show progress rather than noise.
    """

    def __init__(self, generate: Callable[[int], np.ndarray], directory: str | os.PathLike, *, every: int = 1, ncols: int | None = None):
        super().__init__()
        self.generate = generate
        self.directory = Path(directory)
        self.every = check_int("every", every, min_value=1)
        self.ncols = ncols

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            plotting.save_image_grid(self.generate(epoch), self.directory / f"epoch_{epoch + 1:04d}.png", ncols=self.ncols)


class EvalCallback(keras.callbacks.Callback):
    """Periodic evaluation with keep-the-best and stop-on-threshold.

    Every ``every`` epochs, ``evaluate()`` returns a dict of figures; they are added to the epoch's
    logs as ``<prefix><name>`` so loggers placed after this callback record them. ``keep_best`` (a
    `rllab.lifecycle.KeepBest` on the ``monitor`` figure) saves whatever beats the best of the whole
    run, resumes included. When the figure reaches ``threshold`` the run stops
    (``model.stop_training = True``).
    """

    def __init__(
        self,
        evaluate: Callable[[], Mapping[str, float]],
        monitor: str,
        *,
        every: int = 1,
        mode: str = "max",
        threshold: float | None = None,
        keep_best: KeepBest | None = None,
        step: Callable[[int], int] | None = None,
        prefix: str = "eval/",
    ):
        super().__init__()
        self.evaluate = evaluate
        self.monitor = monitor
        self.every = check_int("every", every, min_value=1)
        self.mode = check_choice("mode", mode, ("max", "min"))
        self.threshold = threshold
        self.keep_best = keep_best
        self.step = step if step is not None else (lambda epoch: epoch + 1)
        self.prefix = prefix
        self.reached_threshold = False

    def _better(self, value: float, reference: float) -> bool:
        return value > reference if self.mode == "max" else value < reference

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        logs.update({f"{self.prefix}{k}": float(v) for k, v in self.evaluate().items()})
        if self.monitor not in logs:
            raise KeyError(f"EvalCallback: monitor {self.monitor!r} not among the evaluated figures {sorted(logs)}")
        value = float(logs[self.monitor])
        if self.keep_best is not None:
            self.keep_best.update(value, self.step(epoch))
        if self.threshold is not None and not self._better(self.threshold, value):
            self.reached_threshold = True
            self.model.stop_training = True


class KeepBestCallback(keras.callbacks.Callback):
    """Keep-the-best for `fit()`: ``keep_best.update(logs[monitor], epoch + 1)`` at each epoch's end.

    Unlike ``ModelCheckpoint(save_best_only=True)``, the best survives a resume (`KeepBest` stores it).
    """

    def __init__(self, keep_best: KeepBest):
        super().__init__()
        self.keep_best = keep_best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.keep_best.monitor)
        if value is not None:
            self.keep_best.update(float(value), epoch + 1)


class StopOnSignal(keras.callbacks.Callback):
    """Ctrl-C/SIGTERM during `fit()`: finish the batch, then raise `RunInterrupted` before the partial
    epoch reaches any other callback (put it first), so checkpoints and logs hold whole epochs only."""

    def __init__(self, run_path, *, saved: str = "finished epochs are checkpointed"):
        super().__init__()
        self.run_path = run_path
        self.saved = saved
        self.requests = StopRequests("finishing this batch; the last finished epoch is checkpointed")

    def on_train_begin(self, logs=None):
        self.requests.__enter__()

    def on_train_batch_end(self, batch, logs=None):
        if self.requests.requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.requests.requested:
            self.requests.__exit__(None, None, None)
            raise RunInterrupted(self.run_path, self.saved)

    def on_train_end(self, logs=None):
        self.requests.__exit__(None, None, None)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a `rllab.checkpoints.Checkpointer` at the end of every ``every`` epochs of ``fit()``.

    The checkpointer's ``step`` counts finished epochs, so a resumed ``fit`` passes
    ``initial_epoch=int(checkpointer.step)`` after ``checkpointer.restore()``.
    """

    def __init__(self, checkpointer, *, every: int = 1):
        super().__init__()
        self.checkpointer = checkpointer
        self.every = check_int("every", every, min_value=1)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.checkpointer.step.assign(epoch + 1)
            self.checkpointer.save()


class ThroughputMeter(keras.callbacks.Callback):
    """Images (or examples) per second of the train steps alone, not of whole ``fit()`` calls (the first step
    of each ``fit``, which compiles, left out)."""

    def __init__(self, images_per_step: int):
        super().__init__()
        self.images_per_step = images_per_step
        self.images = 0
        self.timed_images = 0
        self.timed_seconds = 0.0
        self._first = True

    def on_train_begin(self, logs=None):
        self._first = True

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        elapsed = time.perf_counter() - self._t
        self.images += self.images_per_step
        if self._first:
            self._first = False
            return
        self.timed_images += self.images_per_step
        self.timed_seconds += elapsed

    def images_per_second(self) -> float | None:
        return self.timed_images / self.timed_seconds if self.timed_seconds > 0 else None


class EpochTimer(keras.callbacks.Callback):
    """Adds ``time/epoch_s`` (wall seconds of the epoch) to the logs; place it before the loggers."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["time/epoch_s"] = time.perf_counter() - self._started


def standard_callbacks(
    run,
    *,
    resume: bool = False,
    extra: Iterable[keras.callbacks.Callback] = (),
    csv_keys: Sequence[str] | None = None,
    plot: bool = True,
    plot_every: int | None = 1,
) -> list[keras.callbacks.Callback]:
    """The callbacks every run gets: NaN guard, metrics CSV, TensorBoard and the history plot.

    ``extra`` callbacks (evaluation, image grids, early stopping) go first so that the figures they
    add to the logs reach the CSV and TensorBoard.
    """
    callbacks = [
        *extra,
        keras.callbacks.TerminateOnNaN(),
        MetricsCSVLogger(run.metrics_csv, keys=csv_keys, append=resume),
        keras.callbacks.TensorBoard(log_dir=str(run.tensorboard_dir), write_graph=False),
    ]
    if plot:
        callbacks.append(LossHistoryPlot(run.artifact("history.png"), every=plot_every, csv_path=run.metrics_csv))
    return callbacks


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return np.ndim(value) == 0


class TimeBudget(keras.callbacks.Callback):
    """A wall-clock budget for `fit()`: stops at the end of the batch in which ``seconds`` run out.

    ``spent`` is the time earlier sessions of the same run used (a resumed run continues its budget);
    `spent_seconds()` is the total so far, which a checkpoint should store. Keras still ends the epoch
    in progress normally (``on_epoch_end`` runs, so the partial epoch is logged and checkpointed).
    ``seconds=None`` only keeps the time.
    """

    def __init__(self, seconds: float | None, *, spent: float = 0.0):
        super().__init__()
        self.seconds = None if seconds is None else float(seconds)
        self.spent_before = float(spent)
        self.ran_out = False
        self._started: float | None = None

    def spent_seconds(self) -> float:
        running = 0.0 if self._started is None else time.perf_counter() - self._started
        return self.spent_before + running

    def _check(self) -> None:
        if self.seconds is not None and self.spent_seconds() >= self.seconds:
            self.ran_out = True
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()

    def on_train_end(self, logs=None):
        self.spent_before = self.spent_seconds()
        self._started = None


class LinearLRDecay(keras.callbacks.Callback):
    """Moves each optimizer's learning rate linearly from its start value to ``final_fraction`` of it
    over the budget: the larger of the share of the `TimeBudget` spent and the share of ``total_steps``
    done (the first optimizer's iterations: give one that steps once per train step), so a resumed run
    continues its schedule. ``start_values``: ``{optimizer: start learning rate}``."""

    def __init__(self, start_values: dict, final_fraction: float, budget, total_steps: int | None):
        super().__init__()
        self.optimizers = list(start_values)
        self.start_values = [float(v) for v in start_values.values()]
        self.final_fraction, self.budget, self.total_steps = final_fraction, budget, total_steps

    def progress(self) -> float:
        shares = [0.0]
        if self.budget.seconds:
            shares.append(self.budget.spent_seconds() / self.budget.seconds)
        if self.total_steps:
            shares.append(int(self.optimizers[0].iterations.numpy()) / self.total_steps)
        return min(1.0, max(shares))

    def on_train_batch_begin(self, batch, logs=None):
        scale = 1.0 - (1.0 - self.final_fraction) * self.progress()
        for optimizer, start in zip(self.optimizers, self.start_values):
            optimizer.learning_rate.assign(start * scale)
