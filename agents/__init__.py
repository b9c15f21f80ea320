"""Reinforcement-learning agents (tabular methods, DQN) built on the shared `rllab` core."""
