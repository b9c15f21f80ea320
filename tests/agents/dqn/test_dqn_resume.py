"""Checkpoint -> resume gives exactly the run an uninterrupted one gives (same seed, CPU)."""
import csv

import keras
import numpy as np
import tensorflow as tf

from agents.dqn.config import config_for_env
from agents.dqn.dqn import train

VARYING_COLUMNS = {"time/steps_per_s"}  # wall-clock throughput legitimately differs


class StopAfterEpochs(keras.callbacks.Callback):
    """Stands in for an interruption: ends the loop (which checkpoints) after `epochs` epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def _latest_checkpoint(run_dir):
    return tf.train.latest_checkpoint(str(run_dir / "checkpoints"))


def _checkpoint_tensors(prefix):
    return {name: tf.train.load_variable(prefix, name) for name, _ in tf.train.list_variables(prefix)
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH" and not name.startswith("save_counter")}  # saves made differ


def _metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in VARYING_COLUMNS} for row in csv.DictReader(f)]


def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_overrides):
    config = config_for_env("CartPole-v1", tiny_overrides(n_step=2, stop_threshold=None))
    full = train(config, seed=3, run_dir=tmp_path / "full", progress=False)
    part = train(config, seed=3, run_dir=tmp_path / "part", progress=False, extra_callbacks=[StopAfterEpochs(2)])
    assert part["env_steps"] < full["env_steps"] == config.total_steps
    resumed = train(None, run_dir=tmp_path / "part", resume=True, progress=False)
    assert resumed["env_steps"] == full["env_steps"]

    full_ckpt, resumed_ckpt = _latest_checkpoint(tmp_path / "full"), _latest_checkpoint(tmp_path / "part")
    full_vars, resumed_vars = _checkpoint_tensors(full_ckpt), _checkpoint_tensors(resumed_ckpt)
    assert full_vars.keys() == resumed_vars.keys() and len(full_vars) > 10  # nets, target, optimizer slots
    for name in full_vars:
        np.testing.assert_array_equal(resumed_vars[name], full_vars[name], err_msg=name)
    for side_file, expected_key in ((".state.npz", "env/physics"), (".bulk.npz", "replay/obs")):
        with np.load(full_ckpt + side_file) as a, np.load(resumed_ckpt + side_file) as b:
            assert a.files == b.files and expected_key in a.files
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    with np.load(full_ckpt + ".state.npz") as small:
        assert not any(key.startswith("replay/") for key in small.files)  # the buffer is stored once, as bulk
        assert small["agent/env_steps"] == full["env_steps"]  # counters by name
    assert len(list((tmp_path / "part" / "checkpoints").glob("*.bulk.npz"))) == 1
    assert _metrics(tmp_path / "part") == _metrics(tmp_path / "full")
    assert resumed["final_policy_eval_mean"] == full["final_policy_eval_mean"]
