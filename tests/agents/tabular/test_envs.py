"""`TableStepper` steps toy-text envs exactly as their own ``step`` does."""
from __future__ import annotations

import numpy as np
import pytest

from agents.tabular.envs import exploring_start, exploring_starts, make_tabular_env

TOY_TEXT = [
    ("FrozenLake8x8-v1", {}, None),
    ("FrozenLake-v1", {"success_rate": 0.5}, None),
    ("CliffWalking-v1", {"is_slippery": True}, 30),  # no registered limit: the training cap truncates
    ("Taxi-v4", {"is_rainy": True}, None),
]


def _play(tabular_env, actions_rng, *, episodes: int, seed: int, exploring_rng=None) -> list:
    trace = []
    for episode in range(episodes):
        # A seeded reset mid-way gives the env a new generator: the stepper must draw from that one.
        state = tabular_env.reset(seed=seed + episode if episode in (0, episodes // 2) else None)
        if exploring_rng is not None:
            state = exploring_start(tabular_env, exploring_rng)
        trace.append(("reset", state))
        while True:
            step = tabular_env.step(int(actions_rng.integers(tabular_env.n_actions)))
            trace.append(step)
            if step[2] or step[3]:
                break
    return trace


@pytest.mark.parametrize("env_id,kwargs,cap", TOY_TEXT)
@pytest.mark.parametrize("exploring", [False, True])
def test_the_table_stepper_gives_exactly_what_env_step_gives(env_id, kwargs, cap, exploring):
    traces, final_draws = [], []
    for use_table in (True, False):
        tabular_env = make_tabular_env(env_id, kwargs, max_episode_steps=cap)
        assert tabular_env.table_stepper is not None
        if not use_table:
            tabular_env.table_stepper = None
        exploring_rng = np.random.default_rng(1) if exploring else None
        traces.append(_play(tabular_env, np.random.default_rng(0), episodes=40, seed=7, exploring_rng=exploring_rng))
        final_draws.append(tabular_env.env.unwrapped.np_random.random())  # the env's random stream went alike
        tabular_env.close()
    assert traces[0] == traces[1]
    assert final_draws[0] == final_draws[1]
    if cap is not None:
        assert any(step[3] for step in traces[0] if len(step) == 4)  # the cap's truncations are mirrored too
    kinds = {type(value) for step in traces[0] if len(step) == 4 for value in step}
    assert kinds == {int, float, bool}


def test_envs_the_table_cannot_mirror_step_through_gymnasium():
    assert make_tabular_env("Blackjack-v1").table_stepper is None
    assert make_tabular_env("Taxi-v4", {"fickle_passenger": True}).table_stepper is None
    assert make_tabular_env("FrozenLake-v1", render_mode="ansi").table_stepper is None


def test_exploring_starts_move_only_their_share_of_episodes_and_a_share_of_1_draws_as_before():
    tabular_env = make_tabular_env("FrozenLake8x8-v1")
    home = tabular_env.reset(seed=0)
    starts = {}
    for share in (0.0, 0.25, 1.0):
        start, picked = exploring_starts(tabular_env, np.random.default_rng(1), share), []
        for _ in range(2000):
            tabular_env.reset()
            picked.append(start(home))
        starts[share] = np.array(picked)
    assert (starts[0.0] == home).all()
    # The start state is one of 53 non-absorbing states, so a random start lands back home about 2 % of the time.
    assert 0.2 < (starts[0.25] != home).mean() < 0.3
    assert (starts[1.0] != home).mean() > 0.95
    rng = np.random.default_rng(1)
    tabular_env.reset()
    assert all(starts[1.0][i] == exploring_start(tabular_env, rng) for i in range(50))
