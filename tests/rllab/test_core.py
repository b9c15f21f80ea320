"""Run folders, checkpoints side files, seeding, validation, models and plotting."""
import json

import keras
import numpy as np
import pytest

from rllab.callbacks import ImageGridMonitor, MetricsCSVLogger
from rllab.checks import check_choice, check_float, check_int
from rllab.checkpoints import Checkpointer
from rllab.errors import UsageError
from rllab.metrics import drop_rows_from, read_metrics_csv
from rllab.models import build_mlp, build_small_cnn
from rllab.plotting import image_grid, moving_average
from rllab.runs import Run, save_npy_atomic
from rllab.seeding import seed_everything


def test_run_create_open_and_resume(tmp_path):
    run = Run.create("g", "demo", {"lr": 0.1, "hidden": (64, 64)}, seed=3, run_dir=tmp_path / "r")
    record = json.loads(run.config_path.read_text())
    assert record["kind"] == "demo" and record["seed"] == 3 and record["config"] == {"lr": 0.1, "hidden": [64, 64]}
    assert {"python", "numpy", "tensorflow", "keras"} <= set(record["versions"])
    for folder in (run.tensorboard_dir, run.checkpoints_dir, run.artifacts_dir):
        assert folder.is_dir()
    with pytest.raises(UsageError, match="--resume"):
        Run.create("g", "demo", {}, seed=0, run_dir=run.path)
    with pytest.raises(UsageError, match="is a 'demo' run, not a 'dqn' run"):
        Run.open(run.path, "dqn")
    with pytest.raises(UsageError, match="does not exist"):
        Run.open(tmp_path / "missing", "demo")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="not a run folder"):
        Run.open(tmp_path / "empty", "demo")


def test_atomic_writes_leave_no_partial_file(tmp_path):
    target = tmp_path / "table.npy"
    save_npy_atomic(target, np.arange(3))

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        save_npy_atomic(target, Boom())
    assert np.load(target).tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["table.npy"]


def test_checkpointer_round_trip_prunes_side_files_and_falls_back_past_damage(tmp_path, capsys):
    model = build_mlp((3,), 2, hidden_units=(4,))
    state = {"buffer": np.arange(5)}
    ckpt = Checkpointer(tmp_path, max_to_keep=2, model=model, get_state=lambda: state, set_state=state.update)
    for step in (1, 2, 3):
        ckpt.step.assign(step)
        state["buffer"] = np.arange(5) * step
        ckpt.save()
    assert sorted(p.name for p in tmp_path.glob("*.state.npz")) == ["ckpt-2.state.npz", "ckpt-3.state.npz"]
    assert ckpt.latest_step == 3

    other = build_mlp((3,), 2, hidden_units=(4,))
    loaded = {}
    restorer = Checkpointer(tmp_path, model=other, get_state=dict, set_state=loaded.update)
    assert restorer.restore() and int(restorer.step.numpy()) == 3
    assert loaded["buffer"].tolist() == [0, 3, 6, 9, 12]
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])

    # A damaged newest checkpoint: one line on stderr, and the previous intact one is used.
    (tmp_path / "ckpt-3.state.npz").write_bytes(b"PK\x03\x04 truncated")
    assert restorer.restore() and int(restorer.step.numpy()) == 2
    assert loaded["buffer"].tolist() == [0, 2, 4, 6, 8]
    assert "ckpt-3 (ckpt-3.state.npz unreadable: BadZipFile): resuming from ckpt-2" in capsys.readouterr().err
    # A garbled index file loses nothing: the checkpoints are found from their own files.
    (tmp_path / "checkpoint").write_text("garbage {{{")
    assert Checkpointer(tmp_path, model=other, get_state=dict, set_state=loaded.update).restore()
    # Nothing intact: one line naming every damaged checkpoint.
    (tmp_path / "ckpt-2.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(UsageError, match=r"no intact checkpoint .*ckpt-3 \(.*\); ckpt-2 \(TensorFlow files unreadable"):
        restorer.restore()
    assert not Checkpointer(tmp_path / "fresh").restore()


def test_seed_everything_reproduces_numpy_and_tensorflow():
    import tensorflow as tf

    seed_everything(5)
    first = (np.random.rand(3), tf.random.uniform((3,)).numpy(), build_mlp((2,), 1).get_weights()[0])
    seed_everything(5)
    second = (np.random.rand(3), tf.random.uniform((3,)).numpy(), build_mlp((2,), 1).get_weights()[0])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(UsageError, match="seed must be >= 0, got -1"):
        seed_everything(-1)


def test_checks_name_the_bad_value():
    with pytest.raises(UsageError, match="episodes must be >= 1, got 0"):
        check_int("episodes", 0, min_value=1)
    with pytest.raises(UsageError, match="must be an integer, got 'x'"):
        check_int("episodes", "x")
    with pytest.raises(UsageError, match=r"gamma must be <= 1.0, got 1.5"):
        check_float("gamma", 1.5, min_value=0.0, max_value=1.0)
    with pytest.raises(UsageError, match="one of mlp, cnn; got 'rnn'"):
        check_choice("model", "rnn", ["mlp", "cnn"])


def test_model_builders_shapes_and_validation():
    mlp = build_mlp((28, 28), 10)
    assert mlp.output_shape == (None, 10) and mlp.count_params() == 784 * 128 + 128 + 128 * 10 + 10
    assert build_small_cnn((28, 28), 10).output_shape == (None, 10)
    with pytest.raises(UsageError, match="num_outputs must be >= 1, got 0"):
        build_mlp((4,), 0)
    with pytest.raises(UsageError, match="input_shape"):
        build_mlp((4, -1), 2)
    with pytest.raises(UsageError, match="dropout must be < 1.0"):
        build_small_cnn((28, 28), 10, dropout=1.0)


def test_image_grid_and_monitor(tmp_path):
    grid = image_grid(np.ones((5, 4, 4)), ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1) and grid.dtype == np.uint8 and grid.max() == 255
    assert grid[0].max() == 0  # padding row
    monitor = ImageGridMonitor(lambda epoch: np.full((4, 8, 8), epoch / 3), tmp_path, every=2)
    for epoch in range(4):
        monitor.on_epoch_end(epoch)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0002.png", "epoch_0004.png"]
    np.testing.assert_allclose(moving_average([1, 3, 5, 7], 2), [1, 2, 4, 6])


def test_metrics_csv_logger_keeps_declared_columns(tmp_path):
    path = tmp_path / "m.csv"
    logger = MetricsCSVLogger(path, keys=["loss", "eval/score"])
    logger.set_model(keras.Sequential())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})
    logger.on_epoch_end(1, {"loss": 0.5, "eval/score": 3.0})
    logger.on_train_end()
    assert path.read_text().splitlines() == ["epoch,loss,eval/score", "0,1.0,NA", "1,0.5,3.0"]
    resumed = MetricsCSVLogger(path, append=True)
    resumed.set_model(keras.Sequential())
    resumed.on_train_begin()
    resumed.on_epoch_end(2, {"eval/score": 4.0, "loss": 0.25})
    resumed.on_train_end()
    assert path.read_text().splitlines()[-1] == "2,0.25,4.0"


