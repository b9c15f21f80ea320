"""Sample quality judged by a classifier: classifier score, Fréchet classifier distance, mode coverage.

The judge is an MNIST (or Fashion-MNIST) CNN built and trained by the lab's own classifier code
(`rllab.classify`), once, seeded, into ``$RLLAB_CACHE_DIR/classifiers/<dataset>-cnn-seed0`` (a normal
``classify`` run folder) and reused by every later run; any other ``.keras`` classifier of 28x28
images in [0, 1] returning 10 logits can be named instead.

- **classifier score** (the Inception Score with this classifier): ``exp E_x KL(p(y|x) || p(y))``,
  between 1 (every sample the same or unrecognisable) and 10 (confident and balanced classes).
- **Fréchet classifier distance** (FID with this classifier): the Fréchet distance between Gaussians
  fitted to the classifier's penultimate-layer features of generated and of test images. Its floor is
  the distance between 10k training and 10k test images.
- **mode coverage**: the share of samples per predicted class, its KL divergence from uniform, and a
  warning when one class holds more than 30 % of the samples (mode collapse).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rllab.errors import UsageError

COLLAPSE_SHARE = 0.30
"""A class holding more than this share of the samples is reported as mode collapse."""
CLASSIFIER_SEED = 0


# --- figures (NumPy only) ---------------------------------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def classifier_score(probs: np.ndarray) -> float:
    """``exp(mean_x KL(p(y|x) || p(y)))`` over one sample.

    >>> round(classifier_score(np.eye(10)), 6)        # ten confident, different classes
    10.0
    >>> round(classifier_score(np.tile(np.eye(10)[3], (5, 1))), 6)   # always the same class
    1.0
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs) - np.log(marginal))).sum(axis=1)
    return float(np.exp(kl.mean()))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(stats_a: tuple[np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray]) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2)``, with the square root taken through the
    symmetric matrix ``S_a^1/2 S_b S_a^1/2`` (same trace, numerically stable).

    >>> rng = np.random.default_rng(0); a = rng.normal(size=(4000, 3))
    >>> round(frechet_distance(gaussian_stats(a), gaussian_stats(a + 1.0)), 3)
    3.0
    """
    mu_a, cov_a = stats_a
    mu_b, cov_b = stats_b
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)


def mode_coverage(predicted: np.ndarray, num_classes: int = 10) -> dict:
    """Share of samples per predicted class, KL(shares || uniform), and whether one class dominates.

    >>> cover = mode_coverage(np.array([7] * 9 + [1]))
    >>> cover["max_class"], cover["max_share"], cover["collapse"]
    (7, 0.9, True)
    """
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=num_classes)[:num_classes]
    shares = counts / max(1, counts.sum())
    nonzero = shares > 0
    kl = float((shares[nonzero] * np.log(shares[nonzero] * num_classes)).sum())
    top = int(shares.argmax())
    return {"class_shares": [float(s) for s in shares], "kl_from_uniform": kl, "max_class": top,
            "max_share": float(shares[top]), "min_share": float(shares.min()),
            "collapse": bool(shares[top] > COLLAPSE_SHARE)}


def collapse_warning(coverage: dict, class_names=None) -> str | None:
    """The warning line for a collapsed sample, or None."""
    if not coverage["collapse"]:
        return None
    name = class_names[coverage["max_class"]] if class_names else str(coverage["max_class"])
    return (f"warning: mode collapse: class {name} is {coverage['max_share']:.0%} of the samples "
            f"(more than {COLLAPSE_SHARE:.0%})")


# --- the judge ----------------------------------------------------------------------------------------------
def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1], (N, 28, 28[, 1]) -> uint8 (N, 28, 28), as a saved PNG would hold it."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[..., 0]
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def from_uint8(pixels):
    """Pixels 0-255 already cast to float (NumPy or TensorFlow) -> G's range [-1, 1]: the inverse of `to_uint8`.

    >>> from_uint8(np.array([0.0, 127.5, 255.0]))
    array([-1.,  0.,  1.])
    """
    return pixels / 127.5 - 1.0


def cached_classifier_dir(dataset: str) -> Path:
    from rllab.cache import cache_dir

    return cache_dir("classifiers", f"{dataset}-cnn-seed{CLASSIFIER_SEED}")


def classifier_path(dataset: str, given: str | os.PathLike | None = None, *, data_path=None, train: bool = True) -> Path:
    """The ``.keras`` judge: ``given`` if set, else the cached CNN of ``dataset``, trained (once) if missing."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise UsageError(f"--classifier {str(path)!r} does not exist")
        if path.suffix != ".keras":
            raise UsageError(f"--classifier must be a .keras model file, got {str(path)!r}")
        return path
    from rllab.classify.train import MODEL_FILE, RESULTS_FILE

    folder = cached_classifier_dir(dataset)
    model = folder / "artifacts" / MODEL_FILE
    if (folder / "artifacts" / RESULTS_FILE).is_file() and model.is_file():
        return model
    if not train:
        raise UsageError(f"no cached {dataset} classifier in {str(folder)!r}; pass --classifier PATH")
    from rllab.classify import ClassifierConfig, train_classifier
    from rllab.lifecycle import notice

    notice(f"training the {dataset} CNN that judges GAN samples, once, into {folder} (a few minutes; "
           "set RLLAB_CACHE_DIR to keep it elsewhere)")
    resume = (folder / "config.json").is_file()
    results = train_classifier(ClassifierConfig(dataset=dataset, model="cnn"), run_dir=folder, seed=CLASSIFIER_SEED,
                               resume=resume, data_path=data_path, verbose=2)
    notice(f"judge classifier: test accuracy {results['test_accuracy']:.4f}")
    return model


