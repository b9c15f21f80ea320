"""The ``rllab tabular`` commands in-process, the run folder they write, errors, resume; one subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import agents.tabular.train as train_module
from agents.tabular import dp
from agents.tabular.envs import make_tabular_env
from agents.tabular.model import build_model
from agents.tabular.run_folder import load_q_table, open_tabular_run
from rllab.cli import main
from rllab.lifecycle import RunInterrupted
from rllab.metrics import read_metrics_csv
from rllab.runs import Run

REPO = Path(__file__).resolve().parents[3]


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def _random_policy_value(env_id: str) -> float:
    """Exact expected return of the uniformly random policy (it ends its episodes: FrozenLake's holes)."""
    model = build_model(make_tabular_env(env_id))
    v, _ = dp.policy_evaluation(model, np.full((model.n_states, model.n_actions), 1.0 / model.n_actions))
    return float(model.initial @ v)


def test_train_eval_plot_on_a_short_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    status = main(["tabular", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "3000",
                   "--eval-every", "1000", "--run-dir", str(run_dir), "--seed", "1", "--quiet"])
    assert status == 0
    artifacts = run_dir / "artifacts"
    for name in ("q_table.npy", "policy.npy", "returns.npy", "result.json", "learning_curve.png", "values.png", "episode.txt"):
        assert (artifacts / name).is_file(), name
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,episode,") and len(rows) == 1 + 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["kind"] == "tabular" and config["config"]["episodes"] == 3000 and config["seed"] == 1
    capsys.readouterr()

    assert main(["tabular", "eval", "--run-dir", str(run_dir), "--episodes", "500", "--json"]) == 0
    figures = _last_json(capsys.readouterr().out)
    assert figures["episodes"] == 500 and figures["success_rate"] == figures["mean_return"]
    # The played success rate agrees with the exact value of the same policy, which is near the optimum
    # and far above what a random policy scores.
    assert abs(figures["success_rate"] - figures["exact_return"]) < 4 * figures["std_error"]
    assert figures["exact_return"] >= 0.95 * figures["optimum"]
    assert figures["success_rate"] > 10 * _random_policy_value("FrozenLake-v1")
    assert figures["optimum"] == pytest.approx(0.7442, abs=1e-4)
    assert figures["ratio_to_optimum"] == pytest.approx(figures["mean_return"] / figures["optimum"])

    (artifacts / "values.png").unlink()
    assert main(["tabular", "plot", "--run-dir", str(run_dir)]) == 0
    assert (artifacts / "values.png").is_file()


def test_save_load_gives_the_same_greedy_actions_and_evaluation(tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = train_module.train_control(
        train_module.config_from_dict({"algo": "sarsa", "env": "FrozenLake-v1", "episodes": 200, "eval_every": 0}),
        seed=0, run_dir=run_dir, progress=False, write_plots=False)
    run, _ = open_tabular_run(run_dir)
    loaded = load_q_table(run)
    np.testing.assert_array_equal(loaded.argmax(axis=1), result.q.argmax(axis=1))
    np.testing.assert_array_equal(np.load(run.artifact("policy.npy")), result.q.argmax(axis=1))
    first = train_module.evaluate_run(run_dir, episodes=100)
    assert train_module.evaluate_run(run_dir, episodes=100) == first


def test_solve_writes_a_run_that_eval_reads(tmp_path, capsys):
    run_dir = tmp_path / "solved"
    assert main(["tabular", "solve", "--method", "finite-horizon", "--env", "Taxi-v4", "--eval-episodes", "200",
                 "--run-dir", str(run_dir)]) == 0
    assert np.load(run_dir / "artifacts" / "q_table.npy").shape == (200, 500, 6)
    capsys.readouterr()
    assert main(["tabular", "eval", "--run-dir", str(run_dir), "--episodes", "200", "--json"]) == 0
    figures = _last_json(capsys.readouterr().out)
    assert figures["exact_return"] == pytest.approx(7.93, abs=1e-9)
    assert figures["optimum"] == pytest.approx(7.93, abs=1e-9)
    assert abs(figures["mean_return"] - 7.93) < 4 * figures["std_error"] + 1e-9


def test_value_iteration_and_policy_iteration_runs_agree(tmp_path):
    values = {}
    for method in ("value-iteration", "policy-iteration"):
        assert main(["tabular", "solve", "--method", method, "--env", "Blackjack-v1", "--eval-episodes", "10",
                     "--run-dir", str(tmp_path / method)]) == 0
        values[method] = json.loads((tmp_path / method / "artifacts" / "result.json").read_text())["exact_return"]
    assert values["value-iteration"] == pytest.approx(values["policy-iteration"], abs=1e-6)
    assert values["value-iteration"] == pytest.approx(-0.0431, abs=1e-4)


@pytest.mark.parametrize("argv, message", [
    (["--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
    (["--env", "FrozenLke-v1"], "did you mean FrozenLake-v1"),
    (["--env", "CartPole-v1"], "Box("),
    (["--env", "rllabtest/TabularBox-v0"], "observation space"),
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"map_name": "9x9"}'], "9x9"),
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"map_name": 5}'], "no map named 5; map_name takes 4x4 or 8x8"),
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"is_slippery": "no"}'], "is_slippery must be true or false"),
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"no_such_option": 1}'], "no_such_option"),
    (["--env", "FrozenLake-v1", "--epsilon-decay", "exponential", "--epsilon-end", "0"],
     "--epsilon-decay exponential needs --epsilon and --epsilon-end > 0"),
    (["--algo", "q-learning", "--forget-episodes", "100"], "--forget-episodes only applies to Monte Carlo"),
    (["--algo", "sarsa", "--retrace"], "--retrace only applies to Monte Carlo"),
    (["--algo", "sarsa", "--exploration-bonus", "0.1"], "--exploration-bonus only applies to Monte Carlo"),
    (["--algo", "mc", "--retrace"], "--retrace only applies to mc-off-policy, not to mc"),
    (["--algo", "mc", "--random-start-share", "0.5"], "--random-start-share only applies to mc-es, not to mc"),
    (["--algo", "q-learning", "--random-start-share", "0.5"], "--random-start-share only applies to Monte Carlo"),
])
def test_bad_env_space_or_kwargs_is_a_one_line_error(tmp_path, capsys, argv, message):
    status = main(["tabular", "train", "--episodes", "1", "--run-dir", str(tmp_path / "r"), "--quiet", *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("rllab: error:") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # a bad env or flag leaves no run folder behind


def test_eval_of_a_missing_or_foreign_run_folder_is_an_error(tmp_path, capsys):
    assert main(["tabular", "eval", "--run-dir", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    Run.create("dqn", "dqn", {"env_id": "CartPole-v1"}, seed=0, run_dir=tmp_path / "dqn-run")
    (tmp_path / "just-a-folder").mkdir()
    for command in ("eval", "plot"):
        assert main(["tabular", command, "--run-dir", str(tmp_path / "dqn-run")]) == 2
        assert "is a 'dqn' run, not a 'tabular' run" in capsys.readouterr().err
        assert main(["tabular", command, "--run-dir", str(tmp_path / "just-a-folder")]) == 2
        assert "is not a run folder" in capsys.readouterr().err
    assert main(["tabular", "train", "--resume", "--run-dir", str(tmp_path / "dqn-run"), "--quiet"]) == 2
    assert "is a 'dqn' run, not a 'tabular' run" in capsys.readouterr().err


@pytest.mark.parametrize("algo_fields", [{"algo": "q-learning"},
                                         {"algo": "mc", "forget_episodes": 50, "step_size": 0.0, "exploration_bonus": 0.1}],
                         ids=["q-learning", "mc-forgetting-bonus"])
def test_interrupted_training_resumes_to_the_same_result(tmp_path, monkeypatch, algo_fields):
    config = {**algo_fields, "env": "FrozenLake-v1", "episodes": 300, "eval_every": 100,
              "epsilon": {"kind": "linear", "start": 1.0, "end": 0.1, "episodes": 300}}
    straight = train_module.train_control(train_module.config_from_dict(config), seed=5, run_dir=tmp_path / "a",
                                          progress=False, write_plots=False)

    real_run_episode = train_module.run_episode

    def interrupt_at_250(env, agent, episode, **kwargs):
        if episode == 250:
            raise KeyboardInterrupt
        return real_run_episode(env, agent, episode, **kwargs)

    monkeypatch.setattr(train_module, "run_episode", interrupt_at_250)
    with pytest.raises(KeyboardInterrupt):
        train_module.train_control(train_module.config_from_dict(config), seed=5, run_dir=tmp_path / "b",
                                   progress=False, write_plots=False)
    monkeypatch.setattr(train_module, "run_episode", real_run_episode)
    with open(tmp_path / "b" / "metrics.csv", "a") as f:  # as if killed between a row and its checkpoint
        f.write("2,300,0,0,0,0,0,0,0\r\n")
    resumed = train_module.train_control(None, run_dir=tmp_path / "b", resume=True, progress=False, write_plots=False)
    np.testing.assert_array_equal(resumed.q, straight.q)
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "artifacts" / "returns.npy"),
                                  np.load(tmp_path / "a" / "artifacts" / "returns.npy"))
    a, b = read_metrics_csv(tmp_path / "a" / "metrics.csv"), read_metrics_csv(tmp_path / "b" / "metrics.csv")
    assert b["epoch"].tolist() == [0, 1, 2]  # the stray row is gone, not repeated
    for key in set(a) - {"elapsed_s"}:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_script_runs_without_importing_tensorflow(tmp_path):
    """The real entry point (scripts/tabular.py) in a subprocess: it works and never loads TensorFlow."""
    code = ("import runpy, sys; sys.argv = ['tabular.py', 'solve', '--env', 'CliffWalking-v1', '--run-dir', "
            f"{str(tmp_path / 'r')!r}, '--eval-episodes', '5']\n"
            "try:\n    runpy.run_path('scripts/tabular.py', run_name='__main__')\n"
            "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
    assert (tmp_path / "r" / "artifacts" / "q_table.npy").is_file()


def test_the_kept_table_is_the_best_measured_one(tmp_path):
    # A large constant step size makes the greedy policy wobble: with seed 0 the best is not the last.
    config = {"algo": "q-learning", "env": "FrozenLake-v1", "episodes": 600, "eval_every": 50, "gamma": 0.99,
              "epsilon": 0.5, "step_size": 0.5}
    result = train_module.train_control(train_module.config_from_dict(config), seed=0, run_dir=tmp_path / "r",
                                        progress=False, write_plots=False)
    metrics = read_metrics_csv(tmp_path / "r" / "metrics.csv")
    best = int(np.argmax(metrics["greedy_return"]))  # the first of equal maxima, as training keeps it
    assert result.figures["table_from_episode"] == metrics["episode"][best]
    assert result.figures["exact_return"] == pytest.approx(metrics["greedy_return"][best])
    assert result.figures["exact_return"] > result.figures["last_table_greedy_return"]
    assert result.figures["table_from_episode"] < 600


def test_monte_carlo_flags_reach_the_stored_config(tmp_path):
    run_dir = tmp_path / "mc"
    assert main(["tabular", "train", "--algo", "mc", "--env", "FrozenLake-v1", "--episodes", "50", "--every-visit",
                 "--forget-episodes", "40", "--run-dir", str(run_dir), "--quiet"]) == 0
    stored = json.loads((run_dir / "config.json").read_text())["config"]
    assert stored["forget_episodes"] == 40 and stored["first_visit"] is False
    with np.load(run_dir / "checkpoints" / "state.npz") as saved:
        assert saved["agent/last_update"].max() > 0


@pytest.mark.parametrize("algo_fields", [{"algo": "q-learning"}, {"algo": "mc", "forget_episodes": 50, "step_size": 0.0}],
                         ids=["q-learning", "mc-forgetting"])
def test_ctrl_c_finishes_the_episode_saves_and_resumes_to_the_same_result(tmp_path, monkeypatch, algo_fields):
    config = {**algo_fields, "env": "FrozenLake-v1", "episodes": 300, "eval_every": 100,
              "epsilon": {"kind": "linear", "start": 1.0, "end": 0.1, "episodes": 300}}
    straight = train_module.train_control(train_module.config_from_dict(config), seed=5, run_dir=tmp_path / "a",
                                          progress=False, write_plots=False)
    real_run_episode = train_module.run_episode

    def ctrl_c_in_episode_250(env, agent, episode, **kwargs):
        if episode == 250:
            os.kill(os.getpid(), signal.SIGINT)  # StopRequests turns it into a flag: the episode goes on
        return real_run_episode(env, agent, episode, **kwargs)

    monkeypatch.setattr(train_module, "run_episode", ctrl_c_in_episode_250)
    with pytest.raises(RunInterrupted, match="stopped after episode 251 of 300"):
        train_module.train_control(train_module.config_from_dict(config), seed=5, run_dir=tmp_path / "b",
                                   progress=False, write_plots=False)
    monkeypatch.setattr(train_module, "run_episode", real_run_episode)
    with np.load(tmp_path / "b" / "checkpoints" / "state.npz") as saved:
        assert int(saved["episode"]) == 251  # saved at once, not at the last log interval
    report = json.loads((tmp_path / "b" / "artifacts" / "result.json").read_text())
    assert report["episodes_trained"] == 251 and report["stopped_early"] is True

    resumed = train_module.train_control(None, run_dir=tmp_path / "b", resume=True, progress=False, write_plots=False)
    np.testing.assert_array_equal(resumed.q, straight.q)
    assert resumed.figures["table_from_episode"] == straight.figures["table_from_episode"]
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "artifacts" / "returns.npy"),
                                  np.load(tmp_path / "a" / "artifacts" / "returns.npy"))
    a, b = read_metrics_csv(tmp_path / "a" / "metrics.csv"), read_metrics_csv(tmp_path / "b" / "metrics.csv")
    for key in set(a) - {"elapsed_s"}:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_sigterm_from_the_cli_exits_143_with_how_to_continue(tmp_path, monkeypatch, capsys):
    real_run_episode = train_module.run_episode

    def ctrl_c_in_episode_30(env, agent, episode, **kwargs):
        if episode == 30:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_run_episode(env, agent, episode, **kwargs)

    monkeypatch.setattr(train_module, "run_episode", ctrl_c_in_episode_30)
    run_dir = tmp_path / "r"
    assert main(["tabular", "train", "--episodes", "100", "--run-dir", str(run_dir), "--quiet"]) == 143  # 128 + SIGTERM
    err = capsys.readouterr().err
    assert "SIGTERM received" in err and "stopped after episode 31 of 100" in err and "--resume" in err
    assert (run_dir / "artifacts" / "q_table.npy").is_file()


def _train_argv(run_dir, *extra):
    return ["tabular", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "200",
            "--eval-every", "100", "--epsilon-end", "0.1", "--seed", "3", "--run-dir", str(run_dir), "--quiet", *extra]


def test_the_same_command_with_resume_appended_continues_the_run(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert main(_train_argv(run_dir)) == 0
    before = json.loads((run_dir / "config.json").read_text())
    first = json.loads((run_dir / "artifacts" / "result.json").read_text())
    assert main(_train_argv(run_dir, "--resume")) == 0  # finished: resumes to nothing new
    after = json.loads((run_dir / "config.json").read_text())
    assert after == before and "resumes" not in after
    again = json.loads((run_dir / "artifacts" / "result.json").read_text())
    assert again["exact_return"] == first["exact_return"] and again["episodes_trained"] == 200


@pytest.mark.parametrize("flags, named", [(["--gamma", "0.5"], "--gamma differs from the run being resumed (stored 0.99, given 0.5)"),
                                          (["--epsilon-end", "0.2"], "--epsilon-end differs"),
                                          (["--seed", "4"], "--seed differs"),
                                          (["--algo", "sarsa"], "--algo differs")])
def test_a_different_flag_on_resume_is_a_one_line_error_naming_it(tmp_path, capsys, flags, named):
    run_dir = tmp_path / "r"
    assert main(_train_argv(run_dir)) == 0
    stored = (run_dir / "config.json").read_text()
    capsys.readouterr()
    argv = _train_argv(run_dir, "--resume")
    if flags[0] in argv:  # replace the value typed the first time
        argv[argv.index(flags[0]) + 1] = flags[1]
    else:
        argv += flags
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rllab: error:") and named in err and len(err.splitlines()) == 1
    assert (run_dir / "config.json").read_text() == stored


def test_episodes_on_resume_extends_a_finished_run(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert main(_train_argv(run_dir)) == 0
    argv = _train_argv(run_dir, "--resume")
    argv[argv.index("--episodes") + 1] = "300"
    assert main(argv) == 0
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["episodes"] == 300
    assert record["resumes"][-1]["changes"] == {"--episodes": [200, 300]}
    assert np.load(run_dir / "artifacts" / "returns.npy").size == 300
    assert read_metrics_csv(run_dir / "metrics.csv")["episode"].tolist() == [100, 200, 300]
    # Exactly the run that the stored config with 300 episodes gives straight away.
    straight = train_module.train_control(train_module.config_from_dict(record["config"]), seed=3,
                                          run_dir=tmp_path / "straight", progress=False, write_plots=False)
    np.testing.assert_array_equal(load_q_table(open_tabular_run(run_dir)[0]), straight.q)
    np.testing.assert_array_equal(np.load(run_dir / "artifacts" / "returns.npy"),
                                  np.load(tmp_path / "straight" / "artifacts" / "returns.npy"))

    capsys.readouterr()
    argv[argv.index("--episodes") + 1] = "250"
    assert main(argv) == 2
    assert "--episodes 250 is fewer than the 300 episodes" in capsys.readouterr().err


def test_resume_of_a_folder_not_made_yet_starts_a_new_run(tmp_path, capsys):
    run_dir = tmp_path / "not-yet"
    assert main(_train_argv(run_dir, "--resume")) == 0
    assert "nothing to resume" in capsys.readouterr().err
    assert json.loads((run_dir / "config.json").read_text())["config"]["episodes"] == 200
    assert np.load(run_dir / "artifacts" / "returns.npy").size == 200


def test_resume_without_a_checkpoint_starts_from_the_beginning(tmp_path, capsys):
    assert main(_train_argv(tmp_path / "a")) == 0
    assert main(_train_argv(tmp_path / "b")) == 0
    for name in ("state.npz", "state.prev.npz", "best.json", "best_q.npy"):  # as if killed in its first seconds
        (tmp_path / "b" / "checkpoints" / name).unlink()
    capsys.readouterr()
    assert main(_train_argv(tmp_path / "b", "--resume")) == 0
    assert "holds no checkpoint yet" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "artifacts" / "q_table.npy"),
                                  np.load(tmp_path / "a" / "artifacts" / "q_table.npy"))
    assert read_metrics_csv(tmp_path / "b" / "metrics.csv")["epoch"].tolist() == [0, 1]


def test_a_solve_run_cannot_be_resumed_by_train(tmp_path, capsys):
    run_dir = tmp_path / "solved"
    assert main(["tabular", "solve", "--env", "FrozenLake-v1", "--eval-episodes", "10", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    assert main(["tabular", "train", "--resume", "--run-dir", str(run_dir), "--episodes", "50", "--quiet"]) == 2
    assert "holds a solve run" in capsys.readouterr().err
    assert "resumes" not in json.loads((run_dir / "config.json").read_text())


def test_forget_episodes_none_turns_the_per_env_default_off(tmp_path):
    for value, expected in (([], 3000), (["--forget-episodes", "none"], None)):
        run_dir = tmp_path / f"r{len(value)}"
        assert main(["tabular", "train", "--algo", "mc", "--env", "FrozenLake8x8-v1", "--episodes", "20",
                     "--run-dir", str(run_dir), "--quiet", *value]) == 0
        assert json.loads((run_dir / "config.json").read_text())["config"]["forget_episodes"] == expected


def test_train_help_lists_every_default_with_the_per_env_values(capsys):
    with pytest.raises(SystemExit):
        main(["tabular", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    unbroken = text.replace("- ", "-")  # argparse may wrap a line after the hyphen of "expected-sarsa"
    assert ("(default: 10000; FrozenLake-v1: 10000 (mc: 20000, mc-off-policy: 30000); FrozenLake8x8-v1: 20000 (mc: 65000, "
            "expected-sarsa: 30000, sarsa: 40000); Taxi-v4: 5000 (mc: 30000, mc-off-policy: 60000)") in unbroken
    assert "default: per env" not in text and "TensorFlow" not in text
    for flag in ("--epsilon", "--epsilon-end", "--epsilon-decay", "--epsilon-episodes", "--step-size", "--step-size-end",
                 "--step-size-decay", "--every-visit", "--keep-last", "--forget-episodes N|none"):
        assert flag + " " in text
