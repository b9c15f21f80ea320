"""metrics.csv without Keras: the writer for loops that never import TensorFlow, and the reader.

The layout is the one `rllab.callbacks.MetricsCSVLogger` (Keras' CSVLogger) writes: an ``epoch``
column, then fixed metric columns, ``NA`` for a value not measured in that row.
"""
from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from rllab.runs import atomic_write


class MetricsWriter:
    """Appends one row per log interval to a metrics CSV with columns fixed up front.

    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "metrics.csv"
    >>> writer = MetricsWriter(path, ["return", "epsilon"])
    >>> writer.write({"return": 1.0})
    >>> path.read_text().splitlines()
    ['epoch,return,epsilon', '0,1.0,NA']
    """

    def __init__(self, path: str | os.PathLike, keys: Iterable[str], *, append: bool = False):
        self.path, self.keys = Path(path), list(keys)
        if append:
            set_aside_if_damaged(self.path, self.keys)
        if append and self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, newline="") as f:
                self.epoch = max(0, sum(1 for _ in f) - 1)
        else:
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(["epoch", *self.keys])
            self.epoch = 0

    def write(self, row: Mapping[str, object]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([self.epoch, *(_format(row.get(key)) for key in self.keys)])
        self.epoch += 1


def set_aside_if_damaged(path: str | os.PathLike, keys: Iterable[str] | None = None) -> bool:
    """Before a resumed run appends to a metrics CSV: if the file is not one we wrote (its header does
    not start with ``epoch`` + ``keys``, or a row other than a torn last one has the wrong width or a non-number
    epoch), move it to ``<name>.damaged`` with a one-line notice, so the run logs into a fresh file
    instead of appending under garbage. Returns whether it did.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    problem = None
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        rows, problem = [], f"unreadable ({type(exc).__name__})"
    if problem is None:
        header, body = rows[0] if rows else [], rows[1:]
        expected = ["epoch", *keys] if keys is not None else ["epoch"]
        if header[: len(expected)] != expected:
            problem = "its header is not the metrics header"
        else:
            for number, row in enumerate(body):
                torn_last = number == len(body) - 1
                if row and (len(row) != len(header) or not _is_number(row[0])) and not torn_last:
                    problem = f"row {number + 2} is malformed"
                    break
    if problem is None:
        return False
    damaged = path.with_name(path.name + ".damaged")
    os.replace(path, damaged)
    print(f"rllab: {str(path)!r} was damaged ({problem}); moved it to {damaged.name} and logging anew",
          file=sys.stderr, flush=True)
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def drop_rows_from(path: str | os.PathLike, epoch: int) -> int:
    """Keep the header and the rows whose ``epoch`` is below ``epoch``; returns the rows kept.

    A resumed run calls this before appending: rows written after its last checkpoint (a kill
    between a row and the checkpoint that follows it) would otherwise appear twice. The file is
    rewritten atomically; a missing or empty file is left as it is.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    kept = [row for row in body if row and _epoch_of(row) < epoch]
    if len(kept) < len(body):
        atomic_write(path, lambda f: csv.writer(f).writerows([header, *kept]))
    return len(kept)


def _epoch_of(row: list[str]) -> float:
    try:
        return float(row[0])
    except ValueError:
        return math.inf  # a torn last line from a kill: dropped


def _format(value) -> str:
    if value is None:
        return "NA"
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def read_metrics_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a metrics CSV as float arrays (``NA`` and non-numbers become NaN); {} if no file."""
    path = Path(path)
    if not path.is_file():
        return {}
    columns: dict[str, list[float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = math.nan
                columns.setdefault(key, []).append(number)
    return {key: np.asarray(values) for key, values in columns.items()}
