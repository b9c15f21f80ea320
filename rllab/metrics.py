"""metrics.csv without Keras: the writer for loops that never import TensorFlow, and the reader.

The layout is the one `rllab.callbacks.MetricsCSVLogger` (Keras' CSVLogger) writes: an ``epoch``
column, then fixed metric columns, ``NA`` for a value not measured in that row.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np


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
