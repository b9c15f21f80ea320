"""Dynamic programming against hand-solved MDPs, against each other, and against the known optima."""
from __future__ import annotations

import numpy as np
import pytest

from agents.tabular import blackjack, dp
from agents.tabular.envs import make_tabular_env
from agents.tabular.evaluate import play_greedy
from agents.tabular.model import build_model


def test_value_iteration_solves_the_three_state_chain(three_state_chain):
    result = dp.value_iteration(three_state_chain, gamma=1.0, theta=1e-12)
    np.testing.assert_allclose(result.v, [8.0, 9.0, 10.0])
    np.testing.assert_allclose(result.q[0], [8.0, -3.0])
    assert result.policy.tolist() == [0, 0, 0]


def test_policy_evaluation_of_a_random_policy_matches_the_linear_solution(three_state_chain):
    model = three_state_chain
    uniform = np.full((3, 2), 0.5)
    v, _ = dp.policy_evaluation(model, uniform, gamma=1.0, theta=1e-12)
    # V2 = (10 - 3) / 2; V1 = 0.5 (-1 + V2) + 0.5 (-3); V0 = 0.5 (-1 + V1) + 0.5 (-3)
    v2 = 3.5
    v1 = 0.5 * (-1 + v2) - 1.5
    v0 = 0.5 * (-1 + v1) - 1.5
    np.testing.assert_allclose(v, [v0, v1, v2])


def test_epsilon_greedy_value_mixes_the_policy_with_random_actions(three_state_chain):
    model = three_state_chain
    walk = np.zeros(3, dtype=np.int64)  # the optimal policy: 8 from s0
    uniform, _ = dp.policy_evaluation(model, np.full((3, 2), 0.5), gamma=1.0, theta=1e-12)
    assert dp.policy_value(model, walk, epsilon=1.0) == pytest.approx(model.initial @ uniform)
    assert dp.policy_value(model, walk, horizon=200, epsilon=1.0) == pytest.approx(model.initial @ uniform)
    assert model.initial @ uniform < dp.policy_value(model, walk, epsilon=0.2) < dp.policy_value(model, walk) == 8.0
    with pytest.raises(ValueError, match="stationary"):
        dp.policy_value(model, np.zeros((2, 3), dtype=np.int64), horizon=2, epsilon=0.1)


def test_finite_horizon_values_depend_on_the_steps_left(three_state_chain):
    model = three_state_chain
    result = dp.finite_horizon(model, 2)
    assert result.q.shape == (2, 3, 2)
    # Two steps from s0: walking reaches s2 but cannot collect its +10; jumping (-3) is worse than -2.
    assert result.v[0] == pytest.approx(-2.0)
    # With one step left in s1 walking (-1) beats jumping (-3); in s2 collecting +10 is best.
    assert result.q[1, 1].tolist() == [-1.0, -3.0] and result.q[1, 2, 0] == 10.0
    assert dp.policy_value(model, result.q.argmax(-1), horizon=2) == pytest.approx(-2.0)


def test_policy_iteration_equals_value_iteration_on_frozenlake():
    model = build_model(make_tabular_env("FrozenLake8x8-v1"))
    vi = dp.value_iteration(model, gamma=0.99, theta=1e-12)
    pi = dp.policy_iteration(model, gamma=0.99, theta=1e-12)
    np.testing.assert_allclose(pi.v, vi.v, atol=1e-6)
    assert dp.policy_value(model, pi.policy) == pytest.approx(dp.policy_value(model, vi.policy), abs=1e-6)


@pytest.mark.parametrize("env_id, expected", [
    ("FrozenLake-v1", 0.744), ("FrozenLake8x8-v1", 0.913), ("CliffWalking-v1", -13.0), ("Blackjack-v1", -0.043),
])
def test_exact_optima_under_the_registered_time_limits(env_id, expected):
    value, result = dp.optimum(build_model(make_tabular_env(env_id)))
    assert value == pytest.approx(expected, abs=5e-4)
    # The solution's own greedy (time-dependent) policy is worth exactly the optimum.
    model = build_model(make_tabular_env(env_id))
    horizon = model.time_limit or 1000
    assert dp.policy_value(model, dp.greedy_actions(dp.observed_q(model, result.q)), horizon=horizon) == pytest.approx(value, abs=1e-9)


def test_dealer_outcomes_match_gymnasiums_dealer_rule():
    from gymnasium.envs.toy_text.blackjack import deck, score, sum_hand

    rng = np.random.default_rng(0)
    for card in (1, 6, 10):
        assert sum(blackjack.dealer_outcomes(card).values()) == pytest.approx(1.0)
        finals = []
        for _ in range(20_000):
            hand = [card, int(rng.choice(deck))]
            while sum_hand(hand) < 17:  # BlackjackEnv.step's loop
                hand.append(int(rng.choice(deck)))
            finals.append(score(hand))
        finals = np.array(finals)
        for final, probability in blackjack.dealer_outcomes(card).items():
            tolerance = 4 * np.sqrt(probability * (1 - probability) / finals.size) + 1e-9
            assert abs((finals == final).mean() - probability) < tolerance, (card, final)


def test_blackjack_model_value_matches_play_on_the_real_env():
    env = make_tabular_env("Blackjack-v1")
    model = build_model(env)
    value, result = dp.optimum(model)
    q = dp.observed_q(model, result.q)
    returns, _ = play_greedy(env, q, episodes=20_000, seed=0)
    standard_error = returns.std() / np.sqrt(returns.size)
    assert abs(returns.mean() - value) < 4 * standard_error
    # Another policy (always stick) is valued exactly too, and is clearly worse.
    always_stick = np.zeros_like(q)
    always_stick[:, 0] = 1.0
    stick_value = dp.policy_value(model, dp.greedy_actions(always_stick), horizon=100)
    stick_returns, _ = play_greedy(env, always_stick, episodes=5000, seed=1)
    assert abs(stick_returns.mean() - stick_value) < 4 * stick_returns.std() / np.sqrt(stick_returns.size)
    assert stick_value < value - 0.1
