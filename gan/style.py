"""The Gatys et al. neural style transfer method on VGG19: extractor, losses and the optimisers.

The losses are the TensorFlow tutorial's (tensorflow.org/tutorials/generative/style_transfer), so
its figures compare with ours: the image lives on the 0..1 scale, VGG19 sees it through the caffe
preprocessing (``vgg19.preprocess_input`` of 255 x image), Gram matrices are divided by the number
of positions, and

    total = style_weight / |style layers| * sum_l mean((G_l(x) - G_l(style))^2)
          + content_weight / |content layers| * sum_l mean((F_l(x) - F_l(content))^2)
          + tv_weight * total_variation(x)

Which optimiser, and why (measured by ``scripts/bench_style.py``; the figures are in the README):

- The TV term is not smooth: an absolute value per pair of neighbouring pixels, whose gradient is a
  sign that flips as neighbours cross. With a random VGG19 (what can be measured here: ImageNet
  weights cannot be downloaded) it is nearly all of the loss, and every method that treats the loss
  as smooth crawls on it. L-BFGS was tried first and lost even to the tutorial's Adam: at 64 px,
  SciPy's L-BFGS-B and ours both stayed above Adam's 400-step loss after 400 evaluations.
- `ProxAdam`, the default, keeps the tutorial's Adam for the VGG19 losses and takes the TV term out
  of the gradient: each step ends with the exact minimiser of Adam's local model plus the true TV
  term in the 0..1 box (`tv_prox`: 50 iterations of Beck and Teboulle's FGP, elementwise work that
  XLA compiles: 0.15 s at 512x400 px). It is the proximal-gradient idea, in Adam's diagonal metric.
  With the random VGG19 it reached Adam's 300-step loss in 2 steps (64 px); with a
  random VGG19 rescaled so that the VGG19 losses weigh as much as the TV term, as with real weights
  (``bench_style.py --size 64 --adam-steps 300 --he-scale 0.8``), it needed 144 steps for Adam's
  300, while L-BFGS (ours and SciPy's) had not reached Adam's 300-step loss after 150 evaluations,
  nor had plain proximal gradient with a backtracking line search (tried first, then dropped)
  after 192.
- L-BFGS (`LBFGS`, ``--optimizer lbfgs``) stays available, as the issue asks. SciPy's
  ``minimize(method="L-BFGS-B")`` is the reference (it handles the box exactly) but owns the loop,
  which ``rllab.loop.train_loop`` must drive one iteration per step, and wants float64 copies of
  every loss and gradient; TensorFlow Probability's ``tfp.optimizer.lbfgs_minimize`` owns its loop
  too (a ``tf.while_loop`` that cannot be resumed with its history), has no bounds, and 0.25.0 (the
  newest) imports under TensorFlow 2.21 only with the Keras-2 package ``tf-keras`` beside Keras 3.
  So `LBFGS` is a compact one-iteration-per-call L-BFGS: the two-loop recursion over the last
  ``history`` pairs, an Armijo backtracking line search along the direction projected onto the box,
  pairs without positive curvature skipped, memory reset on a non-descent direction; its vector
  algebra is float64 NumPy, a small fraction of an iteration next to the VGG19 pass.
- The hot path, one loss-and-gradient evaluation, is one ``tf.function``. XLA (``jit_compile``)
  made it slower on CPU (0.94 s against 0.77 s at 256 px: its convolutions lose to oneDNN's);
  bfloat16 VGG19 activations (the losses stay float32) made it 2.4x faster at 256 px (0.32 s) on
  this AVX512-BF16 CPU, so ``precision="auto"`` picks bfloat16 where the CPU or a GPU has it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rllab.errors import UsageError
from rllab.precision import native_bfloat16

VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_NOTOP_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_NOTOP_FILE)


# --- weights and the feature extractor ---------------------------------------------------------------------
def keras_weights_cache() -> Path:
    """Where Keras keeps downloaded application weights (``$KERAS_HOME/models``, default ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_precision(precision: str) -> str:
    """``"auto"`` -> bfloat16 where it is native (`rllab.precision.native_bfloat16`), else float32."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def load_vgg19(weights: str | None, *, precision: str = "float32"):
    """``keras.applications.VGG19(include_top=False)``: ImageNet weights from Keras' cache (downloaded
    on first use), from a local ``.h5`` file, or random (``weights=None``).

    A failed download or a wrong file is a one-line `UsageError` saying where the file goes.
    """
    import keras

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        if weights is None:
            return keras.applications.VGG19(include_top=False, weights=None)
        if weights == "imagenet":
            return _imagenet_vgg19()
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UsageError(f"--weights {weights!r}: no such file; give the path of {VGG19_NOTOP_FILE}, "
                             "'imagenet' (Keras' cache or download) or 'none'")
        try:
            return keras.applications.VGG19(include_top=False, weights=str(path))
        except Exception as exc:  # h5py/Keras raise many types for a file that is not these weights
            raise UsageError(f"--weights {weights!r} is not the VGG19 no-top weights file {VGG19_NOTOP_FILE} "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    finally:
        keras.config.set_dtype_policy(policy)


def _imagenet_vgg19():
    import keras

    cached = keras_weights_cache() / VGG19_NOTOP_FILE
    try:
        return keras.applications.VGG19(include_top=False, weights="imagenet")
    except Exception as exc:  # urllib/http errors come wrapped in a bare Exception by keras.utils.get_file
        if cached.is_file():
            raise UsageError(f"the cached VGG19 weights {str(cached)!r} are unreadable ({type(exc).__name__}); "
                             "delete the file to download it again, or pass --weights PATH") from None
        reason = " ".join(str(exc).split(" -- ")[-1].split())[:120]  # Keras puts the URL first: it is in the message
        raise UsageError(f"cannot get the VGG19 ImageNet weights ({reason}); download {VGG19_NOTOP_URL} and "
                         f"put it in {str(cached.parent)}/ or pass --weights PATH to it") from None


class Extractor:
    """VGG19 up to the deepest requested layer, returning the style and content layers' activations.

    Called on images on the 0..1 scale, ``(batch, height, width, 3)``; applies the caffe preprocessing.
    """

    def __init__(self, vgg, style_layers: Sequence[str], content_layers: Sequence[str]):
        import keras

        self.style_layers = tuple(style_layers)
        self.content_layers = tuple(content_layers)
        names = self.style_layers + self.content_layers
        # Keras keeps only the layers the outputs depend on: everything past the deepest layer is dropped.
        self.model = keras.Model(vgg.input, [vgg.get_layer(name).output for name in names], name="vgg19_features")
        self.model.trainable = False

    def __call__(self, image):
        """``(style activations, content activations)``, float32 lists in layer order."""
        import keras
        import tensorflow as tf

        outputs = self.model(keras.applications.vgg19.preprocess_input(image * 255.0), training=False)
        outputs = [tf.cast(output, tf.float32) for output in outputs]
        return outputs[: len(self.style_layers)], outputs[len(self.style_layers):]


def build_extractor(style_layers: Sequence[str], content_layers: Sequence[str], weights: str | None = "imagenet",
                    *, precision: str = "float32") -> Extractor:
    """The `Extractor` of ``load_vgg19(weights, precision=precision)``."""
    return Extractor(load_vgg19(weights, precision=precision), style_layers, content_layers)


# --- losses ------------------------------------------------------------------------------------------------
def gram_matrix(features):
    """``(batch, channels, channels)`` Gram matrices of ``(batch, height, width, channels)`` activations,
    divided by the number of positions (height x width), as in the TensorFlow tutorial."""
    import tensorflow as tf

    shape = tf.shape(features)
    positions = tf.cast(shape[1] * shape[2], features.dtype)
    return tf.linalg.einsum("bijc,bijd->bcd", features, features) / positions


def blend_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """Blend weights of ``count`` style images, normalised to sum to 1 (equal when ``weights`` is None).

    >>> blend_weights([1, 3], 2).tolist(), blend_weights(None, 4).tolist()
    ([0.25, 0.75], [0.25, 0.25, 0.25, 0.25])
    """
    if weights is None:
        return np.full(count, 1.0 / count)
    if len(weights) != count:
        raise UsageError(f"--style-weights has {len(weights)} value{'s' * (len(weights) != 1)} for {count} style "
                         f"image{'s' * (count != 1)}; give one weight per style image")
    weights = np.asarray(weights, np.float64)
    if np.any(weights < 0) or weights.sum() <= 0:
        raise UsageError(f"--style-weights must be >= 0 with a positive sum, got {','.join(map(str, weights.tolist()))}")
    return weights / weights.sum()


def style_targets(extractor: Extractor, styles: Sequence[np.ndarray], weights: np.ndarray) -> list:
    """The target Gram matrix of each style layer: the weighted sum of the style images' Grams."""
    import tensorflow as tf

    targets = None
    for style, weight in zip(styles, weights):
        grams, _ = extractor(tf.constant(style[None], tf.float32))
        grams = [float(weight) * gram_matrix(g) for g in grams]
        targets = grams if targets is None else [t + g for t, g in zip(targets, grams)]
    return targets


