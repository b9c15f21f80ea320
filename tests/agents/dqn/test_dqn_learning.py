"""The learning rule: TD targets, the compiled update, bootstrapping at episode ends, the networks, the
export, and one run that learns a task a random policy cannot do."""
import gymnasium as gym
import keras
import numpy as np
import pytest
from gymnasium import spaces

from agents.dqn.config import config_for_env
from agents.dqn.dqn import DQNAgent, make_greedy_policy, run_greedy_episodes, save_model_atomic, td_targets, train
from agents.dqn.envs import make_envs
from agents.dqn.networks import build_q_network, q_network_for

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
    agent = _agent("CartPole-v1", double_q=double_q, target_update_interval=1000)  # the target net stays put
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
        # Repeated steps on the same batch drive its loss down (each call returns the loss before its step).
        losses = [float(loss)] + [float(agent._update(obs, actions, rewards, next_obs, discounts)[0]) for _ in range(99)]
        assert losses[-1] < 0.5 * losses[0], losses[::10]
        assert sum(b < a for a, b in zip(losses, losses[1:])) >= 90, losses[::10]  # step after step, not by luck
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
    if dueling:  # the exported model is still a dueling network: Q = V + A - mean(A)
        value, advantages, q = _dueling_streams(loaded, obs)
        np.testing.assert_allclose(q, value + advantages - advantages.mean(1, keepdims=True), rtol=1e-5, atol=1e-6)


def _dueling_streams(model, obs):
    """(V, A, Q) of a dueling network on ``obs``, read from its value and advantages layers."""
    streams = keras.Model(model.input, [model.get_layer("value").output, model.get_layer("advantages").output,
                                        model.output])
    return tuple(t.numpy() for t in streams(obs))


def test_dueling_head_centres_the_advantages():
    model = build_q_network((4,), 3, network="mlp", hidden_units=(8,), dueling=True)
    obs = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    value, advantages, q = _dueling_streams(model, obs)
    # Q - mean_a(Q) is exactly the centred advantages, and mean_a(Q) is V.
    np.testing.assert_allclose(q - q.mean(1, keepdims=True), advantages - advantages.mean(1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(q.mean(1), value[:, 0], atol=1e-5)
    # Known weights: V = 10, A = (1, 2, 6) whatever the observation -> Q = 10 + A - 3.
    for layer, bias in (("value", [10.0]), ("advantages", [1.0, 2.0, 6.0])):
        kernel = model.get_layer(layer).kernel
        model.get_layer(layer).set_weights([np.zeros(kernel.shape), np.array(bias)])
    np.testing.assert_allclose(model(obs).numpy(), np.tile([8.0, 9.0, 13.0], (6, 1)), rtol=1e-6)


def test_mlp_widths_go_to_the_mlp_torso_under_either_head():
    for dueling in (False, True):
        config = config_for_env("CartPole-v1", {"hidden_units": (8, 5), "dueling": dueling})
        model = q_network_for(config, (4,), 2)
        widths = [layer.units for layer in model.layers if layer.name.startswith("hidden_")]
        assert widths == [8, 5] and model.output_shape == (None, 2)


# --- a run that learns --------------------------------------------------------------------------------------
CORRIDOR_ID = "rllabtest/Corridor-v0"
CORRIDOR_LENGTH = 6


class CorridorEnv(gym.Env):
    """A corridor of doors; door ``i`` opens only with action ``i % 2`` (reward 1, walk on to the next),
    the other action ends the episode with nothing. The observation is the door faced, one-hot.

    The best return is the corridor's length; a policy ignoring the observation earns at most 1, and
    uniformly random actions about 1 on average, so reaching the end means the agent learned per state.
    """

    def __init__(self, length: int = CORRIDOR_LENGTH):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.door = 0

    def _obs(self):
        return np.eye(self.length + 1, self.length, dtype=np.float32)[self.door]  # past the end: all zeros

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.door = 0
        return self._obs(), {}

    def step(self, action):
        if int(action) != self.door % 2:
            return self._obs(), 0.0, True, False, {}
        self.door += 1
        return self._obs(), 1.0, self.door == self.length, False, {}


if CORRIDOR_ID not in gym.registry:
    gym.register(CORRIDOR_ID, entry_point=CorridorEnv, max_episode_steps=CORRIDOR_LENGTH + 1)


def test_dqn_learns_the_corridor_that_random_and_untrained_policies_fail(tmp_path):
    config = config_for_env(CORRIDOR_ID, {
        "total_steps": 3_000, "num_envs": 4, "hidden_units": (32,), "learning_starts": 200,
        "train_frequency": 16, "gradient_steps": 8, "batch_size": 32, "target_update_interval": 32,
        "buffer_size": 5_000, "exploration_fraction": 0.3, "eval_interval": 400, "eval_episodes": 4,
        "stop_threshold": float(CORRIDOR_LENGTH), "stop_confirm_episodes": 4, "checkpoint_every_epochs": 100,
    })
    envs = make_envs(config, 4)
    try:
        keras.utils.set_random_seed(0)
        untrained = make_greedy_policy(q_network_for(config, (CORRIDOR_LENGTH,), 2), np.float32)
        assert run_greedy_episodes(untrained, envs, 4, seed=0).max() < CORRIDOR_LENGTH
        rng = np.random.default_rng(0)
        random_returns = run_greedy_episodes(lambda obs: rng.integers(0, 2, len(obs)), envs, 200, seed=0)
        assert random_returns.mean() < 1.5  # about 1 (a lucky 1 in 64 episodes walks the whole corridor)

        summary = train(config, seed=0, run_dir=tmp_path / "run", progress=False)
        trained = make_greedy_policy(keras.models.load_model(summary["final_model"]), np.float32)
        returns = run_greedy_episodes(trained, envs, 4, seed=0)
    finally:
        envs.close()
    np.testing.assert_array_equal(returns, CORRIDOR_LENGTH)
    assert summary["env_steps"] <= config.total_steps
