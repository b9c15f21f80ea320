"""The ``rllab tabular`` commands in-process, the run folder they write, errors, resume; one subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import agents.tabular.train as train_module
from agents.tabular.train import load_q_table, open_run
from rllab.cli import main
from rllab.metrics import read_metrics_csv

REPO = Path(__file__).resolve().parents[3]


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_train_eval_plot_on_a_short_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    status = main(["tabular", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "300",
                   "--eval-every", "100", "--run-dir", str(run_dir), "--seed", "1", "--quiet"])
    assert status == 0
    artifacts = run_dir / "artifacts"
    for name in ("q_table.npy", "policy.npy", "returns.npy", "result.json", "learning_curve.png", "values.png", "episode.txt"):
        assert (artifacts / name).is_file(), name
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,episode,") and len(rows) == 1 + 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["kind"] == "tabular" and config["config"]["episodes"] == 300 and config["seed"] == 1
    capsys.readouterr()

    assert main(["tabular", "eval", "--run-dir", str(run_dir), "--episodes", "50", "--json"]) == 0
    figures = _last_json(capsys.readouterr().out)
    assert figures["episodes"] == 50 and 0.0 <= figures["success_rate"] <= 1.0
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
    run, _ = open_run(run_dir)
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
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"no_such_option": 1}'], "no_such_option"),
    (["--env", "FrozenLake-v1", "--epsilon-decay", "exponential", "--epsilon-end", "0"], "exponential"),
    (["--algo", "q-learning", "--forget-episodes", "100"], "forget_episodes"),
])
def test_bad_env_space_or_kwargs_is_a_one_line_error(tmp_path, capsys, argv, message):
    status = main(["tabular", "train", "--episodes", "1", "--run-dir", str(tmp_path / "r"), "--quiet", *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("rllab: error:") and message in err and len(err.splitlines()) == 1


def test_eval_of_a_missing_or_foreign_run_folder_is_an_error(tmp_path, capsys):
    assert main(["tabular", "eval", "--run-dir", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("algo_fields", [{"algo": "q-learning"}, {"algo": "mc", "forget_episodes": 50, "step_size": 0.0}],
                         ids=["q-learning", "mc-forgetting"])
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