@dataclass
class LossWeights:
    content: float = 1e4
    style: float = 1e-2
    tv: float = 30.0


class Objective:
    """The total loss of an image of one size, and its gradient, as one compiled function.

    ``value_and_gradient(image)`` takes and returns float32 ``(1, H, W, 3)`` tensors:
    ``({"loss", "content_loss", "style_loss", "tv_loss", "smooth_loss"}, gradient of "loss")``;
    ``smooth_value_and_gradient`` differentiates "smooth_loss" (content + style, without TV) instead.
    """

    def __init__(self, extractor: Extractor, content: np.ndarray, styles: Sequence[np.ndarray],
                 blend: np.ndarray, weights: LossWeights, *, jit_compile: bool = False):
        import tensorflow as tf

        self.extractor = extractor
        self.weights = weights
        _, content_features = extractor(tf.constant(content[None], tf.float32))
        self.content_targets = [tf.constant(f) for f in content_features]
        self.style_targets = [tf.constant(g) for g in style_targets(extractor, styles, blend)]
        self.value_and_gradient = tf.function(self._value_and_gradient, jit_compile=jit_compile)
        self.smooth_value_and_gradient = tf.function(
            lambda image: self._value_and_gradient(image, of="smooth_loss"), jit_compile=jit_compile)
        self.losses = tf.function(self._losses, jit_compile=jit_compile)

    def _losses(self, image):
        import tensorflow as tf

        style_features, content_features = self.extractor(image)
        style = tf.add_n([tf.reduce_mean((gram_matrix(f) - t) ** 2) for f, t in zip(style_features, self.style_targets)])
        content = tf.add_n([tf.reduce_mean((f - t) ** 2) for f, t in zip(content_features, self.content_targets)])
        style = style * (self.weights.style / len(self.style_targets))
        content = content * (self.weights.content / len(self.content_targets))
        tv = self.weights.tv * tf.reduce_sum(tf.image.total_variation(image))
        return {"loss": style + content + tv, "content_loss": content, "style_loss": style, "tv_loss": tv,
                "smooth_loss": style + content}

    def _value_and_gradient(self, image, of: str = "loss"):
        """The losses and the gradient of ``of``: "loss" (the total) or "smooth_loss" (without the TV term)."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(image)
            losses = self._losses(image)
        return losses, tape.gradient(losses[of], image)


# --- optimisers: each `step()` is one iteration and returns its losses; `current()` is the image ----------
class TutorialAdam:
    """The tutorial's loop: Adam(lr 0.02, beta_1 0.99, epsilon 0.1) on the image, clipped to 0..1 after
    each step. The losses returned are those of the image *before* the step, as the tutorial logs them."""

    def __init__(self, objective: Objective, image: np.ndarray, *, learning_rate: float = 0.02,
                 jit_compile: bool = False):
        import keras
        import tensorflow as tf

        self.objective = objective
        self.image = tf.Variable(np.asarray(image, np.float32)[None])
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.99, epsilon=0.1)
        self.optimizer.build([self.image])
        self._step = tf.function(self._train_step, jit_compile=jit_compile)
        self.evaluations = 0

    def _train_step(self):
        import tensorflow as tf

        losses, gradient = self.objective._value_and_gradient(self.image)
        self.optimizer.apply_gradients([(gradient, self.image)])
        self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
        return losses

    def step(self) -> dict[str, float]:
        self.evaluations += 1
        return _logged({k: float(v) for k, v in self._step().items()})

    def current(self) -> np.ndarray:
        return self.image.numpy()[0]


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a . b`` of flat arrays without BLAS: NumPy's BLAS threads contend with TensorFlow's on a
    small CPU, and a 10k-element ``ndarray.dot`` measured 5 ms there instead of microseconds."""
    return float(np.einsum("i,i->", a, b))


