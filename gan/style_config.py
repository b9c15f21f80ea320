"""`StyleConfig`: every setting of a style-transfer run, one docstring per field.

Kept free of TensorFlow: ``rllab style --help`` builds one flag per field (help = the docstring)
without importing it. The defaults are the TensorFlow tutorial's ("Neural style transfer",
tensorflow.org/tutorials/generative/style_transfer) except the optimiser, which is L-BFGS because
it reaches the tutorial's loss many times sooner (see `gan.style` and ``scripts/bench_style.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

from rllab.checks import check_choice, check_float, check_int
from rllab.errors import UsageError

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block5_conv2",)
VGG19_LAYERS = tuple(
    f"block{block}_conv{conv}"
    for block, convs in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for conv in range(1, convs + 1)
) + tuple(f"block{block}_pool" for block in range(1, 6))
OPTIMIZERS = ("prox-adam", "adam", "lbfgs")
INITS = ("content", "style", "noise")
PRECISIONS = ("auto", "bfloat16", "float32")
MIN_SIDE = 32
"""VGG19 halves the image five times; below 32 px a side its last block has nothing left to see."""
BUDGET_FIELDS = ("steps",)
"""Config fields that --resume may change: more steps continue a finished or interrupted run."""


@dataclass
class StyleConfig:
    """Every setting of one stylization (stored in the run's config.json)."""

    content_layers: tuple[str, ...] = CONTENT_LAYERS
    """VGG19 layers whose activations the result must match in the content image, comma-separated (the tutorial's block5_conv2; Gatys et al. used block4_conv2)."""
    style_layers: tuple[str, ...] = STYLE_LAYERS
    """VGG19 layers whose Gram matrices the result must match in the style images, comma-separated, equally weighted."""
    content_weight: float = 1e4
    """Weight of the content loss (mean squared activation difference, averaged over the content layers)."""
    style_weight: float = 1e-2
    """Weight of the style loss (mean squared Gram-matrix difference, averaged over the style layers; Grams divided by the number of positions)."""
    tv_weight: float = 30.0
    """Weight of the total-variation loss (sum of absolute differences of neighbouring pixels, on the 0..1 scale), which smooths the result."""
    style_weights: tuple[float, ...] | None = None
    """Blend weights of the style images, one per image, comma-separated; normalised to sum to 1 (none: equal weights)."""
    style_scale: float = 1.0
    """Size of the style images relative to the result (long side = scale x the result's long side): smaller scales give finer brush strokes."""
    max_size: int = 512
    """Long side of the result in pixels; the result keeps the content image's aspect ratio."""
    scales: tuple[int, ...] | None = None
    """Coarse-to-fine long sides, comma-separated and increasing (e.g. 256,512): each scale starts from the previous result, upsampled; the last one is the result's size (none: one scale, --max-size)."""
    optimizer: str = "prox-adam"
    """prox-adam: the tutorial's Adam on the VGG19 losses with the total-variation term solved exactly in Adam's metric (the default: it reaches the tutorial's loss in a fraction of the steps, see the README); adam: the tutorial's Adam (beta_1 0.99, epsilon 0.1); lbfgs: limited-memory BFGS kept within the 0..1 box."""
    learning_rate: float = 0.02
    """Step size of adam and prox-adam (the tutorial's); lbfgs ignores it."""
    history: int = 10
    """L-BFGS memory: the last N steps and gradient changes that model the curvature."""
    steps: int = 200
    """Optimiser iterations per scale, each one VGG19 evaluation (lbfgs: about one); the tutorial runs 1000 Adam steps, which prox-adam matches in far fewer (see the README)."""
    init: str = "content"
    """Starting image: content, style (the first style image, resized to the result) or noise (uniform, from --seed)."""
    preserve_colors: bool = False
    """Luminance-only transfer: stylize the brightness and keep the content image's colours (chroma in YCbCr)."""
    precision: str = "auto"
    """Arithmetic of VGG19: bfloat16 (convolutions and activations; losses and the image stay float32) runs ~2x faster on CPUs with AVX512-BF16 or AMX; float32 is the tutorial's; auto picks bfloat16 where the CPU or a GPU has it."""
    save_every: int = 10
    """Keep a frame of the image every N steps (0: none) for artifacts/frames/ and the progress GIF."""
    weights: str | None = "imagenet"
    """VGG19 weights: imagenet (Keras' cache, downloaded on first use), a path to vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, or none (random weights: for tests only, the result is not a stylization)."""

    def __post_init__(self):
        self.content_layers = _layers("--content-layers", self.content_layers)
        self.style_layers = _layers("--style-layers", self.style_layers)
        for flag, value in (("--content-weight", self.content_weight), ("--style-weight", self.style_weight),
                            ("--tv-weight", self.tv_weight)):
            check_float(flag, value, min_value=0.0)
        self.content_weight, self.style_weight, self.tv_weight = (
            float(self.content_weight), float(self.style_weight), float(self.tv_weight))
        if self.content_weight == self.style_weight == 0.0:
            raise UsageError("--content-weight and --style-weight are both 0: nothing to optimise")
        if self.style_weights is not None:
            weights = tuple(check_float("--style-weights", w, min_value=0.0) for w in self.style_weights)
            if not weights or sum(weights) <= 0:
                raise UsageError(f"--style-weights must have a positive sum, got {','.join(map(str, weights)) or 'nothing'}")
            self.style_weights = weights
        self.style_scale = check_float("--style-scale", self.style_scale, min_value=0.0, min_inclusive=False, max_value=8.0)
        self.max_size = check_int("--max-size", self.max_size, min_value=MIN_SIDE, max_value=8192)
        if self.scales is not None:
            scales = tuple(check_int("--scales", s, min_value=MIN_SIDE, max_value=8192) for s in self.scales)
            if not scales or any(b <= a for a, b in zip(scales, scales[1:])):
                raise UsageError(f"--scales must be increasing long sides, got {','.join(map(str, scales)) or 'nothing'}")
            self.scales = scales
            self.max_size = scales[-1]  # the finest scale is the result's size
        check_choice("--optimizer", self.optimizer, OPTIMIZERS)
        self.learning_rate = check_float("--learning-rate", self.learning_rate, min_value=0.0, min_inclusive=False)
        self.history = check_int("--history", self.history, min_value=1, max_value=100)
        self.steps = check_int("--steps", self.steps, min_value=1)
        check_choice("--init", self.init, INITS)
        check_choice("--precision", self.precision, PRECISIONS)
        self.save_every = check_int("--save-every", self.save_every, min_value=0)
        if isinstance(self.weights, str) and self.weights.strip().lower() == "none":
            self.weights = None
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights.strip()):
            raise UsageError("--weights must be imagenet, none or a path to the VGG19 .h5 file")

    @property
    def sizes(self) -> tuple[int, ...]:
        """Long side of the image at each scale, coarse to fine."""
        return self.scales if self.scales is not None else (self.max_size,)

    @property
    def total_steps(self) -> int:
        return self.steps * len(self.sizes)


def _layers(flag: str, names) -> tuple[str, ...]:
    names = tuple(str(n).strip() for n in names)
    if not names or any(not n for n in names):
        raise UsageError(f"{flag} needs at least one VGG19 layer name, got {','.join(names)!r}")
    for name in names:
        if name not in VGG19_LAYERS:
            raise UsageError(f"{flag}: {name!r} is not a VGG19 layer; choose from {', '.join(VGG19_LAYERS)}")
    if len(set(names)) != len(names):
        raise UsageError(f"{flag} names a layer twice: {','.join(names)}")
    return names


def config_from_dict(values: dict) -> StyleConfig:
    """Rebuild a stored config (JSON lists become tuples; unknown keys are a TypeError)."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return StyleConfig(**values)
