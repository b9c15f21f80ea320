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
LOCK_NAME = ".lock"
_UMASK = os.umask(0)
os.umask(_UMASK)
_held_locks: dict[str, int] = {}
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
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; the file gets what open() would give it
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

    def update_record(self, **fields: Any) -> None:
        """Add or replace top-level entries of config.json (written atomically)."""
        record = json.loads(self.config_path.read_text())
        record.update(fields)
        write_json_atomic(self.config_path, record)

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
        >>> sorted(p.name for p in run.path.iterdir() if not p.name.startswith("."))
        ['artifacts', 'checkpoints', 'config.json', 'tensorboard']
        """
        path = check_run_dir(run_dir if run_dir is not None else default_run_dir(group))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create run folder {str(path)!r}: {exc.strerror or exc}") from None
        lock_run_folder(path)
        if holds_run(path):
            raise UsageError(
                f"run folder {str(path)!r} already holds a run; pass --resume to continue it "
                "or choose another --run-dir"
            )
        run = cls(path=path, kind=kind, seed=int(seed), config=config_to_dict(config))
        try:
            run._make_dirs()
        except OSError as exc:
            raise UsageError(f"cannot create run folder {str(path)!r}: {exc.strerror or exc}") from None
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
        if path.exists() and not path.is_dir():
            raise UsageError(f"run folder {str(path)!r} is not a folder")
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


def holds_run(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` already holds a run (its config is written first), which `Run.create` refuses."""
    return (Path(run_dir) / CONFIG_NAME).exists()


def check_run_dir(run_dir: str | os.PathLike) -> Path:
    """``--run-dir`` as a `Path`, refused early (before data loads or envs start) when it cannot be a
    run folder: empty, an existing file, or below a file.

    >>> check_run_dir("")
    Traceback (most recent call last):
    ...
    rllab.errors.UsageError: --run-dir must name a folder, got ''
    """
    if str(run_dir).strip() == "":
        raise UsageError("--run-dir must name a folder, got ''")
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--run-dir {str(path)!r} exists and is not a folder")
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UsageError(f"--run-dir {str(path)!r}: {str(ancestor)!r} is a file, not a folder")
            break
    return path


def lock_run_folder(path: str | os.PathLike) -> None:
    """Take the run folder for this process: a second process writing to it gets a one-line error.

    The lock (``flock`` on ``<run>/.lock``, which records the holder's pid) lasts until the process
    ends, and is re-entrant within a process (a trainer called twice on one folder, as tests do).
    Where locks are unsupported (some network file systems), nothing is locked.
    """
    import fcntl

    path = Path(path)
    key = str(path.resolve())
    if key in _held_locks:
        return
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise UsageError(f"cannot write in run folder {str(path)!r}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise UsageError(f"run folder {str(path)!r} is in use by another rllab process (pid {holder}); "
                         "wait for it to finish or choose another --run-dir") from None
    except OSError:
        os.close(fd)
        return
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held_locks[key] = fd
