"""The learning rule: TD targets, the compiled update, bootstrapping at episode ends, the export."""
import keras
import numpy as np
import pytest

from agents.dqn.config import config_for_env
from agents.dqn.dqn import DQNAgent, save_model_atomic, td_targets

GAMMA = 0.99


def test_double_dqn_target_on_a_hand_made_batch():
    rewards = np.array([1.0, 2.0], np.float32)
    discounts = np.array([0.9, 0.5], np.float32)
    next_q_online = np.array([[1.0, 3.0], [5.0, 2.0]], np.float32)  # online picks a* = 1, 0
    next_q_target = np.array([[10.0, 20.0], [30.0, 40.0]], np.float32)
    double = td_targets(rewards, discounts, next_q_target, next_q_online).numpy()
    np.testing.assert_allclose(double, [1 + 0.9 * 20, 2 + 0.5 * 30])
    vanilla = td_targets(rewards, discounts, next_q_target).numpy()  # max over the target net
    np.testing.assert_allclose(vanilla, [1 + 0.9 * 20, 2 + 0.5 * 40])


def _agent(env_id, **overrides):
    base = {"num_envs": 2, "hidden_units": (8,), "n_step": 1, "gamma": GAMMA, "buffer_size": 100,
            "batch_size": 4, "learning_starts": 0, "eval_episodes": 2}
    return DQNAgent(config_for_env(env_id, {**base, **overrides}), seed=0)


@pytest.mark.parametrize("double_q", [True, False])
def test_compiled_update_minimises_huber_loss_to_the_target(double_q):
    agent = _agent("CartPole-v1", double_q=double_q)
    try:
        for _ in range(10):
            agent.collect()
        obs, actions, rewards, next_obs, discounts = agent.buffer.sample(agent.rng, (1, 4))
        q = agent.online(obs[0]).numpy()
        next_target, next_online = agent.target(next_obs[0]).numpy(), agent.online(next_obs[0]).numpy()
        next_value = next_target[np.arange(4), next_online.argmax(1)] if double_q else next_target.max(1)
        error = rewards[0] + discounts[0] * next_value - q[np.arange(4), actions[0]]
        huber = np.where(np.abs(error) <= 1, 0.5 * error**2, np.abs(error) - 0.5).mean()
        before = [w.numpy().copy() for w in agent.online.weights]
        loss, mean_q = agent._update(obs, actions, rewards, next_obs, discounts)
        assert float(loss) == pytest.approx(huber, rel=1e-4)
        assert float(mean_q) == pytest.approx(q[np.arange(4), actions[0]].mean(), rel=1e-4)
        assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, agent.online.weights))
    finally:
        agent.close()


def _collect_episode_ends(agent, steps):
    """Run `steps` vector steps; return the stored transitions as arrays."""
    for _ in range(steps):
        agent.collect()
    size = len(agent.buffer)
    return agent.buffer.obs[:size, 0], agent.buffer.next_obs[:size, 0], agent.buffer.discounts[:size]


def test_truncation_bootstraps_from_the_true_final_observation(chain_id):
    agent = _agent(chain_id)  # episodes of 4 steps, ended by the TimeLimit (truncation)
    try:
        obs, next_obs, discounts = _collect_episode_ends(agent, 6)
    finally:
        agent.close()
    np.testing.assert_array_equal(next_obs, obs + 1)  # never the reset observation 0 as a successor
    assert np.all(discounts == np.float32(GAMMA))  # truncated: still bootstraps
    assert 4.0 in next_obs and 0.0 in obs  # the final step and the reset both happened
    assert not np.any((obs == 4.0))  # the final observation is never stored as a fresh state


def test_termination_never_bootstraps(chain_id):
    agent = _agent(chain_id, env_kwargs={"terminate_at": 3})
    try:
        obs, next_obs, discounts = _collect_episode_ends(agent, 7)
    finally:
        agent.close()
    np.testing.assert_array_equal(next_obs, obs + 1)
    np.testing.assert_array_equal(discounts == 0, next_obs == 3.0)  # zero exactly at the terminal step


def test_n_step_transitions_end_correctly_at_truncation(chain_id):
    agent = _agent(chain_id, n_step=3)
    try:
        obs, next_obs, discounts = _collect_episode_ends(agent, 4)  # one full episode per env
    finally:
        agent.close()
    by_start = dict(zip(obs.tolist(), zip(next_obs.tolist(), discounts.tolist())))
    assert by_start[0.0] == (3.0, pytest.approx(GAMMA**3))
    assert by_start[2.0] == (4.0, pytest.approx(GAMMA**2))  # cut by the time limit: 2 rewards, still bootstraps
    assert by_start[3.0] == (4.0, pytest.approx(GAMMA))


@pytest.mark.parametrize("dueling", [False, True])
def test_keras_export_loads_in_plain_keras_with_the_same_q_values(tmp_path, dueling):
    agent = _agent("CartPole-v1", dueling=dueling, hidden_units=(8, 8))
    try:
        path = save_model_atomic(agent.online, tmp_path / "q.keras")
        obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
        expected = agent.online(obs).numpy()
    finally:
        agent.close()
    loaded = keras.models.load_model(path)  # no custom_objects, safe_mode on
    np.testing.assert_allclose(loaded(obs).numpy(), expected, rtol=1e-6)
    if dueling:  # Q = V + A - mean(A): advantages sum to zero around V
        assert any("value" in layer.name for layer in loaded.layers)
