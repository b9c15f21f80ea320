"""Shared fixtures. Real datasets come from $RLLAB_DATA_DIR or ../shared/datasets beside the repo."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared" / "datasets"


def _data_dir() -> Path | None:
    env = os.environ.get("RLLAB_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [_SHARED]:
        if (candidate / "mnist.npz").exists():
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the real mnist.npz and fashion-mnist/ (tests needing it skip without it)."""
    folder = _data_dir()
    if folder is None:
        pytest.skip("real datasets not found: set RLLAB_DATA_DIR or put them in ../shared/datasets")
    return folder


@pytest.fixture
def with_data_dir(data_dir, monkeypatch) -> Path:
    monkeypatch.setenv("RLLAB_DATA_DIR", str(data_dir))
    return data_dir


def load_script(name: str):
    """``scripts/NAME.py`` imported as a module (the scripts are no package), for tests of their functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rllab_command() -> list[str]:
    """The installed console script, or the module when the package is not installed."""
    script = shutil.which("rllab")
    return [script] if script else [sys.executable, "-m", "rllab.cli"]


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real ``rllab`` entry point in a subprocess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([*rllab_command(), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd)


# Runs each argv through rllab.cli.main in one Python process (TensorFlow imported once), recording what
# a user would see on stderr; a traceback is recorded as the status "traceback".
_CASES_DRIVER = """
import contextlib, io, json, sys, traceback
from rllab.cli import main
results = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
        except BaseException:
            status, _ = "traceback", traceback.print_exc(file=err)
    results.append({"argv": argv, "status": status, "stderr": err.getvalue()})
print(json.dumps(results))
"""


def run_cli_cases(cases: list[list[str]], cwd, env: dict | None = None) -> list[dict]:
    """``[{"argv", "status", "stderr"}]`` of each argv run through the real entry point in one process."""
    import json

    full_env = {"PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(cwd), **(env or {})}
    process = subprocess.run([sys.executable, "-c", _CASES_DRIVER], input=json.dumps(cases), capture_output=True,
                             text=True, cwd=cwd, env=full_env, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])
