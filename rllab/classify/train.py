"""Training, evaluating and using classifiers: what ``rllab classify train/eval/predict`` call.

Trained with ``Model.fit`` and the shared callbacks; resumable per epoch.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Mapping, Sequence

import numpy as np

from rllab.checks import check_choice, check_int
from rllab.classify.config import ClassifierConfig, config_from_dict
from rllab.classify.model import IMAGE_SIZE, build_classifier, to_inputs
from rllab.data import get_dataset
from rllab.errors import UsageError
from rllab.lifecycle import KeepBest, open_run
from rllab.runs import Run

RUN_KIND = "classify"
MODEL_FILE = "model.keras"
RESULTS_FILE = "results.json"
BUDGET_FLAGS = ("epochs",)
"""Config fields that --resume may change: more epochs continue a finished run."""


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
    seed: int | None = None,
    resume: bool = False,
    given: Mapping[str, Any] | None = None,
    data_path: str | os.PathLike | None = None,
    verbose: int | str = "auto",
    strategy: str = "auto",
    devices: Sequence[str] | None = None,
) -> dict:
    """Train, keep the best epoch (by validation accuracy) as ``artifacts/model.keras``, test it.

    Returns the figures also written to ``artifacts/results.json``: test accuracy and loss, seconds
    per epoch, training seconds. With ``resume=True`` the run continues after its last finished
    epoch with its stored config; ``given`` (the flags typed, by config field) must match it, except
    ``epochs``, which may extend a finished run. Ctrl-C stops after the current batch and raises
    `rllab.lifecycle.RunInterrupted` (finished epochs are checkpointed).

    ``strategy``/``devices``: the `rllab.distribute` strategy; ``config.batch_size`` is the global batch.
    """
    import keras

    from rllab.distribute import make_distribution

    from rllab.callbacks import EpochCheckpoint, EpochTimer, KeepBestCallback, StopOnSignal, standard_callbacks
    from rllab.checkpoints import Checkpointer
    from rllab.models import load_model_file, save_model_atomic
    from rllab.metrics import read_metrics_csv
    from rllab.seeding import seed_everything

    loaded = {}
    distribution = make_distribution(strategy, devices)

    def load_data(new_config: ClassifierConfig) -> None:
        # Load (and validate) the data before a new run folder exists, so a missing dataset leaves nothing behind.
        distribution.check_batch(new_config.batch_size)
        loaded["arrays"] = get_dataset(new_config.dataset).load(data_path)

    start = open_run("classify", RUN_KIND, config, seed=seed, run_dir=run_dir, resume=resume, from_dict=config_from_dict,
                     given=given, budget=BUDGET_FLAGS, before_create=load_data)
    run, config = start.run, start.config
    if start.resumed and run.artifact(RESULTS_FILE).exists() and "epochs" not in (given or {}):
        raise UsageError(f"run {str(run.path)!r} already finished; pass --epochs with a larger total to train it further")
    if "arrays" not in loaded:
        load_data(config)
    run.update_record(distribution=distribution.record(config.batch_size))
    (x_train, y_train), (x_test, y_test) = loaded["arrays"]
    (x_fit, y_fit), validation = _split(config, x_train, y_train)
    seed_everything(start.seed)

    x_fit = to_inputs(x_fit)
    validation_data = None if validation is None else (to_inputs(validation[0]), validation[1])

    with distribution.strategy.scope():
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
    if start.resumed:
        if checkpointer.restore():
            initial_epoch = int(checkpointer.step.numpy())
            print(f"resuming {run.path} after epoch {initial_epoch}")
        else:
            start.no_checkpoint_yet()

    monitor = "val_accuracy" if validation_data is not None else "accuracy"
    keep_best = KeepBest(run.checkpoints_dir / "best.json", monitor, mode="max",
                         save=lambda: save_model_atomic(model, run.artifact(MODEL_FILE)))
    callbacks = [StopOnSignal(run.path),
                 *standard_callbacks(run, resume=start.resumed, extra=[EpochTimer()]),
                 KeepBestCallback(keep_best), EpochCheckpoint(checkpointer)]
    started = time.perf_counter()
    model.fit(
        x_fit, y_fit,
        batch_size=config.batch_size,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - started
    epoch_seconds = [v for v in read_metrics_csv(run.metrics_csv).get("time/epoch_s", []) if not math.isnan(v)]

    best = load_model_file(run.artifact(MODEL_FILE), what="classifier")
    test_loss, test_accuracy = best.evaluate(to_inputs(x_test), y_test, batch_size=1024, verbose=0)
    results = {
        "dataset": config.dataset,
        "model": config.model,
        "epochs": config.epochs,
        "best_epoch": keep_best.step,
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
    from rllab.models import load_model_file

    run = Run.open(run_dir, RUN_KIND)
    model_path = run.artifact(MODEL_FILE)
    if not model_path.is_file():
        raise UsageError(f"run {str(run.path)!r} has no {MODEL_FILE} yet; train it first (or --resume it)")
    return run, config_from_dict(run.config), load_model_file(model_path, what="classifier")


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
    """Any image file (any size or mode, EXIF orientation applied) -> uint8 (28, 28) grayscale, light
    digit/garment on dark.

    The datasets draw the object bright on a black background; ``invert="auto"`` flips images
    whose border is mostly bright (a dark drawing on white paper). ``"yes"``/``"no"`` force it.
    """
    from PIL import Image

    from rllab.images import open_image

    check_choice("invert", invert, ("auto", "yes", "no"))
    gray = open_image(path, mode="L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)
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
