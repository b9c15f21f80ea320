"""Generators and discriminators, chosen by ``--arch``.

Every generator maps z ~ N(0, I) (and a class label when conditional) to a (28, 28, 1) image in
[-1, 1] (tanh); every discriminator maps an image (and the label) to one logit. A conditional
model takes ``[z, label]`` / ``[image, label]``: G gets the label's embedding concatenated to z; D
adds to its logit the dot product of its last features with the label's embedding (a projection
discriminator).

With ``info_codes`` K > 0 (an InfoGAN categorical code, Chen et al. 2016; unconditional models) G
reads z with its first K entries replaced by the one-hot of their argmax, a category drawn uniformly
from z itself, so the exported generator still maps z alone to an image; D outputs K + 1 columns: the
real/fake logit, then K logits that must recover the category from the image (`gan.trainer.GAN`).
`with_category_prior` wraps such a generator so that z draws the categories with other probabilities;
`truncate_noise` scales the rest of z for cleaner, less varied samples.

None of the discriminators uses batch normalisation, so the trainer can score real and generated
images in one call without mixing their batch statistics.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gan.config import DCGAN_WIDTH, check_width
from rllab.checks import check_choice, check_float, check_int

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
EMBEDDING_DIM = 50


def info_category(z, info_codes: int):
    """The InfoGAN category of each noise vector: the argmax of its first ``info_codes`` entries (so it is
    uniform over the categories and needs no input of its own); G reads it, D's code logits must recover it."""
    return ops.argmax(z[:, :info_codes], axis=-1)


def argmax_shift(prior, *, points: int = 1001, iterations: int = 30) -> np.ndarray:
    """The shift b with P(argmax(z + b) = k) = prior[k] for z ~ N(0, I), so that a category drawn from z alone
    follows ``prior``; zero for a uniform prior. Solved by fixed-point steps on exact probabilities (the argmax
    is k when z_k + b_k beats every other z_j + b_j: a 1-D integral over z_k, on a grid).

    >>> b = argmax_shift([0.5, 0.3, 0.2])
    >>> z = np.random.default_rng(0).standard_normal((200_000, 3))
    >>> (np.bincount((z + b).argmax(1)) / len(z)).round(2)
    array([0.5, 0.3, 0.2])
    """
    from scipy.special import log_ndtr, logsumexp

    target = np.log(np.maximum(np.asarray(prior, dtype=np.float64), 1e-6))
    target -= logsumexp(target)
    shift = np.zeros_like(target)
    x = np.linspace(-12.0, 12.0, points)
    log_pdf = -0.5 * x**2 - 0.5 * np.log(2 * np.pi)
    diagonal = np.arange(len(shift))
    for _ in range(iterations):
        # log P(argmax = k) = log of the integral of pdf(x) * prod_{j != k} cdf(x + b_k - b_j) dx
        log_cdf = log_ndtr(x[None, None, :] + shift[:, None, None] - shift[None, :, None])  # (k, j, x)
        log_cdf[diagonal, diagonal] = 0.0
        log_probs = logsumexp(log_pdf + log_cdf.sum(1), axis=1)
        log_probs -= logsumexp(log_probs)
        # Half steps: the Gaussian argmax answers a shift more than one-for-one (whole steps diverge); half steps
        # reach 1e-10 within 20 iterations for 20 categories.
        shift += 0.5 * (target - log_probs)
        shift -= shift.mean()
    return shift.astype(np.float32)


CATEGORY_SHIFT = "category_shift"


def with_category_prior(generator: keras.Model, info_codes: int, prior) -> keras.Model:
    """``generator`` (with an InfoGAN code of ``info_codes`` categories) behind a layer that adds `argmax_shift`
    of ``prior`` to z's first entries, so that it draws category k with probability prior[k] and still maps z
    alone to an image. The shift is the bias of a frozen identity Dense layer, which plain
    ``keras.models.load_model`` reads; G itself (and so its checkpoints) is unchanged."""
    z = keras.Input(shape=(generator.input_shape[-1],), name="z")
    shifted = layers.Dense(info_codes, kernel_initializer="identity", trainable=False, dtype="float32",
                           name=CATEGORY_SHIFT)(z[:, :info_codes])
    shifted_z = layers.Concatenate(dtype="float32", name="shifted_z")([shifted, z[:, info_codes:]])
    model = keras.Model(z, generator(shifted_z), name=generator.name)
    set_category_prior(model, prior)
    return model


