"""Each learner on tiny hand-solved MDPs: converges to the known Q, handles truncation, reproduces."""
from __future__ import annotations

import math

import numpy as np
import pytest

from agents.tabular.agent import run_episode
from agents.tabular.config import TD_ALGOS, MCConfig, Schedule, TDConfig
from agents.tabular.envs import exploring_starts, make_tabular_env
from agents.tabular.mc import MonteCarloControl, OffPolicyMC, first_visit_flags, mc_prediction
from agents.tabular.td import td0_prediction
from agents.tabular.train import make_agent
from rllab.errors import UsageError

# Registered by this folder's conftest.py (ChainEnv, LoopEnv); chain_q_star there uses the same GAMMA.
CHAIN_ID, LOOP_ID, GAMMA = "rllabtest/TabularChain-v0", "rllabtest/TabularLoop-v0", 0.9

ALL = ("q-learning", "sarsa", "expected-sarsa", "double-q", "mc", "mc-es", "mc-off-policy")


def _config(algo: str, env: str, episodes: int, **fields):
    cls = MCConfig if algo.startswith("mc") else TDConfig
    return cls(algo=algo, env=env, episodes=episodes, **fields)


def _train(config, seed=0):
    env = make_tabular_env(config.env, max_episode_steps=config.max_episode_steps)
    rng = np.random.default_rng(seed)
    agent = make_agent(config, env.n_states, env.n_actions, rng)
    start = exploring_starts(env, rng, config.random_start_share) if config.algo == "mc-es" else None
    for episode in range(config.episodes):
        run_episode(env, agent, episode, start=start, seed=seed if episode == 0 else None)
    return agent


@pytest.mark.parametrize("algo", ALL)
def test_learner_converges_to_the_known_q_on_a_deterministic_chain(algo, chain_q_star):
    # Exploration decays to 0, so on-policy methods too end up valuing the greedy policy.
    config = _config(algo, CHAIN_ID, 3000, gamma=GAMMA, epsilon=Schedule("linear", 1.0, 0.0, 2000),
                     step_size=Schedule("linear", 0.5, 0.05, 3000))
    agent = _train(config)
    q = agent.greedy_q()
    # Monte Carlo keeps the returns of earlier, more exploring policies in entries the greedy policy
    # stops visiting (Q(0, stay)), hence its looser tolerance.
    np.testing.assert_allclose(q, chain_q_star, atol=0.03 if algo in TD_ALGOS else 0.05)
    assert q.argmax(axis=1).tolist() == [1, 1]


@pytest.mark.parametrize("algo", ALL)
def test_a_time_limit_cut_bootstraps_instead_of_ending_the_return(algo):
    """LoopEnv only truncates (after 5 steps, reward 1 each): the true value is 1 / (1 - gamma) = 2.
    Treating the cut as a termination would give at most 1 + 0.5 + ... (5 terms) = 1.9375."""
    config = _config(algo, LOOP_ID, 400, gamma=0.5, epsilon=0.0, step_size=Schedule("linear", 0.5, 0.01, 400))
    agent = _train(config)
    assert agent.greedy_q()[0, 0] == pytest.approx(2.0, abs=0.01)


def test_seeded_training_reproduces_exactly_and_seeds_differ():
    config = _config("q-learning", "FrozenLake-v1", 300, gamma=0.99, epsilon=0.5)
    first, again, other = _train(config, seed=3), _train(config, seed=3), _train(config, seed=4)
    np.testing.assert_array_equal(first.q, again.q)
    assert not np.array_equal(first.q, other.q)