class LBFGS:
    """Limited-memory BFGS on the image, kept within the 0..1 box; one iteration per `step`.

    Direction: the two-loop recursion over the last ``history`` (step, gradient change) pairs, scaled
    by s'y / y'y, with the pixels held at a bound (where the gradient pushes outward) left out. Step:
    along the direction projected onto the box, accepted when the loss drops by at least 1e-4 of
    the predicted decrease (Armijo), else shortened by quadratic interpolation. The first iteration
    moves the fastest-changing pixel by ``first_step`` (the scale of the tutorial's Adam step).
    The losses returned are those of the new image.
    """

    max_trials = 12
    armijo = 1e-4

    def __init__(self, objective: Objective, image: np.ndarray, *, history: int = 10, first_step: float = 0.02):
        self.objective = objective
        self.shape = (1, *np.shape(image))
        self.x = np.asarray(image, np.float64).ravel().copy()
        self.history = int(history)
        self.first_step = float(first_step)
        self.pairs: list[tuple[np.ndarray, np.ndarray, float]] = []  # (s, y, 1 / y's), oldest first
        self.evaluations = 0
        self.f: float | None = None
        self.g: np.ndarray | None = None
        self.losses: dict[str, float] = {}

    def evaluate(self, x: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        import tensorflow as tf

        self.evaluations += 1
        losses, gradient = self.objective.value_and_gradient(tf.constant(x.reshape(self.shape), tf.float32))
        return {k: float(v) for k, v in losses.items()}, gradient.numpy().ravel().astype(np.float64)

    def direction(self, gradient: np.ndarray) -> np.ndarray:
        """-H gradient by the two-loop recursion (steepest descent without pairs)."""
        q = gradient.copy()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * _dot(s, q)
            q -= alpha * y
            alphas.append(alpha)
        if self.pairs:
            s, y, _ = self.pairs[-1]
            q *= _dot(s, y) / _dot(y, y)
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas)):
            q += s * (alpha - rho * _dot(y, q))
        return -q

    def step(self) -> dict[str, float]:
        if self.g is None:
            self.losses, self.g = self.evaluate(self.x)
            self.f = self.losses["loss"]
        x, f, g = self.x, self.f, self.g
        free = ~(((x <= 0.0) & (g > 0)) | ((x >= 1.0) & (g < 0)))  # pixels not pressed against a bound
        free_gradient = np.where(free, g, 0.0)
        d = np.where(free, self.direction(free_gradient), 0.0)
        if not _dot(free_gradient, d) < 0:  # the curvature model went bad: start again from steepest descent
            self.pairs.clear()
            d = -free_gradient
        largest = np.abs(d).max()
        if largest == 0.0:  # a stationary point within the box: nothing left to do
            return _logged(self.losses)
        t = 1.0 if self.pairs else self.first_step / largest
        for _ in range(self.max_trials):
            x_new = np.clip(x + t * d, 0.0, 1.0)
            step = x_new - x
            predicted = _dot(g, step)  # < 0: the decrease a linear model predicts
            losses, g_new = self.evaluate(x_new)
            f_new = losses["loss"]
            if np.isfinite(f_new) and f_new <= f + self.armijo * predicted:
                break
            # Minimum of the quadratic through f, its slope and f_new; kept within [0.1, 0.5] x t.
            curvature = f_new - f - predicted
            shrink = -predicted / (2 * curvature) if np.isfinite(f_new) and curvature > 0 else 0.5
            t *= float(np.clip(shrink, 0.1, 0.5))
        else:  # no decrease along this direction: forget the memory and keep the image
            self.pairs.clear()
            return _logged(self.losses)
        y = g_new - g
        sy = _dot(step, y)
        if sy > 1e-10 * _dot(y, y):  # keep only pairs with positive curvature (the model stays positive definite)
            self.pairs.append((step, y, 1.0 / sy))
            del self.pairs[: -self.history]
        self.x, self.f, self.g, self.losses = x_new, f_new, g_new, losses
        return _logged(losses)

    def current(self) -> np.ndarray:
        return self.x.reshape(self.shape[1:]).astype(np.float32)