def set_category_prior(model: keras.Model, prior) -> None:
    """Make ``model`` (made by `with_category_prior`) draw the categories by ``prior`` from now on."""
    model.get_layer(CATEGORY_SHIFT).bias.assign(argmax_shift(prior))


def truncate_noise(z: np.ndarray, truncation: float, info_codes: int = 0) -> np.ndarray:
    """``z`` with its noise entries scaled by ``truncation`` (the truncation trick: samples nearer the mode of the
    noise are cleaner and less varied). The first ``info_codes`` entries, whose argmax picks the InfoGAN category,
    are left alone, so the categories keep their shares. ``truncation`` 1 returns ``z`` unchanged.

    >>> truncate_noise(np.ones((1, 4), np.float32), 0.5, info_codes=1).tolist()
    [[1.0, 0.5, 0.5, 0.5]]
    """
    truncation = check_float("--truncation", truncation, min_value=0.0, max_value=1.0, min_inclusive=False)
    if truncation == 1.0:
        return z
    z = np.array(z, dtype=np.float32, copy=True)
    z[:, info_codes:] *= truncation
    return z


def _generator_inputs(noise_dim: int, conditional: bool, info_codes: int = 0):
    z = keras.Input(shape=(noise_dim,), name="z")
    if info_codes:
        category = ops.one_hot(info_category(z, info_codes), info_codes, dtype=z.dtype)
        return [z], layers.Concatenate(name="code_and_noise")([category, z[:, info_codes:]])
    if not conditional:
        return [z], z
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(NUM_CLASSES, EMBEDDING_DIM, name="label_embedding")(label)
    return [z, label], layers.Concatenate(name="z_and_label")([z, embedded])


def _discriminator_inputs(conditional: bool):
    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    if not conditional:
        return [image], image
    return [image, keras.Input(shape=(), dtype="int32", name="label")], image


def _discriminator_head(inputs, features, info_codes: int = 0, info_projection: bool = False):
    """The logit: Dense(1) on D's features, plus, when conditional, the projection of the features on
    the label's embedding (Miyato & Koyama's projection discriminator); with ``info_codes``, the code's
    logits after it, and with ``info_projection`` the projection on the embedding of the category D sorts the
    image into (its code probabilities, without gradient), so D judges each image against its category."""
    logit = layers.Dense(1, name="logit")(features)
    if len(inputs) > 1:
        embedded = layers.Embedding(NUM_CLASSES, features.shape[-1], name="label_projection")(inputs[1])
        logit = layers.Add(name="logit_and_projection")([logit, layers.Dot(axes=1)([embedded, features])])
    if info_codes:
        code_logits = layers.Dense(info_codes, name="code_logits")(features)
        if info_projection:
            # sum_k p_k <e_k, features> as p . (features @ E): K numbers per image, not a feature-sized embedding
            sorting = ops.stop_gradient(ops.softmax(code_logits))
            projections = layers.Dense(info_codes, use_bias=False, kernel_initializer="zeros",
                                       name="category_projection")(features)
            logit = layers.Add(name="logit_and_category_projection")([logit, layers.Dot(axes=1)([sorting, projections])])
        logit = layers.Concatenate(name="logit_and_code")([logit, code_logits])
    return layers.Activation("linear", dtype="float32", name="logit_float32")(logit)


def _model(inputs, outputs, name):
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


# Batch norm is per replica under a multi-replica --strategy (Keras' synchronized batch norm aborts with
# collective shape mismatches when G runs in both the D and the G phase of one step, TF 2.21).

# --- tutorial: https://www.tensorflow.org/tutorials/generative/dcgan, layer for layer ---------------------------
def tutorial_generator(noise_dim: int = 100, conditional: bool = False, info_codes: int = 0) -> keras.Model:
    inputs, x = _generator_inputs(noise_dim, conditional, info_codes)
    x = layers.Dense(7 * 7 * 256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)
    x = layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    out = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh", dtype="float32")(x)
    return _model(inputs, out, "tutorial_generator")


