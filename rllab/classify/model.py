"""The classifiers' models and input scaling (what GAN quality metrics reuse to judge samples)."""
from __future__ import annotations

import numpy as np

from rllab.checks import check_choice
from rllab.classify.config import MODELS

IMAGE_SIZE = 28


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 in [0, 1], the models' input."""
    return np.asarray(images, dtype=np.float32) / 255.0


def build_classifier(model: str, num_classes: int = 10):
    """An uncompiled Keras classifier returning logits: ``mlp`` (the Keras tutorial's) or ``cnn``."""
    from rllab.models import build_mlp, build_small_cnn

    shape = (IMAGE_SIZE, IMAGE_SIZE)
    if check_choice("--model", model, MODELS) == "mlp":
        return build_mlp(shape, num_classes, hidden_units=(128,), name="mlp_classifier")
    return build_small_cnn(shape, num_classes, filters=(32, 64, 128), convs_per_block=1, dense_units=128,
                           dropout=0.2, name="cnn_classifier")
