"""Reading a tabular run folder: the one home of what `train`, `plots` and the CLI all read back.

`train` writes run folders and `plots` draws from them; both import from here, so imports point one
way (``train -> plots -> run_folder``, ``train -> run_folder``).
"""
from __future__ import annotations

import numpy as np

from agents.tabular.config import ControlConfig, DPConfig, config_from_dict
from rllab.errors import UsageError
from rllab.runs import Run

GROUP = KIND = "tabular"
Q_TABLE = "q_table.npy"


def open_tabular_run(run_dir) -> tuple[Run, ControlConfig | DPConfig]:
    """An existing tabular run folder and its config; a missing or foreign folder is a `UsageError`."""
    run = Run.open(run_dir, KIND)
    try:
        return run, config_from_dict(run.config)
    except TypeError as exc:
        raise UsageError(f"{str(run.config_path)!r} does not hold a valid tabular config ({exc})") from None


def load_q_table(run: Run) -> np.ndarray:
    """The run's Q table (.npy, loaded without pickle)."""
    path = run.artifact(Q_TABLE)
    if not path.is_file():
        raise UsageError(f"{str(run.path)!r} has no artifacts/{Q_TABLE} yet (training not finished?)")
    try:
        q = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UsageError(f"{str(path)!r} is unreadable or corrupt ({exc})") from None
    if q.ndim not in (2, 3) or not np.issubdtype(q.dtype, np.floating):
        raise UsageError(f"{str(path)!r} is not a Q table: shape {q.shape}, dtype {q.dtype}")
    return q
