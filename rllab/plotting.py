"""Headless plots, image grids and GIFs shared by every subsystem."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def plt():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (the lab runs headless)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    return pyplot


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` points (shorter at the start), same length as ``values``."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    window = max(1, int(window))
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, values.size + 1)
    starts = np.maximum(0, ends - window)
    return (cumsum[ends] - cumsum[starts]) / (ends - starts)


def plot_curves(
    path: str | os.PathLike,
    series: Mapping[str, Sequence[float]],
    *,
    x: Sequence[float] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    smooth: int | None = None,
) -> Path:
    """One axes with a line per series (plus its moving average when ``smooth`` is given)."""
    pyplot = plt()
    fig, ax = pyplot.subplots(figsize=(7, 4))
    for name, values in series.items():
        values = np.asarray(values, dtype=np.float64)
        xs = np.arange(len(values)) if x is None else np.asarray(x)[: len(values)]
        if smooth:
            ax.plot(xs, values, alpha=0.3, linewidth=0.8)
            ax.plot(xs, moving_average(values, smooth), label=f"{name} (mean of {smooth})")
        else:
            ax.plot(xs, values, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(loc="best", fontsize="small")
    return save_figure(fig, path)


def plot_metric_panels(path: str | os.PathLike, history: Mapping[str, Sequence[float]], *, xlabel: str = "epoch") -> Path:
    """A grid of small plots, one per metric (NaN entries are gaps)."""
    pyplot = plt()
    names = sorted(history)
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = pyplot.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = np.asarray(history[name], dtype=np.float64)
        ax.plot(np.arange(len(values)), values, marker="." if len(values) < 30 else None)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel(xlabel, fontsize="small")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return save_figure(fig, path)


def image_grid(images: np.ndarray, *, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, H, W[, C]) images (floats in [0, 1] or uint8) into one uint8 (rows*H, cols*W[, C]) image."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.dtype != np.uint8:
        images = (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n, h, w = images.shape[:3]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad, *images.shape[3:]), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = image
    return grid


def save_image_grid(images: np.ndarray, path: str | os.PathLike, *, ncols: int | None = None, scale: int = 2) -> Path:
    """Save `image_grid(images)` as a PNG, enlarged ``scale`` times so small digits stay visible."""
    from PIL import Image

    from rllab.runs import atomic_write

    grid = Image.fromarray(image_grid(images, ncols=ncols))
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    return atomic_write(path, lambda f: grid.save(f, format="PNG"), binary=True)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, *, fps: int = 30) -> Path:
    """Save uint8 RGB frames as a looping GIF (or MP4 when ``path`` ends in .mp4 and ffmpeg is present)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, list(frames), format="GIF", duration=1000 / fps, loop=0)
    else:
        imageio.mimsave(path, list(frames), fps=fps)
    return path


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    from rllab.runs import atomic_write

    fig.tight_layout()
    out = atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi), binary=True)
    plt().close(fig)
    return out
