"""MNIST / Fashion-MNIST classifiers: the Keras tutorial model, a small CNN, and the evaluator that
GAN metrics reuse. Trained with ``Model.fit`` and the shared callbacks; resumable per epoch.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rllab.checks import check_choice, check_file, check_float, check_int
from rllab.data import get_dataset
from rllab.errors import UsageError
from rllab.runs import Run

MODELS = ("mlp", "cnn")
RUN_KIND = "classify"
MODEL_FILE = "model.keras"
RESULTS_FILE = "results.json"
IMAGE_SIZE = 28


@dataclass
class ClassifierConfig:
    """Every hyperparameter of a classifier run (stored in the run's config.json)."""

    dataset: str = "fashion_mnist"
    """Which dataset: ``mnist`` or ``fashion_mnist``."""
    model: str = "mlp"
    """``mlp``: Flatten → Dense(128, relu) → Dense(10), the Keras tutorial's model; ``cnn``: three conv blocks (32, 64, 128 filters) → Dense(128) (`build_small_cnn`)."""
    epochs: int | None = None
    """Passes over the training set (default: 10, as in the Keras tutorial)."""
    batch_size: int | None = None
    """Images per gradient step (default: 32 for mlp, as in the tutorial; 128 for cnn)."""
    learning_rate: float = 1e-3
    """Adam's initial step size, decayed to 0 along a cosine over the whole run."""
    validation_size: int = 5000
    """Training images held out (the last ones) to pick the best epoch; 0 keeps the last epoch."""
    train_limit: int | None = None
    """Use only the first N training images (quick experiments and tests)."""

    def __post_init__(self):
        check_choice("model", self.model, MODELS)
        get_dataset(self.dataset)
        defaults = {"mlp": (10, 32), "cnn": (10, 128)}[self.model]
        self.epochs = check_int("epochs", defaults[0] if self.epochs is None else self.epochs, min_value=1)
        self.batch_size = check_int("batch_size", defaults[1] if self.batch_size is None else self.batch_size, min_value=1)
        self.learning_rate = check_float("learning_rate", self.learning_rate, min_value=0.0, min_inclusive=False)
        self.validation_size = check_int("validation_size", self.validation_size, min_value=0)
        if self.train_limit is not None:
            self.train_limit = check_int("train_limit", self.train_limit, min_value=1)


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) → float32 in [0, 1], the models' input."""
    return np.asarray(images, dtype=np.float32) / 255.0


def build_classifier(model: str, num_classes: int = 10):
    from rllab.models import build_mlp, build_small_cnn

    shape = (IMAGE_SIZE, IMAGE_SIZE)
    if check_choice("model", model, MODELS) == "mlp":
        return build_mlp(shape, num_classes, hidden_units=(128,), name="mlp_classifier")
    return build_small_cnn(shape, num_classes, filters=(32, 64, 128), convs_per_block=1, dense_units=128, dropout=0.2, name="cnn_classifier")


def _split(config: ClassifierConfig, x: np.ndarray, y: np.ndarray):
    if config.train_limit is not None:
        x, y = x[: config.train_limit], y[: config.train_limit]
    n_val = config.validation_size
    if n_val >= len(x):
        raise UsageError(f"validation_size must be smaller than the {len(x)} training images, got {n_val}")
    if n_val == 0:
        return (x, y), None
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def train_classifier(
    config: ClassifierConfig | None,
    *,
    run_dir: str | os.PathLike | None = None,
    seed: int = 0,
    resume: bool = False,
    data_path: str | os.PathLike | None = None,
    epochs_override: int | None = None,
    verbose: int | str = "auto",
) -> dict:
    """Train, keep the best epoch (by validation accuracy) as ``artifacts/model.keras``, test it.

    Returns the figures also written to ``artifacts/results.json``: test accuracy and loss, seconds
    per epoch, training seconds. With ``resume=True`` the run continues after its last finished
    epoch with its stored config (``epochs_override`` may change the number of epochs).
    """
    import keras

    from rllab.callbacks import EpochCheckpoint, EpochTimer, standard_callbacks
    from rllab.checkpoints import Checkpointer
    from rllab.metrics import read_metrics_csv
    from rllab.seeding import seed_everything

    if resume:
        run = Run.create("classify", RUN_KIND, {}, seed=seed, run_dir=run_dir, resume=True)
        if run.artifact(RESULTS_FILE).exists() and epochs_override is None:
            raise UsageError(f"run {str(run.path)!r} already finished; pass --epochs to train it further")
        config, seed = ClassifierConfig(**run.config), run.seed
    elif config is None:
        raise UsageError("a new run needs a ClassifierConfig")
    if epochs_override is not None:
        config = dataclasses.replace(config, epochs=epochs_override)
    # Load (and validate) the data before a new run folder exists, so a missing dataset leaves nothing behind.
    (x_train, y_train), (x_test, y_test) = get_dataset(config.dataset).load(data_path)
    (x_fit, y_fit), validation = _split(config, x_train, y_train)
    if not resume:
        run = Run.create("classify", RUN_KIND, config, seed=seed, run_dir=run_dir)
    seed_everything(seed)

    x_fit = to_inputs(x_fit)
    validation_data = None if validation is None else (to_inputs(validation[0]), validation[1])

    model = build_classifier(config.model)
    # Annealing the step size to zero gains most of a point of test accuracy over a constant one.
    steps = config.epochs * math.ceil(len(x_fit) / config.batch_size)
    learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    checkpointer = Checkpointer(run.checkpoints_dir, max_to_keep=2, model=model, optimizer=model.optimizer)
    initial_epoch = 0
    if resume and checkpointer.restore():
        initial_epoch = int(checkpointer.step.numpy())
        print(f"resuming {run.path} after epoch {initial_epoch}")

    monitor = "val_accuracy" if validation_data is not None else "accuracy"
    past_best = [v for v in read_metrics_csv(run.metrics_csv).get(monitor, []) if not math.isnan(v)]
    keep_best = keras.callbacks.ModelCheckpoint(
        str(run.artifact(MODEL_FILE)), monitor=monitor, mode="max", save_best_only=True,
        initial_value_threshold=max(past_best) if past_best else None,
    )
    callbacks = standard_callbacks(run, resume=resume, extra=[EpochTimer()]) + [keep_best, EpochCheckpoint(checkpointer)]
    started = time.perf_counter()
    try:
        model.fit(
            x_fit, y_fit,
            batch_size=config.batch_size,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"training interrupted; finished epochs are checkpointed in {run.checkpoints_dir}. "
            f"Continue with: rllab classify train --run-dir {run.path} --resume"
        ) from None
    train_seconds = time.perf_counter() - started
    epoch_seconds = [v for v in read_metrics_csv(run.metrics_csv).get("time/epoch_s", []) if not math.isnan(v)]

    best = keras.models.load_model(run.artifact(MODEL_FILE))
    test_loss, test_accuracy = best.evaluate(to_inputs(x_test), y_test, batch_size=1024, verbose=0)
    results = {
        "dataset": config.dataset,
        "model": config.model,
        "epochs": config.epochs,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "train_seconds": train_seconds,
        "model_path": str(run.artifact(MODEL_FILE)),
        "run_dir": str(run.path),
    }
    run.write_json(RESULTS_FILE, results)
    return results


