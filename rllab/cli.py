"""The ``rllab`` command: one parser per subsystem, dispatched from here.

This is the only place in ``rllab/`` that reaches into ``agents/`` and ``gan/``. Each group module
defines ``register(subparsers)``; it must not import TensorFlow at import time, so that ``--help``
stays fast (handlers import what they need).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

import rllab
from rllab.errors import UsageError
from rllab.quiet import VERBOSE_ENV

# group name -> (module defining register(subparsers), one-line description)
GROUPS: dict[str, tuple[str, str]] = {
    "classify": ("rllab.classify.cli", "train, evaluate and use MNIST / Fashion-MNIST classifiers"),
    "tabular": ("agents.tabular.cli", "dynamic programming, Monte Carlo and TD control on toy-text tasks"),
    "dqn": ("agents.dqn.cli", "deep Q-networks on Gymnasium environments"),
    "gan": ("gan.cli", "GAN and DCGAN on MNIST"),
    "style": ("gan.style_cli", "VGG19 neural style transfer"),
}


def _register_group(subparsers, name: str, module_name: str, description: str) -> bool:
    """Add group ``name`` from its module; a module not shipped yet gets a placeholder. True if real."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        module = None
    if module is not None and hasattr(module, "register"):
        module.register(subparsers)
        return True
    parser = subparsers.add_parser(name, help=f"{description} (not available in this version yet)",
                                   description=f"{description}. Not available in rllab {rllab.__version__} yet.")
    parser.set_defaults(func=lambda args, _name=name: _unavailable(_name, subparsers))
    return False


def _unavailable(name: str, subparsers) -> int:
    available = [g for g, p in subparsers.choices.items() if "func" not in p._defaults]
    raise UsageError(f"'rllab {name}' is reserved but not available in rllab {rllab.__version__} yet; "
                     f"available groups: {', '.join(available)}")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with the CLI's error format: one line, ``rllab: error: …``, a hint to --help, exit 2
    (argparse's own prints its whole usage block first). Subcommand parsers inherit the class."""

    def error(self, message: str):
        self.exit(2, f"rllab: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="rllab",
        description="A reinforcement-learning and generative-models lab on TensorFlow/Keras and Gymnasium. "
                    "Every 'train' writes a run folder (config, metrics.csv, TensorBoard logs, checkpoints, "
                    "artifacts) that 'eval', 'plot' and friends read back.",
        epilog="Run 'rllab GROUP --help' for a group's commands and 'rllab GROUP COMMAND --help' for their flags.",
    )
    parser.add_argument("--version", action="version", version=f"rllab {rllab.__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help=f"show TensorFlow's C++ start-up log lines, hidden by default (same as {VERBOSE_ENV}=1)")
    subparsers = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for name, (module_name, description) in GROUPS.items():
        _register_group(subparsers, name, module_name, description)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rllab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:  # before any handler imports TensorFlow: rllab.quiet reads it at that import
        os.environ[VERBOSE_ENV] = "1"
    func = getattr(args, "func", None)
    if func is None:  # a group given without its command
        parser.parse_args([args.group, "--help"])
        return 2
    try:
        status = func(args)
    except UsageError as exc:
        print(f"rllab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"rllab: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