def test_td0_and_mc_prediction_agree_with_the_exact_values():
    env = make_tabular_env(CHAIN_ID)
    always_right = np.array([1, 1])
    # Deterministic chain, policy "right": V(1) = 1, V(0) = gamma.
    np.testing.assert_allclose(td0_prediction(env, always_right, episodes=200, step_size=0.5, gamma=GAMMA, seed=0),
                               [GAMMA, 1.0], atol=1e-6)
    np.testing.assert_allclose(mc_prediction(env, always_right, episodes=20, gamma=GAMMA, seed=0), [GAMMA, 1.0])
    # A stochastic policy (right with probability 0.5): V(1) = 0.5 + 0.5 g V(1) -> 1 / (2 - g); V(0) = g V(1) / (2 - g).
    half = np.full((2, 2), 0.5)
    v1 = 1 / (2 - GAMMA)
    expected = [GAMMA * v1 / (2 - GAMMA), v1]
    for first_visit in (True, False):
        estimate = mc_prediction(env, half, episodes=3000, gamma=GAMMA, first_visit=first_visit, seed=1)
        np.testing.assert_allclose(estimate, expected, atol=0.03)


def test_first_visit_flags_mark_repeated_pairs():
    episode = [(0, 1, 0.0), (1, 0, 0.0), (0, 1, 0.0), (0, 0, 1.0)]
    assert first_visit_flags(episode) == [True, True, False, True]


def test_schedules():
    assert Schedule("constant", 0.3, 0.0, 10)(99) == 0.3
    linear = Schedule("linear", 1.0, 0.0, 10)
    assert [linear(e) for e in (0, 5, 10, 20)] == [1.0, 0.5, 0.0, 0.0]
    exponential = Schedule("exponential", 1.0, 0.01, 2)
    assert exponential(1) == pytest.approx(0.1) and exponential(5) == pytest.approx(0.01)


def _one_step_episode(agent, episode: int, ret: float) -> None:
    agent.begin_episode(episode)
    agent.update(0, 0, ret, 1, True, False)
    agent.end_episode()


@pytest.mark.parametrize("forget, expected", [(None, 0.5), (10, math.exp(-1) / (1 + math.exp(-1)))])
def test_monte_carlo_averages_forget_in_episode_time(forget, expected):
    """Return 1 at episode 0, return 0 at episode 10: a plain average gives 0.5; with forget_episodes=10
    the older return weighs e^-1 against the newer one's 1."""
    config = MCConfig(gamma=1.0, step_size=0.0, forget_episodes=forget)
    agent = MonteCarloControl(2, 2, config, np.random.default_rng(0))
    _one_step_episode(agent, 0, 1.0)
    _one_step_episode(agent, 10, 0.0)
    assert agent.q[0, 0] == pytest.approx(expected)
    assert agent.last_update[0, 0] == 10


@pytest.mark.parametrize("initial_weight, expected", [(0.0, 0.0), (1.0, 0.5), (3.0, 0.75)])
def test_monte_carlo_counts_the_initial_value_as_initial_weight_returns(initial_weight, expected):
    """An optimistic Q of 1 and one return of 0: with weight w the average is w / (w + 1)."""
    config = MCConfig(gamma=1.0, step_size=0.0, initial_q=1.0, initial_weight=initial_weight)
    agent = MonteCarloControl(2, 2, config, np.random.default_rng(0))
    _one_step_episode(agent, 0, 0.0)
    assert agent.q[0, 0] == pytest.approx(expected)
    assert agent.q[0, 1] == 1.0  # untried: still the initial value


def test_monte_carlo_exploration_bonus_fades_with_arrivals_and_skips_terminal_steps():
    """Two episodes 0 -> 1 -> goal (reward 1): the arrival in state 1 earns 0.5 / sqrt(N) (N = 1, then 2);
    the terminating step earns no bonus, so Q(1, 0) stays the plain reward."""
    config = MCConfig(gamma=1.0, step_size=0.0, exploration_bonus=0.5)
    agent = MonteCarloControl(3, 2, config, np.random.default_rng(0))
    for episode in range(2):
        agent.begin_episode(episode)
        agent.update(0, 0, 0.0, 1, False, False)
        agent.update(1, 0, 1.0, 2, True, False)
        agent.end_episode()
    assert agent.q[1, 0] == pytest.approx(1.0)
    assert agent.q[0, 0] == pytest.approx(1.0 + (0.5 + 0.5 / math.sqrt(2)) / 2)  # the average of two returns
    np.testing.assert_array_equal(agent.arrivals, [0.0, 2.0, 0.0])
    assert "arrivals" in agent.state_arrays()  # a resumed run goes on with the same bonuses


