"""GAN: the train step's two phases, fit() with Keras callbacks, the quality metrics, resume, export, CLI.

Kept fast: tiny training slices, a dense GAN, and a small MLP judge trained in seconds (the real
judge, the cached CNN, is too slow to train here).
"""
import dataclasses
import json
import sys

import keras
import numpy as np
import pytest

from gan import metrics as gm
from gan.config import GANConfig, config_from_dict
from gan.train import build_trainer, fixed_inputs, train_gan
from rllab.cli import main
from rllab.precision import native_bfloat16
from rllab.runs import Run

TINY = dict(arch="mlp", batch_size=32, train_limit=256, metric_samples=100, jit_compile=False)


@pytest.fixture(scope="session")
def mnist(data_dir):
    from rllab.data import get_dataset

    return get_dataset("mnist").load(data_dir)


@pytest.fixture(scope="session")
def judge_path(tmp_path_factory, mnist):
    """A dense MNIST classifier trained for a few seconds (about 93 % test accuracy)."""
    from rllab.classify import build_classifier, to_inputs
    from rllab.seeding import seed_everything

    (x, y), _ = mnist
    seed_everything(0)
    model = build_classifier("mlp")
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(to_inputs(x[:12000]), y[:12000], batch_size=128, epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("judge") / "judge.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def judge(judge_path):
    return gm.Judge.load(judge_path)


@pytest.fixture(scope="session")
def reference(judge, mnist):
    (x_train, _), (x_test, _) = mnist
    return gm.reference(judge, x_train, x_test, n=2000)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir, judge_path):
    """A dense GAN trained for 2 epochs of 256 images (what the CLI tests sample from)."""
    run_dir = tmp_path_factory.mktemp("gan") / "run"
    results = train_gan(GANConfig(**TINY, epochs=2, minutes=None), run_dir=run_dir, seed=0, data_path=data_dir,
                        classifier=judge_path, verbose=False)
    return run_dir, results


# --- the train step ---------------------------------------------------------------------------------------
def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_d_phase_changes_only_d_and_g_phase_only_g(arch):
    keras.utils.set_random_seed(0)
    info_codes = 4 if arch == "dcgan" else None  # dcgan's default code needs more noise than 16 entries
    gan = build_trainer(GANConfig(arch=arch, noise_dim=16, info_codes=info_codes, jit_compile=False), seed=0)
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    g_vars = gan.generator.variables  # batch-norm moving statistics included
    d_vars = gan.discriminator.trainable_variables  # (its dropout's random state is no weight)

    g_before, d_before = _values(g_vars), _values(d_vars)
    loss, d_real, d_fake, _ = gan.d_step(real, None)
    assert not any(_changed(g_before, g_vars)), "the D phase changed a generator variable"
    assert all(_changed(d_before, d_vars))
    assert np.isfinite(float(loss)) and 0 < float(d_real) < 1 and 0 < float(d_fake) < 1

    g_before, d_before = _values(gan.generator.trainable_variables), _values(d_vars)
    loss = gan.g_step(8)
    assert not any(_changed(d_before, d_vars)), "the G phase changed a discriminator variable"
    assert all(_changed(g_before, gan.generator.trainable_variables))
    assert np.isfinite(float(loss))


def test_train_step_losses_are_finite_and_d_steps_split_the_batch():
    keras.utils.set_random_seed(0)
    gan = build_trainer(GANConfig(arch="mlp", noise_dim=8, d_steps=2, jit_compile=False), seed=0)
    real = np.random.default_rng(1).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    logs = gan.train_step(real)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert gan.d_optimizer.iterations.numpy() == 2 and gan.g_optimizer.iterations.numpy() == 1


