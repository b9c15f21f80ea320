"""One function that seeds every random number generator the lab uses."""
from __future__ import annotations

import json
import random
import sys

import numpy as np

from rllab.checks import check_int


def seed_everything(seed: int, *, tensorflow: bool = True) -> np.random.Generator:
    """Seed Python's `random`, NumPy's global generator and (optionally) TensorFlow/Keras.

    Runs with the same seed then give the same metrics on the same machine. Pass
    ``tensorflow=False`` from code that never touches TensorFlow (tabular RL) so that it does not
    pay for importing it; TensorFlow is still seeded if something else imported it already.

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed`` for the caller's own draws.

    >>> rng = seed_everything(0, tensorflow=False)
    >>> int(rng.integers(10))
    8
    """
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def rng_state(generator: np.random.Generator) -> np.ndarray:
    """A NumPy generator's full state as a 0-d unicode array: checkpointable in an .npz without pickle.

    >>> rng = np.random.default_rng(1); saved = rng_state(rng); first = rng.random()
    >>> set_rng_state(rng, saved); rng.random() == first
    True
    """
    return np.asarray(json.dumps(generator.bit_generator.state))


def set_rng_state(generator: np.random.Generator, state: np.ndarray) -> None:
    """Put back a state saved by `rng_state`."""
    generator.bit_generator.state = json.loads(str(state))