@dataclass
class Judge:
    """A loaded classifier and its penultimate-layer feature model."""

    path: Path
    model: object
    features: object

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Judge":
        import keras

        try:
            model = keras.models.load_model(path)
        except Exception as exc:  # Keras raises many types for a file that is not a model
            raise UsageError(f"cannot load classifier {str(path)!r} ({type(exc).__name__}: {exc})".splitlines()[0]) from None
        if tuple(model.output_shape[1:]) != (10,):
            raise UsageError(f"classifier {str(path)!r} must output 10 class logits, not shape {model.output_shape}")
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        features = keras.Model(inputs, [model.layers[-2].output, model.output])
        return cls(Path(path), model, features)

    def run(self, images_uint8: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """(penultimate features, class probabilities) of uint8 (N, 28, 28) images."""
        from rllab.classify import to_inputs

        inputs = to_inputs(images_uint8)
        feats, logits = [], []
        for start in range(0, len(inputs), batch_size):
            f, l = self.features(inputs[start:start + batch_size], training=False)
            feats.append(np.asarray(f, dtype=np.float64).reshape(len(f), -1))
            logits.append(np.asarray(l))
        return np.concatenate(feats), softmax(np.concatenate(logits))


@dataclass
class Reference:
    """What generated samples are compared with: the test images' feature statistics and scores."""

    test_stats: tuple
    real_score: float
    floor: float | None = None
    """Fréchet distance between 10k training and 10k test images (None when not computed)."""


def reference(judge: Judge, x_train: np.ndarray, x_test: np.ndarray, *, n: int = 10_000, floor: bool = True) -> Reference:
    test_features, test_probs = judge.run(x_test[:n])
    stats = gaussian_stats(test_features)
    floor_value = None
    if floor:
        train_features, _ = judge.run(x_train[:n])
        floor_value = frechet_distance(gaussian_stats(train_features), stats)
    return Reference(stats, classifier_score(test_probs), floor_value)


def judge_samples(judge: Judge, images_uint8: np.ndarray, ref: Reference, *, labels: np.ndarray | None = None) -> dict:
    """Every figure of one sample of generated images (``labels``: the classes asked for, if conditional)."""
    features, probs = judge.run(images_uint8)
    predicted = probs.argmax(axis=1)
    figures = {
        "samples": int(len(images_uint8)),
        "classifier_score": classifier_score(probs),
        "real_classifier_score": ref.real_score,
        "frechet_distance": frechet_distance(gaussian_stats(features), ref.test_stats),
        "frechet_floor": ref.floor,
        **mode_coverage(predicted),
    }
    if labels is not None:
        labels = np.asarray(labels)
        per_class = [float((predicted[labels == c] == c).mean()) if (labels == c).any() else float("nan") for c in range(10)]
        figures["conditional_accuracy"] = per_class
        figures["min_conditional_accuracy"] = float(np.nanmin(per_class))
        figures["mean_conditional_accuracy"] = float((predicted == labels).mean())
    return figures


def print_figures(figures: dict, class_names=None, file=sys.stdout) -> None:
    floor = figures.get("frechet_floor")
    floor_text = f" (real-data floor {floor:.2f})" if floor is not None else ""
    print(f"classifier score {figures['classifier_score']:.3f} (real test images {figures['real_classifier_score']:.3f}); "
          f"Fréchet classifier distance {figures['frechet_distance']:.2f}{floor_text}; {figures['samples']} samples"
          + (f" (noise truncated to {figures['truncation']:g})" if figures.get("truncation", 1.0) != 1.0 else ""), file=file)
    shares = " ".join(f"{(class_names or [str(i) for i in range(10)])[i]}:{s:.1%}" for i, s in enumerate(figures["class_shares"]))
    print(f"class shares {shares}; KL from uniform {figures['kl_from_uniform']:.4f}", file=file)
    if "conditional_accuracy" in figures:
        accs = " ".join(f"{i}:{a:.1%}" for i, a in enumerate(figures["conditional_accuracy"]))
        print(f"asked-for class recognised: {accs} (lowest {figures['min_conditional_accuracy']:.1%})", file=file)
    warning = collapse_warning(figures, class_names)
    if warning:
        print(warning, file=sys.stderr, flush=True)
