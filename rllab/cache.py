"""Where the lab keeps what it builds once and reuses (e.g. the classifier that judges GAN samples)."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "RLLAB_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """``$RLLAB_CACHE_DIR`` (default ``$XDG_CACHE_HOME/rllab``, i.e. ``~/.cache/rllab``) joined with ``parts``.

    The folder is not created here: callers create what they write.

    >>> cache_dir("classifiers").name
    'classifiers'
    """
    root = os.environ.get(CACHE_DIR_ENV)
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "rllab")
    return Path(root).expanduser().joinpath(*parts)
