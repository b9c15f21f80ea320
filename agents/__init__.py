"""Reinforcement-learning agents (tabular methods, DQN) built on the shared `rllab` core."""

# Importing rllab first installs its quiet TensorFlow import (rllab/quiet.py) for code that starts here.
import rllab  # noqa: F401
