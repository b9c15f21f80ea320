"""What ``rllab style`` does: check the inputs, open the run folder, optimise the image through
`rllab.loop.train_loop` (one step = one optimiser iteration), write the result and the run's artifacts.

Run folder (``runs/style/<timestamp>`` by default)::

    config.json                 every StyleConfig field, seed, versions, command line
    metrics.csv, tensorboard/   total, content, style and TV loss and VGG19 evaluations, one row per step
    checkpoints/                the current image (Ctrl-C, every 10 steps, the end): --resume continues
    artifacts/history.png       the loss curves
    artifacts/frames/           the image every --save-every steps; artifacts/progress.gif animates them
    artifacts/result.png        the result (also written to --out), artifacts/sheet.png: content | style(s) | result
    artifacts/results.json      final losses, seconds, evaluations, inputs
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import keras
import numpy as np

from gan.style_config import BUDGET_FIELDS, MIN_SIDE, StyleConfig, config_from_dict
from rllab.errors import UsageError
from rllab.images import DEFAULT_MAX_PIXELS, open_image
from rllab.lifecycle import notice

RUN_KIND = "style"
RESULTS_FILE = "results.json"
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                  ".tif": "TIFF", ".tiff": "TIFF"}
CHECKPOINT_EVERY = 10
"""Steps between checkpoints of the image (Ctrl-C and the end also save one)."""
GIF_FPS = 5


# --- inputs ------------------------------------------------------------------------------------------------
def check_output(path: str | os.PathLike) -> Path:
    """``--out`` as a `Path`, refused before any work when its format is unknown or its folder cannot
    be written. Missing folders are fine (created when the result is written); the nearest existing
    one gets a real probe file, which catches read-only mounts that permission bits do not show."""
    from rllab.plotting import check_output_path

    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise UsageError(f"--out {str(path)!r}: unknown image format {path.suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(OUTPUT_FORMATS)}")
    check_output_path("--out", path)
    folder = next((p for p in path.absolute().parents if p.exists()), Path("."))
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"--out {str(path)!r}: cannot write in {str(folder)!r} ({exc.strerror or exc})") from None
    return path


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so that the long side is ``long_side``, keeping the aspect ratio.

    >>> fit_size(600, 400, 300), fit_size(400, 600, 512)
    ((300, 200), (341, 512))
    """
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class InputImage:
    """A user's image file, read once (`rllab.images.open_image`: EXIF, modes, size limit), resized on demand."""

    def __init__(self, path: str | os.PathLike, name: str, *, max_pixels: int):
        self.path = str(path)
        self.name = name
        self.image = open_image(path, mode="RGB", max_pixels=max_pixels, name=name)
        width, height = self.image.size
        if min(width, height) < MIN_SIDE:
            raise UsageError(f"{name} {self.path!r} is {width}x{height} pixels; VGG19 needs at least "
                             f"{MIN_SIDE} on each side")

    def size_at(self, long_side: int, flag: str) -> tuple[int, int]:
        """The ``(width, height)`` at ``long_side``; a side under 32 px is a `UsageError` naming ``flag``."""
        width, height = fit_size(*self.image.size, long_side)
        if min(width, height) < MIN_SIDE:
            raise UsageError(f"{self.name} {self.path!r} ({self.image.width}x{self.image.height}) would be "
                             f"{width}x{height} at {flag}; VGG19 needs at least {MIN_SIDE} px on each side: "
                             f"raise {flag.split()[0]} or crop the image")
        return width, height

    def pixels(self, long_side: int) -> np.ndarray:
        """float32 ``(H, W, 3)`` in 0..1 with the long side ``long_side`` (Lanczos resampling)."""
        from PIL import Image

        size = fit_size(*self.image.size, long_side)
        return np.asarray(self.image.resize(size, Image.LANCZOS), np.float32) / 255.0


