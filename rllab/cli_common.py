"""Flags and argparse types every subcommand shares (the CLI contract)."""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import types
import typing
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from rllab.runs import json_default


def add_train_args(parser: argparse.ArgumentParser, group: str, *, seed_help: str, budget_flags: Sequence[str]) -> None:
    """``--run-dir``, ``--seed`` and ``--resume``, taken by every ``train`` command.

    ``--seed`` parses to None when not given (so ``--resume`` can tell a typed seed from the default 0).
    """
    budget_help = " and ".join(budget_flags) if budget_flags else "none"
    parser.add_argument("--run-dir", metavar="DIR", default=None,
                        help=f"run folder to write (default: runs/{group}/<UTC timestamp>)")
    parser.add_argument("--seed", type=nonneg_int, default=None, metavar="N", help=f"{seed_help} (default: 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir from its latest checkpoint with its stored config: "
                             "re-run the same command with --resume added; flags must match the stored values, "
                             f"except {budget_help}, which extend the run")


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """``--run-dir`` (required) and ``--json``, taken by every ``eval`` command."""
    parser.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train")
    parser.add_argument("--json", action="store_true",
                        help="print the measured figures as one JSON object on the last line of stdout")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON line on stdout (the last line of an ``eval --json``)."""
    sys.stdout.flush()
    print(json.dumps(obj, default=json_default), flush=True)


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


def positive_fraction(text: str) -> float:
    value = _parse_number(float, text, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
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


# --- flags built from a config dataclass --------------------------------------------------------------------
NONE = "none"
"""What an optional flag's ``none`` parses to before `ConfigFlags.given` turns it into None."""


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's docstring (the string literal under it), from ``cls`` and its bases.

    >>> from rllab.classify.config import ClassifierConfig
    >>> field_docs(ClassifierConfig)["epochs"]
    'Passes over the training set.'
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # source unavailable (doctest, frozen app): no help from docstrings
            continue
        body = tree.body[0].body
        for statement, following in zip(body, body[1:]):
            if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _optional(parse: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse_optional(text: str):
        if text.strip().lower() == NONE:
            return NONE
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected {what} or 'none', got {text!r}") from None
    return parse_optional


def number(text: str) -> float:
    """Any finite number."""
    value = _parse_number(float, text, "a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _show(value: Any) -> str:
    if value is None:
        return NONE
    if dataclasses.is_dataclass(value):
        return json.dumps(dataclasses.asdict(value))
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=json_default)
    return str(value)


@dataclasses.dataclass
class ConfigFlags:
    """The flags `add_config_flags` made: ``given(args)`` reads back the ones typed, by config path."""

    flags: dict[str, str]
    """config path (``"total_steps"``, ``"epsilon.start"``) -> flag (``"--total-steps"``)."""

    def given(self, args: argparse.Namespace) -> dict[str, Any]:
        """The config values the user typed, keyed by config path (``none`` becomes None)."""
        values = {}
        for path in self.flags:
            value = getattr(args, path, None)
            if value is None:
                continue
            values[path] = None if value == NONE else (list(value) if isinstance(value, tuple) else value)
        return values


def add_config_flags(
    parser: argparse.ArgumentParser,
    config_cls: type,
    *,
    skip: Sequence[str] = (),
    flag_names: Mapping[str, str] | None = None,
    parsers: Mapping[str, Callable[[str], Any]] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    defaults: Mapping[str, str] | None = None,
    docs: Mapping[str, str] | None = None,
) -> ConfigFlags:
    """One flag per field of the dataclass ``config_cls``, its help being the field's docstring.

    Every flag parses to None when left out (the config's defaults, which may depend on the env,
    decide), so ``given(args)`` knows exactly what was typed. Field paths name nested dataclass
    fields with a dot (``"epsilon.start"``). Per path: ``flag_names`` overrides ``--field-name``,
    ``parsers`` the argument type, ``choices`` the accepted words, ``defaults`` the default shown in
    the help (e.g. per-env values; else the dataclass default), ``docs`` the help text.

    The type comes from the annotation: bool (``--x/--no-x``), int (``>= 1``, or ``>= 0`` when the
    default is 0), float, str, dict (a JSON object), tuple[int, ...] (several numbers), and any of
    them ``| None`` (which also accepts ``none``).
    """
    flag_names, parsers, choices = dict(flag_names or {}), dict(parsers or {}), dict(choices or {})
    defaults, docs = dict(defaults or {}), dict(docs or {})
    made: dict[str, str] = {}

    def add_fields(cls: type, prefix: str, instance: Any) -> None:
        hints = typing.get_type_hints(cls)
        field_doc = field_docs(cls)
        for config_field in dataclasses.fields(cls):
            path = prefix + config_field.name
            if path in skip:
                continue
            if config_field.default is not dataclasses.MISSING:
                default = config_field.default
            elif config_field.default_factory is not dataclasses.MISSING:
                default = config_field.default_factory()
            else:
                default = None
            if instance is not None:
                default = getattr(instance, config_field.name)
            annotation = hints[config_field.name]
            if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
                add_fields(annotation, path + ".", default)
                continue
            flag = flag_names.get(path, "--" + path.replace(".", "-").replace("_", "-"))
            made[path] = flag
            help_text = docs.get(path, field_doc.get(config_field.name, ""))
            shown = defaults.get(path, _show(default))
            help_text = f"{help_text} (default: {shown})".strip()
            kwargs = _flag_kind(path, annotation, default, parsers.get(path), choices.get(path))
            parser.add_argument(flag, dest=path, default=None, help=help_text.replace("%", "%%"), **kwargs)

    add_fields(config_cls, "", None)
    return ConfigFlags(made)


def _flag_kind(path: str, annotation: Any, default: Any, parse: Callable | None, words: Sequence[str] | None) -> dict:
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) != 1:
            raise TypeError(f"no command-line flag type for {path}: {annotation}")
        annotation = members[0]
    if annotation is bool and not optional:
        return {"action": argparse.BooleanOptionalAction}
    if words is not None:
        def parse_word(text: str, _words=tuple(words)):
            if text not in _words:
                raise argparse.ArgumentTypeError(f"expected one of {', '.join(_words)}, got {text!r}")
            return text
        kind, metavar, what = parse_word, "{" + ",".join(words) + "}", "one of " + ", ".join(words)
    elif parse is not None:  # an explicit parser decides alone (it may accept none itself)
        return {"type": parse, "metavar": _metavar(annotation)}
    elif annotation is int:
        kind = nonneg_int if default == 0 else positive_int
        metavar, what = "N", "an integer"
    elif annotation is float:
        kind, metavar, what = number, "X", "a number"
    elif annotation is str:
        kind, metavar, what = str, "NAME", "a name"
    elif annotation is dict:
        kind, metavar, what = json_object, "JSON", "a JSON object"
    elif typing.get_origin(annotation) is tuple:
        return {"type": positive_int, "nargs": "+", "metavar": "N"}
    else:  # a new field type needs a line here; fail loudly rather than silently drop the flag
        raise TypeError(f"no command-line flag type for {path}: {annotation}")
    if optional:
        return {"type": _optional(kind, what), "metavar": f"{metavar}|none"}
    return {"type": kind, "metavar": metavar}


def _metavar(annotation: Any) -> str:
    return {int: "N", float: "X", str: "NAME", dict: "JSON"}.get(annotation, "VALUE")
