"""What every benchmark script records beside its figures, under the same keys, and how it writes them."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rllab.runs import json_default, library_versions


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (timings on a loaded machine read slow)."""
    return [round(x, 2) for x in os.getloadavg()]


class MachineRecord:
    """Machine facts for a benchmark report: start it before the work, ``finish()`` after.

    >>> record = MachineRecord()
    >>> sorted(record.finish())
    ['cpus', 'load_average_end', 'load_average_start', 'platform', 'versions']
    """

    def __init__(self):
        self.load_start = load_average()

    def finish(self) -> dict[str, Any]:
        return {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "versions": library_versions(),
            "load_average_start": self.load_start,
            "load_average_end": load_average(),
        }


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """The benchmark's JSON file (written atomically), with a line saying where it went."""
    from rllab.runs import atomic_write

    path = atomic_write(path, lambda f: f.write(json.dumps(report, indent=2, default=json_default) + "\n"))
    print(f"wrote {path}")
    return path
