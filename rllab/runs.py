"""Run folders: every train command writes one, and eval/plot/play read it back.

Layout::

    <run_dir>/
        config.json      kind, seed, every hyperparameter, library versions, command line
        metrics.csv      one row per epoch (or log interval)
        tensorboard/     TensorBoard event files
        checkpoints/     resumable state (tf.train.Checkpoint files + NumPy side files)
        artifacts/       plots, samples, exported models, tables
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from rllab.errors import UsageError

CONFIG_NAME = "config.json"
_TRACKED_PACKAGES = ("rllab", "numpy", "tensorflow", "keras", "gymnasium", "ale-py", "matplotlib", "pillow")


def default_run_dir(group: str) -> Path:
    """``runs/<group>/<UTC timestamp>``, the default ``--run-dir`` of every train command."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / group / stamp


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = False) -> Path:
    """Write a file through ``write(fileobj)`` into a temporary sibling, then rename it into place.

    A crash or Ctrl-C mid-write leaves the previous file (or none), never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write(path, lambda f: json.dump(obj, f, indent=2, default=json_default))


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> Path:
    return atomic_write(path, lambda f: np.save(f, np.asarray(array), allow_pickle=False), binary=True)


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    return atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)


def json_default(obj: Any) -> Any:
    """``json.dump``'s ``default=`` for what runs store: NumPy scalars and arrays, paths, tuples."""
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def config_to_dict(config: Any) -> dict:
    """A dataclass instance or mapping as a plain JSON-ready dict."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dataclass instance or a mapping, got {type(config).__name__}")
    return json.loads(json.dumps(dict(config), default=json_default))


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclasses.dataclass
class Run:
    """A run folder. Make one with `Run.create` (train) or `Run.open` (eval, plot, play)."""

    path: Path
    kind: str
    seed: int
    config: dict

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def artifacts_dir(self) -> Path:
        return self.path / "artifacts"

    def artifact(self, name: str) -> Path:
        """Path of ``name`` inside ``artifacts/`` (the folder exists; the file may not)."""
        return self.artifacts_dir / name

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as ``artifacts/<name>`` atomically."""
        return write_json_atomic(self.artifact(name), obj)

    def _make_dirs(self) -> None:
        for folder in (self.tensorboard_dir, self.checkpoints_dir, self.artifacts_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(
        cls,
        group: str,
        kind: str,
        config: Any,
        *,
        seed: int,
        run_dir: str | os.PathLike | None = None,
    ) -> "Run":
        """Start a new run folder (trainers go through `rllab.lifecycle.open_run`, which also resumes).

        A folder that already holds a run is refused, so nothing is overwritten by accident.

        >>> import tempfile
        >>> run = Run.create("demo", "demo", {"lr": 0.1}, seed=0, run_dir=tempfile.mkdtemp() + "/r")
        >>> sorted(p.name for p in run.path.iterdir())
        ['artifacts', 'checkpoints', 'config.json', 'tensorboard']
        """
        if run_dir is None:
            run_dir = default_run_dir(group)
        path = Path(run_dir)
        if (path / CONFIG_NAME).exists():
            raise UsageError(
                f"run folder {str(path)!r} already holds a run; pass --resume to continue it "
                "or choose another --run-dir"
            )
        if path.exists() and not path.is_dir():
            raise UsageError(f"--run-dir {str(path)!r} exists and is not a folder")
        run = cls(path=path, kind=kind, seed=int(seed), config=config_to_dict(config))
        run._make_dirs()
        record = {
            "kind": kind,
            "seed": run.seed,
            "config": run.config,
            "versions": library_versions(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": sys.argv,
        }
        write_json_atomic(run.config_path, record)
        return run

    @classmethod
    def open(cls, run_dir: str | os.PathLike, kind: str) -> "Run":
        """Open an existing run folder of ``kind``; a missing or foreign folder is a `UsageError`."""
        path = Path(run_dir)
        if not path.is_dir():
            raise UsageError(f"run folder {str(path)!r} does not exist")
        config_path = path / CONFIG_NAME
        if not config_path.is_file():
            raise UsageError(f"{str(path)!r} is not a run folder (no {CONFIG_NAME})")
        try:
            record = json.loads(config_path.read_text())
            stored_kind, seed, config = record["kind"], int(record["seed"]), dict(record["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{str(config_path)!r} is unreadable or corrupt ({exc})") from None
        if stored_kind != kind:
            raise UsageError(f"{str(path)!r} is a {stored_kind!r} run, not a {kind!r} run")
        return cls(path=path, kind=kind, seed=seed, config=config)
