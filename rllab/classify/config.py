"""`ClassifierConfig`: every hyperparameter of a classifier run (TensorFlow-free: the CLI builds its
flags from the field docstrings without importing TensorFlow)."""
from __future__ import annotations

from dataclasses import dataclass

from rllab.checks import check_choice, check_float, check_int
from rllab.data import DATASETS

MODELS = ("mlp", "cnn")
MODEL_DEFAULTS = {"mlp": {"epochs": 10, "batch_size": 32}, "cnn": {"epochs": 10, "batch_size": 128}}
"""Per-model defaults of the fields left None: the tutorial's 10 epochs of batch 32 for the MLP."""


@dataclass
class ClassifierConfig:
    """Every hyperparameter of a classifier run (stored in the run's config.json)."""

    dataset: str = "fashion_mnist"
    """Which dataset: mnist or fashion_mnist."""
    model: str = "mlp"
    """mlp: Flatten, Dense(128, relu), Dense(10), the Keras tutorial's model; cnn: three conv blocks (32, 64, 128 filters), Dense(128)."""
    epochs: int | None = None
    """Passes over the training set."""
    batch_size: int | None = None
    """Images per gradient step."""
    learning_rate: float = 1e-3
    """Adam's initial step size, decayed to 0 along a cosine over the whole run."""
    validation_size: int = 5000
    """Training images held out (the last ones) to pick the best epoch; 0 keeps the last epoch."""
    train_limit: int | None = None
    """Use only the first N training images (quick experiments and tests); none: all of them."""

    def __post_init__(self):
        check_choice("--dataset", self.dataset, sorted(DATASETS))
        check_choice("--model", self.model, MODELS)
        defaults = MODEL_DEFAULTS[self.model]
        self.epochs = check_int("--epochs", defaults["epochs"] if self.epochs is None else self.epochs, min_value=1)
        self.batch_size = check_int("--batch-size", defaults["batch_size"] if self.batch_size is None else self.batch_size,
                                    min_value=1)
        self.learning_rate = check_float("--learning-rate", self.learning_rate, min_value=0.0, min_inclusive=False)
        self.validation_size = check_int("--validation-size", self.validation_size, min_value=0)
        if self.train_limit is not None:
            self.train_limit = check_int("--train-limit", self.train_limit, min_value=1)


def config_from_dict(values: dict) -> ClassifierConfig:
    """Rebuild a stored config (unknown keys are a TypeError, which the run lifecycle reports)."""
    return ClassifierConfig(**values)