def test_forgetting_monte_carlo_converges_on_the_chain(chain_q_star):
    config = _config("mc", CHAIN_ID, 3000, gamma=GAMMA, epsilon=Schedule("linear", 1.0, 0.0, 2000),
                     step_size=0.0, forget_episodes=300)
    np.testing.assert_allclose(_train(config).greedy_q(), chain_q_star, atol=0.03)


@pytest.mark.parametrize("outcome", [1.0, 0.0])
def test_off_policy_mc_passes_a_return_back_whatever_its_outcome(outcome):
    """Both steps of the episode were greedy when taken, so the return reaches the first step whether the
    game was won or lost. Judging "greedy" after the update instead, the loss (0 pulls Q(1, 0) under
    Q(1, 1) = 0.4) would stop there and only wins would reach state 0: the values overestimate
    (FrozenLake8x8-v1 greedy actions valued 0.7-0.9, true 0.4-0.6)."""
    agent = OffPolicyMC(2, 2, MCConfig(algo="mc-off-policy", gamma=1.0, epsilon=0.0, step_size=0.0),
                        np.random.default_rng(0))
    agent.q[:] = [[0.5, 0.0], [0.5, 0.4]]
    agent.begin_episode(0)
    for state, next_state in ((0, 1), (1, 0)):
        assert agent.act(state) == 0
        agent.update(state, 0, outcome if state == 1 else 0.0, next_state, state == 1, False)
    agent.end_episode()
    assert agent.q[:, 0].tolist() == [outcome, outcome]


@pytest.mark.parametrize("first_visit, expected", [(False, 0.75), (True, 0.5)])
def test_off_policy_mc_honours_first_visit(first_visit, expected):
    """(0, 0) is taken twice; its returns are 0.5 (first visit) and 1 (second). Every visit averages both
    (weight 1 each), first visit keeps only the first."""
    config = MCConfig(algo="mc-off-policy", gamma=0.5, epsilon=0.0, step_size=0.0, first_visit=first_visit)
    agent = OffPolicyMC(2, 2, config, np.random.default_rng(0))
    agent.q[0] = [0.5, 0.0]
    agent.begin_episode(0)
    for reward, terminated in ((0.0, False), (1.0, True)):
        assert agent.act(0) == 0
        agent.update(0, 0, reward, 0 if not terminated else 1, terminated, False)
    agent.end_episode()
    assert agent.q[0, 0] == pytest.approx(expected)


def _play_forced(agent, steps, *, epsilon: float) -> None:
    """One episode of ``(state, action, reward, next_state, terminated)`` steps whose actions are forced
    while the learner records them as its epsilon-greedy behaviour would (probabilities at ``epsilon``)."""
    agent.begin_episode(0)
    agent.epsilon = epsilon
    forced = [step[1] for step in steps]

    def force(q, state):
        action = forced.pop(0)
        return (action, *agent.action_probabilities(q, state, action))

    agent.epsilon_greedy_with_probabilities = force
    for state, action, reward, next_state, terminated in steps:
        assert agent.act(state) == action
        agent.update(state, action, reward, next_state, terminated, False)
    agent.end_episode()


@pytest.mark.parametrize("retrace, expected", [(False, 0.3), (True, 0.6)])
def test_retrace_returns_continue_from_the_greedy_value_where_the_behaviour_left_the_greedy_policy(retrace, expected):
    """In state 1 the behaviour takes action 1, which the greedy target would not (its value there is 0.6).
    Weighted importance sampling gives the step before no return (Q(0, 0) keeps 0.3); Retrace's return
    for it continues from state 1's greedy value."""
    config = MCConfig(algo="mc-off-policy", gamma=1.0, step_size=0.0, retrace=retrace)
    agent = OffPolicyMC(2, 2, config, np.random.default_rng(0))
    agent.q[:] = [[0.3, 0.0], [0.6, 0.0]]
    _play_forced(agent, [(0, 0, 0.0, 1, False), (1, 1, 0.0, 0, True)], epsilon=0.5)
    assert agent.q[1, 1] == 0.0  # the off-policy action itself learns its own return either way
    assert agent.q[0, 0] == pytest.approx(expected)


