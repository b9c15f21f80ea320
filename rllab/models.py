"""Shared Keras model builders with validated arguments."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import keras

from rllab.checks import check_float, check_int
from rllab.errors import UsageError


def _check_shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a sequence of positive integers, got {shape!r}") from None
    if not shape or any(d <= 0 for d in shape):
        raise UsageError(f"{name} must be a non-empty sequence of positive integers, got {shape!r}")
    return shape


def _check_units(name: str, units: Sequence[int]) -> tuple[int, ...]:
    units = tuple(units)
    for u in units:
        check_int(f"{name} entry", u, min_value=1)
    return units


def build_mlp(
    input_shape: Sequence[int],
    num_outputs: int,
    *,
    hidden_units: Sequence[int] = (128,),
    activation: str = "relu",
    output_activation: str | None = None,
    name: str = "mlp",
) -> keras.Model:
    """Flatten (when the input is not a vector) → Dense(hidden)… → Dense(num_outputs).

    The defaults are the Keras tutorial's Fashion-MNIST classifier (logits out):

    >>> model = build_mlp((28, 28), 10)
    >>> [layer.__class__.__name__ for layer in model.layers]
    ['InputLayer', 'Flatten', 'Dense', 'Dense']
    """
    input_shape = _check_shape("input_shape", input_shape)
    num_outputs = check_int("num_outputs", num_outputs, min_value=1)
    hidden_units = _check_units("hidden_units", hidden_units)
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")(x)
    outputs = keras.layers.Dense(num_outputs, activation=output_activation, name="outputs")(x)
    return keras.Model(inputs, outputs, name=name)


def build_small_cnn(
    input_shape: Sequence[int],
    num_outputs: int,
    *,
    filters: Sequence[int] = (32, 64),
    convs_per_block: int = 1,
    dense_units: int = 128,
    dropout: float = 0.3,
    batch_norm: bool = True,
    name: str = "small_cnn",
) -> keras.Model:
    """A small image classifier: per entry of ``filters`` a block of ``convs_per_block`` 3×3
    convolutions (+BatchNorm, ReLU) and 2×2 max-pooling, then Dense(dense_units) with dropout and a
    logits layer.

    A (H, W) input gets a channel axis added.

    >>> build_small_cnn((28, 28), 10).output_shape
    (None, 10)
    """
    input_shape = _check_shape("input_shape", input_shape)
    if len(input_shape) not in (2, 3):
        raise UsageError(f"input_shape must be (H, W) or (H, W, C), got {input_shape}")
    num_outputs = check_int("num_outputs", num_outputs, min_value=1)
    filters = _check_units("filters", filters)
    convs_per_block = check_int("convs_per_block", convs_per_block, min_value=1)
    dense_units = check_int("dense_units", dense_units, min_value=1)
    dropout = check_float("dropout", dropout, min_value=0.0, max_value=1.0, max_inclusive=False)
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Reshape((*input_shape, 1))(inputs) if len(input_shape) == 2 else inputs
    for block, width in enumerate(filters):
        for j in range(convs_per_block):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm, name=f"conv{block}_{j}")(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(synchronized=True, name=f"bn{block}_{j}")(x)
            x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_outputs, name="outputs")(x)
    return keras.Model(inputs, outputs, name=name)


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save`` to a temporary ``.keras`` sibling, then rename: never a half-written model file."""
    path = Path(path)
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    os.replace(partial, path)
    return path


def load_model_file(path: str | os.PathLike, *, what: str = "model") -> keras.Model:
    """``keras.models.load_model`` with one-line errors: a missing file says so, and a damaged one
    (truncated, garbled, not a Keras archive) is named as damaged, not as "File not found"."""
    from rllab.errors import UsageError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{what} file {str(path)!r} does not exist")
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors, KeyError… for damaged archives
        raise UsageError(f"{what} file {str(path)!r} is damaged or not a Keras model ({type(exc).__name__}); "
                         "train the run again or --resume it to rewrite it") from None
