"""rllab.images.read_image: orientation, deep and odd modes, and one-line errors for bad files."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from rllab.errors import UsageError
from rllab.images import open_image, read_image


def _quadrants(height: int = 32, width: int = 48) -> np.ndarray:
    """An RGB image whose four quadrants differ (so every rotation and flip looks different)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2, : width // 2] = (250, 20, 20)
    pixels[: height // 2, width // 2:] = (20, 250, 20)
    pixels[height // 2:, : width // 2] = (20, 20, 250)
    pixels[height // 2:, width // 2:] = (240, 240, 240)
    return pixels


def test_exif_orientation_6_is_turned_upright(tmp_path):
    stored = _quadrants()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the viewer must rotate the stored image 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    pixels = read_image(path).astype(np.int16)
    clockwise = np.rot90(stored, k=-1).astype(np.int16)
    assert pixels.shape == clockwise.shape == (48, 32, 3)
    assert np.abs(pixels - clockwise).mean() < 6  # JPEG noise only
    assert np.abs(pixels - np.rot90(stored, k=1)).mean() > 50  # not the other way round


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    ramp = np.array([[0, 257, 32768, 65535]], np.uint16).repeat(3, axis=0)
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")  # really a 16-bit file
    gray = read_image(path, mode="L")
    assert gray.dtype == np.uint8 and gray[0].tolist() == [0, 1, 128, 255]
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(path)
    assert read_image(path, mode="L").mean() == pytest.approx(128, abs=1)
    rgb = read_image(path, mode="RGB")
    assert rgb.shape == (8, 8, 3) and np.all(rgb == 128)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)  # opaque red on top, fully transparent black below
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    pixels = read_image(tmp_path / "rgba.png")
    assert pixels[0, 0].tolist() == [255, 0, 0] and pixels[3, 3].tolist() == [255, 255, 255]

    la = Image.new("LA", (4, 4), (0, 0))
    la.putpixel((0, 0), (0, 255))
    la.save(tmp_path / "la.png")
    gray = read_image(tmp_path / "la.png", mode="L")
    assert gray.shape == (4, 4) and gray[0, 0] == 0 and gray[3, 3] == 255


def test_palette_with_a_transparent_index_and_cmyk_convert(tmp_path):
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    palette.putpixel((0, 0), 0)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette.png", transparency=0)
    pixels = read_image(tmp_path / "palette.png")
    assert pixels[0, 0].tolist() == [255, 255, 255] and pixels[1, 1].tolist() == [0, 0, 255]

    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.tif")  # pure red in print colours
    cmyk = read_image(tmp_path / "cmyk.tif")
    assert cmyk.shape == (4, 4, 3) and cmyk[0, 0].tolist() == [255, 0, 0]


def test_open_image_gives_the_pil_image_the_classifier_resizes(tmp_path):
    Image.fromarray(_quadrants()).save(tmp_path / "q.png")
    image = open_image(tmp_path / "q.png", mode="L")
    assert image.mode == "L" and image.size == (48, 32)
    assert np.array_equal(np.asarray(image), read_image(tmp_path / "q.png", mode="L"))


def _png_bytes(tmp_path) -> bytes:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "ok.png")
    return (tmp_path / "ok.png").read_bytes()


@pytest.mark.parametrize("case, expected", [
    ("missing", "no such file"), ("empty", "empty"), ("text", "not an image"), ("truncated", "truncated or corrupt"),
])
def test_bad_files_are_one_line_errors_naming_the_path(tmp_path, case, expected):
    path = tmp_path / f"{case}.png"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a picture\n")
    elif case == "truncated":
        path.write_bytes(_png_bytes(tmp_path)[:2000])
    with pytest.raises(UsageError) as error:
        read_image(path)
    message = str(error.value)
    assert expected in message and str(path) in message and "\n" not in message


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims ``width`` x ``height`` but holds almost no pixel data (decoding it would fail)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def test_huge_images_are_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    _png_header_only(path, 9000, 9000)  # 81 MP: over our default, under Pillow's own warning level
    with pytest.raises(UsageError, match=r"9000x9000 = 81,000,000 pixels, more than the 64,000,000 allowed"):
        read_image(path)
    Image.new("L", (20, 20)).save(tmp_path / "small.png")
    with pytest.raises(UsageError, match="more than the 100 allowed"):
        read_image(tmp_path / "small.png", max_pixels=100)
    _png_header_only(path, 30000, 30000)  # a decompression bomb by Pillow's own limit, even when ours is raised
    with pytest.raises(UsageError, match="decompression-bomb") as error:
        read_image(path, max_pixels=10**10)
    assert str(path) in str(error.value)