def test_plain_fit_with_keras_callbacks_logs_the_trackers(tmp_path):
    keras.utils.set_random_seed(0)
    gan = build_trainer(GANConfig(arch="mlp", noise_dim=8, jit_compile=True), seed=0)
    data = np.random.default_rng(2).uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
    csv = tmp_path / "log.csv"
    history = gan.fit(data, batch_size=16, epochs=2, verbose=0, callbacks=[
        keras.callbacks.CSVLogger(str(csv)), keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(monitor="g_loss", mode="min", patience=5),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "gan.weights.h5"), save_weights_only=True),
        keras.callbacks.TensorBoard(str(tmp_path / "tb"))])
    header = csv.read_text().splitlines()[0].split(",")
    assert {"epoch", "d_loss", "g_loss", "d_real", "d_fake"} <= set(header)  # (Keras adds empty val_* columns)
    assert len(csv.read_text().splitlines()) == 3 and len(history.history["d_loss"]) == 2
    assert (tmp_path / "gan.weights.h5").exists() and any((tmp_path / "tb").rglob("*.v2"))


# --- metrics ----------------------------------------------------------------------------------------------
def test_real_images_score_high_and_sit_at_the_floor(judge, reference, mnist):
    (x_train, _), (x_test, _) = mnist
    figures = gm.judge_samples(judge, x_train[-2000:], reference)
    # 10 is the maximum; this quick dense judge (~92 % accurate) gives real digits 6-7.5 (the cached CNN: 9.87)
    assert figures["classifier_score"] > 5.5 and reference.real_score > 5.5
    assert figures["frechet_distance"] < 3 * reference.floor + 1.0
    assert figures["max_share"] < 0.2 and not figures["collapse"]
    noise = np.random.default_rng(0).integers(0, 256, (2000, 28, 28), dtype=np.uint8)
    assert gm.judge_samples(judge, noise, reference)["frechet_distance"] > 20 * figures["frechet_distance"]


def test_a_constant_image_scores_one(judge, reference):
    figures = gm.judge_samples(judge, np.full((500, 28, 28), 128, dtype=np.uint8), reference)
    assert figures["classifier_score"] == pytest.approx(1.0, abs=0.01)


def test_one_digit_sample_warns_of_mode_collapse(judge, reference, mnist, capsys):
    (x_train, y_train), _ = mnist
    figures = gm.judge_samples(judge, x_train[y_train == 1][:500], reference)
    assert figures["collapse"] and figures["max_class"] == 1 and figures["kl_from_uniform"] > 1.5
    gm.print_figures(figures)
    assert "mode collapse: class 1" in capsys.readouterr().err
    balanced = gm.judge_samples(judge, x_train[:500], reference)
    assert gm.collapse_warning(balanced) is None


# --- training runs ----------------------------------------------------------------------------------------
def test_training_writes_the_run_folder(trained, judge_path):
    run_dir, results = trained
    artifacts = run_dir / "artifacts"
    assert sorted(p.name for p in (artifacts / "grids").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    assert (artifacts / "progress.gif").stat().st_size > 0
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"d_loss", "g_loss", "d_real", "d_fake", "eval/score", "eval/fcd"} <= set(header)
    assert results["epochs_done"] == 2 and results["samples"] == 10_000
    assert json.loads((artifacts / "results.json").read_text())["classifier"] == str(judge_path)


def test_exported_generator_loads_in_plain_keras(trained):
    run_dir, _ = trained
    generator = keras.models.load_model(run_dir / "artifacts" / "generator.keras")
    images = generator.predict(np.zeros((3, 100), np.float32), verbose=0)
    assert images.shape == (3, 28, 28, 1) and images.min() >= -1 and images.max() <= 1


def test_resume_keeps_the_fixed_noise_and_continues_the_epochs(tmp_path, data_dir, judge_path):
    run_dir = tmp_path / "run"
    train_gan(GANConfig(**TINY, epochs=1, minutes=None), run_dir=run_dir, seed=3, data_path=data_dir,
              classifier=judge_path, verbose=False)
    grid_1 = (run_dir / "artifacts" / "grids" / "epoch_0001.png").read_bytes()
    results = train_gan(None, run_dir=run_dir, resume=True, given={"epochs": 3}, data_path=data_dir,
                        classifier=judge_path, verbose=False)
    assert results["epochs_done"] == 3
    assert [line.split(",")[0] for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]] == ["0", "1", "2"]
    state = np.load(sorted((run_dir / "checkpoints").glob("ckpt-3.state.npz"))[0])
    np.testing.assert_array_equal(state["fixed_z"], fixed_inputs(GANConfig(**TINY, epochs=1), 3)[0])
    assert (run_dir / "artifacts" / "grids" / "epoch_0001.png").read_bytes() == grid_1
    assert json.loads((run_dir / "config.json").read_text())["resumes"][0]["changes"] == {"--epochs": [1, 3]}
    with pytest.raises(Exception, match="already finished"):
        train_gan(None, run_dir=run_dir, resume=True, given={}, data_path=data_dir, classifier=judge_path, verbose=False)


