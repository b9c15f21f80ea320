"""Classifier: smoke training on a data slice, eval/predict through the CLI, Ctrl-C and --resume."""
import json
import signal
import subprocess
import time

import keras
import numpy as np
import pytest
from PIL import Image

from rllab.classify import ClassifierConfig, load_image, train_classifier
from rllab.cli import main
from rllab.errors import UsageError
from tests.conftest import REPO, rllab_command

SMALL = ["--train-limit", "3000", "--validation-size", "500", "--batch-size", "64"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_dir):
    run_dir = tmp_path_factory.mktemp("classify") / "run"
    config = ClassifierConfig(dataset="mnist", model="mlp", epochs=2, batch_size=64, validation_size=500, train_limit=3000)
    results = train_classifier(config, run_dir=run_dir, seed=0, data_path=data_dir, verbose=0)
    return run_dir, results


def test_smoke_training_learns_and_saves_a_plain_keras_model(trained_run, data_dir):
    run_dir, results = trained_run
    assert results["test_accuracy"] > 0.8  # 10 % is chance; 3000 MNIST digits give ~90 %
    model = keras.models.load_model(run_dir / "artifacts" / "model.keras")
    x_test = np.load(data_dir / "mnist.npz")["x_test"]
    assert model.predict(x_test[:4] / 255.0, verbose=0).shape == (4, 10)
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "accuracy"] and len(rows) == 3
    assert (run_dir / "artifacts" / "history.png").exists()
    assert json.loads((run_dir / "config.json").read_text())["config"]["train_limit"] == 3000


def test_eval_json_is_the_last_stdout_line(trained_run, with_data_dir, capsys):
    run_dir, results = trained_run
    assert main(["classify", "eval", "--run-dir", str(run_dir), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["test_images"] == 10000
    assert figures["test_accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-6)
    assert set(figures["per_class_accuracy"]) == set("0123456789")


def test_predict_converts_any_image_to_28x28_grayscale(trained_run, data_dir, tmp_path, capsys):
    run_dir, _ = trained_run
    digits = np.load(data_dir / "mnist.npz")["x_test"][:2]  # a 7 and a 2
    big_rgb = Image.fromarray(255 - digits[0]).resize((200, 120)).convert("RGB")  # dark ink on white paper
    big_rgb.save(tmp_path / "seven.jpg")
    Image.fromarray(digits[1]).convert("LA").save(tmp_path / "two.png")
    assert load_image(tmp_path / "seven.jpg").shape == (28, 28)
    assert load_image(tmp_path / "seven.jpg")[0, 0] < 30  # inverted to a dark background
    assert main(["classify", "predict", "--run-dir", str(run_dir), str(tmp_path / "seven.jpg"), str(tmp_path / "two.png"), "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p["top"][0][0] for p in predictions] == ["7", "2"]
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(UsageError, match="cannot read image"):
        load_image(tmp_path / "bad.png")


def test_sigint_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    command = [*rllab_command(), "classify", "train", "--dataset", "mnist", "--run-dir", str(run_dir),
               "--train-limit", "20000", "--validation-size", "1000", "--batch-size", "16", "--epochs", "50"]
    env = {"RLLAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO), "PATH": __import__("os").environ["PATH"]}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics = run_dir / "metrics.csv"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2 and list((run_dir / "checkpoints").glob("ckpt-*.index")):
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    finished = len(metrics.read_text().splitlines()) - 1
    assert 1 <= finished < 50

    # the checkpoint loads, and --resume trains exactly one more epoch on top of it
    assert main(["classify", "train", "--run-dir", str(run_dir), "--resume", "--epochs", str(finished + 1), "--data-dir", str(data_dir)]) == 0
    epochs = [row.split(",")[0] for row in metrics.read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(finished + 1)]
    assert keras.models.load_model(run_dir / "artifacts" / "model.keras").count_params() == 101770


def test_same_seed_gives_the_same_metrics(tmp_path, data_dir):
    def metrics(name, seed):
        config = ClassifierConfig(dataset="mnist", model="mlp", epochs=1, batch_size=64, validation_size=200, train_limit=1000)
        train_classifier(config, run_dir=tmp_path / name, seed=seed, data_path=data_dir, verbose=0)
        return [row.split(",")[:3] for row in (tmp_path / name / "metrics.csv").read_text().splitlines()]

    first = metrics("a", 1)
    assert first == metrics("b", 1)
    assert first != metrics("c", 2)


def test_missing_data_leaves_no_run_folder_behind(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        train_classifier(ClassifierConfig(dataset="mnist"), run_dir=tmp_path / "run", data_path=tmp_path / "nowhere.npz")
    assert not (tmp_path / "run").exists()


def test_predict_reads_a_phone_photo_upright(tmp_path):
    """EXIF orientation 6 (camera turned): the reader must rotate, or the digit is read sideways."""
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 12:16] = 255  # a vertical bar: "1"
    digit[4:8, 8:16] = 255
    upright = Image.fromarray(digit).resize((112, 112))
    upright.save(tmp_path / "upright.png")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor stored; orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    read = load_image(tmp_path / "phone.jpg", invert="no").astype(int)
    expected = load_image(tmp_path / "upright.png", invert="no").astype(int)
    assert np.abs(read - expected).mean() < 8  # JPEG noise only
    sideways = np.asarray(stored.convert("L").resize((28, 28)), dtype=int)
    assert np.abs(sideways - expected).mean() > 20  # ignoring EXIF would fail
