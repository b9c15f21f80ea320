"""The exact model of a tabular environment, as dense NumPy arrays, for dynamic programming.

Toy-text environments publish their dynamics as ``env.unwrapped.P[s][a] = [(p, s', r, terminated), ...]``.
`TabularModel` folds that into two arrays:

* ``transition[s, a, s']``: probability of moving to ``s'`` *and the episode going on*. A
  terminating transition contributes its reward but no next-state value, so rows of a state-action
  that may terminate sum to less than 1.
* ``reward[s, a]``: the expected immediate reward.

so that the Bellman backup is one matrix product: ``Q = reward + gamma * transition @ V``.

An env that publishes no ``P`` (Blackjack) brings its own builder: `build_model` asks the env's
`agents.tabular.envs.EnvTraits` (``exact_model``), so this module imports no env-specific code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rllab.errors import UsageError


@dataclass
class TabularModel:
    """Dense dynamics of a finite MDP, with the start distribution and the episode time limit."""

    transition: np.ndarray
    """(S, A, S) probability of reaching s' with the episode continuing."""
    reward: np.ndarray
    """(S, A) expected immediate reward."""
    initial: np.ndarray
    """(S,) distribution of the first state of an episode."""
    time_limit: int | None
    """The registered ``TimeLimit`` (None: episodes end only by termination)."""
    n_observed: int
    """The first ``n_observed`` states are the env's observation indices; any after them are hidden
    states the observation cannot tell apart (Blackjack's natural 21), used only for exact values."""
    hidden_shows: np.ndarray | None = None
    """For each hidden state (``n_observed`` on), the observed state it shows: a policy over
    observations acts there as in that state. None when there are no hidden states."""

    def __post_init__(self):
        extra = self.n_states - self.n_observed
        if extra and (self.hidden_shows is None or len(self.hidden_shows) != extra):
            raise ValueError(f"a model with {extra} hidden states needs hidden_shows of that length")

    @property
    def n_states(self) -> int:
        return self.transition.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transition.shape[1]


def model_from_p(P, n_states: int, n_actions: int, initial: np.ndarray, time_limit: int | None) -> TabularModel:
    """A `TabularModel` from a Gymnasium ``P`` table."""
    transition = np.zeros((n_states, n_actions, n_states))
    reward = np.zeros((n_states, n_actions))
    for state in range(n_states):
        for action in range(n_actions):
            for probability, next_state, r, terminated in P[state][action]:
                reward[state, action] += probability * r
                if not terminated:
                    transition[state, action, next_state] += probability
    return TabularModel(transition, reward, np.asarray(initial, dtype=np.float64), time_limit, n_states)


def estimate_initial_distribution(tabular_env, *, resets: int = 2000, seed: int = 0) -> np.ndarray:
    """The start-state distribution by counting the first states of ``resets`` seeded resets."""
    counts = np.zeros(tabular_env.n_states)
    for i in range(resets):
        counts[tabular_env.reset(seed=seed + i)] += 1
    return counts / counts.sum()


def build_model(tabular_env) -> TabularModel:
    """The exact model of a `TabularEnv`, or `UsageError` when the environment publishes none."""
    exact_model = getattr(getattr(tabular_env, "traits", None), "exact_model", None)
    if exact_model is not None:
        return exact_model(tabular_env)
    unwrapped = tabular_env.env.unwrapped
    P = getattr(unwrapped, "P", None)
    if P is None or tabular_env.indexer.is_tuple:
        raise UsageError(
            f"{tabular_env.env_id} publishes no transition model (env.unwrapped.P); dynamic programming and exact "
            "values need one (FrozenLake, Taxi, CliffWalking and Blackjack have one)"
        )
    initial = getattr(unwrapped, "initial_state_distrib", None)
    if initial is None:
        initial = estimate_initial_distribution(tabular_env)
    return model_from_p(P, tabular_env.n_states, tabular_env.n_actions, initial, tabular_env.task_time_limit)
