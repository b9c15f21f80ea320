"""Training and using GANs: what ``rllab gan train/sample/interpolate/eval`` call.

A run trains `gan.trainer.GAN` with plain ``fit()`` and the shared callbacks. Every epoch: a grid of
the same fixed noise (``artifacts/grids/epoch_XXXX.png``), the classifier metrics on a small sample
(``eval/*`` columns of metrics.csv), the generator exported as ``artifacts/generator.keras``, and a
checkpoint. At the end: ``artifacts/progress.gif`` (the grids over training) and the full evaluation
(``artifacts/results.json``).
"""
from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping, Sequence

import keras
import numpy as np

from gan.config import BUDGET_FIELDS, GANConfig, config_from_dict
from gan import metrics as gm
from rllab.data import get_dataset
from rllab.errors import UsageError
from rllab.lifecycle import notice, open_run
from rllab.precision import resolve_mixed_precision
from rllab.runs import Run

RUN_KIND = "gan"
GENERATOR_FILE = "generator.keras"
RESULTS_FILE = "results.json"
GRIDS_DIR = "grids"
GIF_FILE = "progress.gif"
MAX_EPOCHS = 1_000_000
"""``fit(epochs=...)`` when only --minutes bounds the run."""
FINAL_SAMPLES = 10_000


