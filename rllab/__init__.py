"""rllab: the shared Keras core of the lab (data, models, training loop, callbacks, run folders, CLI).

`agents/` and `gan/` build on this package; it never imports them (only `rllab.cli` dispatches to them).
"""
import os

# TensorFlow's C++ start-up chatter drowns the CLI's own output; users can still override this.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# That variable cannot hide the lines TensorFlow prints while it loads; see rllab/quiet.py.
from rllab import quiet as _quiet  # noqa: E402  (stdlib only: importing rllab stays cheap)

_quiet.install()

__version__ = "0.1.0"
