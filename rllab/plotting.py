"""Headless plots, image grids and GIF/MP4 animations shared by every subsystem."""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from rllab.errors import UsageError


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


VIDEO_SUFFIXES = (".gif", ".mp4")


def check_video_path(name: str, path: str | os.PathLike) -> Path:
    """``path`` as a `Path` if it ends in a suffix `save_video` writes, or a one-line `UsageError`."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"{name} must end in {' or '.join(VIDEO_SUFFIXES)}, got {str(path)!r}")
    check_output_path(name, path)
    return path


def check_output_path(name: str, path: str | os.PathLike) -> Path:
    """``path`` as a `Path` if a file can be written there (checked before long work, not after it):
    an existing folder, a file where a folder is needed, or an unwritable folder is a one-line
    `UsageError`. Missing folders are fine: the writer creates them."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{name} {str(path)!r} is a folder; give a file name")
    existing = next((p for p in path.parents if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"{name} {str(path)!r}: {str(existing)!r} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{name} {str(path)!r}: folder {str(existing)!r} is not writable")
    return path


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike, *, fps: float = 30) -> Path:
    """Save uint8 frames, each (H, W, 3) RGB or (H, W) gray and all the same size, as an animation
    whose format follows the suffix: a looping .gif or an H.264 .mp4 (through imageio-ffmpeg).

    Written to a temporary sibling with the same suffix (imageio picks the format from it), then
    renamed into place, so an interrupted write never leaves a truncated file.
    """
    import imageio.v2 as imageio

    path = check_video_path("video", path)
    frames = _video_frames(frames)
    fps = float(fps)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401  (imageio's FFMPEG plugin runs the binary this package ships)
        except ImportError:
            raise UsageError(f"cannot write {str(path)!r}: .mp4 needs the imageio-ffmpeg package "
                             "(pip install imageio-ffmpeg); or write a .gif") from None
        # H.264 in yuv420p halves the chroma resolution, so odd sizes are refused: repeat the last
        # row/column instead of letting imageio rescale every frame to a multiple of 16.
        frames = [_pad_to_even(frame) for frame in frames]
        options = dict(format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1)
    else:
        options = dict(format="GIF", duration=1000 / fps, loop=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    except OSError as exc:
        raise UsageError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        imageio.mimsave(tmp, frames, **options)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, *, fps: float = 30) -> Path:
    """`save_video` under its older name (it always wrote .mp4 too when the path said so)."""
    return save_video(frames, path, fps=fps)


def _video_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as RGB uint8 arrays of one size (gray ones stacked to three channels)."""
    arrays = [np.asarray(frame) for frame in frames]
    if not arrays:
        raise ValueError("no frames to save")
    for i, frame in enumerate(arrays):
        if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] == 3)):
            raise ValueError(f"frame {i} must be uint8 (H, W) or (H, W, 3), got {frame.dtype} {frame.shape}")
        if frame.shape[:2] != arrays[0].shape[:2]:
            raise ValueError(f"frame {i} is {frame.shape[:2]}, frame 0 is {arrays[0].shape[:2]}: sizes must match")
    return [np.repeat(frame[..., None], 3, axis=-1) if frame.ndim == 2 else frame for frame in arrays]


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    from rllab.runs import atomic_write

    fig.tight_layout()
    out = atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi), binary=True)
    plt().close(fig)
    return out
