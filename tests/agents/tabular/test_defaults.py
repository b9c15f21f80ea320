"""Default settings: the Monte Carlo stall they used to cause, defaults derived from a task with no entry,
the stop at the optimum, and the benchmark's random-map suite."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import agents.tabular.train as train_module
from agents.tabular.config import (DOUBLE_Q_MAX_EXPLORED_STEPS, DOUBLE_Q_STEP_SIZE_END, EPISODES_PER_PAIR,
                                   OFF_POLICY_EPSILON_END, OFF_POLICY_MIN_EXPLORED_VALUE, RANDOM_START_SHARE,
                                   STEPS_PER_PAIR, MCConfig, Schedule, TDConfig, config_from_dict, default_config,
                                   derived_defaults, named_task, task_facts)
from agents.tabular.mc import MonteCarloControl
from rllab.cli import main
from tests.conftest import load_script

# A made-up slippery map: the goal is two steps from the start, a hole beside the path.
MADE_UP_MAP = {"desc": ["SFH", "FFF", "HFG"], "is_slippery": True}


# --- the Monte Carlo stall on FrozenLake-v1 (seed 3 kept 0.20 of 0.744) -----------------------------------
def _revalued(config: MCConfig, changed_at: int = 8000, within: int = 2000) -> float:
    """Q of an action that the early, random policy valued 0 (returns 0 in each of episodes 0-2999) and
    that is worth 1 from episode ``changed_at`` on, once ``within`` more episodes have tried it as often as
    the behaviour policy then does (epsilon / 4 of the visits of a state met once per episode)."""
    agent = MonteCarloControl(1, 4, config, np.random.default_rng(0))

    def one_return(episode: int, value: float) -> None:
        agent.begin_episode(episode)
        agent.update(0, 1, value, 0, True, False)
        agent.end_episode()

    for episode in range(3000):
        one_return(episode, 0.0)
    every = max(1, round(4 / config.epsilon(changed_at)))
    for episode in range(changed_at, changed_at + within, every):
        one_return(episode, 1.0)
    return float(agent.q[0, 1])


def test_default_monte_carlo_revalues_an_action_the_greedy_policy_stopped_taking():
    """The mechanism of the stall (MC on FrozenLake-v1, seed 3, kept 0.20 of 0.744): once epsilon was 0.01
    and the step size floor 0.01, an action the greedy policy did not take kept the average of the
    returns the early, near-random policy got (Q(0, left) 0.03 against 0.155 under the current policy):
    tried once in 400 episodes and moved 3 % or less each time, it never overtook the greedy action."""
    old = MCConfig(episodes=10_000, gamma=0.99, epsilon=Schedule("linear", 1.0, 0.01, 8000),
                   step_size=Schedule("linear", 0.1, 0.01, 10_000))
    assert _revalued(old) < 0.2
    assert _revalued(default_config("mc", "FrozenLake-v1")) > 0.8


def test_monte_carlo_on_frozenlake_seed_3_reaches_the_target_with_the_default_command(tmp_path):
    config = default_config("mc", "FrozenLake-v1")
    result = train_module.train_control(config, seed=3, run_dir=tmp_path / "r", progress=False, write_plots=False)
    assert result.figures["meets_target"], result.figures["exact_return"]


# --- which tasks take an entry, which get derived defaults ------------------------------------------------
@pytest.mark.parametrize("env, kwargs, expected", [
    ("FrozenLake-v1", {}, "FrozenLake-v1"),
    ("FrozenLake-v1", {"is_slippery": True, "map_name": "4x4"}, "FrozenLake-v1"),
    ("FrozenLake-v1", {"map_name": "8x8", "max_episode_steps": 200}, "FrozenLake8x8-v1"),
    ("FrozenLake-v1", {"map_name": "8x8"}, None),  # the 8x8 map under 100 steps is another task
    ("FrozenLake8x8-v1", {"is_slippery": False}, None),
    ("FrozenLake-v1", MADE_UP_MAP, None),
    ("Taxi-v4", {"is_rainy": True}, None),
])
def test_kwargs_that_restate_a_task_keep_its_entry_and_others_do_not(env, kwargs, expected):
    assert named_task(env, kwargs) == expected


def test_task_facts_come_from_the_spaces_the_time_limit_and_the_model():
    slippery = task_facts("FrozenLake-v1", MADE_UP_MAP)
    assert (slippery.n_states, slippery.n_actions, slippery.horizon, slippery.time_limited) == (9, 4, 100, True)
    assert slippery.stochastic is True and slippery.reward_range == (0.0, 1.0)
    assert 0.9 < slippery.gamma < 1.0
    steady = task_facts("FrozenLake-v1", {**MADE_UP_MAP, "is_slippery": False})
    assert steady.stochastic is False
    cliff = task_facts("CliffWalking-v1", {"is_slippery": False}, max_episode_steps=500)
    assert (cliff.horizon, cliff.time_limited, cliff.reward_range) == (500, False, (-100.0, -1.0))


def test_derived_defaults_follow_the_facts():
    facts = task_facts("FrozenLake-v1", MADE_UP_MAP)
    td, double, mc = (derived_defaults(algo, facts) for algo in ("q-learning", "double-q", "mc"))
    assert double["episodes"] == pytest.approx(2 * td["episodes"], rel=0.05)  # budgets have two significant digits
    assert td["initial_q"] == 1.0  # optimism: the largest reward, so untried actions get tried
    assert td["epsilon"].end == 0.01 and mc["epsilon"].end >= 0.1 and mc["forget_episodes"] >= 1
    # No step-size floor where outcomes are random; off-policy Monte Carlo, whose Retrace returns bootstrap,
    # takes TD's floor where they are not.
    off_policy = derived_defaults("mc-off-policy", facts)
    steady_facts = task_facts("FrozenLake-v1", {**MADE_UP_MAP, "is_slippery": False})
    steady_off_policy = derived_defaults("mc-off-policy", steady_facts)
    assert mc["step_size"].start == 0.0 and off_policy["step_size"].start == 0.0
    assert steady_off_policy["step_size"].end == 0.05
    # Retrace's returns bootstrap from a Q that keeps moving: its averages forget twice as fast.
    assert mc["forget_episodes"] == mc["episodes"] // 20 and off_policy["forget_episodes"] == off_policy["episodes"] // 80
    # Its target is greedy whatever the behaviour does: it explores more, and its returns are cut (and bootstrap) sooner.
    assert off_policy["epsilon"].end == OFF_POLICY_EPSILON_END > mc["epsilon"].end
    # On-policy Monte Carlo keeps its optimism past the first return (TD keeps it by bootstrapping).
    assert mc["initial_weight"] == 1.0 and "initial_weight" not in off_policy and "initial_weight" not in td
    # Its returns cannot carry that optimism back along a path: a count-based bonus, a tenth of the largest reward
    # (for the on-policy methods; Retrace's returns bootstrap).
    assert mc["exploration_bonus"] == derived_defaults("mc-es", facts)["exploration_bonus"] == pytest.approx(0.1)
    assert not any("exploration_bonus" in derived_defaults(algo, facts) for algo in ("mc-off-policy", "q-learning"))
    # Exploring starts spread the returns over every state: mc-es starts only a share of its episodes at random.
    assert derived_defaults("mc-es", facts)["random_start_share"] == RANDOM_START_SHARE < 1.0
    assert not any("random_start_share" in derived_defaults(algo, facts) for algo in ("mc", "mc-off-policy", "sarsa"))
    # Off-policy Monte Carlo explores less where its behaviour would rarely reach the goal.
    assert 0.0 < facts.explored_value < 1.0 and "at epsilon" in facts.describe()
    rarely = dataclasses.replace(facts, explored_value=OFF_POLICY_MIN_EXPLORED_VALUE / 2)
    rare = derived_defaults("mc-off-policy", rarely)
    assert rare["epsilon"].end == mc["epsilon"].end < off_policy["epsilon"].end
    # Double Q-learning's two tables each learn from half the steps: a higher floor where outcomes are random.
    assert derived_defaults("double-q", facts)["step_size"].end == DOUBLE_Q_STEP_SIZE_END > td["step_size"].end
    steady = derived_defaults("q-learning", task_facts("FrozenLake-v1", {**MADE_UP_MAP, "is_slippery": False}))
    assert steady["episodes"] <= td["episodes"] and steady["step_size"].start > td["step_size"].start
    # Evaluations are exact and free with a model, so there are more of them; without one each plays episodes.
    assert td["eval_every"] == td["episodes"] // 100
    no_model = dataclasses.replace(facts, stochastic=None, reward_range=None, gamma=None, random_episode_length=None)
    unknown = derived_defaults("q-learning", no_model)
    assert unknown["eval_every"] == unknown["episodes"] // 20


def test_derived_budget_gives_each_pair_enough_steps_where_random_episodes_are_short():
    facts = task_facts("FrozenLake-v1", MADE_UP_MAP)
    # Random play on the made-up map: from the start, a hole or the goal is one or two slips away.
    assert 1.0 < facts.random_episode_length < 100.0
    assert "random-policy episodes" in facts.describe()
    long_episodes = dataclasses.replace(facts, n_states=64, random_episode_length=40.0)
    short_episodes = dataclasses.replace(long_episodes, random_episode_length=5.0)
    long_budget = derived_defaults("q-learning", long_episodes)["episodes"]
    short_budget = derived_defaults("q-learning", short_episodes)["episodes"]
    assert long_budget == pytest.approx(EPISODES_PER_PAIR["stochastic"] * 64 * 4, rel=0.05)  # the per-episode rule
    assert short_budget == pytest.approx(STEPS_PER_PAIR["stochastic"] * 64 * 4 / 5.0, rel=0.05)
    no_model = dataclasses.replace(long_episodes, random_episode_length=None)
    assert derived_defaults("q-learning", no_model)["episodes"] == long_budget


def test_double_q_budget_is_capped_in_steps_where_learned_episodes_are_long():
    facts = task_facts("FrozenLake-v1", MADE_UP_MAP)
    # The optimal policy of the made-up map, acting at random one step in five: longer than a random walk.
    assert facts.random_episode_length < facts.explored_episode_length < 100.0
    short = dataclasses.replace(facts, n_states=100, random_episode_length=40.0, explored_episode_length=20.0)
    long = dataclasses.replace(short, explored_episode_length=80.0)
    td_budget = derived_defaults("q-learning", short)["episodes"]
    assert derived_defaults("double-q", short)["episodes"] == pytest.approx(2 * td_budget, rel=0.05)
    assert derived_defaults("double-q", long)["episodes"] == pytest.approx(DOUBLE_Q_MAX_EXPLORED_STEPS / 80.0, rel=0.05)
    assert derived_defaults("q-learning", long)["episodes"] == td_budget  # the other methods keep theirs
    assert derived_defaults("mc", long)["episodes"] == derived_defaults("mc", short)["episodes"]


@pytest.mark.parametrize("algo", ["q-learning", "mc"])
def test_derived_defaults_for_a_made_up_map_are_valid_and_stored_in_config_json(tmp_path, capsys, algo):
    run_dir = tmp_path / algo
    assert main(["tabular", "train", "--algo", algo, "--env", "FrozenLake-v1", "--env-kwargs", json.dumps(MADE_UP_MAP),
                 "--run-dir", str(run_dir), "--seed", "1", "--quiet"]) == 0
    stored = json.loads((run_dir / "config.json").read_text())["config"]
    expected = default_config(algo, "FrozenLake-v1", MADE_UP_MAP)
    assert stored["defaults_from"].startswith("derived from the task: 9 states, 4 actions, time limit 100, stochastic")
    assert config_from_dict(stored) == expected
    assert isinstance(expected, MCConfig if algo == "mc" else TDConfig)
    result = json.loads((run_dir / "artifacts" / "result.json").read_text())
    assert result["exact_return"] >= 0.9 * result["optimum"]
    # --resume rebuilds the same config from config.json, flags checked against it.
    capsys.readouterr()
    assert main(["tabular", "train", "--resume", "--run-dir", str(run_dir), "--quiet"]) == 0


@pytest.mark.parametrize("env, env_kwargs", [("Taxi-v4", None), ("FrozenLake-v1", MADE_UP_MAP)])
def test_off_policy_monte_carlo_updates_every_visit_unless_told_and_says_so(env, env_kwargs):
    """config.json records what the learner does: every visit is off-policy MC's default, named or derived task."""
    assert default_config("mc-off-policy", env, env_kwargs).first_visit is False
    assert default_config("mc-off-policy", env, env_kwargs, first_visit=True).first_visit is True
    assert default_config("mc", env, env_kwargs).first_visit is True