def tutorial_discriminator(conditional: bool = False, info_codes: int = 0, info_projection: bool = False) -> keras.Model:
    inputs, x = _discriminator_inputs(conditional)
    x = layers.Conv2D(64, 5, strides=2, padding="same")(x)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Conv2D(128, 5, strides=2, padding="same")(x)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    return _model(inputs, _discriminator_head(inputs, x, info_codes, info_projection), "tutorial_discriminator")


# --- dcgan: 3x3/4x4 kernels, widths w/2w (--width; 32/64 by default; the tutorial's are 64-256) ---
def dcgan_generator(noise_dim: int = 100, conditional: bool = False, info_codes: int = 0,
                    width: int = DCGAN_WIDTH) -> keras.Model:
    """z -> Dense 7x7x2w -> BN, LeakyReLU -> Conv 2w 3x3 (7x7) -> BN, LeakyReLU -> ConvT w 4x4 s2 (14x14)
    -> BN, LeakyReLU -> ConvT 1 4x4 s2 (28x28), tanh."""
    inputs, x = _generator_inputs(noise_dim, conditional, info_codes)
    x = layers.Dense(7 * 7 * 2 * width, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((7, 7, 2 * width))(x)
    x = layers.Conv2D(2 * width, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    out = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", dtype="float32")(x)
    return _model(inputs, out, "dcgan_generator")


def dcgan_discriminator(conditional: bool = False, info_codes: int = 0, width: int = DCGAN_WIDTH, info_projection: bool = False) -> keras.Model:
    """image -> Conv w 4x4 s2 (14x14) -> LeakyReLU -> Conv 2w 4x4 s2 (7x7) -> LeakyReLU -> Conv 2w 3x3
    -> LeakyReLU -> Dense 1 (no dropout, no batch norm)."""
    inputs, x = _discriminator_inputs(conditional)
    x = layers.Conv2D(width, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * width, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * width, 3, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    return _model(inputs, _discriminator_head(inputs, x, info_codes, info_projection), "dcgan_discriminator")


# --- mlp: the course notes' first GAN -------------------------------------------------------------------------
def mlp_generator(noise_dim: int = 100, conditional: bool = False, info_codes: int = 0) -> keras.Model:
    """z -> Dense 256 -> 512 -> 1024 (LeakyReLU 0.2) -> Dense 784, tanh -> 28x28x1."""
    inputs, x = _generator_inputs(noise_dim, conditional, info_codes)
    for units in (256, 512, 1024):
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(28 * 28, activation="tanh", dtype="float32")(x)
    out = layers.Reshape(IMAGE_SHAPE, dtype="float32")(x)
    return _model(inputs, out, "mlp_generator")


def mlp_discriminator(conditional: bool = False, info_codes: int = 0, info_projection: bool = False) -> keras.Model:
    """image -> Flatten -> Dense 512 -> 256 (LeakyReLU 0.2, Dropout 0.3) -> Dense 1."""
    inputs, x = _discriminator_inputs(conditional)
    x = layers.Flatten()(x)
    for units in (512, 256):
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(0.3)(x)
    return _model(inputs, _discriminator_head(inputs, x, info_codes, info_projection), "mlp_discriminator")


ARCHITECTURES = {
    "tutorial": (tutorial_generator, tutorial_discriminator),
    "dcgan": (dcgan_generator, dcgan_discriminator),
    "mlp": (mlp_generator, mlp_discriminator),
}


def build_gan_models(arch: str, *, noise_dim: int = 100, conditional: bool = False,
                     info_codes: int = 0, width: int | None = None, info_projection: bool = False) -> tuple[keras.Model, keras.Model]:
    """``(generator, discriminator)`` of ``arch`` (uncompiled; built under the current dtype policy);
    ``width``: dcgan's (None: its default)."""
    arch = check_choice("--arch", arch, ARCHITECTURES)
    noise_dim = check_int("--noise-dim", noise_dim, min_value=1)
    make_g, make_d = ARCHITECTURES[arch]
    width = check_width(arch, width)
    sizes = {} if width is None else {"width": width}
    return make_g(noise_dim, conditional, info_codes, **sizes), make_d(conditional, info_codes, info_projection=info_projection, **sizes)
