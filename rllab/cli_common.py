"""Flags and argparse types every subcommand shares (the CLI contract)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rllab.runs import _json_default


def add_train_args(parser: argparse.ArgumentParser, group: str) -> None:
    """``--run-dir``, ``--seed`` and ``--resume``, taken by every ``train`` command."""
    parser.add_argument("--run-dir", metavar="DIR", default=None,
                        help=f"run folder to write (default: runs/{group}/<UTC timestamp>)")
    parser.add_argument("--seed", type=nonneg_int, default=0, metavar="N",
                        help="seed for Python, NumPy, TensorFlow and the environments (default: 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir from its latest checkpoint, with its stored config")


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """``--run-dir`` (required) and ``--json``, taken by every ``eval`` command."""
    parser.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train")
    parser.add_argument("--json", action="store_true",
                        help="print the measured figures as one JSON object on the last line of stdout")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON line on stdout (the last line of an ``eval --json``)."""
    sys.stdout.flush()
    print(json.dumps(obj, default=_json_default), flush=True)


def _parse_number(kind, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _parse_number(int, text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def nonneg_int(text: str) -> int:
    value = _parse_number(int, text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _parse_number(float, text, "a positive number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def probability(text: str) -> float:
    value = _parse_number(float, text, "a number in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def json_object(text: str) -> dict:
    """A JSON object given on the command line, e.g. ``'{"map_name": "8x8"}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"key\": 1}}', got {text!r} ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value
