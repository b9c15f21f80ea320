"""Tiny hand-solvable environments for the tabular tests."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agents.tabular.model import TabularModel

CHAIN_ID = "rllabtest/TabularChain-v0"
LOOP_ID = "rllabtest/TabularLoop-v0"
BOX_ID = "rllabtest/TabularBox-v0"
GAMMA = 0.9


class ChainEnv(gym.Env):
    """States 0 -> 1 -> goal. Action 1 moves right (reward +1 and termination on leaving state 1),
    action 0 stays (reward 0). Deterministic, so with discount g: Q*(1, right) = 1, Q*(1, stay) = g,
    Q*(0, right) = g, Q*(0, stay) = g^2."""

    # The toy-text convention: P[s][a] = [(probability, next state, reward, terminated)], state in `s`
    # (what exploring starts set).
    P = {0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 0.0, False)]},
         1: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 1, 1.0, True)]}}

    def __init__(self):
        self.observation_space = spaces.Discrete(2)
        self.action_space = spaces.Discrete(2)
        self.s = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action):
        _, self.s, reward, terminated = self.P[self.s][int(action)][0]
        return self.s, reward, terminated, False, {}


class LoopEnv(gym.Env):
    """One state, reward 1 every step, never terminates: only its TimeLimit ends an episode, by
    truncation. The true value with discount g is 1 / (1 - g); treating the cut as a termination
    would learn less."""

    P = {0: {0: [(1.0, 0, 1.0, False)]}}
    s = 0

    def __init__(self):
        self.observation_space = spaces.Discrete(1)
        self.action_space = spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 0, 1.0, False, False, {}


class BoxEnv(LoopEnv):
    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)


def _register():
    if CHAIN_ID not in gym.registry:
        gym.register(CHAIN_ID, entry_point=ChainEnv, max_episode_steps=20)
        gym.register(LOOP_ID, entry_point=LoopEnv, max_episode_steps=5)
        gym.register(BOX_ID, entry_point=BoxEnv, max_episode_steps=5)


_register()


@pytest.fixture
def chain_q_star() -> np.ndarray:
    g = GAMMA
    return np.array([[g * g, g], [g, 1.0]])


@pytest.fixture
def three_state_chain() -> TabularModel:
    """A hand-solvable MDP: s0 -> s1 -> s2 -> end. Action 0 "walk": reward -1, next state.
    Action 1 "jump": reward -3, reaches the end from anywhere. Action 0 from s2 ends with +10.
    gamma 1: V(s2) = 10, V(s1) = 9, V(s0) = 8 (walking); jump is worse everywhere."""
    transition = np.zeros((3, 2, 3))
    reward = np.array([[-1.0, -3.0], [-1.0, -3.0], [10.0, -3.0]])
    transition[0, 0, 1] = 1.0
    transition[1, 0, 2] = 1.0
    return TabularModel(transition, reward, np.array([1.0, 0.0, 0.0]), None, 3)
