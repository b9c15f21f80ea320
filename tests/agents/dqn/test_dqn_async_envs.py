"""--async-envs: the envs step while the update runs, and the replay gets the same transitions."""
import numpy as np
import pytest

from agents.dqn.config import config_for_env


def _agent_after(env_id, steps, **overrides):
    from agents.dqn.dqn import DQNAgent

    agent = DQNAgent(config_for_env(env_id, overrides), seed=3)
    try:
        for iteration in range(steps):
            agent.step(iteration)
    finally:
        agent.close()
    return agent


@pytest.mark.parametrize("env_id, overrides", [
    ("CartPole-v1", {"num_envs": 2, "hidden_units": (16,), "train_frequency": 8, "batch_size": 16,
                     "buffer_size": 2000, "eval_episodes": 1}),
    ("ALE/Breakout-v5", {"num_envs": 2, "buffer_size": 2000, "batch_size": 8, "eval_episodes": 1}),
])
def test_async_envs_fill_the_replay_as_sync_envs_do_and_update_as_often(env_id, overrides):
    # Before learning starts every action is random and drawn from the agent's rng: the two runs act alike.
    overrides = {**overrides, "learning_starts": 150, "exploration_fraction": 1e-6, "epsilon_end": 1.0}
    sync = _agent_after(env_id, 200, **overrides)
    asynchronous = _agent_after(env_id, 200, async_envs=True, **overrides)
    assert asynchronous.envs.__class__.__name__ != "SyncVectorEnv"
    assert sync.env_steps == asynchronous.env_steps == 400
    assert int(sync.optimizer.iterations.numpy()) == int(asynchronous.optimizer.iterations.numpy()) > 0
    sync_state, async_state = sync.buffer.state_dict(), asynchronous.buffer.state_dict()
    assert sync_state.keys() == async_state.keys()
    for key in sync_state:
        np.testing.assert_array_equal(sync_state[key], async_state[key], err_msg=key)
    assert sync.games == asynchronous.games
