"""Hostile but realistic inputs through the real entry point: exit 2, exactly one `rllab: error:` line,
no traceback, nothing left behind. One Python process per table (TensorFlow is imported once)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, run_cli_cases

def run_cases(cases: list[list[str]], cwd) -> list[dict]:
    return run_cli_cases(cases, cwd, {"PATH": "/usr/bin:/bin"})


def assert_one_line_errors(results: list[dict], expected: dict[int, str]) -> None:
    for number, result in enumerate(results):
        lines = [line for line in result["stderr"].splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("rllab: error: ")]
        shown = f"{result['argv']} -> {result['status']}: {result['stderr'][-600:]}"
        assert result["status"] == 2, shown
        assert "Traceback" not in result["stderr"], shown
        assert len(errors) == 1, shown
        if number in expected:
            assert expected[number] in errors[0], shown


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "afile.txt").write_text("not a folder")
    (folder / "existing_dir.gif").mkdir()
    (folder / "run-tabular").mkdir()
    (folder / "run-tabular" / "config.json").write_text(json.dumps({"kind": "tabular", "seed": 0, "config": {}}))
    return folder


def test_core_and_classify_inputs(hostile_dir, data_dir):
    from PIL import Image

    Image.new("I;16", (8, 8), 40000).save(hostile_dir / "deep.png")
    (hostile_dir / "model-run").mkdir()
    cases = [
        (["classify", "train", "--epochs", "-2"], "--epochs: expected a positive integer, got '-2'"),
        (["classify", "train", "--learning-rate", "1e999"], "--learning-rate"),
        (["classify", "train", "--dataset", "cifar"], "expected one of fashion_mnist, mnist, got 'cifar'"),
        (["classify", "train", "--run-dir", ""], "--run-dir must name a folder, got ''"),
        (["classify", "train", "--run-dir", "/proc/self/newrun", "--data-dir", str(data_dir)], "cannot create run folder"),
        (["classify", "train", "--run-dir", "afile.txt/sub", "--data-dir", str(data_dir)], "afile.txt"),
        (["classify", "eval", "--run-dir", "/etc/passwd"], "is not a folder"),
        (["classify", "eval", "--run-dir", "nowhere"], "does not exist"),
        (["classify", "eval", "--run-dir", "run-tabular"], "is a 'tabular' run, not a 'classify' run"),
        (["classify", "train", "--resume"], "--resume needs --run-dir"),
        (["classify", "predict", "--run-dir", "nowhere", "missing.png"], "no such file"),
        (["nosuchgroup"], "invalid choice: 'nosuchgroup'"),
        (["dqn"], "required: COMMAND"),
        (["dqn", "train", "--buffer-size", "10000000000000", "--run-dir", "big"], "needs 400.2 TiB of memory"),
        (["dqn", "train", "--env-kwargs", '{"max_episode_steps": -5}', "--run-dir", "neg"], "max_episode_steps must be a positive integer"),
        (["dqn", "train", "--env-kwargs", '{"render_mode": "human"}', "--run-dir", "human"], "cannot set render_mode"),
        (["dqn", "train", "--env", "NoSuchEnv-v9", "--run-dir", "nosuch"], "NoSuchEnv-v9"),
        (["dqn", "train", "--exploration-fraction", "1.5", "--run-dir", "frac"], "--exploration-fraction must be <= 1.0"),
        (["dqn", "train", "--learning-rate", "nan", "--run-dir", "nan"], "finite number"),
        (["dqn", "play", "--run-dir", "run-tabular", "--video", "x.avi"], "must end in .gif or .mp4"),
        (["dqn", "play", "--run-dir", "run-tabular", "--video", "existing_dir.gif"], "is a folder"),
        (["dqn", "play", "--run-dir", "run-tabular", "--video", "afile.txt/x.gif"], "is not a folder"),
        (["dqn", "play", "--run-dir", "run-tabular", "--video", "/proc/self/x.gif"], "/proc/self"),
    ]
    results = run_cases([argv for argv, _ in cases], hostile_dir)
    assert_one_line_errors(results, {i: text for i, (_, text) in enumerate(cases)})
    for leftover in ("big", "neg", "human", "nosuch", "frac", "nan"):
        assert not (hostile_dir / leftover).exists(), leftover  # nothing written for a run that cannot start


# --- damaged run folders ------------------------------------------------------------------------------------
_FAULT_DRIVER = textwrap.dedent("""
    import contextlib, io, json, shutil, sys, traceback
    from pathlib import Path
    from rllab.cli import main

    def damage(path, how):
        data = path.read_bytes()
        if how == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif how == "empty":
            path.write_bytes(b"")
        else:  # garble: flip bytes through the middle of the file
            middle = len(data) // 2
            path.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 64]) + data[middle + 64:])

    results = []
    for case in json.load(sys.stdin):
        shutil.rmtree(case["copy"], ignore_errors=True)
        shutil.copytree(case["source"], case["copy"])
        damage(Path(case["copy"]) / case["file"], case["how"])
        for argv in case["commands"]:
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = exc.code
                except BaseException:
                    status, _ = "traceback", traceback.print_exc(file=err)
            results.append({"file": case["file"], "how": case["how"], "argv": argv, "status": status,
                            "stderr": err.getvalue()})
    print(json.dumps(results))