def test_a_flag_still_overrides_a_derived_default(tmp_path):
    config = default_config("sarsa", "FrozenLake-v1", MADE_UP_MAP, gamma=0.5, epsilon={"end": 0.2})
    assert config.gamma == 0.5 and config.epsilon.end == 0.2 and config.epsilon.start == 1.0


def test_train_help_says_what_the_derived_defaults_are(capsys):
    with pytest.raises(SystemExit):
        main(["tabular", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "gets defaults derived from the task" in text and "defaults_from" in text and "--stop-at-optimum" in text


# --- stopping at the optimum --------------------------------------------------------------------------------
def test_a_run_stops_once_its_greedy_policy_has_been_optimal_for_a_while(tmp_path):
    kwargs = {"desc": ["SFF", "FHF", "FFG"], "is_slippery": False}
    config = default_config("q-learning", "FrozenLake-v1", kwargs, episodes=5000, eval_every=50)
    result = train_module.train_control(config, seed=0, run_dir=tmp_path / "r", progress=False, write_plots=False)
    f = result.figures
    assert f["stopped_at_optimum"] and f["episodes_trained"] < config.episodes
    assert f["exact_return"] == pytest.approx(f["optimum"])
    never = default_config("q-learning", "FrozenLake-v1", kwargs, episodes=500, eval_every=50, stop_at_optimum=0)
    again = train_module.train_control(never, seed=0, run_dir=tmp_path / "n", progress=False, write_plots=False)
    assert again.figures["episodes_trained"] == 500 and "stopped_at_optimum" not in again.figures


# --- the benchmark's random-map suite ----------------------------------------------------------------------
def test_the_random_map_suite_is_the_same_maps_every_time():
    bench = load_script("bench_tabular")
    first, second = bench.random_maps(), bench.random_maps()
    assert first == second and len(first) == 2 * 5 * 5
    assert {m["env_kwargs"]["is_slippery"] for m in first} == {True, False}
    assert first[0]["env_kwargs"]["desc"] == ["SFFF", "HHFF", "FHHF", "HFFG"]  # generate_random_map(4, 0.8, seed=0)
    sizes = [len(m["env_kwargs"]["desc"]) for m in first[:25]]
    assert sizes == [n for n in range(4, 9) for _ in range(5)]


def test_off_policy_monte_carlo_explores_less_only_where_its_behaviour_rarely_reaches_the_goal():
    """Slippery 8x8 map 0 (optimum 0.075): acting at random one step in five, the optimal policy reaches the
    goal in 1 % of its episodes, and mc-off-policy at epsilon 0.2 missed 90 % of the optimum on seed 5. On
    6x6 map 4 (optimum 0.067, 2.7 %) it needs 0.2."""
    maps = load_script("bench_tabular").random_maps()
    slippery = {m["name"]: m["env_kwargs"] for m in maps if m["env_kwargs"]["is_slippery"]}
    ends = {name: derived_defaults("mc-off-policy", task_facts("FrozenLake-v1", kwargs))["epsilon"].end
            for name, kwargs in slippery.items() if name.startswith(("slippery 8x8 map 0", "slippery 6x6 map 4"))}
    assert ends == {"slippery 8x8 map 0": 0.1, "slippery 6x6 map 4": OFF_POLICY_EPSILON_END}


def test_bench_seed_ranges():
    bench = load_script("bench_tabular")
    assert bench.int_ranges("0-9") == list(range(10)) and bench.int_ranges("4") == [4]
    with pytest.raises(Exception, match="N-M"):
        bench.int_ranges("9-0")


def test_blackjack_exploring_starts_deal_every_hand_a_game_can_start_in():
    """Exploring starts from sums 12-21 only (Sutton & Barto's example) never visit 4-11: both actions
    stayed at 0 there, the greedy policy stuck on them and Monte Carlo ES scored -0.13 (optimum -0.043)."""
    from agents.tabular.envs import exploring_start, make_tabular_env

    env = make_tabular_env("Blackjack-v1")
    rng = np.random.default_rng(0)
    seen = set()
    for i in range(3000):
        env.reset(seed=i)
        seen.add(env.indexer.observation(exploring_start(env, rng)))
    assert {s for s, _, _ in seen} == set(range(4, 22))
    assert {(s, a) for s, _, a in seen if a} == {(s, 1) for s in range(12, 22)}
    assert {d for _, d, _ in seen} == set(range(1, 11))


def test_bench_summary_gives_the_worst_and_median_seed_and_the_share_that_met_the_bar():
    bench = load_script("bench_tabular")

    def run(seed, value, target):
        return {"task": "FrozenLake-v1", "algo": "mc", "seed": seed, "exact_return": value, "exact_ratio": value / 0.744,
                "target": target, "wall_s": 1.0 + seed, "within_60s": True}

    rows = [run(0, 0.74, "met"), run(1, 0.20, "MISSED"), run(2, 0.73, "met")]
    (summary,) = bench.summarize_control(rows)
    assert (summary["worst_exact"], summary["median_exact"], summary["met"], summary["graded"]) == (0.20, 0.73, 2, 3)
    assert summary["max_wall_s"] == 3.0 and summary["missed"] == ["seed 1: 0.2000"]


def test_off_policy_monte_carlo_uses_retrace_on_every_task_unless_told_not_to():
    for env, kwargs in (("FrozenLake8x8-v1", None), ("Taxi-v4", None), ("FrozenLake-v1", MADE_UP_MAP)):
        assert default_config("mc-off-policy", env, kwargs).retrace is True
    assert default_config("mc-off-policy", "FrozenLake8x8-v1", retrace=False).retrace is False
    assert default_config("mc", "FrozenLake8x8-v1").retrace is False