def load_classifier(run_dir: str | os.PathLike):
    """(run, config, keras model) of a finished classifier run; a missing model is a `UsageError`."""
    import keras

    run = Run.open(run_dir, RUN_KIND)
    model_path = run.artifact(MODEL_FILE)
    if not model_path.is_file():
        raise UsageError(f"run {str(run.path)!r} has no {MODEL_FILE} yet; train it first (or --resume it)")
    return run, ClassifierConfig(**run.config), keras.models.load_model(model_path)


def evaluate_classifier(run_dir: str | os.PathLike, *, data_path: str | os.PathLike | None = None) -> dict:
    """Test-set accuracy, loss and per-class accuracy of the run's saved model."""
    run, config, model = load_classifier(run_dir)
    _, (x_test, y_test) = get_dataset(config.dataset).load(data_path)
    logits = model.predict(to_inputs(x_test), batch_size=1024, verbose=0)
    predicted = logits.argmax(axis=1)
    log_probs = _log_softmax(logits)
    names = get_dataset(config.dataset).class_names
    return {
        "dataset": config.dataset,
        "model": config.model,
        "test_images": int(len(y_test)),
        "test_accuracy": float((predicted == y_test).mean()),
        "test_loss": float(-log_probs[np.arange(len(y_test)), y_test].mean()),
        "per_class_accuracy": {names[c]: float((predicted[y_test == c] == c).mean()) for c in range(len(names))},
    }


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def load_image(path: str | os.PathLike, *, invert: str = "auto") -> np.ndarray:
    """Any PNG/JPG (any size or mode) → uint8 (28, 28) grayscale, light digit/garment on dark.

    The datasets draw the object bright on a black background; ``invert="auto"`` flips images
    whose border is mostly bright (a dark drawing on white paper). ``"yes"``/``"no"`` force it.
    """
    from PIL import Image, UnidentifiedImageError

    path = check_file("image", path)
    check_choice("invert", invert, ("auto", "yes", "no"))
    try:
        with Image.open(path) as image:
            image = image.convert("RGBA") if image.mode in ("P", "LA", "PA") else image
            if image.mode == "RGBA":  # transparent pixels count as background (white)
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image)
            gray = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"cannot read image {str(path)!r}: not a PNG/JPG or corrupt ({exc.__class__.__name__})") from None
    pixels = np.asarray(gray, dtype=np.uint8)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if invert == "yes" or (invert == "auto" and border.mean() > 127):
        pixels = 255 - pixels
    return pixels


def predict_images(run_dir: str | os.PathLike, paths: Sequence[str | os.PathLike], *, top: int = 3, invert: str = "auto") -> list[dict]:
    """Class probabilities of each image: ``[{"image", "top": [(class, prob), ...]}, ...]``."""
    top = check_int("top", top, min_value=1, max_value=10)
    images = np.stack([load_image(p, invert=invert) for p in paths])
    _, config, model = load_classifier(run_dir)
    probs = np.exp(_log_softmax(np.asarray(model(to_inputs(images), training=False))))
    names = get_dataset(config.dataset).class_names
    predictions = []
    for path, p in zip(paths, probs):
        order = np.argsort(-p)[:top]
        predictions.append({"image": str(path), "top": [(names[i], float(p[i])) for i in order]})
    return predictions