@contextmanager
def dtype_policy(mixed: bool):
    """Build and train under ``mixed_bfloat16`` when asked; the global policy is put back after."""
    previous = keras.mixed_precision.dtype_policy()
    if mixed:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def fixed_inputs(config: GANConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The noise (and labels) of the per-epoch grid: 64 samples, or 10 per class when conditional."""
    rng = np.random.default_rng([seed, 7])
    n = 100 if config.conditional else 64
    return rng.standard_normal((n, config.noise_dim)).astype(np.float32), (np.arange(n) % 10).astype(np.int32)


PRIOR_IMAGES = 10_000
"""Training images (the first ones) that D sorts into categories after each epoch for `DataCategoryPrior`
(0.9 s per measure with the dcgan defaults on a 2-core AMD EPYC, about 2.5 % of a 36-second epoch)."""
PRIOR_FIRST_EPOCH = 2
"""The first epoch (from 0) whose draws follow the data prior: before it D has not yet sorted the images into
categories that mean anything."""


def make_dataset(x_uint8: np.ndarray, y: np.ndarray, *, batch: int, seed: int, first_epoch: int, conditional: bool,
                 noise_dim: int = 100, d_steps: int = 1, replicas: int = 1):
    """Batches whose order and noise are a function of (seed, epoch, step) only, so a resumed run sees
    the same data as an uninterrupted one. Epoch e is one permutation of the images, cut into
    ``len(x) // batch`` whole batches; the dataset runs over all epochs from ``first_epoch`` on (give
    ``fit`` ``steps_per_epoch``). Each element is the dict `gan.trainer.GAN.train_step` reads: images in
    [-1, 1] (and labels), with the step's noise ``z_d`` (one row per image: the fakes of the D steps)
    and ``z_g`` (the G step's ``batch / d_steps``), and fake labels when conditional. The draws
    travel with the images, so a multi-replica strategy hands each replica its own slice of them.

    With ``replicas`` > 1 and ``d_steps`` > 1 the rows are laid out replica by replica, each replica's
    part in D-step order, so that D step k trains on the same images on one device or on several."""
    import tensorflow as tf

    n = len(x_uint8)
    steps = n // batch
    x_t = tf.constant(x_uint8[..., None])
    y_t = tf.constant(np.asarray(y, dtype=np.int32))
    seed_t = tf.constant(seed, tf.int64)

    def epoch_batches(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([seed_t, epoch]))
        order = tf.argsort(keys)[: steps * batch]
        rows = tf.data.Dataset.from_tensor_slices(tf.reshape(order, [steps, batch]))
        return rows.enumerate().map(lambda step, indices: (epoch * steps + step, indices))

    def by_replica(rows):
        """(d_steps x B, ...) rows in D-step order -> replica by replica, each in D-step order."""
        if replicas == 1 or d_steps == 1:
            return rows
        per_step = batch // d_steps
        shaped = tf.reshape(rows, [d_steps, replicas, per_step // replicas, -1])
        return tf.reshape(tf.transpose(shaped, [1, 0, 2, 3]), tf.shape(rows))

    def load(global_step, indices):
        draw = tf.stack([seed_t + 1_000_003, global_step])  # another stream than the permutations'
        indices = by_replica(indices)
        element = {"images": gm.from_uint8(tf.cast(tf.gather(x_t, indices), tf.float32)),
                   "z_d": by_replica(tf.random.stateless_normal([batch, noise_dim], seed=draw)),
                   "z_g": tf.random.stateless_normal([batch // d_steps, noise_dim], seed=draw + [0, 1 << 40])}
        if conditional:
            element["labels"] = tf.gather(y_t, indices)
            element["fake_labels_d"] = by_replica(tf.random.stateless_uniform([batch], seed=draw + [0, 2 << 40],
                                                                              maxval=10, dtype=tf.int32))
            element["fake_labels_g"] = tf.random.stateless_uniform([batch // d_steps], seed=draw + [0, 3 << 40],
                                                                   maxval=10, dtype=tf.int32)
        return element

    dataset = tf.data.Dataset.range(first_epoch, MAX_EPOCHS + 1).flat_map(epoch_batches)
    return dataset.map(load, num_parallel_calls=1).prefetch(2), steps


def build_trainer(config: GANConfig, seed: int):
    """The compiled `GAN` of ``config`` (built under the current dtype policy)."""
    from gan.models import build_gan_models
    from gan.trainer import GAN

    generator, discriminator = build_gan_models(config.arch, noise_dim=config.noise_dim, conditional=config.conditional,
                                                info_codes=config.info_codes, width=config.width,
                                                info_projection=config.info_projection)
    gan = GAN(generator, discriminator, noise_dim=config.noise_dim, conditional=config.conditional, seed=seed,
              ema=config.ema, info_codes=config.info_codes, info_weight=config.info_weight)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        g_optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        label_smoothing=config.label_smoothing, d_steps=config.d_steps, jit_compile=config.jit_compile,
    )
    gan.build_optimizers()
    return gan


def sampler(generator, conditional: bool):
    """``sample(z, labels=None)``: ``generator``'s images in [-1, 1], in inference mode, in batches (the one way
    training, evaluation and `gan.use` draw images)."""
    def sample(z, labels=None, batch_size: int = 1000):
        inputs = [z, labels] if conditional else z
        return generator.predict(inputs, batch_size=batch_size, verbose=0)
    return sample


def train_gan(
    config: GANConfig | None,
    *,
    run_dir: str | os.PathLike | None = None,
    seed: int | None = None,
    resume: bool = False,
    given: Mapping[str, Any] | None = None,
    data_path: str | os.PathLike | None = None,
    classifier: str | os.PathLike | None = None,
    verbose: bool = True,
    strategy: str = "auto",
    devices: Sequence[str] | None = None,
) -> dict:
    """Train a GAN run (new, or resumed with ``resume=True``) and evaluate its generator.

    The budget is ``config.epochs`` and/or ``config.minutes`` of training wall-clock time (resumes
    included; the judge's one-off training and the final evaluation are not counted). Ctrl-C finishes
    the batch and raises `rllab.lifecycle.RunInterrupted` (finished epochs are checkpointed). Returns
    the figures written to ``artifacts/results.json``. ``strategy``/``devices``: the `rllab.distribute`
    strategy; ``--batch-size`` is the global batch of each D step.
    """
    from rllab.distribute import make_distribution

    loaded: dict = {}
    distribution = make_distribution(strategy, devices)

    def prepare(new_config: GANConfig) -> None:
        # Data and judge before the run folder exists: a missing dataset or classifier leaves nothing behind.
        distribution.check_batch(new_config.batch_size)
        loaded["arrays"] = get_dataset(new_config.dataset).load(data_path)
        loaded["judge_path"] = gm.classifier_path(new_config.dataset, classifier, data_path=data_path)

    start = open_run("gan", RUN_KIND, config, seed=seed, run_dir=run_dir, resume=resume, from_dict=config_from_dict,
                     given=given, budget=BUDGET_FIELDS, before_create=prepare)
    run, config = start.run, start.config
    if start.resumed and run.artifact(RESULTS_FILE).exists() and not set(BUDGET_FIELDS) & set(given or {}):
        raise UsageError(f"run {str(run.path)!r} already finished; pass a larger --epochs or --minutes to train it further")
    if "arrays" not in loaded:
        prepare(config)
    run.update_record(distribution=distribution.record(config.batch_size))
    bfloat16 = resolve_mixed_precision(config.mixed_precision)  # "auto" is decided here, on the machine that trains
    with dtype_policy(bfloat16):
        return _train(run, config, start, loaded, distribution, bfloat16=bfloat16, verbose=verbose)


def _train(run: Run, config: GANConfig, start, loaded: dict, distribution, *, bfloat16: bool, verbose: bool) -> dict:
    from gan.models import set_category_prior, with_category_prior
    from rllab.callbacks import (EpochCheckpoint, EpochTimer, EvalCallback, ImageGridMonitor, LinearLRDecay, StopOnSignal,
                                 ThroughputMeter, TimeBudget, standard_callbacks)
    from rllab.checkpoints import Checkpointer
    from rllab.models import save_model_atomic
    from rllab.seeding import seed_everything

    (x_train, y_train), (x_test, _) = loaded["arrays"]
    if config.train_limit is not None:
        x_train, y_train = x_train[: config.train_limit], y_train[: config.train_limit]
    if len(x_train) < config.images_per_step:
        raise UsageError(f"--train-limit {len(x_train)} is smaller than one step's {config.images_per_step} images "
                         "(--batch-size x --d-steps)")
    judge = gm.Judge.load(loaded["judge_path"])
    names = get_dataset(config.dataset).class_names
    seed_everything(start.seed)
    with distribution.strategy.scope():
        gan = build_trainer(config, start.seed)
    fixed_z, fixed_labels = fixed_inputs(config, start.seed)
    budget = TimeBudget(None if config.minutes is None else config.minutes * 60.0)
    counters = {"images_seen": 0}

    def get_state():
        return {"fixed_z": fixed_z, "fixed_labels": fixed_labels, "train_seconds": np.float64(budget.spent_seconds()),
                "images_seen": np.int64(counters["images_seen"] + meter.images)}

    def set_state(state):
        nonlocal fixed_z, fixed_labels
        fixed_z, fixed_labels = state["fixed_z"], state["fixed_labels"]
        budget.spent_before = float(state["train_seconds"])
        counters["images_seen"] = int(state["images_seen"])

    meter = ThroughputMeter(config.images_per_step)
    checkpointer = Checkpointer(run.checkpoints_dir, max_to_keep=2, get_state=get_state, set_state=set_state,
                                generator=gan.generator, discriminator=gan.discriminator, g_optimizer=gan.g_optimizer,
                                d_optimizer=gan.d_optimizer, noise=gan.seed_generator.state,
                                **({"ema_generator": gan.ema_generator} if gan.ema_generator is not None else {}))
    initial_epoch = 0
    if start.resumed:
        if checkpointer.restore():
            initial_epoch = int(checkpointer.step.numpy())
            notice(f"resuming {run.path} after epoch {initial_epoch} ({budget.spent_before / 60:.1f} min trained)")
        else:
            start.no_checkpoint_yet()
    if config.epochs is not None and initial_epoch >= config.epochs:
        raise UsageError(f"run {str(run.path)!r} has trained {initial_epoch} epochs already; pass a larger --epochs")
    if config.minutes is not None and budget.spent_before >= config.minutes * 60:
        raise UsageError(f"run {str(run.path)!r} has used its {config.minutes:g} minutes already; pass a larger --minutes")

    dataset, steps = make_dataset(x_train, y_train, batch=config.images_per_step, seed=start.seed,
                                  first_epoch=initial_epoch, conditional=config.conditional,
                                  noise_dim=config.noise_dim, d_steps=config.d_steps, replicas=distribution.replicas)
    # What the run exports: G, or with --info-prior data G behind the category shift that draws the categories as
    # D sorts the training images (set after every epoch, so each epoch's figures and export are of what the run
    # would give if it ended there).
    draws_by_data = bool(config.info_codes) and config.info_prior == "data"
    exported = gan.sampler
    if draws_by_data:
        with distribution.strategy.scope():
            exported = with_category_prior(gan.sampler, config.info_codes, np.full(config.info_codes, 1 / config.info_codes))
    sample, grid_sample = sampler(exported, config.conditional), sampler(gan.sampler, config.conditional)
    reference = gm.reference(judge, x_train, x_test, floor=False)
    # The same noise every epoch (and after a resume): the per-epoch figures move with G, not with the draw.
    metric_z = np.random.default_rng([start.seed, 11]).standard_normal((config.metric_samples, config.noise_dim))
    metric_z = metric_z.astype(np.float32)
    metric_labels = (np.arange(config.metric_samples) % 10).astype(np.int32) if config.conditional else None

    def evaluate_epoch() -> dict:
        figures = gm.judge_samples(judge, gm.to_uint8(sample(metric_z, metric_labels)), reference, labels=metric_labels)
        shown = {"score": figures["classifier_score"], "fcd": figures["frechet_distance"],
                 "max_class_share": figures["max_share"], "kl_from_uniform": figures["kl_from_uniform"]}
        if config.conditional:
            shown["min_conditional_accuracy"] = figures["min_conditional_accuracy"]
        warning = gm.collapse_warning(figures, names)
        if warning and verbose:
            print(warning, file=sys.stderr, flush=True)
        return shown

    grids = run.artifact(GRIDS_DIR)
    extra = [
        budget, meter, EpochTimer(),
        *([LinearLRDecay({gan.g_optimizer: config.g_learning_rate, gan.d_optimizer: config.d_learning_rate},
                         config.lr_final_fraction, budget,
                         None if config.epochs is None else config.epochs * steps)] if config.lr_final_fraction < 1 else []),
        # G's own draws, equal categories: the grid of the same noise stays comparable from epoch to epoch.
        ImageGridMonitor(lambda epoch: (grid_sample(fixed_z, fixed_labels) + 1.0) / 2.0, grids, ncols=10 if config.conditional else 8),
    ]
    real_images, data_prior = None, None
    if config.info_codes and (config.info_train_prior > 0 or draws_by_data):
        real_images = gm.from_uint8(x_train[..., None].astype(np.float32))  # D sorts these: the first per epoch, all at the end
        data_prior = DataCategoryPrior(gan, real_images[:PRIOR_IMAGES], mix=config.info_train_prior,
                                       sampler=exported if draws_by_data else None)
        extra.append(data_prior)  # before the evaluation and the export, which draw by what it measures
    extra += [
        EvalCallback(evaluate_epoch, "eval/score", mode="max"),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: save_model_atomic(exported, run.artifact(GENERATOR_FILE))),
    ]
    if verbose:
        extra.append(EpochPrinter(budget, config, grids))
    callbacks = [StopOnSignal(run.path), *standard_callbacks(run, resume=start.resumed, extra=extra, plot_every=5),
                 EpochCheckpoint(checkpointer)]
    if verbose:
        budget_text = " and ".join(([f"{config.epochs} epochs"] if config.epochs else [])
                                   + ([f"{config.minutes:g} minutes"] if config.minutes else []))
        print(f"training {'conditional ' if config.conditional else ''}{config.arch} on {config.dataset} for {budget_text} "
              f"({steps} steps of {config.images_per_step} images per epoch, in "
              f"{'bfloat16' if bfloat16 else 'float32'}); run folder {run.path}, "
              f"sample grids in {grids}", flush=True)
    gan.fit(dataset, steps_per_epoch=steps, epochs=config.epochs or MAX_EPOCHS, initial_epoch=initial_epoch,
            callbacks=callbacks, shuffle=False, verbose=0)
    epochs_done = int(checkpointer.step.numpy())

    category_prior = None
    if draws_by_data:
        category_prior = gan.category_prior(real_images)  # all the training images, not the per-epoch first ones
        set_category_prior(exported, category_prior)
        if verbose:
            print(f"InfoGAN categories drawn as often as D assigns the training images to them: "
                  f"{category_prior.min():.1%}-{category_prior.max():.1%} each", flush=True)
    save_model_atomic(exported, run.artifact(GENERATOR_FILE))
    write_progress_gif(grids, run.artifact(GIF_FILE))
    figures = evaluate_generator(exported, config, judge, loaded["arrays"], seed=start.seed)
    results = {
        "arch": config.arch, "conditional": config.conditional, "dataset": config.dataset,
        "epochs_done": epochs_done, "stopped_by": "minutes" if budget.ran_out else "epochs",
        "train_seconds": budget.spent_seconds(), "images_seen": counters["images_seen"] + meter.images,
        "images_per_second": meter.images_per_second(), "jit_compile": config.jit_compile,
        "mixed_precision": bfloat16, "classifier": str(judge.path),
        **({} if category_prior is None else {"category_prior": [round(float(p), 5) for p in category_prior]}),
        **({} if data_prior is None or data_prior.last is None
           else {"training_category_prior": [round(float(p), 5) for p in data_prior.last]}), **figures,
        "generator_path": str(run.artifact(GENERATOR_FILE)), "run_dir": str(run.path),
    }
    run.write_json(RESULTS_FILE, results)
    if verbose:
        print(f"trained {epochs_done} epochs in {results['train_seconds'] / 60:.1f} min "
              f"({results['images_per_second']:.0f} images/s); generator saved to {results['generator_path']}; "
              f"grids animated in {run.artifact(GIF_FILE)}")
        gm.print_figures(results, names)
    return results


def evaluate_generator(generator, config: GANConfig, judge: "gm.Judge", arrays, *, seed: int = 0,
                       samples: int = FINAL_SAMPLES, truncation: float = 1.0) -> dict:
    """The full figures of a generator: ``samples`` samples (noise truncated by `gan.models.truncate_noise`)
    against 10k test images, with the floor."""
    from gan.models import truncate_noise

    (x_train, _), (x_test, _) = arrays
    rng = np.random.default_rng([seed, 13])
    z = truncate_noise(rng.standard_normal((samples, config.noise_dim)).astype(np.float32), truncation, config.info_codes)
    labels = (np.arange(samples) % 10).astype(np.int32) if config.conditional else None
    images = gm.to_uint8(sampler(generator, config.conditional)(z, labels))
    return gm.judge_samples(judge, images, gm.reference(judge, x_train, x_test), labels=labels)


def write_progress_gif(grids: Path, path: Path, fps: float = 4) -> Path | None:
    from PIL import Image

    from rllab.plotting import save_video

    files = sorted(Path(grids).glob("epoch_*.png"))
    if not files:
        return None
    frames = [np.asarray(Image.open(f).convert("L")) for f in files]
    frames += [frames[-1]] * int(fps)  # linger on the last grid
    return save_video(frames, path, fps=fps)


# --- callbacks --------------------------------------------------------------------------------------------
class DataCategoryPrior(keras.callbacks.Callback):
    """After every epoch, measures how often D sorts ``real_images`` into each InfoGAN category (``shares``:
    `GAN.category_prior`, no labels), and draws by it:

    - ``sampler`` (made by `gan.models.with_category_prior`; None: no sampler) draws the categories by the shares
      from then on;
    - with ``mix`` > 0, training draws category k with probability ``(1 - mix) / K + mix * shares[k]`` (``last``)
      in every epoch from ``first_epoch`` on, by the shares measured after the epoch before; earlier epochs draw
      the categories equally often.

    A resumed run measures before its first epoch, from the restored D: the weights the uninterrupted run measured
    after the epoch before."""

    def __init__(self, gan, real_images: np.ndarray, *, mix: float, sampler=None, first_epoch: int = PRIOR_FIRST_EPOCH):
        super().__init__()
        self.gan, self.real_images, self.mix, self.sampler, self.first_epoch = gan, real_images, mix, sampler, first_epoch
        self.shares = None
        """D's latest measure (None before the first)."""
        self.measured_after = None
        """The epoch (from 0) after which ``shares`` was measured."""
        self.last = None
        """The training prior of the latest epoch (None before ``first_epoch``, or with ``mix`` 0)."""

    def _measure(self, after_epoch: int) -> None:
        self.shares, self.measured_after = self.gan.category_prior(self.real_images), after_epoch

    def on_epoch_begin(self, epoch, logs=None):
        from gan.models import argmax_shift

        if self.mix <= 0 or epoch < self.first_epoch:
            return
        if self.measured_after != epoch - 1:
            self._measure(epoch - 1)
        self.last = (1.0 - self.mix) / len(self.shares) + self.mix * self.shares
        self.gan.category_shift.assign(argmax_shift(self.last))

    def on_epoch_end(self, epoch, logs=None):
        from gan.models import set_category_prior

        self._measure(epoch)
        if self.sampler is not None:
            set_category_prior(self.sampler, self.shares)


class EpochPrinter(keras.callbacks.Callback):
    """One line per epoch: time used, losses, D's outputs, the sample figures and where the grid went."""

    def __init__(self, budget, config: GANConfig, grids: Path):
        super().__init__()
        self.budget, self.config, self.grids = budget, config, grids

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        used = self.budget.spent_seconds() / 60
        limit = f"/{self.config.minutes:g}" if self.config.minutes else ""
        of = f"/{self.config.epochs}" if self.config.epochs else ""
        cond = f" min cond. acc {logs['eval/min_conditional_accuracy']:.2f}" if "eval/min_conditional_accuracy" in logs else ""
        print(f"epoch {epoch + 1}{of} [{used:.1f}{limit} min] d_loss {logs.get('d_loss', math.nan):.3f} "
              f"g_loss {logs.get('g_loss', math.nan):.3f} D(x) {logs.get('d_real', math.nan):.2f} "
              f"D(G(z)) {logs.get('d_fake', math.nan):.2f} | score {logs.get('eval/score', math.nan):.2f} "
              f"FCD {logs.get('eval/fcd', math.nan):.2f}{cond} | {self.grids / f'epoch_{epoch + 1:04d}.png'}",
              flush=True)
