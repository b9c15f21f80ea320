"""MNIST / Fashion-MNIST classifiers, shaped like the agents: `config`, `model`, `train`, `cli`.

Trained with ``Model.fit`` and the shared callbacks; the model code is what GAN metrics reuse.
"""
from rllab.classify.config import ClassifierConfig
from rllab.classify.model import build_classifier, to_inputs
from rllab.classify.train import evaluate_classifier, load_classifier, load_image, predict_images, train_classifier

__all__ = ["ClassifierConfig", "build_classifier", "to_inputs", "train_classifier", "load_classifier",
           "evaluate_classifier", "predict_images", "load_image"]
