"""Keep TensorFlow's C++ start-up chatter off the terminal (``RLLAB_VERBOSE=1`` shows it again).

Importing TensorFlow (directly or through Keras) prints absl/glog lines such as
``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR`` and
``I0000 … port.cc:153] oneDNN custom operations are on`` (the block twice with TF 2.21), and the
first listing of devices prints ``E0000 … cuda_platform.cc:52] failed call to cuInit`` on a machine
without a GPU. That cuInit line
comes *after* the import, from the first device listing or first op, not from the import itself.
The early lines are written before absl reads ``TF_CPP_MIN_LOG_LEVEL`` and the cuInit line is an
error, so that variable cannot hide them; C++ writes straight to file descriptor 2, so replacing
``sys.stderr`` cannot either.

Mechanism: `install()` (called by ``rllab/__init__.py``) puts a `sys.meta_path` finder in front of
the import system. It only acts on the top-level ``tensorflow`` module: it lets the regular finders
locate it and wraps the loader, so that executing ``tensorflow/__init__.py`` and then
``tf.config.list_physical_devices()`` (which initialises the devices, and with them CUDA, right away
instead of at the first op) run with fd 2 pointed at a temporary file. Why a finder rather than an
explicit call in ``rllab.cli.main``: every ``import tensorflow`` / ``import keras`` anywhere in the
process (CLI handlers, scripts, tests, notebooks that imported rllab first) is covered without each
call site remembering to do it, and it stays lazy -- commands that never import TensorFlow (the
tabular ones, ``--help``) pay nothing.

Nothing of ours is lost: while fd 2 is redirected, ``sys.stderr`` (when it is the fd-2 stream) is
swapped for a stream on the original terminal, so Python-level output passes through in order; of
what did land in the temporary file, the absl/glog records are kept in `captured_chatter()` and
everything else is written back to stderr afterwards -- all of it if the import fails, since the
records may say why. If anything about the redirection fails (no fd 2, no temporary file, a
TensorFlow release without ``tf.config``), the import simply runs as usual. The cost: the device
listing (cuInit on a GPU machine) happens at import even for a command that never runs an op.
``RLLAB_VERBOSE=1`` (set by ``rllab --verbose``) turns the capture off; it is read when TensorFlow is
imported, not when rllab is, so the flag can be parsed first.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import io
import os
import re
import sys
import tempfile
from typing import Iterator

VERBOSE_ENV = "RLLAB_VERBOSE"
_QUIETED_MODULE = "tensorflow"

# A glog/absl record: severity letter, MMDD, time, thread id, file:line] (e.g. "E0000 00:00:17.5 31 a.cc:52] ...").
_GLOG_RECORD = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\s\]]+:\d+\]")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"

_captured: list[str] = []


def verbose() -> bool:
    """True when the user asked to see TensorFlow's start-up lines (``RLLAB_VERBOSE`` set, not 0/empty)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def captured_chatter() -> str:
    """The absl/glog lines kept off stderr so far in this process (for debugging; empty when verbose)."""
    return "".join(_captured)


def split_chatter(text: str) -> tuple[str, str]:
    """``(chatter, rest)`` of captured fd-2 text: absl/glog records (with their continuation lines,
    e.g. cpu_feature_guard's "To enable the following instructions: ...") versus anything else."""
    chatter, rest = [], []
    in_record = False
    for line in text.splitlines(keepends=True):
        if _GLOG_RECORD.match(line) or line.rstrip("\r\n") == _ABSL_BANNER:
            in_record = True
            chatter.append(line)
        elif in_record and line.strip():  # a multi-line C++ log message goes on without a prefix
            chatter.append(line)
        else:
            in_record = False
            rest.append(line)
    return "".join(chatter), "".join(rest)


@contextlib.contextmanager
def stderr_fd_captured() -> Iterator[None]:
    """Run the body with fd 2 pointed at a temporary file; afterwards keep the absl/glog records and
    write everything else back to stderr (everything, records included, if the body raised: then they
    may say why). Does nothing at all if fd 2 cannot be redirected."""
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    redirected = _redirect_fd2()
    if redirected is None:  # no fd 2 (a daemon with stderr closed), no temporary file: hide nothing
        yield
        return
    saved_fd, capture = redirected
    python_stderr = _passthrough_stderr(saved_fd)
    original_stderr = sys.stderr
    if python_stderr is not None:
        sys.stderr = python_stderr
    body_failed = True
    try:
        yield
        body_failed = False
    finally:
        if python_stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                python_stderr.flush()
            if sys.stderr is python_stderr:  # leave it alone if the body installed its own
                sys.stderr = original_stderr
            with contextlib.suppress(OSError, ValueError):
                python_stderr.close()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        _release(capture, replay_chatter=body_failed)


def _redirect_fd2():
    """Point fd 2 at a new temporary file: ``(duplicate of the old fd 2, file)``, or None if impossible."""
    try:
        saved_fd = os.dup(2)
    except OSError:
        return None
    try:
        capture = tempfile.TemporaryFile(mode="w+b")
    except OSError:
        os.close(saved_fd)
        return None
    try:
        os.dup2(capture.fileno(), 2)
    except OSError:
        capture.close()
        os.close(saved_fd)
        return None
    return saved_fd, capture


def _passthrough_stderr(saved_fd: int):
    """A text stream on the real stderr to stand in for ``sys.stderr`` while fd 2 is captured, or
    None when ``sys.stderr`` is not the fd-2 stream (pytest's capsys, a StringIO) and needs no help."""
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return None
        return io.TextIOWrapper(os.fdopen(os.dup(saved_fd), "wb"), encoding=sys.stderr.encoding or "utf-8",
                                errors=sys.stderr.errors or "backslashreplace", write_through=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _release(capture, *, replay_chatter: bool) -> None:
    """Read the capture file back, keep the chatter, replay the rest to stderr, close the file."""
    try:
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
    except OSError:
        text = ""
    finally:
        capture.close()
    chatter, rest = split_chatter(text)
    if chatter:
        _captured.append(chatter)
    if replay_chatter:
        rest = text
    if rest:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(rest)
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: same module, executed with fd 2 captured."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if verbose():
            self._loader.exec_module(module)
            return
        with stderr_fd_captured():
            self._loader.exec_module(module)
            _initialise_devices(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ... behave as the real loader's
        return getattr(self._loader, name)


def _initialise_devices(tensorflow) -> None:
    """Trigger the device (CUDA) initialisation now, while fd 2 is still captured: left to the
    first op, its cuInit error would print in the middle of our own output."""
    try:
        tensorflow.config.list_physical_devices()
    except Exception:  # a future TensorFlow without this API: its chatter just shows
        pass


class QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """`sys.meta_path` entry that hands out TensorFlow's spec with a `_QuietLoader`."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _QUIETED_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, QuietTensorFlowFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _QuietLoader(spec.loader)
            return spec
        return None


def install() -> None:
    """Quiet every later ``import tensorflow`` in this process (idempotent; too late if it already ran)."""
    if _QUIETED_MODULE in sys.modules:
        return
    if not any(isinstance(finder, QuietTensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowFinder())