def check_sizes(config: StyleConfig, content: InputImage, styles: Sequence[InputImage]) -> None:
    """Every image is at least 32 px a side at every scale (before any work starts)."""
    for size in config.sizes:
        content.size_at(size, f"--max-size {size}" if config.scales is None else f"--scales size {size}")
        for style in styles:
            style.size_at(max(1, round(size * config.style_scale)), f"--style-scale {config.style_scale:g} (long side "
                                                                      f"{round(size * config.style_scale)})")


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def write_image(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Save uint8 RGB ``pixels`` atomically in the format the suffix names (PNG for unknown ones)."""
    from PIL import Image

    from rllab.runs import atomic_write

    path = Path(path)
    image_format = OUTPUT_FORMATS.get(path.suffix.lower(), "PNG")
    options = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
    image = Image.fromarray(pixels)
    try:
        return atomic_write(path, lambda f: image.save(f, format=image_format, **options), binary=True)
    except OSError as exc:
        raise UsageError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def side_by_side(images: Sequence[np.ndarray], *, height: int, gap: int = 8) -> np.ndarray:
    """uint8 images scaled to ``height`` and laid out left to right on white, ``gap`` px apart."""
    from PIL import Image

    scaled = []
    for pixels in images:
        image = Image.fromarray(pixels)
        scaled.append(np.asarray(image.resize((max(1, round(image.width * height / image.height)), height),
                                              Image.LANCZOS)))
    sheet = np.full((height, sum(s.shape[1] for s in scaled) + gap * (len(scaled) - 1), 3), 255, np.uint8)
    left = 0
    for pixels in scaled:
        sheet[:, left:left + pixels.shape[1]] = pixels
        left += pixels.shape[1] + gap
    return sheet


# --- the run -----------------------------------------------------------------------------------------------
def stylize(
    config: StyleConfig | None,
    content_path: str | os.PathLike,
    style_paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    seed: int | None = None,
    resume: bool = False,
    given: Mapping[str, Any] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    extractor=None,
) -> dict:
    """Stylize ``content_path`` after ``style_paths`` and write the result to ``out``; returns the
    figures of ``artifacts/results.json``.

    Every input is checked before the run folder is created. Ctrl-C stops after the current
    iteration, writes the current image to ``out`` and raises `rllab.lifecycle.RunInterrupted`;
    ``resume=True`` (the same command with ``--resume``) continues from the saved image, with a fresh
    optimiser memory. ``extractor`` (a `gan.style.Extractor` of the config's layers) skips building
    VGG19, for tests that share one.
    """
    from rllab.lifecycle import RunInterrupted, open_run

    out = check_output(out)
    if not style_paths:
        raise UsageError("give at least one style image")
    content = InputImage(content_path, "content image", max_pixels=max_pixels)
    styles = [InputImage(p, f"style image {i + 1}" if len(style_paths) > 1 else "style image", max_pixels=max_pixels)
              for i, p in enumerate(style_paths)]
    built: dict[str, Any] = {}

    def prepare(new_config: StyleConfig, run_seed: int) -> None:
        """Everything that can fail on the user's inputs, before a run folder exists."""
        from gan.style import blend_weights
        from rllab.seeding import seed_everything

        blend_weights(new_config.style_weights, len(styles))
        check_sizes(new_config, content, styles)
        seed_everything(run_seed)  # random VGG19 weights (--weights none) and the noise start follow --seed
        built["extractor"] = extractor if extractor is not None else _build_extractor(new_config)

    start = open_run("style", RUN_KIND, config, seed=seed, run_dir=run_dir, resume=resume, from_dict=config_from_dict,
                     given=given, budget=BUDGET_FIELDS,
                     before_create=lambda new_config: prepare(new_config, 0 if seed is None else seed))
    run, config = start.run, start.config
    if "extractor" not in built:
        prepare(config, start.seed)
    run.write_json("inputs.json", {"content": str(content_path), "styles": [str(p) for p in style_paths],
                                   "out": str(out)})
    transfer = _Transfer(config, content, styles, built["extractor"], seed=start.seed)
    result = transfer.run(run, resumed=start.resumed, progress=progress)
    final = transfer.display_image()
    write_image(out, final)
    write_image(run.artifact("result.png"), final)
    if result.interrupted:
        raise RunInterrupted(run.path, f"the image at step {result.step}/{config.total_steps} is in {out} and checkpointed")
    transfer.write_artifacts(run, final)
    figures = {
        **transfer.final_losses(),
        "steps": result.step,
        "evaluations": transfer.total_evaluations(),
        "seconds": transfer.seconds,
        "size": [int(final.shape[1]), int(final.shape[0])],
        "optimizer": config.optimizer,
        "precision": transfer.precision,
        "weights": config.weights,
        "out": str(out),
        "run_dir": str(run.path),
    }
    run.write_json(RESULTS_FILE, figures)
    return figures


def _build_extractor(config: StyleConfig):
    from gan.style import build_extractor, resolve_precision

    weights = config.weights
    if weights is None:
        notice("warning: --weights none gives VGG19 random weights: the result is not a real stylization "
               "(use it for tests and benchmarks only)")
    return build_extractor(config.style_layers, config.content_layers, weights,
                           precision=resolve_precision(config.precision))


class _Transfer:
    """The optimisation of one run, scale after scale, as a `train_loop` step function."""

    def __init__(self, config: StyleConfig, content: InputImage, styles: Sequence[InputImage], extractor, *, seed: int):
        from gan.style import blend_weights, resolve_precision

        self.config = config
        self.content = content
        self.styles = styles
        self.extractor = extractor
        self.precision = resolve_precision(config.precision)
        self.blend = blend_weights(config.style_weights, len(styles))
        self.rng = np.random.default_rng(seed)
        self.scale: int | None = None
        self.optimizer = None
        self.objective = None
        self.image: np.ndarray | None = None  # set by a restored checkpoint before the first step
        self.content_pixels: np.ndarray | None = None
        self.evaluations = 0
        self.seconds = 0.0
        self.frames_dir: Path | None = None

    # The image VGG19 sees at scale k, and how it becomes the image the user gets.
    def _prepare_scale(self, scale: int) -> None:
        from gan.style import LossWeights, Objective, luminance, make_optimizer, match_luminance

        config = self.config
        size = config.sizes[scale]
        content = self.content.pixels(size)
        styles = [s.pixels(max(1, round(size * config.style_scale))) for s in self.styles]
        self.content_pixels = content
        if config.preserve_colors:
            styles = [match_luminance(style, content) for style in styles]
            content = luminance(content)
        weights = LossWeights(content=config.content_weight, style=config.style_weight, tv=config.tv_weight)
        self.objective = Objective(self.extractor, content, styles, self.blend, weights)
        start = self._starting_image(content)
        if self.optimizer is not None:
            self.evaluations += self.optimizer.evaluations
        self.optimizer = make_optimizer(config.optimizer, self.objective, start, learning_rate=config.learning_rate,
                                        history=config.history)
        self.scale = scale

    def _starting_image(self, content: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        height, width = content.shape[:2]
        previous = self.current_image()
        if previous is not None:  # a coarser scale's result or a restored image: upsample it
            if previous.shape[:2] == (height, width):
                return previous
            return np.clip(tf.image.resize(previous, (height, width), method="bicubic").numpy(), 0.0, 1.0)
        if self.config.init == "content":
            return content
        if self.config.init == "style":
            style = self.styles[0].image.resize((width, height))
            pixels = np.asarray(style, np.float32) / 255.0
            return np.repeat(luminance_of(pixels)[..., None], 3, axis=-1) if self.config.preserve_colors else pixels
        return self.rng.uniform(0.0, 1.0, size=content.shape).astype(np.float32)

    def current_image(self) -> np.ndarray | None:
        return self.optimizer.current() if self.optimizer is not None else self.image

    def display_image(self) -> np.ndarray:
        """The current image as the user sees it (uint8; with the content's colours under --preserve-colors)."""
        from gan.style import with_content_colors

        image = self.current_image()
        if image is None:  # nothing ran (a finished run resumed without more steps)
            self._prepare_scale(len(self.config.sizes) - 1)
            image = self.current_image()
        if self.config.preserve_colors:
            content = self.content_pixels
            if content is None or content.shape != image.shape:
                content = self.content.pixels(max(image.shape[:2]))
            image = with_content_colors(image, content)
        return to_uint8(image)

    def step(self, step: int) -> dict[str, float]:
        scale = min(step // self.config.steps, len(self.config.sizes) - 1)
        if scale != self.scale:
            self._prepare_scale(scale)
        started = time.perf_counter()
        logs = self.optimizer.step()
        self.seconds += time.perf_counter() - started
        if self.config.save_every and (step + 1) % self.config.save_every == 0:
            write_image(self.frames_dir / f"step_{step + 1:05d}.png", self.display_image())
        return {**logs, "evaluations": float(self.total_evaluations())}

    def total_evaluations(self) -> int:
        """VGG19 loss-and-gradient evaluations so far in this process, all scales together."""
        return self.evaluations + (self.optimizer.evaluations if self.optimizer is not None else 0)

    def final_losses(self) -> dict[str, float]:
        import tensorflow as tf

        from gan.style import LOGGED

        if self.objective is None:
            self._prepare_scale(len(self.config.sizes) - 1)
        image = self.current_image()
        losses = self.objective.losses(tf.constant(image[None], tf.float32))
        return {key: float(losses[key]) for key in LOGGED}

    def run(self, run, *, resumed: bool, progress: bool):
        from rllab.callbacks import standard_callbacks
        from rllab.checkpoints import Checkpointer
        from rllab.loop import train_loop

        self.frames_dir = run.artifact("frames")
        checkpointer = Checkpointer(run.checkpoints_dir, max_to_keep=1,
                                    get_bulk_state=lambda: {"image": np.asarray(self.current_image(), np.float32)},
                                    set_bulk_state=self._restore)
        if resumed and not checkpointer.restore():
            notice(f"{str(run.path)!r} holds no checkpoint yet (stopped in its first seconds): "
                   "starting it from the beginning")
        done = int(checkpointer.step.numpy())
        total = self.config.total_steps
        callbacks = [StyleProgress(total, done, enabled=progress),
                     *standard_callbacks(run, resume=resumed, plot_every=None,
                                         csv_keys=("loss", "content_loss", "style_loss", "tv_loss", "evaluations"))]
        return train_loop(self.step, total_steps=total, steps_per_epoch=1, callbacks=callbacks,
                          checkpointer=checkpointer, checkpoint_every_epochs=CHECKPOINT_EVERY, progress=False)

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.image = np.asarray(state["image"], np.float32)

    def write_artifacts(self, run, final: np.ndarray) -> None:
        """The progress GIF (frames at the result's size) and the content | style(s) | result sheet."""
        from PIL import Image

        from rllab.plotting import save_video

        height, width = final.shape[:2]
        frames = []
        for path in sorted(self.frames_dir.glob("step_*.png")) if self.frames_dir.is_dir() else []:
            with Image.open(path) as frame:
                frames.append(np.asarray(frame.convert("RGB").resize((width, height), Image.BILINEAR)))
        if frames:
            save_video([*frames, final], run.artifact("progress.gif"), fps=GIF_FPS)
        styles = [to_uint8(s.pixels(max(height, width))) for s in self.styles]
        sheet = side_by_side([to_uint8(self.content.pixels(max(height, width))), *styles, final], height=height)
        write_image(run.artifact("sheet.png"), sheet)


def luminance_of(rgb: np.ndarray) -> np.ndarray:
    from gan.style import rgb_to_ycbcr

    return rgb_to_ycbcr(rgb)[..., 0].astype(np.float32)


class StyleProgress(keras.callbacks.Callback):
    """A progress bar with the current losses on a terminal; otherwise a line every ~5 % of the steps
    (and at least every ``seconds_between_lines``)."""

    seconds_between_lines = 30.0

    def __init__(self, total: int, start: int, *, enabled: bool = True):
        super().__init__()
        self.total, self.start, self.enabled = total, start, enabled
        self.every = max(1, total // 20)
        self.bar = None
        self.started = self.last_line = time.monotonic()

    def on_train_begin(self, logs=None):
        from gan.style import LOGGED

        if self.enabled and sys.stdout.isatty():
            self.bar = keras.utils.Progbar(self.total, unit_name="step", stateful_metrics=list(LOGGED))
            self.bar.update(self.start)

    def on_train_batch_end(self, batch, logs=None):
        from gan.style import LOGGED
        from rllab.loop import format_number

        if not self.enabled or not logs:
            return
        step = batch + 1
        shown = [(key, logs[key]) for key in LOGGED if key in logs]
        if self.bar is not None:
            self.bar.update(step, values=shown)
        elif step % self.every == 0 or step == self.total or time.monotonic() - self.last_line > self.seconds_between_lines:
            self.last_line = time.monotonic()
            figures = " ".join(f"{key}={format_number(value)}" for key, value in shown)
            print(f"step {step}/{self.total} {self.last_line - self.started:.1f}s {figures}", flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            print(flush=True)
