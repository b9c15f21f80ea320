"""Tabular reinforcement learning on Gymnasium's toy-text tasks.

Modules, in reading order:

* `envs` -- space checks, Tuple-of-Discrete encoding, training step caps, exploring starts;
* `model`, `blackjack` -- the exact model of an env as arrays (Blackjack's built by hand);
* `dp` -- policy evaluation, policy iteration, value iteration, the exact finite-horizon optimum;
* `config` -- one dataclass config per method family, schedules, per-environment defaults;
* `agent`, `td`, `mc` -- the learners behind one interface (act / update / end_episode);
* `evaluate`, `train`, `plots`, `cli` -- measuring, run folders, pictures, ``rllab tabular``.

Nothing here imports TensorFlow.
"""
