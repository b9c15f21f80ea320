"""What every benchmark script records beside its figures, under the same keys, and how it writes them."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rllab.precision import CPUINFO, cpu_info, has_bfloat16_flags
from rllab.runs import json_default, library_versions


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (timings on a loaded machine read slow)."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_description(cpuinfo: str | os.PathLike = CPUINFO) -> dict[str, Any]:
    """The CPU's name, its family/model numbers and whether it computes bfloat16 in hardware (from the first
    processor of ``cpuinfo``; None and False where there is no such file). Cloud CPUs are often named only
    "Intel Xeon Processor": the model number (85: Skylake/Cascade Lake, 143: Sapphire Rapids) and the bfloat16
    flag tell two such machines apart, and bfloat16 alone halved or doubled some of this lab's timings
    (`rllab.precision`)."""
    fields = cpu_info(cpuinfo)
    model = "/".join(fields[key] for key in ("cpu family", "model") if key in fields) or None
    return {"name": fields.get("model name") or platform.processor() or None, "model": model,
            "bfloat16": has_bfloat16_flags(fields.get("flags", "").split())}


class MachineRecord:
    """Machine facts for a benchmark report: start it before the work, ``finish()`` after.

    >>> record = MachineRecord()
    >>> sorted(record.finish())
    ['cpu', 'cpus', 'load_average_end', 'load_average_start', 'platform', 'versions']
    >>> sorted(record.finish()["cpu"])
    ['bfloat16', 'model', 'name']
    """

    def __init__(self):
        self.load_start = load_average()

    def finish(self) -> dict[str, Any]:
        return {
            "cpus": os.cpu_count(),
            "cpu": cpu_description(),
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
