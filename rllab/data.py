"""MNIST and Fashion-MNIST loaders returning exactly what Keras' ``load_data()`` returns.

Lookup order for each dataset:

1. an explicit ``path`` argument (a file, or a folder holding the standard file names);
2. ``$RLLAB_DATA_DIR`` (``mnist.npz``; ``fashion-mnist/*-idx?-ubyte.gz``);
3. Keras' own cache in ``~/.keras/datasets``, downloading it if the machine is online.

Every array is checked: a truncated, corrupt or wrongly shaped file is a `UsageError` naming it.
"""
from __future__ import annotations

import gzip
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rllab.checks import check_choice
from rllab.errors import UsageError

DATA_DIR_ENV = "RLLAB_DATA_DIR"
MNIST_FILE = "mnist.npz"
FASHION_DIR = "fashion-mnist"
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
_IDX_MAGIC = {1: 2049, 3: 2051}  # labels, images

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist(path: str | os.PathLike | None = None) -> Arrays:
    """``((x_train, y_train), (x_test, y_test))`` of MNIST as uint8 arrays, like Keras' ``load_data()``.

    ``path`` is ``mnist.npz`` itself or a folder holding it.

    Example (with ``RLLAB_DATA_DIR=../shared/datasets``)::

        (x_train, y_train), (x_test, y_test) = load_mnist()
        x_train.shape, x_train.dtype   # ((60000, 28, 28), dtype('uint8'))
    """
    file = _locate(path, MNIST_FILE, "MNIST")
    if file is None:
        return _validated("MNIST", "Keras' MNIST download", _keras_loader("mnist", MNIST_FILE))
    return _validated("MNIST", str(file), lambda: _read_npz(file))


def load_fashion_mnist(path: str | os.PathLike | None = None) -> Arrays:
    """``((x_train, y_train), (x_test, y_test))`` of Fashion-MNIST as uint8 arrays.

    ``path`` is a folder holding the four original IDX files (``train-images-idx3-ubyte.gz``, ...).
    """
    folder = _locate(path, FASHION_DIR, "Fashion-MNIST", folder=True)
    if folder is None:
        return _validated("Fashion-MNIST", "Keras' Fashion-MNIST download", _keras_loader("fashion_mnist", FASHION_DIR))
    return _validated("Fashion-MNIST", str(folder), lambda: _read_idx_folder(folder))


@dataclass(frozen=True)
class Dataset:
    """A dataset the CLI can name: its loader and its class names."""

    name: str
    load: Callable[..., Arrays]
    class_names: tuple[str, ...]


DATASETS: dict[str, Dataset] = {
    "mnist": Dataset("mnist", load_mnist, tuple(str(d) for d in range(10))),
    "fashion_mnist": Dataset(
        "fashion_mnist",
        load_fashion_mnist,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


def get_dataset(name: str) -> Dataset:
    """The `Dataset` called ``name``; an unknown name is a `UsageError` listing the known ones."""
    return DATASETS[check_choice("dataset", name, DATASETS)]


def _locate(path, standard_name: str, title: str, *, folder: bool = False) -> Path | None:
    """The explicit path, else the one under $RLLAB_DATA_DIR, else None (meaning: ask Keras)."""
    if path is not None:
        candidate = Path(path)
        if candidate.is_dir() and (candidate / standard_name).exists():
            candidate = candidate / standard_name
        if not candidate.exists():
            raise UsageError(f"{title}: no such file or folder {str(candidate)!r}")
        if folder and not candidate.is_dir():
            raise UsageError(f"{title}: {str(candidate)!r} must be a folder holding {', '.join(FASHION_FILES.values())}")
        return candidate
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        candidate = Path(data_dir) / standard_name
        if candidate.exists():
            return candidate
    return None


def _keras_loader(module: str, standard_name: str) -> Callable[[], Arrays]:
    def load() -> Arrays:
        import keras

        try:
            return getattr(keras.datasets, module).load_data()
        except Exception as exc:  # Keras raises bare Exceptions for network failures.
            where = MNIST_FILE if module == "mnist" else f"{FASHION_DIR}/{{{','.join(FASHION_FILES.values())}}}"
            data_dir = os.environ.get(DATA_DIR_ENV, "").strip()
            if not data_dir:
                looked = f"{DATA_DIR_ENV} is not set"
            elif not Path(data_dir).is_dir():
                looked = f"{DATA_DIR_ENV}={data_dir!r} is not a folder"
            else:
                looked = f"{DATA_DIR_ENV}={data_dir!r} holds no {standard_name}"
            raise UsageError(
                f"{module}: {looked}, and Keras could not download it ({type(exc).__name__}: offline?); "
                f"put {where} in a folder and set {DATA_DIR_ENV} to it"
            ) from None

    return load


def _read_npz(file: Path) -> Arrays:
    with np.load(file, allow_pickle=False) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise UsageError(f"{str(file)!r} lacks the arrays {sorted(missing)}; expected x_train, y_train, x_test, y_test")
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def _read_idx_folder(folder: Path) -> Arrays:
    arrays = {}
    for key, name in FASHION_FILES.items():
        file = folder / name
        if not file.is_file():
            raise UsageError(f"Fashion-MNIST: missing {str(file)!r}; the folder needs {', '.join(FASHION_FILES.values())}")
        arrays[key] = _read_idx(file)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_idx(file: Path) -> np.ndarray:
    """One gzipped IDX file (the format of the original MNIST distribution) as a uint8 array."""
    raw = gzip.decompress(file.read_bytes())
    if len(raw) < 8:
        raise UsageError(f"{str(file)!r} is too short to be an IDX file")
    magic, count = struct.unpack(">II", raw[:8])
    ndim = magic & 0xFF
    if _IDX_MAGIC.get(ndim) != magic:
        raise UsageError(f"{str(file)!r} is not a uint8 IDX file (magic number {magic})")
    header = 4 + 4 * ndim
    shape = (count, *struct.unpack(f">{ndim - 1}I", raw[8:header]))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise UsageError(f"{str(file)!r} is truncated: {len(raw) - header} bytes of data, expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _validated(title: str, source: str, load: Callable[[], Arrays]) -> Arrays:
    try:
        (x_train, y_train), (x_test, y_test) = load()
    except UsageError:
        raise
    except (OSError, EOFError, ValueError, zlib.error, struct.error, zipfile.BadZipFile) as exc:
        raise UsageError(f"{title}: cannot read {source!r}: it is corrupt or truncated ({exc})") from None
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise UsageError(f"{title} ({source}): {split} arrays must be uint8, got {x.dtype} and {y.dtype}")
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],):
            raise UsageError(
                f"{title} ({source}): {split} images must be (N, 28, 28) with N labels, "
                f"got {x.shape} and {y.shape}"
            )
        if y.size and y.max() > 9:
            raise UsageError(f"{title} ({source}): {split} labels must be 0-9, found {int(y.max())}")
    return (x_train, y_train), (x_test, y_test)