def test_minutes_budget_stops_at_the_end_of_a_step_then_saves_and_evaluates(tmp_path, data_dir, judge_path):
    run_dir = tmp_path / "run"
    config = GANConfig(**{**TINY, "arch": "dcgan"}, minutes=0.0005)  # the default arch: bfloat16 where it is native
    assert config.mixed_precision == "auto"
    results = train_gan(config, run_dir=run_dir, seed=0, data_path=data_dir, classifier=judge_path, verbose=False)
    assert keras.mixed_precision.dtype_policy().name == "float32"  # put back after the run
    assert results["mixed_precision"] is native_bfloat16()  # what ran, resolved on this machine
    assert results["stopped_by"] == "minutes" and results["epochs_done"] == 1
    assert results["images_seen"] < 256 and results["train_seconds"] >= 0.03
    assert (run_dir / "artifacts" / "generator.keras").exists() and (run_dir / "checkpoints" / "ckpt-1.index").exists()


def test_conditional_samples_of_a_briefly_trained_model_are_the_digits_asked_for(tmp_path, data_dir, judge_path, judge):
    run_dir = tmp_path / "cond"
    config = GANConfig(arch="mlp", conditional=True, batch_size=64, train_limit=4096, epochs=4, minutes=None,
                       metric_samples=200, g_learning_rate=1e-3, d_learning_rate=1e-3)
    results = train_gan(config, run_dir=run_dir, seed=0, data_path=data_dir, classifier=judge_path, verbose=False)
    # Chance is 10 %; a few seconds of training already steers most samples to the class asked for.
    assert results["mean_conditional_accuracy"] > 0.5
    out = tmp_path / "sevens"
    assert main(["gan", "sample", "--run-dir", str(run_dir), "--n", "50", "--digit", "7", "--out-dir", str(out)]) == 0
    from PIL import Image

    images = np.stack([np.asarray(Image.open(p)) for p in sorted(out.glob("*_class7.png"))])
    _, probs = judge.run(images)
    assert len(images) == 50 and (probs.argmax(1) == 7).mean() > 0.5