@pytest.mark.parametrize("retrace, expected", [(False, (1 + 0.5 / 0.75) / (1 + 1 / 0.75)), (True, 0.75)])
def test_retrace_truncates_the_importance_ratio_at_1(retrace, expected):
    """(0, 0) is taken greedily twice (every visit), returns 1 (last) and 0.5 (first). Weighted importance
    sampling weighs the first by 1 / b = 1 / 0.75 at epsilon 0.5; Retrace by min(1, 1 / b) = 1."""
    config = MCConfig(algo="mc-off-policy", gamma=0.5, step_size=0.0, first_visit=False, retrace=retrace)
    agent = OffPolicyMC(2, 2, config, np.random.default_rng(0))
    agent.q[0] = [0.5, 0.0]
    _play_forced(agent, [(0, 0, 0.0, 0, False), (0, 0, 1.0, 1, True)], epsilon=0.5)
    assert agent.q[0, 0] == pytest.approx(expected)


def test_epsilon_greedy_with_probabilities_draws_as_epsilon_greedy_and_splits_ties():
    """Off-policy MC's one-read step picks what `epsilon_greedy` picks from the same generator, with the
    probabilities `action_probabilities` gives; tied best actions share the greedy mass."""
    config = MCConfig(algo="mc-off-policy", epsilon=0.3)
    q = np.array([[0.5, 0.5, 0.0, 0.5], [0.0, 1.0, 0.2, 0.2], [0.0, 0.0, 0.0, 0.0]])
    one, other = (OffPolicyMC(3, 4, config, np.random.default_rng(7)) for _ in range(2))
    for agent in (one, other):
        agent.epsilon = 0.3
    for step in range(300):
        state = step % 3
        action, behaviour, target = one.epsilon_greedy_with_probabilities(q, state)
        assert action == other.epsilon_greedy(q, state)
        assert (behaviour, target) == other.action_probabilities(q, state, action)
    assert one.action_probabilities(q, 0, 1) == pytest.approx((0.7 / 3 + 0.075, 1 / 3))
    assert one.action_probabilities(q, 0, 2) == (0.075, 0.0)
    assert one.action_probabilities(q, 2, 3) == pytest.approx((0.7 / 4 + 0.075, 0.25))


def test_the_greedy_pick_draws_only_among_tied_best_actions():
    """One best action: it is picked and the generator is not touched (runs stay reproducible draw for draw);
    tied best actions: each of them is picked, never another."""
    agent = MonteCarloControl(2, 4, MCConfig(epsilon=0.0), np.random.default_rng(3))
    q = np.array([[0.1, 0.7, 0.2, 0.7], [0.0, 0.0, 0.9, 0.3]])
    untouched = np.random.default_rng(3).random()
    assert [agent.epsilon_greedy(q, 1) for _ in range(20)] == [2] * 20
    assert agent.rng.random() == untouched
    assert {agent.epsilon_greedy(q, 0) for _ in range(200)} == {1, 3}


def test_retrace_is_refused_for_on_policy_monte_carlo():
    with pytest.raises(UsageError, match="--retrace only applies to mc-off-policy, not to mc-es"):
        MCConfig(algo="mc-es", retrace=True)


def test_a_checkpoint_without_a_learners_table_is_a_usage_error():
    agent = MonteCarloControl(2, 2, MCConfig(forget_episodes=5), np.random.default_rng(0))
    with pytest.raises(UsageError, match="last_update"):
        agent.load_state_arrays({"q": np.zeros((2, 2)), "visits": np.zeros((2, 2))})
