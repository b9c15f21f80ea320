"""Fixtures for the DQN tests: a tiny hand-checkable env and a tiny training config."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

CHAIN_ID = "rllabtest/Chain-v0"


class ChainEnv(gym.Env):
    """Observation = [time step]; reward 1 per step. With ``terminate_at`` the episode terminates at
    that step; otherwise only the TimeLimit (``max_episode_steps``) ends it, by truncation."""

    def __init__(self, terminate_at: int | None = None):
        self.observation_space = spaces.Box(0.0, 100.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.terminate_at = terminate_at
        self.state = np.zeros(1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = np.zeros(1)
        return self.state.astype(np.float32), {}

    def step(self, action):
        self.state = self.state + 1
        terminated = self.terminate_at is not None and self.state[0] >= self.terminate_at
        return self.state.astype(np.float32), 1.0, bool(terminated), False, {}


if CHAIN_ID not in gym.registry:
    gym.register(CHAIN_ID, entry_point=ChainEnv, max_episode_steps=4)


def _tiny_overrides(**changes) -> dict:
    """A CartPole config small enough to train in a couple of seconds (still exercises every part)."""
    return {
        "total_steps": 400, "num_envs": 2, "hidden_units": (16,), "learning_starts": 100,
        "train_frequency": 50, "gradient_steps": 4, "batch_size": 16, "target_update_interval": 4,
        "eval_interval": 100, "eval_episodes": 2, "buffer_size": 1000, "checkpoint_every_epochs": 1,
        **changes,
    }


@pytest.fixture
def chain_id() -> str:
    return CHAIN_ID


@pytest.fixture(scope="session")
def tiny_overrides():
    """``tiny_overrides(**changes) -> dict`` of DQNConfig overrides for a seconds-long CartPole run."""
    return _tiny_overrides