# --- CLI --------------------------------------------------------------------------------------------------
def test_cli_sample_interpolate_and_eval(trained, judge_path, tmp_path, capsys):
    run_dir, _ = trained
    assert main(["gan", "sample", "--run-dir", str(run_dir), "--n", "12", "--out", str(tmp_path / "g.png"), "--seed", "4"]) == 0
    assert (tmp_path / "g.png").exists()
    assert main(["gan", "interpolate", "--run-dir", str(run_dir), "--out", str(tmp_path / "walk.gif"),
                 "--n", "4", "--points", "2", "--steps", "3"]) == 0
    assert (tmp_path / "walk.gif").stat().st_size > 0
    capsys.readouterr()
    assert main(["gan", "eval", "--run-dir", str(run_dir), "--json", "--classifier", str(judge_path), "--samples", "500"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["samples"] == 500 and len(figures["class_shares"]) == 10 and figures["frechet_floor"] > 0
    assert figures["truncation"] == 1.0
    assert main(["gan", "eval", "--run-dir", str(run_dir), "--json", "--classifier", str(judge_path), "--samples", "500",
                 "--truncation", "0.5"]) == 0
    out = capsys.readouterr().out
    truncated = json.loads(out.strip().splitlines()[-1])
    assert truncated["truncation"] == 0.5 and "noise truncated to 0.5" in out
    assert truncated["frechet_distance"] != figures["frechet_distance"]


def test_truncation_scales_the_noise_but_not_the_info_code_so_categories_keep_their_shares():
    from gan.models import info_category, truncate_noise
    from rllab.errors import UsageError

    z = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    truncated = truncate_noise(z, 0.7, info_codes=4)
    np.testing.assert_array_equal(truncated[:, :4], z[:, :4])
    np.testing.assert_allclose(truncated[:, 4:], 0.7 * z[:, 4:], rtol=1e-6)
    np.testing.assert_array_equal(info_category(truncated, 4), info_category(z, 4))
    assert truncate_noise(z, 1.0) is z
    np.testing.assert_allclose(truncate_noise(z, 0.5), 0.5 * z, rtol=1e-6)  # no code: every entry
    with pytest.raises(UsageError, match="--truncation must be <= 1.0, got 2.0"):
        truncate_noise(z, 2.0)


def _status(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


@pytest.mark.parametrize("argv, message", [
    (["train", "--arch", "stylegan"], "--arch: expected one of dcgan, tutorial, mlp"),
    (["train", "--minutes", "0"], "--minutes: expected a positive number"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--arch", "tutorial", "--width", "32"], "--width 32 is for --arch dcgan; the tutorial nets are fixed"),
    (["train", "--width", "0"], "--width: expected"),
    (["sample", "--run-dir", "RUN", "--digit", "12", "--out", "x.png"], "--digit: expected a class 0-9, got '12'"),
    (["sample", "--run-dir", "RUN", "--digit", "3", "--out", "x.png"], "--digit needs a conditional run"),
    (["sample", "--run-dir", "RUN", "--n", "0", "--out", "x.png"], "--n: expected a positive integer"),
    (["sample", "--run-dir", "RUN"], "say where the samples go"),
    (["sample", "--run-dir", "MISSING", "--out", "x.png"], "does not exist"),
    (["eval", "--run-dir", "FOREIGN"], "is a 'classify' run, not a 'gan' run"),
    (["interpolate", "--run-dir", "RUN", "--out", "walk.avi"], "--out must end in .gif or .mp4"),
    (["eval", "--run-dir", "RUN", "--truncation", "0"], "--truncation: expected a number in (0, 1], got '0'"),
    (["sample", "--run-dir", "RUN", "--out", "x.png", "--truncation", "1.5"], "--truncation: expected a number in (0, 1], got '1.5'"),
])
def test_cli_errors_are_one_line(argv, message, trained, tmp_path, capsys):
    run_dir, _ = trained
    Run.create("classify", "classify", {"model": "mlp"}, seed=0, run_dir=tmp_path / "foreign")
    paths = {"RUN": str(run_dir), "MISSING": str(tmp_path / "nope"), "FOREIGN": str(tmp_path / "foreign")}
    assert _status(["gan", *[paths.get(a, a) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --- InfoGAN code ------------------------------------------------------------------------------------------
def test_info_code_is_the_argmax_of_the_first_noise_entries_and_d_learns_to_recover_it():
    keras.utils.set_random_seed(0)
    gan = build_trainer(GANConfig(arch="mlp", noise_dim=16, info_codes=4, jit_compile=False), seed=0)
    z = np.random.default_rng(2).standard_normal((6, 16)).astype(np.float32)
    same_codes = z.copy()
    same_codes[:, :4] = 3 * z[:, :4] + 1  # the argmax, the category, does not move
    other_codes = z.copy()
    other_codes[:, :4] = np.roll(z[:, :4], 1, axis=1)
    image = gan.generator(z, training=False).numpy()
    np.testing.assert_array_equal(image, gan.generator(same_codes, training=False).numpy())
    assert np.abs(image - gan.generator(other_codes, training=False).numpy()).max(axis=(1, 2, 3)).min() > 0
    assert gan.discriminator(image).shape == (6, 5)

    real = np.random.default_rng(3).uniform(-1, 1, (32, 28, 28, 1)).astype(np.float32)
    first = float(gan.train_step(real)["info_loss"])
    for _ in range(40):
        gan.train_step(real)
    for tracker in gan.metrics:  # the trackers average over steps: read the last step alone
        tracker.reset_state()
    last = float(gan.train_step(real)["info_loss"])
    assert first > 1.2 and last < 0.5  # ln 4 = 1.39 is a blind guess


def test_info_projection_adds_the_features_projected_on_ds_own_category_and_leaves_the_code_head_to_the_code():
    import tensorflow as tf

    from gan.models import build_gan_models
    from rllab.errors import UsageError

    _, plain = build_gan_models("dcgan", noise_dim=16, info_codes=4, width=8)
    _, projected = build_gan_models("dcgan", noise_dim=16, info_codes=4, width=8, info_projection=True)
    convs = [[layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] for model in (plain, projected)]
    for source, target in [*zip(*convs), *((plain.get_layer(n), projected.get_layer(n)) for n in ("logit", "code_logits"))]:
        target.set_weights(source.get_weights())
    images = np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(projected(images).numpy(), plain(images).numpy(), atol=1e-6)  # zero-initialised
    embedding = np.random.default_rng(1).normal(size=projected.get_layer("category_projection").kernel.shape)
    projected.get_layer("category_projection").kernel.assign(embedding.astype(np.float32))
    features = keras.Model(projected.input, projected.get_layer("logit").input)(images).numpy()
    sorting = keras.ops.softmax(plain(images)[:, 1:]).numpy()
    expected = plain(images).numpy()[:, 0] + ((features @ embedding) * sorting).sum(1)
    np.testing.assert_allclose(projected(images).numpy()[:, 0], expected, rtol=1e-4, atol=1e-4)
    code_head = projected.get_layer("code_logits").kernel
    with tf.GradientTape() as tape:
        real_fake = tf.reduce_sum(projected(images)[:, 0])
    gradient = tape.gradient(real_fake, code_head)
    assert gradient is None or not np.any(gradient.numpy())  # the code head learns from the code's loss alone
    with pytest.raises(UsageError, match="--info-projection needs an InfoGAN code"):
        GANConfig(arch="mlp", info_codes=0, info_projection=True)


def test_info_codes_default_per_arch_and_refuse_a_conditional_model():
    from rllab.errors import UsageError

    assert GANConfig(arch="dcgan").info_codes == 30
    assert GANConfig(arch="dcgan", conditional=True).info_codes == 0
    assert GANConfig(arch="tutorial").info_codes == 0
    with pytest.raises(UsageError, match="--info-codes 10 is for unconditional"):
        GANConfig(arch="dcgan", conditional=True, info_codes=10)
    with pytest.raises(UsageError, match="--info-codes 1"):
        GANConfig(arch="mlp", info_codes=1)
    with pytest.raises(UsageError, match="--noise-dim 16 leaves no room for dcgan's default InfoGAN code of 30"):
        GANConfig(arch="dcgan", noise_dim=16)
    assert GANConfig(arch="dcgan", noise_dim=16, info_codes=4).info_codes == 4


def test_mixed_precision_is_auto_for_dcgan_alone_and_a_stored_choice_is_kept():
    from rllab.errors import UsageError

    assert GANConfig(arch="dcgan").mixed_precision == "auto"
    assert GANConfig(arch="tutorial").mixed_precision is False and GANConfig(arch="mlp").mixed_precision is False
    assert GANConfig(arch="dcgan", mixed_precision=False).mixed_precision is False
    stored = {**dataclasses.asdict(GANConfig(arch="dcgan")), "mixed_precision": True}  # a run stored before "auto"
    assert config_from_dict(stored).mixed_precision is True
    with pytest.raises(UsageError, match="--mixed-precision: expected true, false or 'auto', got 'fast'"):
        GANConfig(mixed_precision="fast")


def test_width_is_dcgans_alone_and_a_run_stored_before_it_keeps_width_64():
    from gan.models import build_gan_models
    from rllab.errors import UsageError

    assert GANConfig(arch="dcgan").width == 32
    assert GANConfig(arch="mlp").width is None
    with pytest.raises(UsageError, match="--width 32 is for --arch dcgan"):
        GANConfig(arch="mlp", width=32)
    gan = build_trainer(GANConfig(arch="dcgan", width=8, noise_dim=16, info_codes=4, jit_compile=False), seed=0)
    assert gan.generator.layers[-2].output.shape[-1] == 8  # the last hidden G layer: width channels
    assert max(layer.output.shape[-1] for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Conv2D)) == 16
    with pytest.raises(UsageError, match="--width 8 is for --arch dcgan"):
        build_gan_models("tutorial", width=8)
    stored = dataclasses.asdict(GANConfig(arch="dcgan"))
    del stored["width"]  # a config.json written before the field existed
    assert config_from_dict(stored).width == 64
    assert config_from_dict(dataclasses.asdict(GANConfig(arch="dcgan", width=24))).width == 24


def test_learning_rates_fall_linearly_over_the_larger_share_of_the_budget_used():
    from rllab.callbacks import LinearLRDecay, TimeBudget

    g, d = keras.optimizers.Adam(4e-4), keras.optimizers.Adam(2e-4)
    budget = TimeBudget(100.0)
    decay = LinearLRDecay({g: 4e-4, d: 2e-4}, 0.25, budget, total_steps=10)
    g.iterations.assign(4)
    decay.on_train_batch_begin(0)  # 40 % of the steps, no time yet
    assert np.isclose(float(g.learning_rate.numpy()), 4e-4 * (1 - 0.75 * 0.4))
    assert np.isclose(float(d.learning_rate.numpy()), 2e-4 * (1 - 0.75 * 0.4))
    budget.spent_before = 80.0  # 80 % of the time: the larger share wins
    decay.on_train_batch_begin(0)
    assert np.isclose(float(g.learning_rate.numpy()), 4e-4 * (1 - 0.75 * 0.8))
    budget.spent_before = 500.0
    decay.on_train_batch_begin(0)
    assert np.isclose(float(d.learning_rate.numpy()), 2e-4 * 0.25)


def test_argmax_shift_makes_the_category_of_gaussian_noise_follow_a_prior():
    from gan.models import argmax_shift

    np.testing.assert_allclose(argmax_shift(np.full(20, 0.05)), 0.0, atol=1e-6)  # uniform: no shift
    prior = np.random.default_rng(1).dirichlet(np.full(20, 2.0))
    prior[3] = 0.002  # a category the data hardly uses
    prior /= prior.sum()
    shift = argmax_shift(prior)
    z = np.random.default_rng(0).standard_normal((400_000, 20))
    drawn = np.bincount((z + shift).argmax(1), minlength=20) / len(z)
    np.testing.assert_allclose(drawn, prior, atol=0.003)  # binomial sd <= 0.0008
    assert np.argsort(shift).tolist() == np.argsort(prior).tolist()


def test_category_prior_is_the_mean_of_ds_category_probabilities_on_real_images():
    gan = build_trainer(GANConfig(arch="mlp", noise_dim=16, info_codes=4, jit_compile=False), seed=0)
    code_head = gan.discriminator.get_layer("code_logits")
    wanted = np.array([0.1, 0.2, 0.3, 0.4])
    code_head.kernel.assign(np.zeros(code_head.kernel.shape, np.float32))
    code_head.bias.assign(np.log(wanted).astype(np.float32))  # the same probabilities for every image
    images = np.random.default_rng(0).uniform(-1, 1, (4500, 28, 28, 1)).astype(np.float32)
    prior = gan.category_prior(images, batch_size=1000)  # the last batch is short
    np.testing.assert_allclose(prior, wanted, atol=1e-5)
    code_head.kernel.assign(np.random.default_rng(1).normal(0, 0.05, code_head.kernel.shape).astype(np.float32))
    per_image = keras.ops.softmax(gan.discriminator(images)[:, 1:]).numpy()
    np.testing.assert_allclose(gan.category_prior(images, batch_size=1000), per_image.mean(0), atol=1e-5)


def test_a_generator_behind_a_category_prior_draws_categories_as_the_prior_says():
    from gan.models import argmax_shift, build_gan_models, info_category, with_category_prior

    generator, _ = build_gan_models("mlp", noise_dim=16, info_codes=4)
    prior = [0.55, 0.05, 0.1, 0.3]
    wrapped = with_category_prior(generator, 4, prior)
    z = np.random.default_rng(0).standard_normal((20_000, 16)).astype(np.float32)
    shifted = z.copy()
    shifted[:, :4] += argmax_shift(prior)
    np.testing.assert_allclose(wrapped.predict(z[:64], verbose=0), generator.predict(shifted[:64], verbose=0), atol=1e-6)
    drawn = np.bincount(keras.ops.convert_to_numpy(info_category(shifted, 4)), minlength=4) / len(z)
    np.testing.assert_allclose(drawn, prior, atol=0.015)


def test_the_training_prior_shifts_the_categories_that_both_phases_draw():
    from gan.models import argmax_shift, info_category

    gan = build_trainer(GANConfig(arch="mlp", noise_dim=16, info_codes=4, jit_compile=False), seed=0)
    z = np.random.default_rng(0).standard_normal((40_000, 16)).astype(np.float32)
    np.testing.assert_array_equal(gan._with_training_prior(z), z)  # zero shift: equal shares, z untouched
    prior = [0.7, 0.1, 0.15, 0.05]
    gan.category_shift.assign(argmax_shift(prior))
    shifted = keras.ops.convert_to_numpy(gan._with_training_prior(z))
    np.testing.assert_array_equal(shifted[:, 4:], z[:, 4:])  # the continuous noise is left alone
    drawn = np.bincount(keras.ops.convert_to_numpy(info_category(shifted, 4)), minlength=4) / len(z)
    np.testing.assert_allclose(drawn, prior, atol=0.01)
    assert build_trainer(GANConfig(arch="mlp", noise_dim=16, info_codes=0), seed=0).category_shift is None


def test_data_category_prior_draws_the_sampler_by_ds_sorting_and_mixes_it_into_training_from_its_first_epoch():
    from gan.models import argmax_shift, build_gan_models, with_category_prior
    from gan.train import DataCategoryPrior

    gan = build_trainer(GANConfig(arch="mlp", noise_dim=16, info_codes=4, jit_compile=False), seed=0)
    code_head = gan.discriminator.get_layer("code_logits")
    code_head.kernel.assign(np.zeros(code_head.kernel.shape, np.float32))
    code_head.bias.assign(np.log([0.1, 0.2, 0.3, 0.4]).astype(np.float32))  # D's shares of every real image
    images = np.random.default_rng(0).uniform(-1, 1, (500, 28, 28, 1)).astype(np.float32)
    sampler = with_category_prior(build_gan_models("mlp", noise_dim=16, info_codes=4)[0], 4, np.full(4, 0.25))
    callback = DataCategoryPrior(gan, images, mix=0.5, sampler=sampler, first_epoch=2)
    callback.on_epoch_begin(1)
    assert callback.last is None and not gan.category_shift.numpy().any()
    callback.on_epoch_end(1)
    np.testing.assert_allclose(callback.shares, [0.1, 0.2, 0.3, 0.4], atol=1e-5)
    np.testing.assert_allclose(sampler.get_layer("category_shift").bias.numpy(), argmax_shift(callback.shares), atol=1e-6)
    code_head.bias.assign(np.zeros(4, np.float32))  # D changes after the measure: the next epoch trains by the measure
    callback.on_epoch_begin(2)
    np.testing.assert_allclose(callback.last, [0.175, 0.225, 0.275, 0.325], atol=1e-5)
    np.testing.assert_allclose(gan.category_shift.numpy(), argmax_shift(callback.last), atol=1e-6)
    resumed = DataCategoryPrior(gan, images, mix=0.5, first_epoch=2)  # nothing measured yet: measures D as it is
    resumed.on_epoch_begin(3)
    np.testing.assert_allclose(resumed.last, [0.25] * 4, atol=1e-5)


def test_the_training_prior_is_recorded_and_a_run_stored_before_it_trains_as_it_did(tmp_path, data_dir, judge_path):
    from rllab.errors import UsageError

    config = GANConfig(**{**TINY, "info_codes": 4}, epochs=3, minutes=None)
    results = train_gan(config, run_dir=tmp_path / "run", seed=0, data_path=data_dir, classifier=judge_path, verbose=False)
    training_prior = np.array(results["training_category_prior"])  # the third epoch's, the first that refits
    assert training_prior.shape == (4,) and abs(training_prior.sum() - 1) < 1e-4 and training_prior.min() >= 0.5 / 4 - 1e-6
    off = train_gan(dataclasses.replace(config, info_train_prior=0.0), run_dir=tmp_path / "off", seed=0,
                    data_path=data_dir, classifier=judge_path, verbose=False)
    assert "training_category_prior" not in off
    assert config_from_dict({"arch": "dcgan", "width": 32}).info_train_prior == 0.0  # config.json of an older run
    with pytest.raises(UsageError, match="--info-train-prior must be <= 1.0, got 1.5"):
        GANConfig(info_train_prior=1.5)


def test_an_info_code_run_exports_its_generator_with_the_data_prior(tmp_path, data_dir, judge_path):
    from gan.models import argmax_shift

    config = GANConfig(**{**TINY, "info_codes": 4}, epochs=1, minutes=None)
    results = train_gan(config, run_dir=tmp_path / "data", seed=0, data_path=data_dir, classifier=judge_path, verbose=False)
    prior = np.array(results["category_prior"])
    assert prior.shape == (4,) and abs(prior.sum() - 1) < 1e-4 and prior.min() > 0
    exported = keras.models.load_model(tmp_path / "data" / "artifacts" / "generator.keras")
    np.testing.assert_allclose(exported.get_layer("category_shift").bias.numpy(), argmax_shift(prior), atol=1e-4)
    uniform = train_gan(dataclasses.replace(config, info_prior="uniform"), run_dir=tmp_path / "uniform", seed=0,
                        data_path=data_dir, classifier=judge_path, verbose=False)
    assert "category_prior" not in uniform
    exported = keras.models.load_model(tmp_path / "uniform" / "artifacts" / "generator.keras")
    assert "category_shift" not in [layer.name for layer in exported.layers]
    with pytest.raises(Exception, match="--info-prior must be one of data, uniform; got 'learned'"):
        GANConfig(info_prior="learned")


def test_exported_dcgan_generator_with_an_info_code_loads_in_plain_keras(tmp_path):
    import subprocess

    from gan.models import build_gan_models, with_category_prior

    generator, _ = build_gan_models("dcgan", noise_dim=16, info_codes=4)
    generator = with_category_prior(generator, 4, [0.1, 0.2, 0.3, 0.4])  # as a run with --info-prior data exports it
    z = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    path = tmp_path / "generator.keras"
    generator.save(path)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "expected.npy", generator(z, training=False).numpy())
    code = ("import sys, numpy as np, keras; m = keras.models.load_model(sys.argv[1]); "
            "z = np.load(sys.argv[2]); d = np.abs(m(z, training=False).numpy() - np.load(sys.argv[3])).max(); "
            "sys.exit(0 if d < 1e-5 else 3)")
    done = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "z.npy"), str(tmp_path / "expected.npy")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_bench_refuses_a_runs_root_that_already_holds_its_runs(tmp_path, monkeypatch, capsys):
    from rllab.runs import CONFIG_NAME
    from tests.conftest import load_script

    bench = load_script("bench_gan")

    (tmp_path / "mlp-seed1").mkdir()
    (tmp_path / "mlp-seed1" / CONFIG_NAME).write_text("{}")  # a run was started there
    monkeypatch.setattr(sys, "argv", ["bench_gan.py", "--presets", "mlp", "--seeds", "0", "1", "--minutes", "0.01",
                                      "--runs-root", str(tmp_path), "--out", str(tmp_path / "b.json")])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()  # before any training or the judge: nothing is written
    assert exit_info.value.code == 2
    assert f"--runs-root {tmp_path} already holds mlp-seed1;" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "mlp-seed0").exists()