def tv_prox(image, strength: float, *, iterations: int = 50, metric=None):
    """The box-constrained proximal operator of total variation: the image x in 0..1 minimising
    ``0.5 * |x - image|^2 + strength * total_variation(x)`` (``tf.image.total_variation``'s anisotropic TV).

    With ``metric`` (positive per-pixel weights w, the shape of ``image``) the distance is
    ``0.5 * sum(w * (x - image)^2)``: the prox in the metric of a diagonally preconditioned step.

    Solved on the dual with Beck and Teboulle's fast gradient projection (FGP, 2009); ``image`` is a
    float32 ``(1, H, W, 3)`` tensor. Cheap next to a VGG19 evaluation: elementwise work that XLA fuses.
    """
    import tensorflow as tf

    if strength <= 0:
        return tf.clip_by_value(image, 0.0, 1.0)
    inverse_metric = tf.ones_like(image) if metric is None else 1.0 / tf.convert_to_tensor(metric, tf.float32)
    return _tv_prox_compiled()(image, tf.constant(strength, tf.float32), tf.constant(iterations), inverse_metric)


_TV_PROX = None


def _tv_prox_compiled():
    global _TV_PROX
    if _TV_PROX is None:
        import tensorflow as tf

        def adjoint_difference(p, q):
            """D^T (p, q) for the vertical and horizontal neighbour differences D."""
            vertical = tf.pad(p, [[0, 0], [1, 0], [0, 0], [0, 0]]) - tf.pad(p, [[0, 0], [0, 1], [0, 0], [0, 0]])
            horizontal = tf.pad(q, [[0, 0], [0, 0], [1, 0], [0, 0]]) - tf.pad(q, [[0, 0], [0, 0], [0, 1], [0, 0]])
            return vertical + horizontal

        def prox(b, strength, iterations, inverse_metric):
            p = tf.zeros_like(b[:, 1:])
            q = tf.zeros_like(b[:, :, 1:])
            r, s, momentum = p, q, tf.constant(1.0)
            # 1 / Lipschitz constant of the dual gradient: strength * |D|^2 * max(1 / w), |D|^2 <= 8 in 2-D.
            rate = 1.0 / (8.0 * strength * tf.reduce_max(inverse_metric))
            for _ in tf.range(iterations):
                x = tf.clip_by_value(b - strength * inverse_metric * adjoint_difference(r, s), 0.0, 1.0)
                p_new = tf.clip_by_value(r + rate * (x[:, 1:] - x[:, :-1]), -1.0, 1.0)
                q_new = tf.clip_by_value(s + rate * (x[:, :, 1:] - x[:, :, :-1]), -1.0, 1.0)
                momentum_new = (1.0 + tf.sqrt(1.0 + 4.0 * momentum * momentum)) / 2.0
                r = p_new + (momentum - 1.0) / momentum_new * (p_new - p)
                s = q_new + (momentum - 1.0) / momentum_new * (q_new - q)
                p, q, momentum = p_new, q_new, momentum_new
            return tf.clip_by_value(b - strength * inverse_metric * adjoint_difference(p, q), 0.0, 1.0)

        _TV_PROX = tf.function(prox, jit_compile=True)
    return _TV_PROX


