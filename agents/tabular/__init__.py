"""Tabular reinforcement learning on Gymnasium's toy-text tasks.

Modules, in reading order:

* `model`, `blackjack` -- the exact model of an env as arrays (Blackjack's built by hand);
* `envs` -- space checks, Tuple-of-Discrete encoding, training step caps, exploring starts, and each
  env family's traits (the one place that looks at env ids);
* `dp` -- policy evaluation, policy iteration, value iteration, the exact finite-horizon optimum;
* `config` -- one dataclass config per method family, schedules, per-environment defaults;
* `agent`, `td`, `mc` -- the learners behind one interface (act / update / end_episode);
* `evaluate`, `run_folder`, `train`, `plots`, `cli` -- measuring, reading run folders, training and
  solving, pictures, ``rllab tabular``.

Nothing here imports TensorFlow.
"""
