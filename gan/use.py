"""Using a trained generator: samples, walks through noise space, and the full evaluation."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from gan import metrics as gm
from gan.config import GANConfig, config_from_dict
from gan.train import GENERATOR_FILE, RUN_KIND, sampler
from rllab.checks import check_int
from rllab.data import get_dataset
from rllab.errors import UsageError
from rllab.runs import Run


def load_run(run_dir: str | os.PathLike):
    """``(run, config, generator)`` of a GAN run folder; a missing, foreign or empty one is a `UsageError`."""
    import keras

    run = Run.open(run_dir, RUN_KIND)
    try:
        config = config_from_dict(run.config)
    except TypeError as exc:
        raise UsageError(f"{str(run.config_path)!r} does not hold a valid gan config ({exc})") from None
    path = run.artifact(GENERATOR_FILE)
    if not path.is_file():
        raise UsageError(f"run {str(run.path)!r} has no {GENERATOR_FILE} yet (it is written after the first epoch)")
    return run, config, keras.models.load_model(path)


def _labels(config: GANConfig, n: int, digit: int | None) -> np.ndarray | None:
    if digit is not None:
        if not config.conditional:
            raise UsageError("--digit needs a conditional run (trained with --conditional)")
        check_int("--digit", digit, min_value=0, max_value=9)
        return np.full(n, digit, dtype=np.int32)
    return (np.arange(n) % 10).astype(np.int32) if config.conditional else None


def generate(generator, config: GANConfig, z: np.ndarray, labels: np.ndarray | None, truncation: float = 1.0) -> np.ndarray:
    """uint8 (N, 28, 28) images of ``generator`` in inference mode (``z`` truncated by `gan.models.truncate_noise`)."""
    from gan.models import truncate_noise

    return gm.to_uint8(sampler(generator, config.conditional)(truncate_noise(z, truncation, config.info_codes), labels))


def sample_images(run_dir, *, n: int = 64, out: str | None = None, out_dir: str | None = None,
                  digit: int | None = None, seed: int = 0, truncation: float = 1.0) -> str:
    """Draw ``n`` samples; write a grid PNG (``out``) and/or one PNG per sample (``out_dir``). Returns a summary line."""
    from PIL import Image

    from rllab.plotting import save_image_grid
    from rllab.runs import atomic_write

    n = check_int("--n", n, min_value=1)
    run, config, generator = load_run(run_dir)
    labels = _labels(config, n, digit)
    z = np.random.default_rng(seed).standard_normal((n, config.noise_dim)).astype(np.float32)
    images = generate(generator, config, z, labels, truncation)
    written = []
    if out is not None:
        ncols = 10 if (config.conditional and digit is None and n >= 10) else None
        written.append(str(save_image_grid(images, out, ncols=ncols)))
    if out_dir is not None:
        folder = Path(out_dir)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--out-dir {str(folder)!r} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            name = f"sample_{i:04d}" + (f"_class{int(labels[i])}" if labels is not None else "") + ".png"
            atomic_write(folder / name, lambda f, im=image: Image.fromarray(im).save(f, format="PNG"), binary=True)
        written.append(f"{n} PNGs in {folder}")
    what = f"class {digit}" if digit is not None else ("every class in turn" if config.conditional else "unconditional")
    return f"{n} samples ({what}) written: {', '.join(written)}"


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between rows of ``a`` and ``b`` (keeps noise vectors at typical norms)."""
    na = a / np.linalg.norm(a, axis=-1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip((na * nb).sum(-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    mixed = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, so, 1) * a + np.sin(t * omega) / np.where(safe, so, 1) * b,
                     (1 - t) * a + t * b)
    return mixed.astype(np.float32)


def interpolate(run_dir, out, *, n: int = 16, points: int = 4, steps: int = 16, fps: int = 12,
                digit: int | None = None, seed: int = 0, truncation: float = 1.0) -> str:
    """A looping animation of ``n`` walks through noise space, side by side in a grid."""
    from rllab.plotting import check_video_path, image_grid, save_video

    out = check_video_path("--out", out)
    run, config, generator = load_run(run_dir)
    labels = _labels(config, n, digit)
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((points, n, config.noise_dim)).astype(np.float32)
    path = [slerp(keys[k], keys[(k + 1) % points], t / steps) for k in range(points) for t in range(steps)]
    z = np.concatenate(path)
    images = generate(generator, config, z, None if labels is None else np.tile(labels, len(path)), truncation)
    frames = [image_grid(images[i * n:(i + 1) * n], ncols=min(10, n) if config.conditional else None)
              for i in range(len(path))]
    frames = [np.kron(f, np.ones((2, 2), dtype=np.uint8)) for f in frames]  # twice the size, like the grids
    save_video(frames, out, fps=fps)
    return f"{len(frames)} frames of {n} walks through {points} points written to {out}"


def evaluate_run(run_dir, *, samples: int = 10_000, seed: int = 0, classifier=None, data_path=None,
                 truncation: float = 1.0, verbose: bool = True) -> dict:
    """The full figures of a run's generator (see `gan.metrics`), printed and returned."""
    from gan.train import evaluate_generator

    samples = check_int("--samples", samples, min_value=10)
    run, config, generator = load_run(run_dir)
    arrays = get_dataset(config.dataset).load(data_path)
    judge = gm.Judge.load(gm.classifier_path(config.dataset, classifier, data_path=data_path))
    figures = evaluate_generator(generator, config, judge, arrays, seed=seed, samples=samples, truncation=truncation)
    figures = {"run_dir": str(run.path), "arch": config.arch, "conditional": config.conditional,
               "dataset": config.dataset, "classifier": str(judge.path), "truncation": truncation, **figures}
    if verbose:
        gm.print_figures(figures, get_dataset(config.dataset).class_names, file=sys.stdout)
    return figures
