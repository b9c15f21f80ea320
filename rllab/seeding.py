"""One function that seeds every random number generator the lab uses."""
from __future__ import annotations

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