def test_a_resumed_csv_logger_drops_rows_written_after_the_checkpoint(tmp_path):
    """Killed after epoch 3's row but before its checkpoint: the run resumes at epoch 3 and writes it again."""
    path = tmp_path / "m.csv"
    path.write_text("epoch,loss\r\n0,4.0\r\n1,3.0\r\n2,2.0\r\n3,1.0\r\n")
    resumed = MetricsCSVLogger(path, append=True)
    resumed.set_model(keras.Sequential())
    resumed.on_train_begin()
    resumed.on_epoch_begin(3)
    resumed.on_epoch_end(3, {"loss": 0.5})
    resumed.on_epoch_begin(4)
    resumed.on_epoch_end(4, {"loss": 0.25})
    resumed.on_train_end()
    assert path.read_text().splitlines() == ["epoch,loss", "0,4.0", "1,3.0", "2,2.0", "3,0.5", "4,0.25"]


def test_drop_rows_from_keeps_earlier_epochs_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("epoch,x\r\n0,1\r\n1,2\r\n2,3\r\nnot-a-numb")
    assert drop_rows_from(path, 2) == 2
    assert read_metrics_csv(path)["x"].tolist() == [1.0, 2.0]
    assert drop_rows_from(tmp_path / "missing.csv", 0) == 0


def test_a_garbage_metrics_csv_is_set_aside_on_resume(tmp_path, capsys):
    from rllab.metrics import MetricsWriter, set_aside_if_damaged

    path = tmp_path / "metrics.csv"
    writer = MetricsWriter(path, ["loss"])
    writer.write({"loss": 1.0})
    assert not set_aside_if_damaged(path, ["loss"])  # ours: left alone
    path.write_text("garbage,header\nx,y,z\n1,2\n")
    resumed = MetricsWriter(path, ["loss"], append=True)
    resumed.write({"loss": 0.5})
    assert path.read_text().splitlines() == ["epoch,loss", "0,0.5"]
    assert (tmp_path / "metrics.csv.damaged").read_text().startswith("garbage,header")
    assert "was damaged (its header is not the metrics header)" in capsys.readouterr().err
