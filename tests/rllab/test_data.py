import gzip
import shutil

import numpy as np
import pytest

from rllab import data
from rllab.data import get_dataset, load_fashion_mnist, load_mnist
from rllab.errors import UsageError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist_from_env_matches_keras_layout(with_data_dir):
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert x_train.mean() == pytest.approx(33.32, abs=0.01)


def test_fashion_mnist_from_explicit_folder(data_dir, monkeypatch):
    monkeypatch.delenv("RLLAB_DATA_DIR", raising=False)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(data_dir / "fashion-mnist")
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_explicit_path_wins_over_env(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("RLLAB_DATA_DIR", str(tmp_path / "nowhere"))
    (x_train, _), _ = load_mnist(data_dir / "mnist.npz")
    assert len(x_train) == 60000


def _small_npz(path, **overrides):
    arrays = {
        "x_train": np.zeros((4, 28, 28), np.uint8), "y_train": np.arange(4, dtype=np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.arange(2, dtype=np.uint8),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def test_wrong_dtype_and_shape_are_clear_errors(tmp_path):
    with pytest.raises(UsageError, match="uint8"):
        load_mnist(_small_npz(tmp_path / "a.npz", x_train=np.zeros((4, 28, 28), np.float32)))
    with pytest.raises(UsageError, match=r"\(N, 28, 28\)"):
        load_mnist(_small_npz(tmp_path / "b.npz", x_test=np.zeros((2, 32, 32), np.uint8)))
    with pytest.raises(UsageError, match="lacks the arrays"):
        np.savez(tmp_path / "c.npz", x_train=np.zeros((1, 28, 28), np.uint8))
        load_mnist(tmp_path / "c.npz")


def test_truncated_npz_is_a_clear_error(tmp_path, data_dir):
    broken = tmp_path / "mnist.npz"
    broken.write_bytes((data_dir / "mnist.npz").read_bytes()[:100_000])
    with pytest.raises(UsageError, match="corrupt or truncated"):
        load_mnist(tmp_path)


def test_truncated_idx_is_a_clear_error(tmp_path, data_dir):
    folder = tmp_path / "fashion-mnist"
    shutil.copytree(data_dir / "fashion-mnist", folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(UsageError, match="truncated"):
        load_fashion_mnist(folder)
    labels.write_bytes(b"not gzip at all")
    with pytest.raises(UsageError, match="corrupt or truncated"):
        load_fashion_mnist(folder)


def test_missing_files_name_what_is_needed(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="no such file"):
        load_mnist(tmp_path / "missing.npz")
    (tmp_path / "fashion-mnist").mkdir()
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz"):
        load_fashion_mnist(tmp_path / "fashion-mnist")


def test_offline_without_files_says_where_to_put_them(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("RLLAB_DATA_DIR", str(tmp_path))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(UsageError, match=rf"RLLAB_DATA_DIR='{tmp_path}' holds no mnist.npz, and Keras could not download"):
        load_mnist()
    monkeypatch.setenv("RLLAB_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match=r"RLLAB_DATA_DIR='.*nowhere' is not a folder"):
        load_mnist()
    monkeypatch.delenv("RLLAB_DATA_DIR")
    with pytest.raises(UsageError, match="RLLAB_DATA_DIR is not set"):
        load_mnist()


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(UsageError, match="fashion_mnist, mnist|mnist, fashion_mnist"):
        get_dataset("cifar")
    assert get_dataset("fashion_mnist").class_names[9] == "Ankle boot"
    assert data.DATASETS["mnist"].class_names == tuple("0123456789")
