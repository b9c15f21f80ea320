"""The one interface of every tabular learner, and the episode loop that drives it.

A learner is told, in order::

    agent.begin_episode(episode)                 # schedules move (epsilon, step size)
    action = agent.act(state)                    # behaviour policy
    agent.update(state, action, reward, next_state, terminated, truncated)   # after every step
    ...
    agent.end_episode()                          # Monte Carlo learns here

``terminated`` means the task ended (no value after it); ``truncated`` means a time limit cut the
episode (the next state still has a value, so targets bootstrap from it).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from agents.tabular.config import ControlConfig
from rllab.errors import UsageError


class Agent:
    """Shared state of the learners: the Q table, the schedules and the epsilon-greedy behaviour."""

    def __init__(self, n_states: int, n_actions: int, config: ControlConfig, rng: np.random.Generator):
        self.n_states = n_states
        self.n_actions = n_actions
        self.config = config
        self.gamma = config.gamma
        self.rng = rng
        self.q = np.full((n_states, n_actions), config.initial_q, dtype=np.float64)
        self.epsilon = config.epsilon(0)
        self.step_size = config.step_size(0)

    # -- the interface -------------------------------------------------------------------------
    def begin_episode(self, episode: int) -> None:
        self.epsilon = self.config.epsilon(episode)
        self.step_size = self.config.step_size(episode)

    def act(self, state: int) -> int:
        return self.epsilon_greedy(self.q, state)

    def update(self, state: int, action: int, reward: float, next_state: int, terminated: bool, truncated: bool) -> None:
        raise NotImplementedError

    def end_episode(self) -> None:
        pass

    def greedy_q(self) -> np.ndarray:
        """The table whose argmax is the learned policy."""
        return self.q

    # -- checkpoints: every array that a resumed run needs -------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"q": self.q}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, value in self.state_arrays().items():
            if name not in arrays or arrays[name].shape != value.shape:
                raise UsageError(f"the checkpoint has no {name!r} table of shape {value.shape} for {self.config.algo} "
                                 "(written by another version or method); start a new run")
            value[...] = arrays[name]

    # -- helpers -------------------------------------------------------------------------------
    def epsilon_greedy(self, q: np.ndarray, state: int) -> int:
        """Random action with probability epsilon, else a greedy one (ties broken at random, so
        that an all-equal fresh table does not always pick action 0)."""
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        row = q[state].tolist()  # a handful of actions: plain Python beats NumPy's per-call overhead here
        return self._greedy(row, max(row))

    def _greedy(self, row: list[float], top: float) -> int:
        """A best action of ``row`` (whose largest value is ``top``), ties broken at random."""
        if row.count(top) == 1:  # the usual case, without building the list of ties
            return row.index(top)
        best = [action for action, value in enumerate(row) if value == top]
        return best[int(self.rng.integers(len(best)))]

    def epsilon_greedy_with_probabilities(self, q: np.ndarray, state: int) -> tuple[int, float, float]:
        """`epsilon_greedy`'s action (the same draws from the same generator) with its `action_probabilities`,
        from one read of the row: off-policy Monte Carlo needs both at every step."""
        row = q[state].tolist()
        top = max(row)
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            action = int(self.rng.integers(self.n_actions))
        else:
            action = self._greedy(row, top)
        return (action, *self._probabilities(row, top, action))

    def action_probabilities(self, q: np.ndarray, state: int, action: int) -> tuple[float, float]:
        """``(b, pi)``: the probability that `epsilon_greedy` picks ``action`` in ``state``, and that the
        greedy policy of ``q`` does (it splits evenly among tied best actions, since sparse rewards leave
        many ties: 1 / ties, not "1 for the lowest index")."""
        row = q[state].tolist()  # a handful of actions: plain Python beats NumPy's per-call overhead here
        return self._probabilities(row, max(row), action)

    def _probabilities(self, row: list[float], top: float, action: int) -> tuple[float, float]:
        explore = self.epsilon / self.n_actions
        if row[action] != top:
            return explore, 0.0
        ties = row.count(top)
        return (1.0 - self.epsilon) / ties + explore, 1.0 / ties

    def expected_value(self, q: np.ndarray, state: int) -> float:
        """Value of ``state`` under the epsilon-greedy policy of ``q``."""
        row = q[state].tolist()  # as NumPy's max and mean, to the last bit, without their per-call cost
        return (1.0 - self.epsilon) * max(row) + self.epsilon * (sum(row) / len(row))


def run_episode(env, agent: Agent, episode: int, *, start: Callable[[int], int] | None = None,
                seed: int | None = None) -> tuple[float, int]:
    """Play one training episode; returns (undiscounted return, steps).

    ``start(state)``, called with the state the reset gave, may move the env to another state and
    returns the state the episode begins in (exploring starts: `agents.tabular.envs.exploring_starts`).
    """
    agent.begin_episode(episode)
    state = env.reset(seed=seed)
    if start is not None:
        state = start(state)
    act, step, update = agent.act, env.step_function(), agent.update  # bound once: this loop is the hot path
    total, steps = 0.0, 0
    while True:
        action = act(state)
        next_state, reward, terminated, truncated = step(action)
        update(state, action, reward, next_state, terminated, truncated)
        total += reward
        steps += 1
        if terminated or truncated:
            break
        state = next_state
    agent.end_episode()
    return total, steps
