"""Style transfer (gan.style, gan.style_run, `rllab style`): the maths against references, the
controls, and every bad input through the real CLI. Tiny images and a random VGG19 (ImageNet weights
cannot be downloaded here), one extractor shared by the in-process tests."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from gan.style_config import CONTENT_LAYERS, STYLE_LAYERS, StyleConfig
from tests.conftest import REPO, rllab_command, run_cli_cases

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def extractor():
    from gan.style import build_extractor

    tf.keras.utils.set_random_seed(0)
    return build_extractor(STYLE_LAYERS, CONTENT_LAYERS, None, precision="float32")


def _pattern(height: int, width: int, phase: float = 0.0) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    return (0.5 + 0.45 * np.sin(9 * cols[..., None] + 5 * rows[..., None] + phase + np.array([0.0, 2.0, 4.0]))
            ).astype(np.float32)


def _save(path, pixels: np.ndarray):
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


# --- the maths ---------------------------------------------------------------------------------------------
def test_gram_matrix_matches_numpy():
    from gan.style import gram_matrix

    features = np.random.default_rng(0).normal(size=(2, 5, 7, 4)).astype(np.float32)
    flat = features.reshape(2, 35, 4)
    expected = np.einsum("bpc,bpd->bcd", flat, flat) / 35
    np.testing.assert_allclose(gram_matrix(tf.constant(features)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_extractor_returns_the_requested_layers(extractor):
    from gan.style import Extractor

    styles, contents = extractor(tf.zeros((1, 40, 56, 3)))
    assert [f.shape[-1] for f in styles] == [64, 128, 256, 512, 512]
    assert [f.shape[1:3] for f in styles] == [(40, 56), (20, 28), (10, 14), (5, 7), (2, 3)]
    assert [tuple(f.shape) for f in contents] == [(1, 2, 3, 512)]
    paper = Extractor(extractor.model, ("block1_conv1",), ("block4_conv2",))
    _, (content,) = paper(tf.zeros((1, 32, 32, 3)))
    assert content.shape == (1, 4, 4, 512) and paper.content_layers == ("block4_conv2",)


def test_blend_weights_change_the_style_target_linearly(extractor):
    from gan.style import style_targets

    one, two = _pattern(32, 40), _pattern(36, 32, phase=1.5)
    first = style_targets(extractor, [one], np.array([1.0]))
    second = style_targets(extractor, [two], np.array([1.0]))
    for weight in (0.25, 0.7):
        blended = style_targets(extractor, [one, two], np.array([weight, 1 - weight]))
        for b, g1, g2 in zip(blended, first, second):
            np.testing.assert_allclose(b.numpy(), weight * g1.numpy() + (1 - weight) * g2.numpy(), rtol=1e-4,
                                       atol=1e-6 * float(np.abs(g1.numpy()).max()))


@pytest.mark.parametrize("name", ["prox-adam", "lbfgs", "adam"])
def test_total_loss_decreases(extractor, name):
    from gan.style import LossWeights, Objective, make_optimizer

    content, style = _pattern(40, 48), _pattern(40, 40, phase=2.0)
    objective = Objective(extractor, content, [style], np.array([1.0]), LossWeights())
    start = float(objective.losses(tf.constant(content[None]))["loss"])
    optimizer = make_optimizer(name, objective, content)
    losses = [optimizer.step()["loss"] for _ in range(5)]
    final = float(objective.losses(tf.constant(optimizer.current()[None]))["loss"])
    assert final < start, (name, start, losses)
    if name == "lbfgs":  # it takes only steps that lower the loss (the Adams log the loss before each step)
        assert all(b < a for a, b in zip([start, *losses], losses)), (name, start, losses)
    assert optimizer.current().min() >= 0.0 and optimizer.current().max() <= 1.0


@pytest.mark.parametrize("weighted", [False, True])
def test_tv_prox_solves_its_problem(weighted):
    """The prox beats nearby images on its own objective (0.5 sum w (x - b)^2 + s TV(x)) and stays in 0..1."""
    from gan.style import tv_prox

    rng = np.random.default_rng(1)
    b = tf.constant(rng.uniform(-0.2, 1.2, size=(1, 12, 10, 3)).astype(np.float32))
    w = rng.uniform(0.2, 3.0, size=b.shape).astype(np.float32) if weighted else np.ones(b.shape, np.float32)
    strength = 0.1
    x = tv_prox(b, strength, iterations=400, metric=w if weighted else None)

    def objective(image):
        return float(0.5 * tf.reduce_sum(w * (image - b) ** 2) + strength * tf.reduce_sum(tf.image.total_variation(image)))

    assert float(tf.reduce_min(x)) >= 0 and float(tf.reduce_max(x)) <= 1
    for _ in range(5):
        nearby = tf.clip_by_value(x + rng.normal(scale=0.01, size=x.shape).astype(np.float32), 0, 1)
        assert objective(x) <= objective(nearby) + 1e-4


def test_ycbcr_round_trip_and_colour_preservation():
    from gan.style import rgb_to_ycbcr, with_content_colors, ycbcr_to_rgb

    rgb = np.random.default_rng(0).uniform(size=(6, 5, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-9)
    content = _pattern(20, 24)
    # A stylized result: grey, with the content's brightness plus strokes (within the RGB gamut once recoloured).
    brightness = rgb_to_ycbcr(content)[..., 0] + 0.05 * np.sin(np.arange(24) * 1.7)
    result = np.repeat(brightness[..., None], 3, axis=-1)
    merged = with_content_colors(result, content)
    np.testing.assert_allclose(rgb_to_ycbcr(merged)[..., 1:], rgb_to_ycbcr(content)[..., 1:], atol=0.02)
    np.testing.assert_allclose(rgb_to_ycbcr(merged)[..., 0], rgb_to_ycbcr(result)[..., 0], atol=0.02)


# --- the command's work, in process --------------------------------------------------------------------------
def _stylize(tmp_path, extractor, content, styles, **config):
    from gan.style_run import stylize

    config = StyleConfig(**{"weights": None, "max_size": 48, "steps": 3, "save_every": 2, **config})
    return stylize(config, content, styles, tmp_path / "out.png", run_dir=tmp_path / "run", seed=0,
                   extractor=extractor, progress=False)


def test_run_keeps_aspect_ratio_and_fills_the_run_folder(tmp_path, extractor):
    content = _save(tmp_path / "wide.png", _pattern(60, 100))
    style = _save(tmp_path / "style.png", _pattern(50, 50, phase=1.0))
    figures = _stylize(tmp_path, extractor, content, [style], max_size=64)
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (64, 38)  # 100x60 -> long side 64, same aspect ratio
    run = tmp_path / "run"
    for name in ("config.json", "metrics.csv", "artifacts/history.png", "artifacts/sheet.png", "artifacts/progress.gif",
                 "artifacts/frames/step_00002.png", "artifacts/result.png", "artifacts/results.json"):
        assert (run / name).is_file(), name
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[:5] == ["epoch", "loss", "content_loss", "style_loss", "tv_loss"] and len(rows) == 4
    assert figures["steps"] == 3 and figures["size"] == [64, 38]
    assert json.loads((run / "config.json").read_text())["config"]["optimizer"] == "prox-adam"


def test_preserve_colors_keeps_the_content_chroma(tmp_path, extractor):
    from gan.style import rgb_to_ycbcr

    content_pixels = _pattern(40, 48)
    content = _save(tmp_path / "content.png", content_pixels)
    style = _save(tmp_path / "style.png", _pattern(48, 48, phase=2.5)[..., ::-1])
    _stylize(tmp_path, extractor, content, [style], preserve_colors=True)
    result = np.asarray(Image.open(tmp_path / "out.png"), np.float64) / 255
    expected = np.asarray(Image.open(content).resize(result.shape[1::-1], Image.LANCZOS), np.float64) / 255
    chroma_error = np.abs(rgb_to_ycbcr(result)[..., 1:] - rgb_to_ycbcr(expected)[..., 1:]).mean()
    assert chroma_error < 0.02


def test_multi_scale_and_blend(tmp_path, extractor):
    content = _save(tmp_path / "content.png", _pattern(50, 40))
    styles = [_save(tmp_path / f"s{i}.png", _pattern(40, 40, phase=i)) for i in range(2)]
    figures = _stylize(tmp_path, extractor, content, styles, scales=(40, 56), style_weights=(1.0, 3.0), steps=2)
    assert figures["steps"] == 4 and figures["size"] == [45, 56]


# --- the real CLI --------------------------------------------------------------------------------------------
def _run_in_one_process(cases: list[list[str]], cwd) -> list[dict]:
    """Each argv through rllab.cli.main in one Python process (TensorFlow imported once), offline:
    an empty Keras cache and a proxy that refuses connections, so no test downloads anything."""
    offline = "http://127.0.0.1:9"
    return run_cli_cases(cases, cwd, {"KERAS_HOME": str(cwd / "keras"), "https_proxy": offline, "HTTPS_PROXY": offline,
                                      "http_proxy": offline, "HTTP_PROXY": offline})


def _odd_images(folder) -> dict[str, str]:
    """Files in every mode and state a user might hand over, named by what they are."""
    base = (_pattern(40, 48) * 255).astype(np.uint8)
    paths = {}

    def save(name, image, **options):
        paths[name] = str(folder / name)
        image.save(paths[name], **options)

    save("gray.png", Image.fromarray(base).convert("L"))
    save("palette.png", Image.fromarray(base).convert("P", palette=Image.ADAPTIVE))
    rgba = Image.fromarray(base).convert("RGBA")
    rgba.putalpha(128)
    save("rgba.png", rgba)
    save("deep.png", Image.fromarray((base[..., 0].astype(np.uint16) * 257)))
    save("cmyk.jpg", Image.fromarray(base).convert("CMYK"))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the viewer turns it 90 degrees clockwise
    save("rotated.jpg", Image.fromarray(base), exif=exif)
    save("style.png", Image.fromarray((_pattern(40, 40, phase=2.0) * 255).astype(np.uint8)))
    save("tiny.png", Image.fromarray(base[:20, :20]))
    save("sliver.png", Image.fromarray(np.tile(base[:1], (33, 30, 1))[:33, :1000]).resize((1000, 33)))
    save("big.png", Image.fromarray(np.zeros((200, 200, 3), np.uint8)))
    good = folder / "good.png"
    Image.fromarray(base).save(good)
    paths["truncated.png"] = str(folder / "truncated.png")
    (folder / "truncated.png").write_bytes(good.read_bytes()[:200])
    paths["notes.txt"] = str(folder / "notes.txt")
    (folder / "notes.txt").write_text("not an image\n")
    paths["empty.png"] = str(folder / "empty.png")
    (folder / "empty.png").write_bytes(b"")
    paths["weights.h5"] = str(folder / "weights.h5")
    (folder / "weights.h5").write_text("not weights\n")
    return paths


def test_cli_converts_odd_images_and_refuses_bad_input_in_one_line(tmp_path):
    images = _odd_images(tmp_path)
    fast = ["--weights", "none", "--max-size", "40", "--steps", "1", "--save-every", "0"]
    style = images["style.png"]
    converted = ["gray.png", "palette.png", "rgba.png", "deep.png", "cmyk.jpg", "rotated.jpg"]
    ok_cases = [["style", images[name], style, "--out", f"ok/{name}.png", *fast, "--run-dir", f"runs/{name}"]
                for name in converted]
    ok_cases.append(["style", images["gray.png"], style, "--out", "new/folder/out.jpg", *fast, "--run-dir", "runs/new"])
    bad = {
        "missing file": [str(tmp_path / "nope.png"), style],
        "a folder": [str(tmp_path), style],
        "not an image": [images["notes.txt"], style],
        "empty file": [images["empty.png"], style],
        "truncated": [images["truncated.png"], style],
        "under 32 px": [images["tiny.png"], style],
        "under 32 px after resizing": [images["sliver.png"], style, "--max-size", "64"],
        "over --max-pixels": [images["big.png"], style, "--max-pixels", "10000"],
        "unknown extension": [images["gray.png"], style, "--out", "bad/out.xyz"],
        "read-only folder": [images["gray.png"], style, "--out", "/proc/rllab-style/out.png"],
        "weights count": [images["gray.png"], style, "--style-weights", "1,2"],
        "negative weight": [images["gray.png"], style, style, "--style-weights=-1,2"],
        "negative content weight": [images["gray.png"], style, "--content-weight=-5"],
        "unknown layer": [images["gray.png"], style, "--content-layers", "block9_conv9"],
        "scales not increasing": [images["gray.png"], style, "--scales", "64,32"],
        "bad weights file": [images["gray.png"], style, "--weights", images["weights.h5"]],
        "offline, no cached weights": [images["gray.png"], style, "--weights", "imagenet"],
    }
    bad_cases = []
    for i, (what, argv) in enumerate(bad.items()):
        out = [] if "--out" in argv else ["--out", f"bad/{i}.png"]
        weights = [] if "--weights" in argv else ["--weights", "none"]
        bad_cases.append(["style", *argv, *out, *weights, "--steps", "1", "--max-size", "40", "--run-dir", f"badruns/{i}"]
                         if "--max-size" not in argv else ["style", *argv, *out, *weights, "--steps", "1",
                                                           "--run-dir", f"badruns/{i}"])
    results = _run_in_one_process(ok_cases + bad_cases, tmp_path)

    for result in results[: len(ok_cases)]:
        assert result["status"] == 0, result
    for name in converted:
        assert Image.open(tmp_path / "ok" / f"{name}.png").mode == "RGB"
    assert Image.open(tmp_path / "ok" / "rotated.jpg.png").size == (33, 40)  # upright: portrait, as EXIF says
    assert Image.open(tmp_path / "ok" / "gray.png.png").size == (40, 33)
    assert (tmp_path / "new" / "folder" / "out.jpg").is_file()

    for (what, _), result in zip(bad.items(), results[len(ok_cases):]):
        lines = result["stderr"].strip().splitlines()
        errors = [line for line in lines if line.startswith("rllab: error:")]
        assert result["status"] == 2 and len(errors) == 1, (what, result)
        assert "Traceback" not in result["stderr"], (what, result["stderr"])
    # Nothing written for a refused command: no output, no partial file, no run folder.
    assert not (tmp_path / "bad").exists()
    assert not (tmp_path / "badruns").exists()
    message = {what: result["stderr"] for what, result in zip(bad, results[len(ok_cases):])}
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message["offline, no cached weights"]
    assert "--weights PATH" in message["offline, no cached weights"]
    assert "1 style image" in message["weights count"]


def test_ctrl_c_writes_the_image_exits_130_and_resume_finishes(tmp_path, extractor):
    content = _save(tmp_path / "content.png", _pattern(40, 48))
    style = _save(tmp_path / "style.png", _pattern(40, 40, phase=1.0))
    argv = [*rllab_command(), "style", content, style, "--out", str(tmp_path / "out.png"), "--weights", "none",
            "--max-size", "40", "--steps", "100000", "--run-dir", str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics = tmp_path / "run" / "metrics.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:  # wait for a few logged steps
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert Image.open(tmp_path / "out.png").size == (40, 33)
    done = len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) - 1
    assert done >= 1
    # --resume (with a budget that ends soon) continues from the saved image; in process, to save a start-up.
    from gan.style_run import stylize

    figures = stylize(StyleConfig(weights=None, max_size=40, steps=done + 2), content, [style], tmp_path / "out.png",
                      run_dir=tmp_path / "run", resume=True, given={"steps": done + 2}, extractor=extractor,
                      progress=False)
    assert figures["steps"] == done + 2
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) - 1 == done + 2
    assert (tmp_path / "run" / "artifacts" / "sheet.png").is_file()


@pytest.mark.parametrize("init, optimizer", [("style", "lbfgs"), ("noise", "adam")])
def test_other_starts_and_optimizers_run(tmp_path, extractor, init, optimizer):
    content = _save(tmp_path / "content.png", _pattern(40, 48))
    style = _save(tmp_path / "style.png", _pattern(48, 40, phase=1.0))
    figures = _stylize(tmp_path, extractor, content, [style], init=init, optimizer=optimizer, steps=2, save_every=0)
    assert figures["steps"] == 2 and figures["size"] == [48, 40] and np.isfinite(figures["loss"])
    assert not (tmp_path / "run" / "artifacts" / "progress.gif").exists()  # --save-every 0: no frames