class ProxAdam:
    """Adam on the VGG19 losses with the total-variation term handled exactly, in Adam's own metric.

    The tutorial's Adam (same learning rate, beta_1 0.99, epsilon 0.1) follows the TV term through its
    gradient, a sign per pixel pair that flips as neighbours cross, so it zigzags; here each step is
    Adam's step on the smooth VGG19 losses, then `tv_prox` in the metric Adam scales by (sqrt(v) +
    epsilon per pixel), i.e. the exact minimiser of Adam's local model plus the true TV term in the
    0..1 box. One VGG19 evaluation per step; the losses returned are those of the image before it.
    """

    def __init__(self, objective: Objective, image: np.ndarray, *, learning_rate: float = 0.02, beta_1: float = 0.99,
                 beta_2: float = 0.999, epsilon: float = 0.1, prox_iterations: int = 50):
        self.objective = objective
        self.tv_weight = float(objective.weights.tv)
        self.x = np.asarray(image, np.float32)[None].copy()
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.prox_iterations = int(prox_iterations)
        self.m = np.zeros_like(self.x)
        self.v = np.zeros_like(self.x)
        self.steps = 0
        self.evaluations = 0

    def step(self) -> dict[str, float]:
        import tensorflow as tf

        self.evaluations += 1
        losses, gradient = self.objective.smooth_value_and_gradient(tf.constant(self.x))
        g = gradient.numpy()
        self.steps += 1
        self.m = self.beta_1 * self.m + (1 - self.beta_1) * g
        self.v = self.beta_2 * self.v + (1 - self.beta_2) * g * g
        m_hat = self.m / (1 - self.beta_1 ** self.steps)
        scale = np.sqrt(self.v / (1 - self.beta_2 ** self.steps)) + self.epsilon  # Adam's per-pixel metric
        z = self.x - self.learning_rate * m_hat / scale
        # argmin_x sum(scale * (x - z)^2) / (2 lr) + tv_weight * TV(x) over the box
        self.x = tv_prox(z, self.learning_rate * self.tv_weight, iterations=self.prox_iterations,
                         metric=scale).numpy()
        return _logged({k: float(v) for k, v in losses.items()})

    def current(self) -> np.ndarray:
        return self.x[0].copy()