""")


def _damage_cases(source, plan):
    """``plan``: (file, damage modes, commands reading it) -> cases for `_FAULT_DRIVER` (RUN = the copy)."""
    cases = []
    copy = source.parent / f"{source.name}-damaged"
    for file, modes, commands in plan:
        for how in modes:
            cases.append({"source": str(source), "copy": str(copy), "file": file, "how": how,
                          "commands": [[part.replace("RUN", str(copy)) for part in argv] for argv in commands]})
    return cases


def _run_fault_cases(cases, cwd, env_extra=None):
    env = {"PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env_extra or {})}
    process = subprocess.run([sys.executable, "-c", _FAULT_DRIVER], input=json.dumps(cases), capture_output=True,
                             text=True, cwd=cwd, env=env, timeout=900)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def _assert_fallback_or_one_line_error(results):
    failures = []
    for result in results:
        shown = f"{result['file']} {result['how']}: {result['argv'][:2]} -> {result['status']}: {result['stderr'][-300:]}"
        errors = [line for line in result["stderr"].splitlines() if line.startswith("rllab: error: ")]
        if ("Traceback" in result["stderr"] or result["status"] not in (0, 2)
                or (result["status"] == 2 and len(errors) != 1)):
            failures.append(shown)
    assert not failures, "\n\n".join(failures)


def test_a_damaged_dqn_run_folder_falls_back_or_fails_in_one_line(tmp_path):
    from agents.dqn.config import config_for_env
    from agents.dqn.dqn import train

    source = tmp_path / "dqn"
    config = config_for_env("CartPole-v1", {
        "total_steps": 300, "num_envs": 2, "hidden_units": (8,), "learning_starts": 50, "train_frequency": 50,
        "gradient_steps": 2, "batch_size": 8, "eval_interval": 100, "eval_episodes": 1, "buffer_size": 500,
        "checkpoint_every_epochs": 1, "stop_threshold": None})
    train(config, run_dir=source, progress=False)
    newest = sorted((source / "checkpoints").glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))[-1].stem
    evaluate = [["dqn", "eval", "--run-dir", "RUN", "--episodes", "1"]]
    resume = [["dqn", "train", "--run-dir", "RUN", "--resume", "--total-steps", "400"]]
    every, binary = ("truncate", "empty", "garble"), ("truncate", "garble")
    plan = [("config.json", every, evaluate), ("metrics.csv", ("garble",), resume),
            ("checkpoints/best.json", ("empty",), resume), ("checkpoints/checkpoint", ("empty", "garble"), resume),
            *((f"checkpoints/{newest}.{suffix}", binary, resume)
              for suffix in ("index", "data-00000-of-00001", "state.npz", "bulk.npz")),
            ("artifacts/q_network.keras", every, evaluate)]
    results = _run_fault_cases(_damage_cases(source, plan), tmp_path)
    _assert_fallback_or_one_line_error(results)
    by_case = {(r["file"], r["how"], r["argv"][1]): r for r in results}
    # The newest checkpoint's small state damaged: the resume falls back to the previous checkpoint and,
    # the buffer being kept once, takes the newest intact one, saying both.
    fallback = by_case[(f"checkpoints/{newest}.state.npz", "truncate", "train")]
    assert fallback["status"] == 0 and "uses the bulk state of" in fallback["stderr"]
    assert "resuming from" in fallback["stderr"]
    # A damaged exported network is named as damaged, not as missing.
    assert "is damaged or not a Keras model" in by_case[("artifacts/q_network.keras", "truncate", "eval")]["stderr"]
    # A damaged index file is set aside and the checkpoints are found from their own files.
    assert by_case[("checkpoints/checkpoint", "empty", "train")]["status"] == 0


def test_a_damaged_classify_run_folder_falls_back_or_fails_in_one_line(tmp_path, data_dir):
    from rllab.classify import ClassifierConfig, train_classifier

    source = tmp_path / "classify"
    config = ClassifierConfig(dataset="mnist", model="mlp", epochs=2, batch_size=128, validation_size=100, train_limit=600)
    train_classifier(config, run_dir=source, seed=0, data_path=data_dir, verbose=0)
    evaluate = [["classify", "eval", "--run-dir", "RUN", "--data-dir", str(data_dir)]]
    resume = [["classify", "train", "--run-dir", "RUN", "--resume", "--epochs", "3", "--data-dir", str(data_dir)]]
    every, binary = ("truncate", "empty", "garble"), ("truncate", "garble")
    plan = [("config.json", every, evaluate), ("metrics.csv", ("garble",), resume),
            ("checkpoints/best.json", ("empty",), resume), ("checkpoints/checkpoint", ("garble",), resume),
            ("checkpoints/ckpt-2.index", binary, resume), ("checkpoints/ckpt-2.data-00000-of-00001", binary, resume),
            ("artifacts/model.keras", every, evaluate)]
    results = _run_fault_cases(_damage_cases(source, plan), tmp_path)
    _assert_fallback_or_one_line_error(results)
    by_case = {(r["file"], r["how"], r["argv"][1]): r for r in results}
    damaged_data = by_case[("checkpoints/ckpt-2.data-00000-of-00001", "truncate", "train")]
    assert damaged_data["status"] == 0 and "resuming from ckpt-1" in damaged_data["stderr"]


def test_kill_9_at_several_moments_then_resume_finishes_without_repeated_rows(tmp_path):
    """SIGKILL gives no chance to save: whatever moment it hits (mid-step, mid-save), the same command
    with --resume continues from the last intact checkpoint and metrics.csv never repeats an epoch."""
    import csv
    import os
    import random
    import signal
    import time

    from tests.conftest import rllab_command

    run_dir = tmp_path / "run"
    command = [*rllab_command(), "dqn", "train", "--env", "CartPole-v1", "--run-dir", str(run_dir),
               "--total-steps", "6000", "--num-envs", "2", "--hidden-units", "16", "--learning-starts", "100",
               "--train-frequency", "50", "--gradient-steps", "4", "--batch-size", "16", "--eval-interval", "200",
               "--eval-episodes", "2", "--buffer-size", "4000", "--checkpoint-every-epochs", "1",
               "--stop-threshold", "none"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    rng = random.Random(0)
    kills = 0
    for attempt in range(4):
        argv = command if attempt == 0 else [*command, "--resume"]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
        checkpoints = run_dir / "checkpoints"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:  # wait for training to be under way
            if checkpoints.is_dir() and any(checkpoints.glob("ckpt-*.index")):
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        _, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
    assert kills >= 2
    final = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    with open(run_dir / "metrics.csv", newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == list(range(len(epochs))) and len(epochs) == 30  # 6000 steps / 200 per epoch, none twice


def test_tabular_inputs(hostile_dir):
    cases = [
        (["tabular", "train", "--step-size", "1e308", "--run-dir", "t-alpha"], "--step-size and --step-size-end must be in [0, 1]"),
        (["tabular", "train", "--initial-q", "1e308", "--run-dir", "t-q0"], "--initial-q must be <= 1000000.0"),
        (["tabular", "train", "--episodes", "1000000000000", "--run-dir", "t-big"], "needs 14.6 TiB of memory"),
        (["tabular", "eval", "--run-dir", "run-tabular", "--episodes", "100000000000"], ""),
        (["tabular", "solve", "--horizon", "100000000", "--run-dir", "t-horizon"], "needs 47.7 GiB of memory"),
        (["tabular", "train", "--env-kwargs", '{"render_mode": "human"}', "--episodes", "5", "--run-dir", "t-human"], "render_mode"),
        (["tabular", "train", "--env-kwargs", '{"is_slippery": "no"}', "--run-dir", "t-slip"], "is_slippery"),
        (["tabular", "train", "--env-kwargs", '{"map_name": 5}', "--run-dir", "t-map"], "map_name takes 4x4 or 8x8"),
        (["tabular", "train", "--env", "NoSuchEnv-v9", "--run-dir", "t-env"], "NoSuchEnv-v9"),
        (["tabular", "train", "--run-dir", ""], "--run-dir must name a folder, got ''"),
        (["tabular", "train", "--run-dir", "/proc/self/newrun", "--episodes", "5"], "cannot create run folder"),
        (["tabular", "train", "--run-dir", "afile.txt/sub", "--episodes", "5"], "afile.txt"),
        (["tabular", "eval", "--run-dir", "afile.txt"], "is not a folder"),
    ]
    results = run_cases([argv for argv, _ in cases], hostile_dir)
    assert_one_line_errors(results, {i: text for i, (_, text) in enumerate(cases) if text})
    for leftover in ("t-alpha", "t-q0", "t-big", "t-horizon", "t-human", "t-slip", "t-map", "t-env"):
        assert not (hostile_dir / leftover).exists(), leftover


def test_a_damaged_tabular_checkpoint_falls_back_or_fails_in_one_line(tmp_path):
    source = tmp_path / "tabular"
    from rllab.cli import main

    assert main(["tabular", "train", "--episodes", "300", "--eval-every", "100", "--stop-at-optimum", "0",
                 "--run-dir", str(source), "--quiet"]) == 0
    resume = [["tabular", "train", "--episodes", "400", "--run-dir", "RUN", "--resume", "--quiet"]]
    evaluate = [["tabular", "eval", "--run-dir", "RUN", "--episodes", "10"]]
    plan = [("checkpoints/state.npz", ("truncate", "empty", "garble"), resume),
            ("checkpoints/state.prev.npz", ("truncate",), resume), ("config.json", ("garble",), evaluate),
            ("metrics.csv", ("garble",), resume), ("artifacts/q_table.npy", ("truncate", "empty"), evaluate)]
    results = _run_fault_cases(_damage_cases(source, plan), tmp_path)
    _assert_fallback_or_one_line_error(results)
    by_case = {(r["file"], r["how"]): r for r in results}
    fallback = by_case[("checkpoints/state.npz", "empty")]
    assert fallback["status"] == 0 and "resuming from state.prev.npz" in fallback["stderr"]


def test_two_writers_on_one_run_folder(tmp_path):
    """The second of two processes started into one --run-dir is refused, naming the first one's pid."""
    import os
    import time

    from tests.conftest import rllab_command

    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    argv = [*rllab_command(), "tabular", "train", "--episodes", "200000", "--run-dir", str(tmp_path / "run"), "--quiet"]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "run" / "config.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(argv + ["--resume"], capture_output=True, text=True, env=env, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"is in use by another rllab process (pid {first.pid})" in second.stderr
    finally:
        first.kill()
        first.communicate()
