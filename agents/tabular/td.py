"""Temporal-difference learning: TD(0) prediction, SARSA, Expected SARSA, Q-learning, Double Q-learning.

All control methods move ``Q[s, a]`` toward ``reward + gamma * (value of next_state)`` by the step
size; they differ only in the value of the next state:

* SARSA: ``Q[s', a']`` of the action the behaviour policy will actually take next (on-policy);
* Expected SARSA: its expectation under the epsilon-greedy policy;
* Q-learning: ``max_a Q[s', a]`` (off-policy: learns the greedy policy while exploring);
* Double Q-learning: two tables, one picks the argmax and the other values it (no max bias).

On ``terminated`` there is no next value; on a time-limit ``truncated`` the target still
bootstraps from the next state, because the task itself would have gone on.
"""
from __future__ import annotations

import numpy as np

from agents.tabular.agent import Agent


class QLearning(Agent):
    def next_value(self, next_state: int) -> float:
        return max(self.q[next_state].tolist())

    def update(self, state, action, reward, next_state, terminated, truncated):
        target = reward if terminated else reward + self.gamma * self.next_value(next_state)
        value = self.q.item(state, action)  # a Python float: NumPy scalars cost more per operation, to the same bits
        self.q[state, action] = value + self.step_size * (target - value)


class ExpectedSarsa(QLearning):
    def next_value(self, next_state: int) -> float:
        return self.expected_value(self.q, next_state)


class Sarsa(QLearning):
    """SARSA chooses its next action when it updates, and `act` then plays that very action."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_action: int | None = None

    def act(self, state):
        if self._next_action is not None:
            action, self._next_action = self._next_action, None
            return action
        return self.epsilon_greedy(self.q, state)

    def next_value(self, next_state: int) -> float:
        self._next_action = self.epsilon_greedy(self.q, next_state)
        return float(self.q[next_state, self._next_action])

    def end_episode(self):
        self._next_action = None  # a truncated episode sampled an action it will never play


class DoubleQLearning(Agent):
    """Van Hasselt's Double Q-learning: acts epsilon-greedily on the sum of the two tables."""

    def __init__(self, n_states, n_actions, config, rng):
        super().__init__(n_states, n_actions, config, rng)
        self.q2 = self.q.copy()
        self._sum = self.q + self.q2  # kept in step, so acting costs no addition per step

    def act(self, state):
        return self.epsilon_greedy(self._sum, state)

    def update(self, state, action, reward, next_state, terminated, truncated):
        learner, critic = (self.q, self.q2) if self.rng.random() < 0.5 else (self.q2, self.q)
        target = reward
        if not terminated:
            row = learner[next_state].tolist()
            target += self.gamma * critic.item(next_state, row.index(max(row)))  # argmax: the first best action
        value = learner.item(state, action)
        change = self.step_size * (target - value)
        learner[state, action] = value + change
        self._sum[state, action] += change

    def greedy_q(self):
        return self._sum / 2.0

    def state_arrays(self):
        return {"q": self.q, "q2": self.q2}

    def load_state_arrays(self, arrays):
        super().load_state_arrays(arrays)
        self._sum[...] = self.q + self.q2


TD_AGENTS = {"q-learning": QLearning, "sarsa": Sarsa, "expected-sarsa": ExpectedSarsa, "double-q": DoubleQLearning}


def td0_prediction(env, policy: np.ndarray, *, episodes: int, step_size: float, gamma: float = 1.0,
                   rng: np.random.Generator | None = None, seed: int | None = None) -> np.ndarray:
    """TD(0) estimate of V for a fixed policy: (S,) greedy actions or (S, A) probabilities."""
    rng = rng or np.random.default_rng(seed)
    policy = np.asarray(policy)
    v = np.zeros(env.n_states)
    for episode in range(episodes):
        state = env.reset(seed=seed if episode == 0 else None)
        while True:
            action = int(policy[state]) if policy.ndim == 1 else int(rng.choice(env.n_actions, p=policy[state]))
            next_state, reward, terminated, truncated = env.step(action)
            target = reward if terminated else reward + gamma * v[next_state]
            v[state] += step_size * (target - v[state])
            if terminated or truncated:
                break
            state = next_state
    return v
