"""`rllab dqn train | eval | play` in-process, plus one subprocess check of the import cost."""
import json
import subprocess
import sys

import keras
import pytest

from agents.dqn.config import DQNConfig
from rllab.cli import main


def _flags(overrides: dict) -> list[str]:
    flags = []
    for name, value in overrides.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, *map(str, value)] if isinstance(value, tuple) else [flag, str(value)]
    return flags


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_overrides):
    """A tiny CartPole run trained through the CLI: the training smoke test every other test reuses."""
    run_dir = tmp_path_factory.mktemp("dqn") / "run"
    status = main(["dqn", "train", "--env", "CartPole-v1", "--run-dir", str(run_dir), "--seed", "1",
                   *_flags(tiny_overrides(dueling=True))])
    assert status == 0
    return run_dir


def test_train_writes_a_complete_run_folder(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["kind"] == "dqn" and config["config"]["dueling"] is True and config["config"]["total_steps"] == 400
    header = (trained_run / "metrics.csv").read_text().splitlines()[0].split(",")
    for metric in ("rollout/ep_return", "train/loss", "train/q", "rollout/epsilon", "time/steps_per_s", "eval/mean_return"):
        assert metric in header
    assert any((trained_run / "tensorboard").rglob("events.out.tfevents.*"))
    assert list((trained_run / "checkpoints").glob("ckpt-*.state.npz"))
    summary = json.loads((trained_run / "artifacts" / "train_summary.json").read_text())
    assert summary["env_steps"] == 400 and summary["gradient_steps"] > 0
    model = keras.models.load_model(trained_run / "artifacts" / "q_network.keras")
    assert model.output_shape == (None, 2)


def test_eval_json_reports_return_statistics(trained_run, capsys):
    assert main(["dqn", "eval", "--run-dir", str(trained_run), "--episodes", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 3
    assert result["min_return"] <= result["mean_return"] <= result["max_return"] and result["std_return"] >= 0


def test_play_writes_a_gif(trained_run, tmp_path, capsys):
    video = tmp_path / "play.gif"
    assert main(["dqn", "play", "--run-dir", str(trained_run), "--episodes", "1", "--video", str(video),
                 "--frame-every", "5"]) == 0
    assert video.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_resume_of_a_finished_run_rejects_new_hyperparameters(trained_run, capsys):
    assert main(["dqn", "train", "--run-dir", str(trained_run), "--resume", "--learning-rate", "0.1"]) == 2
    assert "drop learning_rate" in capsys.readouterr().err


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("rllab: error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("env_id, space", [("Pendulum-v1", "Discrete action space"), ("FrozenLake-v1", "Box observation space")])
def test_unsupported_spaces_are_one_line_errors(tmp_path, capsys, env_id, space):
    assert main(["dqn", "train", "--env", env_id, "--run-dir", str(tmp_path / "run")]) == 2
    err = _one_line_error(capsys)
    assert space in err and env_id in err
    assert not (tmp_path / "run").exists()  # nothing written for a run that cannot start


@pytest.mark.parametrize("command", [["eval"], ["play", "--video", "x.gif"]])
def test_missing_run_folder_is_a_one_line_error(tmp_path, capsys, command):
    missing = tmp_path / "no-such-run"
    assert main(["dqn", *command, "--run-dir", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)


def test_bad_values_are_one_line_errors(tmp_path, capsys):
    assert main(["dqn", "train", "--run-dir", str(tmp_path / "r"), "--exploration-fraction", "1.5"]) == 2
    err = _one_line_error(capsys)
    assert "exploration_fraction" in err and "1.5" in err
    assert main(["dqn", "train", "--env", "NoSuchEnv-v9", "--run-dir", str(tmp_path / "r")]) == 2
    assert "NoSuchEnv-v9" in _one_line_error(capsys)


def test_help_documents_every_config_field(capsys):
    with pytest.raises(SystemExit):
        main(["dqn", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for field in DQNConfig.__dataclass_fields__:
        if field != "env_id":
            assert "--" + field.replace("_", "-") in text, field
    assert "Double DQN" in text and "--resume" in text


def test_cli_module_does_not_import_tensorflow():
    code = "import sys, agents.dqn.cli, rllab.cli; rllab.cli.build_parser(); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
