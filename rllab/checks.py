"""Typed argument validation. Every failure is a `UsageError` naming the bad value and what is accepted."""
from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any, Iterable

from rllab.errors import UsageError


def check_int(name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """Return ``value`` as an int, or raise `UsageError`.

    >>> check_int("epochs", 3, min_value=1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if min_value is not None and value < min_value:
        raise UsageError(f"{name} must be >= {min_value}, got {value}")
    if max_value is not None and value > max_value:
        raise UsageError(f"{name} must be <= {max_value}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float within the bounds, or raise `UsageError`.

    >>> check_float("gamma", 0.99, min_value=0.0, max_value=1.0)
    0.99
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{name} must be finite, got {value}")
    if min_value is not None and (value < min_value or (not min_inclusive and value == min_value)):
        bound = ">=" if min_inclusive else ">"
        raise UsageError(f"{name} must be {bound} {min_value}, got {value}")
    if max_value is not None and (value > max_value or (not max_inclusive and value == max_value)):
        bound = "<=" if max_inclusive else "<"
        raise UsageError(f"{name} must be {bound} {max_value}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, or raise `UsageError` listing them.

    >>> check_choice("model", "cnn", ["mlp", "cnn"])
    'cnn'
    """
    choices = list(choices)
    if value not in choices:
        accepted = ", ".join(str(c) for c in choices)
        raise UsageError(f"{name} must be one of {accepted}; got {value!r}")
    return value


def check_file(name: str, path: str | os.PathLike) -> Path:
    """Return ``path`` as a `Path` if it is a readable file, or raise `UsageError`."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{name}: no such file {str(path)!r}")
    if not path.is_file():
        raise UsageError(f"{name}: {str(path)!r} is not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{name}: {str(path)!r} is not readable")
    return path


def available_memory_bytes() -> int | None:
    """Memory a new allocation can use: ``MemAvailable`` on Linux, else physical memory; None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(count: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def check_memory(what: str, nbytes: float) -> None:
    """Refuse, before allocating, an array that cannot fit: a `UsageError` saying how much it needs.

    >>> check_memory("--episodes 10", 80)
    >>> check_memory("--episodes 1000000000000", 8e12)
    Traceback (most recent call last):
    ...
    rllab.errors.UsageError: --episodes 1000000000000 needs 7.3 TiB of memory; this machine has ... available
    """
    available = available_memory_bytes()
    if available is not None and nbytes > available:
        raise UsageError(f"{what} needs {format_bytes(nbytes)} of memory; this machine has "
                         f"{format_bytes(available)} available")
