"""`GANConfig`: every hyperparameter of a GAN run, with per-architecture defaults.

Free of TensorFlow: the CLI builds one flag per field (help = the field's docstring) without paying
for the TensorFlow import.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from rllab.checks import check_choice, check_float, check_int
from rllab.data import DATASETS
from rllab.errors import UsageError
from rllab.precision import AUTO, check_mixed_precision

ARCHS = ("dcgan", "tutorial", "mlp")
INFO_PRIORS = ("data", "uniform")
BUDGET_FIELDS = ("epochs", "minutes")
"""Config fields that --resume may change: a larger budget continues a finished run."""

DCGAN_WIDTH = 32
"""dcgan's default ``width``: about 1.5x the images per second of width 40 (the default before, itself 1.7x width 64's),
so 14-17 epochs fit in a 10-minute budget where width 40 got 10-12 on the same machine (the README has the runs)."""

ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    # The TensorFlow DCGAN tutorial, exactly: Adam(1e-4) with Keras' default betas, batch 256.
    "tutorial": {"batch_size": 256, "g_learning_rate": 1e-4, "d_learning_rate": 1e-4, "beta_1": 0.9, "beta_2": 0.999,
                 "mixed_precision": False, "ema": 0.0, "lr_final_fraction": 1.0, "info_codes": 0},
    # Radford et al.'s DCGAN recipe (Adam, beta_1 0.5) with a larger step, which the moving average of G
    # smooths (5e-4 beat 2e-4 in 3-minute runs on seed 0). An InfoGAN code of 30 categories, about three per
    # digit (20 beat 10 in 9 of 10 same-day 10-minute pairs; 30 with width 32 beat 20 with width 40: the README).
    # bfloat16 only where the machine has it in hardware (`rllab.precision`): elsewhere it is 2.1x slower.
    "dcgan": {"batch_size": 64, "g_learning_rate": 5e-4, "d_learning_rate": 5e-4, "beta_1": 0.5, "beta_2": 0.999,
              "mixed_precision": AUTO, "ema": 0.999, "lr_final_fraction": 0.0, "info_codes": 30, "width": DCGAN_WIDTH},
    "mlp": {"batch_size": 64, "g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
            "mixed_precision": False, "ema": 0.999, "lr_final_fraction": 1.0, "info_codes": 0},
}
"""Per-architecture defaults of the fields left None."""


@dataclass
class GANConfig:
    """Hyperparameters of one GAN run (stored in the run's config.json)."""

    arch: str = "dcgan"
    """dcgan: a small transposed-conv G and strided-conv D sized for a CPU; tutorial: the TensorFlow DCGAN tutorial's nets, exactly; mlp: dense G and D."""
    width: int | None = None
    """Channels of dcgan's first D conv and last hidden G layer; the layers between have twice as many (the cost grows with its square). dcgan only: the tutorial and mlp nets are fixed."""
    conditional: bool = False
    """Class-conditional G and D (a label embedding goes into both), so samples of a chosen class can be drawn."""
    dataset: str = "mnist"
    """Training images: mnist or fashion_mnist."""
    epochs: int | None = None
    """Passes over the training set; none: until --minutes runs out."""
    minutes: float | None = 10.0
    """Training wall-clock budget in minutes (the run stops at the end of the step where it runs out, then saves and evaluates); none: until --epochs are done."""
    batch_size: int | None = None
    """Real images per D step (and generated images per G step)."""
    noise_dim: int = 100
    """Length of G's input noise vector z ~ N(0, I)."""
    g_learning_rate: float | None = None
    """Adam step size of the generator."""
    d_learning_rate: float | None = None
    """Adam step size of the discriminator."""
    beta_1: float | None = None
    """Adam beta_1 of both optimizers."""
    beta_2: float | None = None
    """Adam beta_2 of both optimizers."""
    label_smoothing: float = 0.0
    """One-sided label smoothing: D's target for real images is 1 - this."""
    ema: float | None = None
    """Decay of a moving average of G's weights that samples and the exported generator come from; 0: use G's last weights."""
    lr_final_fraction: float | None = None
    """Both learning rates fall linearly over the budget (the larger of the time and the epoch fraction used) to this fraction of their start; 1: constant."""
    info_codes: int | None = None
    """Categories of an InfoGAN code (unconditional models): G reads z with its first K entries replaced by the one-hot of their argmax, and D must tell that category back from the image (an extra loss for both, no labels used); each category comes to draw mostly one kind of digit (equally often in training; --info-prior sets how often after it). 0: off; with --conditional: 0."""
    info_weight: float = 1.0
    """Weight of the InfoGAN code's cross-entropy in both losses."""
    info_train_prior: float = 0.5
    """How far training's draws of the InfoGAN categories follow the data prior (see --info-prior), re-fitted from D before every epoch after the first two: each category is drawn with (1 - this)/K + this * its data share. 0: equally often throughout. A digit that got a single category then gets drawn about as often as the data has it, not once in K (the README has the runs)."""
    info_prior: str = "data"
    """How often the exported generator draws each InfoGAN category. data: after training, as often as D's code logits assign the real training images to it (no labels used), so a digit drawn by too few or too many categories gets its share of the data back; uniform: equally often, as in training."""
    info_projection: bool = False
    """D adds to its real/fake logit the projection of its features on an embedding of the InfoGAN category it sorts the image into, so each category's fakes are judged against the real images of that category (a self-conditioned discriminator)."""
    d_steps: int = 1
    """D updates (each on its own real batch) per G update."""
    train_limit: int | None = None
    """Use only the first N training images (quick experiments and tests); none: all of them."""
    metric_samples: int = 2000
    """Samples judged by the classifier after every epoch (the final evaluation uses 10,000)."""
    jit_compile: bool = False
    """Compile the train step with XLA (on this lab's 2-core CPU it slowed dcgan's bfloat16 step by 9 % and the tutorial's 8x: oneDNN's convolutions beat XLA's)."""
    mixed_precision: bool = None  # type: ignore[assignment]  (None until __post_init__: the arch's default; "auto" is allowed)
    """Compute in bfloat16 with float32 weights (mixed_bfloat16). auto: where the CPU has AVX512-BF16/AMX or a GPU is used (there dcgan ran 1.17x as fast; on a CPU without them 2.1x slower)."""

    def __post_init__(self):
        self.arch = check_choice("--arch", self.arch, ARCHS)
        self.dataset = check_choice("--dataset", self.dataset, sorted(DATASETS))
        if self.conditional and self.info_codes is None:
            self.info_codes = 0  # the labels already name the kind of image
        info_codes_given = self.info_codes is not None
        for name, value in ARCH_DEFAULTS[self.arch].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self.mixed_precision = check_mixed_precision(self.mixed_precision)
        self.width = check_width(self.arch, self.width)
        if self.epochs is None and self.minutes is None:
            raise UsageError("give a budget: --epochs N or --minutes M (or both; the first reached ends the run)")
        if self.epochs is not None:
            self.epochs = check_int("--epochs", self.epochs, min_value=1)
        if self.minutes is not None:
            self.minutes = check_float("--minutes", self.minutes, min_value=0.0, min_inclusive=False)
        self.batch_size = check_int("--batch-size", self.batch_size, min_value=1)
        self.noise_dim = check_int("--noise-dim", self.noise_dim, min_value=1)
        for flag in ("g_learning_rate", "d_learning_rate"):
            setattr(self, flag, check_float("--" + flag.replace("_", "-"), getattr(self, flag), min_value=0.0, min_inclusive=False))
        self.beta_1 = check_float("--beta-1", self.beta_1, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.beta_2 = check_float("--beta-2", self.beta_2, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.label_smoothing = check_float("--label-smoothing", self.label_smoothing, min_value=0.0, max_value=1.0,
                                           max_inclusive=False)
        self.ema = check_float("--ema", self.ema, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.lr_final_fraction = check_float("--lr-final-fraction", self.lr_final_fraction, min_value=0.0, max_value=1.0)
        if not info_codes_given and self.info_codes >= self.noise_dim:
            raise UsageError(f"--noise-dim {self.noise_dim} leaves no room for {self.arch}'s default InfoGAN code of "
                             f"{self.info_codes} categories (the first {self.info_codes} noise entries): give --noise-dim "
                             f"{self.info_codes + 1} or more, or --info-codes below {self.noise_dim} (0: off)")
        self.info_codes = check_int("--info-codes", self.info_codes, min_value=0, max_value=self.noise_dim - 1)
        if self.info_codes == 1:
            raise UsageError("--info-codes 1 is no choice: give 0 (off) or at least 2 categories")
        if self.info_codes and self.conditional:
            raise UsageError(f"--info-codes {self.info_codes} is for unconditional models; --conditional already names the class")
        self.info_weight = check_float("--info-weight", self.info_weight, min_value=0.0)
        self.info_prior = check_choice("--info-prior", self.info_prior, INFO_PRIORS)
        self.info_train_prior = check_float("--info-train-prior", self.info_train_prior, min_value=0.0, max_value=1.0)
        if self.info_projection and not self.info_codes:
            raise UsageError("--info-projection needs an InfoGAN code to project on: give --info-codes 2 or more")
        self.d_steps = check_int("--d-steps", self.d_steps, min_value=1)
        if self.train_limit is not None:
            self.train_limit = check_int("--train-limit", self.train_limit, min_value=1)
        self.metric_samples = check_int("--metric-samples", self.metric_samples, min_value=10)

    @property
    def images_per_step(self) -> int:
        """Real images one train step consumes (d_steps batches)."""
        return self.batch_size * self.d_steps


def check_width(arch: str, width: int | None) -> int | None:
    """``width`` validated: a positive integer, and only for dcgan (None: the arch's own nets)."""
    if width is None:
        return None
    if arch != "dcgan":
        raise UsageError(f"--width {width} is for --arch dcgan; the {arch} nets are fixed")
    return check_int("--width", width, min_value=1)


DCGAN_WIDTH_BEFORE_THE_FIELD = 64
"""The width of every dcgan run whose config.json predates the ``width`` field."""

INFO_TRAIN_PRIOR_BEFORE_THE_FIELD = 0.0
"""Training drew the categories equally often in every run whose config.json predates ``info_train_prior``."""


def config_from_dict(values: Mapping[str, Any]) -> GANConfig:
    """Rebuild a stored config (unknown keys are a TypeError, which the run lifecycle reports); a run stored
    before ``width`` or ``info_train_prior`` existed keeps what it was trained with."""
    values = dict(values)
    if values.get("arch", "dcgan") == "dcgan" and "width" not in values:
        values["width"] = DCGAN_WIDTH_BEFORE_THE_FIELD
    values.setdefault("info_train_prior", INFO_TRAIN_PRIOR_BEFORE_THE_FIELD)
    return GANConfig(**values)


def config_from_flags(given: Mapping[str, Any]) -> GANConfig:
    """The config of the flags typed: ``--epochs N`` alone means no time limit (--minutes none)."""
    values = dict(given)
    if "epochs" in values and values["epochs"] is not None and "minutes" not in values:
        values["minutes"] = None
    return GANConfig(**values)


def per_arch_defaults() -> dict[str, str]:
    """The help's default of each per-arch field: ``64; tutorial: 256``."""
    shown = {}
    for config_field in dataclasses.fields(GANConfig):
        values = {arch: d[config_field.name] for arch, d in ARCH_DEFAULTS.items() if config_field.name in d}
        if values:
            shown[config_field.name] = "; ".join(f"{arch}: {value}" for arch, value in values.items())
    return shown