LOGGED = ("loss", "content_loss", "style_loss", "tv_loss")


def _logged(losses: dict[str, float]) -> dict[str, float]:
    return {key: losses[key] for key in LOGGED}


def make_optimizer(name: str, objective: Objective, image: np.ndarray, *, learning_rate: float = 0.02,
                   history: int = 10):
    """``"prox-adam"`` -> `ProxAdam`, ``"lbfgs"`` -> `LBFGS`, ``"adam"`` -> `TutorialAdam`, starting
    from ``image`` (H, W, 3) in 0..1."""
    if name == "prox-adam":
        return ProxAdam(objective, image, learning_rate=learning_rate)
    if name == "adam":
        return TutorialAdam(objective, image, learning_rate=learning_rate)
    if name == "lbfgs":
        return LBFGS(objective, image, history=history)
    raise ValueError(f"unknown optimizer {name!r}")


# --- colour: luminance-only transfer -----------------------------------------------------------------------
# JPEG's full-range BT.601 YCbCr, on the 0..1 scale (Cb and Cr centred on 0.5).
_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_OFFSET = np.array([0.0, 0.5, 0.5])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in 0..1 -> YCbCr in 0..1.

    >>> rgb_to_ycbcr(np.array([1.0, 1.0, 1.0])).round(6).tolist()
    [1.0, 0.5, 0.5]
    """
    return np.asarray(rgb, np.float64) @ _TO_YCBCR.T + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of `rgb_to_ycbcr` (not clipped)."""
    return (np.asarray(ycbcr, np.float64) - _OFFSET) @ np.linalg.inv(_TO_YCBCR).T


def luminance(rgb: np.ndarray) -> np.ndarray:
    """The Y channel of ``rgb`` repeated on three channels: the image VGG19 sees in luminance-only transfer."""
    y = rgb_to_ycbcr(rgb)[..., 0]
    return np.repeat(y[..., None], 3, axis=-1).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style's luminance image with its mean and spread moved to the content's (Gatys et al. 2016,
    "Preserving color in neural artistic style transfer"), so the result's brightness stays the content's."""
    s, c = luminance(style)[..., 0], luminance(content)[..., 0]
    matched = (s - s.mean()) * (c.std() / max(float(s.std()), 1e-6)) + c.mean()
    return np.repeat(np.clip(matched, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


def with_content_colors(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``result``'s luminance with ``content``'s chroma (Cb, Cr), back in RGB 0..1 (same size required)."""
    merged = rgb_to_ycbcr(content)
    merged[..., 0] = rgb_to_ycbcr(result)[..., 0]
    return np.clip(ycbcr_to_rgb(merged), 0.0, 1.0).astype(np.float32)
