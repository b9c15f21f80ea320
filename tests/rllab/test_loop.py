"""The custom loop really drives Keras callbacks, checkpoints, resumes and stops cleanly on Ctrl-C."""
import csv
import math
import os
import signal

import keras
import numpy as np
import pytest

from rllab.callbacks import EvalCallback, standard_callbacks
from rllab.lifecycle import KeepBest
from rllab.checkpoints import Checkpointer
from rllab.loop import train_loop
from rllab.runs import Run


class Counter:
    """A deterministic 'training' whose state lives in NumPy, saved through the checkpointer."""

    def __init__(self):
        self.total = np.zeros(1)
        self.seen = []

    def step(self, step):
        self.seen.append(step)
        self.total += step
        return {"loss": 1.0 / (step + 1), "total": float(self.total[0])}

    def get_state(self):
        return {"total": self.total.copy()}

    def set_state(self, state):
        self.total = state["total"].copy()


def _checkpointer(run, counter):
    return Checkpointer(run.checkpoints_dir, get_state=counter.get_state, set_state=counter.set_state)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_loop_writes_csv_rows_tensorboard_and_plot_through_keras_callbacks(tmp_path):
    run = Run.create("test", "test", {}, seed=0, run_dir=tmp_path / "run")
    counter = Counter()
    result = train_loop(counter.step, total_steps=10, steps_per_epoch=4, callbacks=standard_callbacks(run), progress=False)
    rows = _rows(run.metrics_csv)
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert float(rows[0]["loss"]) == pytest.approx(np.mean([1, 1 / 2, 1 / 3, 1 / 4]))
    assert [float(r["step"]) for r in rows] == [4, 8, 10]
    assert "val_loss" not in rows[0]
    assert result.step == 10 and result.epochs == 3 and not result.interrupted
    assert any(run.tensorboard_dir.rglob("events.out.tfevents.*"))
    assert run.artifact("history.png").stat().st_size > 0


def test_terminate_on_nan_stops_the_loop(tmp_path):
    calls = []

    def step(i):
        calls.append(i)
        return {"loss": math.nan if i >= 5 else 1.0}

    result = train_loop(step, total_steps=100, steps_per_epoch=5, callbacks=[keras.callbacks.TerminateOnNaN()], progress=False)
    assert result.stopped_early and result.step == 6 and len(calls) == 6  # stops right after the NaN step


def test_early_stopping_works_unchanged(tmp_path):
    result = train_loop(lambda i: {"loss": 1.0}, total_steps=1000, steps_per_epoch=10,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=2)], progress=False)
    assert result.stopped_early and result.epochs == 3


def test_resume_continues_from_the_saved_step_and_matches_an_uninterrupted_run(tmp_path):
    straight = Counter()
    train_loop(straight.step, total_steps=12, steps_per_epoch=3, progress=False)

    run = Run.create("test", "test", {}, seed=0, run_dir=tmp_path / "run")
    first = Counter()
    ckpt = _checkpointer(run, first)
    train_loop(first.step, total_steps=6, steps_per_epoch=3, checkpointer=ckpt, progress=False)
    assert ckpt.latest_step == 6

    resumed = Counter()
    ckpt2 = _checkpointer(Run.open(run.path, "test"), resumed)
    assert ckpt2.restore()
    result = train_loop(resumed.step, total_steps=12, steps_per_epoch=3, checkpointer=ckpt2, progress=False)
    assert resumed.seen == [6, 7, 8, 9, 10, 11]
    assert resumed.total[0] == straight.total[0] and result.step == 12


def test_sigint_saves_a_checkpoint_and_returns_interrupted(tmp_path):
    run = Run.create("test", "test", {}, seed=0, run_dir=tmp_path / "run")
    counter = Counter()
    # What was installed before (Python's default handler, or SIG_IGN when started in the background).
    handler_before = signal.getsignal(signal.SIGINT)

    def step(i):
        if i == 7:
            os.kill(os.getpid(), signal.SIGINT)
        return counter.step(i)

    ckpt = _checkpointer(run, counter)
    result = train_loop(step, total_steps=100, steps_per_epoch=5, checkpointer=ckpt,
                        callbacks=standard_callbacks(run), progress=False)
    assert result.interrupted and result.step == 8
    assert ckpt.latest_step == 8
    restored = Counter()
    assert _checkpointer(run, restored).restore()
    assert restored.total[0] == sum(range(8))
    assert signal.getsignal(signal.SIGINT) is handler_before  # the loop puts back what it found


def test_eval_callback_keeps_the_best_and_stops_on_threshold(tmp_path):
    scores = iter([1.0, 3.0, 2.0, 5.0, 6.0])
    best = []
    keep_best = KeepBest(tmp_path / "best.json", "eval/score", save=lambda: best.append(len(best)))
    callback = EvalCallback(lambda: {"score": next(scores)}, "eval/score", every=2, threshold=5.0, keep_best=keep_best)
    result = train_loop(lambda i: {"loss": 0.0}, total_steps=100, steps_per_epoch=1, callbacks=[callback], progress=False)
    assert len(best) == 3 and (keep_best.value, keep_best.step) == (5.0, 8)
    assert result.stopped_early and result.epochs == 8 and callback.reached_threshold
    assert result.history[1]["eval/score"] == 1.0 and "eval/score" not in result.history[0]


def test_keep_best_survives_a_resume(tmp_path):
    saves = []
    first = KeepBest(tmp_path / "best.json", "eval/score", save=lambda: saves.append("first"))
    first.update(3.0, step=10)
    # A resumed run starts a new KeepBest: a worse first evaluation must not overwrite the best.
    resumed = KeepBest(tmp_path / "best.json", "eval/score", save=lambda: saves.append("resumed"))
    assert not resumed.update(2.0, step=20)
    assert resumed.update(4.0, step=30)
    assert saves == ["first", "resumed"] and (resumed.value, resumed.step) == (4.0, 30)


def test_callbacks_see_the_optimizer_that_was_passed():
    optimizer = keras.optimizers.Adam(0.0123)
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.optimizer)

    train_loop(lambda i: {"loss": 0.0}, total_steps=2, steps_per_epoch=1, callbacks=[Spy()],
               optimizer=optimizer, progress=False)
    assert seen == [optimizer]
    assert float(keras.ops.convert_to_numpy(seen[0].learning_rate)) == pytest.approx(0.0123)
