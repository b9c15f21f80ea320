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


def test_eval_json_reports_the_returns_of_the_exported_policy(trained_run, capsys):
    assert main(["dqn", "eval", "--run-dir", str(trained_run), "--episodes", "3", "--seed", "7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Play the exported network by hand, one env per episode, seeded as eval promises (reset(seed=7+i)).
    import gymnasium as gym
    import numpy as np

    model = keras.models.load_model(trained_run / "artifacts" / "q_network.keras")
    returns = []
    for episode in range(3):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=7 + episode)
        total, done = 0.0, False
        while not done:
            action = int(np.argmax(model(obs[None].astype(np.float32), training=False)[0]))
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    assert result["episodes"] == 3
    assert result["mean_return"] == pytest.approx(np.mean(returns))
    assert (result["min_return"], result["max_return"]) == (min(returns), max(returns))
    assert result["std_return"] == pytest.approx(np.std(returns))


def test_play_writes_a_gif(trained_run, tmp_path, capsys):
    video = tmp_path / "play.gif"
    assert main(["dqn", "play", "--run-dir", str(trained_run), "--episodes", "1", "--video", str(video),
                 "--frame-every", "5"]) == 0
    assert video.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_resume_of_a_finished_run_rejects_new_hyperparameters(trained_run, capsys):
    assert main(["dqn", "train", "--run-dir", str(trained_run), "--resume", "--learning-rate", "0.1"]) == 2
    assert ("--learning-rate differs from the run being resumed (stored 0.0023, given 0.1)"
            in capsys.readouterr().err)


def test_the_same_command_with_resume_continues_and_total_steps_extends(trained_run, tmp_path, tiny_overrides):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    command = ["dqn", "train", "--env", "CartPole-v1", "--run-dir", str(run_dir), "--seed", "1",
               *_flags(tiny_overrides(dueling=True))]
    assert main([*command, "--resume"]) == 0  # finished, same flags: accepted, nothing more to train
    summary = json.loads((run_dir / "artifacts" / "train_summary.json").read_text())
    assert summary["env_steps"] == 400
    extended = [*command, "--resume"]
    extended[extended.index("--total-steps") + 1] = "600"
    assert main(extended) == 0
    summary = json.loads((run_dir / "artifacts" / "train_summary.json").read_text())
    record = json.loads((run_dir / "config.json").read_text())
    assert summary["env_steps"] == 600 and record["config"]["total_steps"] == 600
    assert record["resumes"][-1]["changes"] == {"--total-steps": [400, 600]}
    assert main([*command, "--resume", "--seed", "2"]) == 2


def test_resume_before_the_first_checkpoint_starts_from_the_beginning(tmp_path, tiny_overrides, capsys):
    from agents.dqn.config import config_for_env
    from rllab.runs import Run

    Run.create("dqn", "dqn", config_for_env("CartPole-v1", tiny_overrides()), seed=0, run_dir=tmp_path / "run")
    assert main(["dqn", "train", "--run-dir", str(tmp_path / "run"), "--resume"]) == 0
    assert "holds no checkpoint yet" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "artifacts" / "train_summary.json").read_text())["env_steps"] == 400


def test_ctrl_c_saves_exports_and_exits_130(tmp_path, tiny_overrides, capsys):
    import os
    import signal

    from rllab.cli import main as cli_main

    class CtrlCAtEpoch2(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    from agents.dqn import dqn
    from agents.dqn.config import config_for_env
    from rllab.lifecycle import RunInterrupted

    config = config_for_env("CartPole-v1", tiny_overrides(checkpoint_every_epochs=10))
    with pytest.raises(RunInterrupted, match="checkpoint saved at env step 200"):
        dqn.train(config, run_dir=tmp_path / "run", progress=False, extra_callbacks=[CtrlCAtEpoch2()])
    assert (tmp_path / "run" / "checkpoints" / "ckpt-100.index").exists()  # 100 vector steps of 2 envs
    assert (tmp_path / "run" / "artifacts" / "q_network.keras").exists()
    assert cli_main(["dqn", "train", "--run-dir", str(tmp_path / "run"), "--resume"]) == 0
    assert json.loads((tmp_path / "run" / "artifacts" / "train_summary.json").read_text())["env_steps"] == 400


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


def test_unknown_atari_game_is_a_one_line_error_that_says_how_to_list_them(tmp_path, capsys):
    assert main(["dqn", "train", "--env", "ALE/NoSuchGame-v5", "--run-dir", str(tmp_path / "run")]) == 2
    err = _one_line_error(capsys)
    assert "ALE/NoSuchGame-v5" in err and "rllab dqn games" in err
    assert not (tmp_path / "run").exists()
    assert main(["dqn", "games"]) == 0
    listed = capsys.readouterr().out.split()
    assert "ALE/Breakout-v5" in listed and "ALE/Pong-v5" in listed and "ALE/NoSuchGame-v5" not in listed


@pytest.mark.parametrize("flags, message", [
    (["--sticky-actions", "0.25"], "--sticky-actions applies to Atari games"),
    (["--life-loss-episodes"], "--life-loss-episodes applies to Atari games"),
    (["--env", "ALE/Breakout-v5", "--sticky-actions", "1"], "--sticky-actions must be < 1"),
    (["--env", "ALE/Breakout-v5", "--env-kwargs", '{"frameskip": 2}'], "--env-kwargs is not used for Atari"),
])
def test_atari_flag_mistakes_are_one_line_errors(tmp_path, capsys, flags, message):
    assert main(["dqn", "train", *flags, "--run-dir", str(tmp_path / "run")]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [["eval"], ["play", "--video", "x.gif"]])
def test_missing_run_folder_is_a_one_line_error(tmp_path, capsys, command):
    missing = tmp_path / "no-such-run"
    assert main(["dqn", *command, "--run-dir", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)


def test_bad_values_are_one_line_errors(tmp_path, capsys):
    assert main(["dqn", "train", "--run-dir", str(tmp_path / "r"), "--exploration-fraction", "1.5"]) == 2
    err = _one_line_error(capsys)
    assert "--exploration-fraction" in err and "1.5" in err
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses it: one line, exit 2
        main(["dqn", "train", "--run-dir", str(tmp_path / "r"), "--replay", "no-such-buffer"])
    assert exit_info.value.code == 2
    err = _one_line_error(capsys)
    assert "--replay" in err and "no-such-buffer" in err and "uniform" in err
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
