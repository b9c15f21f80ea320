"""One reader for user-supplied image files (classifier ``predict``, style transfer, ...).

Files from phones, scanners and image editors come in every Pillow mode and orientation; each
command should see the same thing: an upright 8-bit ``RGB`` or ``L`` image, transparency flattened
onto white, or a one-line `UsageError` naming the file.

Use `open_image` when the caller wants to keep working in Pillow (resizing, for instance) and
`read_image` for the pixels as a NumPy array. Classifier ``load_image`` keeps its own resize and
inversion on top of the grayscale image::

    gray = open_image(path, mode="L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)
    pixels = np.asarray(gray, dtype=np.uint8)
"""
from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from rllab.checks import check_file
from rllab.errors import UsageError

MODES = ("RGB", "L")

DEFAULT_MAX_PIXELS = 64_000_000
"""8000 x 8000: above any phone photo we expect, far below what would exhaust memory once decoded
(64 MP is ~190 MB as RGB uint8 and several times that as the float tensors the models use)."""

# What a corrupt or truncated file makes Pillow's decoders raise, besides OSError.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, zlib.error)


def read_image(path: str | os.PathLike, *, mode: str = "RGB", max_pixels: int = DEFAULT_MAX_PIXELS,
               name: str = "image") -> np.ndarray:
    """The file at ``path`` as uint8 pixels: ``(H, W, 3)`` for ``mode="RGB"``, ``(H, W)`` for ``"L"``.

    See `open_image` for what is converted and refused; ``name`` says what the file is in errors.
    """
    return np.asarray(open_image(path, mode=mode, max_pixels=max_pixels, name=name), dtype=np.uint8)


def open_image(path: str | os.PathLike, *, mode: str = "RGB", max_pixels: int = DEFAULT_MAX_PIXELS,
               name: str = "image"):
    """The file at ``path`` as a loaded ``PIL.Image`` in ``mode`` ("RGB" or "L"), upright and 8-bit.

    - the EXIF orientation tag is applied (a portrait phone photo is stored sideways);
    - alpha (RGBA, LA, PA, palette transparency) is composited onto white;
    - 16-bit images (Pillow's "I;16*", and "I", which it also uses for 16-bit files) are scaled, not
      clipped, from 0..65535 to 0..255 (32768 -> 128); float ("F") images are taken as 0..1 when their
      maximum is at most 1, else as 0..255;
    - CMYK, YCbCr, LAB, HSV and bilevel images are converted; animations give their first frame;
    - images over ``max_pixels`` pixels are refused before they are decoded (Pillow's own
      decompression-bomb limit, twice ``PIL.Image.MAX_IMAGE_PIXELS``, still applies above that).

    Raises `UsageError` (one line, naming ``path``) for a missing, empty, non-image, truncated or
    oversized file. ``name`` is how the messages call the file (e.g. "content image").
    """
    from PIL import Image

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    path = check_file(name, path)
    if path.stat().st_size == 0:
        raise UsageError(f"cannot read {name} {str(path)!r}: the file is empty")
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below is the limit; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(image.size, max_pixels, name, path)
                image.load()
                image = _upright(image)
    except UsageError:
        raise
    except Image.DecompressionBombError:
        raise UsageError(f"cannot read {name} {str(path)!r}: over Pillow's decompression-bomb limit of "
                         f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels") from None
    except Image.UnidentifiedImageError:
        raise UsageError(f"cannot read {name} {str(path)!r}: not an image format Pillow can decode "
                         "(PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
    except _DECODE_ERRORS as exc:
        detail = " ".join(str(exc).split())  # one line, whatever the decoder put in it
        raise UsageError(f"cannot read {name} {str(path)!r}: truncated or corrupt "
                         f"({type(exc).__name__}{': ' + detail if detail else ''})") from None
    return _to_mode(image, mode)


def _check_size(size: tuple[int, int], max_pixels: int, name: str, path: Path) -> None:
    width, height = size
    if width * height > max_pixels:
        raise UsageError(f"{name} {str(path)!r} is {width}x{height} = {width * height:,} pixels, more than the "
                         f"{max_pixels:,} allowed; downscale it first")


def _upright(image):
    """A copy of ``image`` with its EXIF orientation applied; unchanged when the EXIF block is
    unreadable (the pixels are still good, and refusing the file for its metadata would be harsh)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS + (KeyError, TypeError):
        return image.copy()


def _to_mode(image, mode: str):
    """``image`` (any Pillow mode) converted to 8-bit ``mode`` with alpha flattened onto white."""
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        image = Image.fromarray(_deep_gray_to_uint8(image))
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode != mode:
        # Gray -> RGB -> "L" is exact in Pillow (the luma weights sum to one in fixed point).
        image = image.convert(mode)
    return image


def _deep_gray_to_uint8(image) -> np.ndarray:
    """Pixels of an "I;16*", "I" or "F" image on the 0..255 scale. Pillow's own convert("L") clips
    them instead, which turns a mid-grey 16-bit pixel (32768) white."""
    values = np.asarray(image)
    if image.mode == "F":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0
        return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    # Pillow opens 16-bit PNG/TIFF as "I;16" (or "I" in older releases and some TIFFs): a 0..65535 range.
    values = np.clip(values.astype(np.int64), 0, 65535)
    return ((values * 255 + 32767) // 65535).astype(np.uint8)
