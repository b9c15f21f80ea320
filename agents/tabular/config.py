"""Hyperparameters of the tabular methods: one dataclass per method family, plus schedules.

The configs are the single source of hyperparameters: the CLI fills them (`default_config` picks
per-environment defaults that reach the benchmark targets), a run folder stores them in
``config.json`` and ``--resume`` rebuilds them from it (`config_from_dict`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from rllab.checks import check_choice, check_float, check_int
from rllab.errors import UsageError

SCHEDULE_KINDS = ("constant", "linear", "exponential")
TD_ALGOS = ("q-learning", "sarsa", "expected-sarsa", "double-q")
MC_ALGOS = ("mc", "mc-es", "mc-off-policy")
CONTROL_ALGOS = TD_ALGOS + MC_ALGOS
DP_METHODS = ("value-iteration", "policy-iteration", "finite-horizon")
MC_ONLY_FIELDS = ("first_visit", "sample_average", "forget_episodes", "initial_weight", "retrace", "exploration_bonus",
                  "random_start_share")

SCHEDULE_FLAGS = {
    "epsilon": {"kind": "--epsilon-decay", "start": "--epsilon", "end": "--epsilon-end", "episodes": "--epsilon-episodes"},
    "step_size": {"kind": "--step-size-decay", "start": "--step-size", "end": "--step-size-end",
                  "episodes": "--step-size-episodes"},
}
"""The command-line flag of each schedule field (also what errors name)."""
_SCHEDULE_NAMES = {"kind": "schedule kind", "start": "schedule start", "end": "schedule end", "episodes": "schedule episodes"}


def field_flag(path: str) -> str:
    """The flag of a config field path: ``forget_episodes`` -> ``--forget-episodes``, ``epsilon.end`` -> ``--epsilon-end``.

    >>> field_flag("epsilon.kind"), field_flag("eval_every")
    ('--epsilon-decay', '--eval-every')
    """
    name, _, part = path.partition(".")
    if part and name in SCHEDULE_FLAGS:
        return SCHEDULE_FLAGS[name][part]
    return "--" + path.replace("_", "-").replace(".", "-")


def _checked_schedule(kind, start, end, episodes, names: dict[str, str]) -> tuple[str, float, float, int]:
    check_choice(names["kind"], kind, SCHEDULE_KINDS)
    start = check_float(names["start"], start, min_value=0.0)
    end = check_float(names["end"], end, min_value=0.0)
    episodes = check_int(names["episodes"], episodes, min_value=1)
    if kind == "exponential" and (start <= 0 or end <= 0):
        raise UsageError(f"{names['kind']} exponential needs {names['start']} and {names['end']} > 0, "
                         f"got {start:g} and {end:g}")
    return kind, start, end, episodes


MAX_INITIAL_Q = 1e6
"""Beyond this, optimism is no longer a number the updates can wash out (and plots of it overflow)."""


@dataclass
class Schedule:
    """A value that moves from ``start`` to ``end`` over the first ``episodes`` episodes, then stays at ``end``."""

    kind: str = "constant"
    """constant (always ``start``), linear (straight line), exponential (geometric: the same factor
    every episode; ``start`` and ``end`` must be > 0)."""
    start: float = 0.1
    """Value at episode 0."""
    end: float = 0.1
    """Value from episode ``episodes`` on (ignored by constant)."""
    episodes: int = 1
    """Length of the ramp in episodes."""

    def __post_init__(self):
        self.kind, self.start, self.end, self.episodes = _checked_schedule(
            self.kind, self.start, self.end, self.episodes, _SCHEDULE_NAMES)

    def __call__(self, episode: int) -> float:
        if self.kind == "constant":
            return self.start
        fraction = min(episode / self.episodes, 1.0)
        if self.kind == "linear":
            return self.start + fraction * (self.end - self.start)
        return self.start * math.exp(fraction * math.log(self.end / self.start))


@dataclass
class ControlConfig:
    """Settings shared by every learning method (TD and Monte Carlo control)."""

    algo: str = "q-learning"
    """Learning method: q-learning, sarsa, expected-sarsa, double-q (TD); mc (on-policy epsilon-soft
    Monte Carlo), mc-es (exploring starts), mc-off-policy (weighted importance sampling)."""
    env: str = "FrozenLake-v1"
    """Gymnasium environment id (Discrete or Tuple-of-Discrete observations, Discrete actions)."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make`` (e.g. {"map_name": "8x8", "is_slippery": false})."""
    episodes: int = 10_000
    """Training episodes (the budget)."""
    gamma: float = 1.0
    """Discount factor of the learning target."""
    epsilon: Schedule = field(default_factory=lambda: Schedule("linear", 1.0, 0.05, 5000))
    """Exploration probability of the epsilon-greedy behaviour policy, per episode."""
    step_size: Schedule = field(default_factory=lambda: Schedule("constant", 0.1, 0.1, 1))
    """Learning rate alpha, per episode (Monte Carlo with ``sample_average``: a floor under 1/N)."""
    initial_q: float = 0.0
    """Initial value of every Q entry (> 0 on negative-reward tasks is optimism, which explores)."""
    max_episode_steps: int | None = 1000
    """Training step cap for environments with no registered time limit (a cut is a truncation)."""
    eval_every: int = 1000
    """Episodes between greedy evaluations logged to metrics.csv (0: none during training)."""
    eval_episodes: int = 200
    """Episodes per greedy evaluation during training (the final one uses ``final_eval_episodes``)."""
    final_eval_episodes: int = 2000
    """Episodes of the greedy evaluation at the end of training."""
    keep_best: bool = True
    """Keep the Q table of the best greedy measurement during training (every ``eval_every`` episodes;
    the exact value where the env has a model, else ``eval_episodes`` played episodes) rather than the
    last one: a constant-step-size learner's greedy policy keeps wobbling near the optimum."""
    stop_at_optimum: int = 3
    """Stop before the budget once the greedy policy's exact value has equalled the optimum (from the
    model) at this many evaluations in a row (0: always train the whole budget). Only a policy that
    cannot be improved stops a run, so the result is the same, sooner; tasks whose optimum needs a
    time-dependent policy (slippery maps under a time limit) rarely stop."""
    defaults_from: str = "the config's own defaults"
    """Where the defaults of this config came from: an ``ENV_DEFAULTS`` entry, or the facts of the task
    they were derived from (`derived_defaults`). Written by `default_config`; a record, not a setting."""

    def __post_init__(self):
        check_choice("--algo", self.algo, CONTROL_ALGOS)
        if not isinstance(self.env, str) or not self.env:
            raise UsageError(f"--env must be a Gymnasium environment id, got {self.env!r}")
        if not isinstance(self.env_kwargs, dict):
            raise UsageError(f"--env-kwargs must be a JSON object, got {self.env_kwargs!r}")
        self.episodes = check_int("--episodes", self.episodes, min_value=1)
        self.gamma = check_float("--gamma", self.gamma, min_value=0.0, max_value=1.0)
        self.epsilon = _schedule(self.epsilon, "epsilon")
        self.step_size = _schedule(self.step_size, "step_size")
        for name in ("epsilon", "step_size"):  # probabilities and step sizes beyond 1 only diverge
            schedule = getattr(self, name)
            if schedule.start > 1 or schedule.end > 1:
                raise UsageError(f"{field_flag(name + '.start')} and {field_flag(name + '.end')} must be in [0, 1], "
                                 f"got {schedule.start:g} and {schedule.end:g}")
        self.initial_q = check_float("--initial-q", self.initial_q, min_value=-MAX_INITIAL_Q, max_value=MAX_INITIAL_Q)
        if self.max_episode_steps is not None:
            self.max_episode_steps = check_int("--max-episode-steps", self.max_episode_steps, min_value=1)
        self.eval_every = check_int("--eval-every", self.eval_every, min_value=0)
        self.eval_episodes = check_int("--eval-episodes", self.eval_episodes, min_value=1)
        self.final_eval_episodes = check_int("--final-eval-episodes", self.final_eval_episodes, min_value=1)
        self.stop_at_optimum = check_int("--stop-at-optimum", self.stop_at_optimum, min_value=0)


@dataclass
class TDConfig(ControlConfig):
    """Temporal-difference control: SARSA, Expected SARSA, Q-learning, Double Q-learning."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("--algo (TD)", self.algo, TD_ALGOS)


@dataclass
class MCConfig(ControlConfig):
    """Monte Carlo control: on-policy epsilon-soft, exploring starts, off-policy weighted importance sampling."""

    algo: str = "mc"
    first_visit: bool = True
    """Update only the first visit of a state-action in an episode (else every visit). mc-off-policy
    defaults to every visit (`METHOD_DEFAULTS`)."""
    sample_average: bool = True
    """Step size max(1/N(s, a), step_size): the exact average of the first 1/step_size returns, then a
    recency-weighted one that forgets the returns of the early, more random policy (weighted IS uses
    W / C(s, a)). False: ``step_size`` alone. A step size of 0 gives the textbook's plain average."""
    forget_episodes: int | None = None
    """Make the averages forget in episode time: a return's weight decays by 1/e over this many
    episodes, whatever the visit rate of its state-action, so rarely taken actions are valued by
    the recent policy as much as frequent ones (None: counts never decay)."""
    initial_weight: float = 0.0
    """Weight of the initial Q in each average, as if that many returns of that value had come at episode 0
    (they fade with --forget-episodes like any return); 0: the first return replaces it. With an
    optimistic initial Q, an action that disappointed once still looks worth a try, so the policy keeps
    exploring where rewards are rare (TD keeps its optimism by bootstrapping; Monte Carlo would not).
    Derived defaults: 1 for mc and mc-es where the initial Q is optimistic."""
    exploration_bonus: float = 0.0
    """Count-based exploration bonus: every reward learned from gains this / sqrt(N), N the arrivals so far
    in the non-terminal state reached (`agents.tabular.mc`). Monte Carlo returns cannot carry the optimism of
    untried actions back along a path as TD's bootstrapping does; the bonus draws the policy to states it
    has rarely seen, and fades as they become familiar. Derived defaults: `EXPLORATION_BONUS_SHARE` of the
    largest reward for mc and mc-es (0: none)."""
    random_start_share: float = 1.0
    """mc-es only: the share of episodes that begin in a random state (exploring starts); the others begin where
    the task's reset puts them. Every mc-es episode's first action is random, so with a share above 0 every
    state-action still starts some episodes. Derived defaults: `RANDOM_START_SHARE` (random starts spread the
    returns over every state, and the states near the task's own start, whose choices decide its value, then get
    fewer)."""
    retrace: bool = False
    """mc-off-policy only: Retrace(lambda = 1) returns (Munos et al. 2016) instead of weighted importance
    sampling. Each step's ratio pi/b is truncated at 1, so with the greedy target every greedy step
    weighs 1 (no weight grows with the length of a tail); where the behaviour leaves the greedy policy,
    the return of the steps before continues from max Q of that state (as at a time-limit cut) rather than
    stopping, so every step of every episode is learned from. The default of mc-off-policy on every task
    (`METHOD_DEFAULTS`); --no-retrace gives the textbook's weighted importance sampling."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("--algo (Monte Carlo)", self.algo, MC_ALGOS)
        self.retrace = bool(self.retrace)
        if self.retrace and self.algo != "mc-off-policy":
            raise UsageError(f"--retrace only applies to mc-off-policy, not to {self.algo}")
        self.random_start_share = check_float("--random-start-share", self.random_start_share, min_value=0.0,
                                              max_value=1.0)
        if self.random_start_share != 1.0 and self.algo != "mc-es":
            raise UsageError(f"--random-start-share only applies to mc-es, not to {self.algo}")
        self.initial_weight = check_float("--initial-weight", self.initial_weight, min_value=0.0)
        self.exploration_bonus = check_float("--exploration-bonus", self.exploration_bonus, min_value=0.0)
        if self.forget_episodes is not None:
            self.forget_episodes = check_int("--forget-episodes", self.forget_episodes, min_value=1)


@dataclass
class DPConfig:
    """Dynamic programming on the environment's exact model."""

    method: str = "finite-horizon"
    """value-iteration, policy-iteration, or finite-horizon (exact optimum within the registered time limit)."""
    env: str = "FrozenLake-v1"
    """Gymnasium environment id with a model (``env.unwrapped.P``, or Blackjack)."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make``."""
    gamma: float = 1.0
    """Discount factor (value and policy iteration; policy iteration at 1.0 needs every policy to end)."""
    theta: float = 1e-10
    """Convergence threshold: largest value change of a sweep."""
    horizon: int | None = None
    """Steps of the finite-horizon solution (None: the registered time limit; value iteration to
    convergence where there is none)."""
    eval_episodes: int = 2000
    """Episodes of the greedy evaluation written at the end."""
    max_episode_steps: int | None = 1000
    """Step cap of evaluation episodes in environments with no registered time limit."""

    def __post_init__(self):
        check_choice("--method", self.method, DP_METHODS)
        if not isinstance(self.env_kwargs, dict):
            raise UsageError(f"--env-kwargs must be a JSON object, got {self.env_kwargs!r}")
        self.gamma = check_float("--gamma", self.gamma, min_value=0.0, max_value=1.0)
        self.theta = check_float("--theta", self.theta, min_value=0.0, min_inclusive=False)
        if self.horizon is not None:
            self.horizon = check_int("--horizon", self.horizon, min_value=1)
        self.eval_episodes = check_int("--eval-episodes", self.eval_episodes, min_value=1)
        if self.max_episode_steps is not None:
            self.max_episode_steps = check_int("--max-episode-steps", self.max_episode_steps, min_value=1)


def _schedule(value, name: str) -> Schedule:
    """A `Schedule` from a Schedule, a {kind, start, end, episodes} dict (partial: the rest from
    Schedule's defaults) or a number (constant); errors name the flags of the ``name`` schedule."""
    flags = SCHEDULE_FLAGS[name]
    if isinstance(value, Schedule):
        return value
    if isinstance(value, dict):
        unknown = set(value) - set(flags)
        if unknown:
            raise UsageError(f"unknown {name} schedule fields {sorted(unknown)}; accepted: kind, start, end, episodes")
        fields = {f.name: f.default for f in dataclasses.fields(Schedule)} | value
        return Schedule(*_checked_schedule(fields["kind"], fields["start"], fields["end"], fields["episodes"], flags))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _schedule({"kind": "constant", "start": float(value), "end": float(value), "episodes": 1}, name)
    raise UsageError(f"the {name} schedule must be a number or {{kind, start, end, episodes}}, got {value!r}")


# Per-environment defaults that reach the benchmark targets within the time budget. Keys: env id,
# then "td" / "mc" / a specific algo (the most specific wins). Values: ControlConfig fields.
def _decay(start: float, end: float, episodes: int, kind: str = "linear") -> Schedule:
    return Schedule(kind, start, end, episodes)


METHOD_DEFAULTS: dict[str, dict] = {
    # A first-visit version measured no clear gain on FrozenLake8x8-v1, and is slower. Retrace: weighted
    # importance sampling learns only from greedy tails, with weights that grow up to A-fold a step while
    # epsilon is near 1; Retrace's truncated ratios, and its cut that continues from max Q, learn from every
    # step with bounded weights (FrozenLake8x8-v1 seeds 0-9: 0.884-0.894, against 0.774-0.871; slippery
    # random maps 24 of 25, against 16).
    "mc-off-policy": dict(first_visit=False, retrace=True),
}
"""Settings of a method on every task, under its `ENV_DEFAULTS` entry or `derived_defaults`."""

ENV_DEFAULTS: dict[str, dict[str, dict]] = {
    # gamma < 1 matters: at gamma = 1 "bump into the wall" is worth as much as moving, and a greedy
    # policy that bumps forever never reaches the goal. 0.995 is the discount whose optimal
    # stationary policy scores best on the 8x8 map under its 200-step limit (0.894 of 0.913).
    "FrozenLake-v1": {
        "all": dict(episodes=10_000, gamma=0.99, epsilon=_decay(1.0, 0.01, 8000),
                    step_size=_decay(0.1, 0.01, 10_000), eval_every=500),
        # Monte Carlo with epsilon 0.01 and per-sample step sizes froze (seed 3: 0.20 of 0.744 from episode
        # 2000 on): an action the greedy policy does not take keeps the average of returns that followed
        # it under the early, near-random policy (Q(0, left) 0.03 against 0.155 under the current one), is
        # tried 0.25 % of the time and moved 1 % per try, so the greedy policy can never change. Exploration
        # that stays at 0.1 and averages that forget in episode time revalue every action by the current
        # policy.
        "mc": dict(episodes=20_000, epsilon=_decay(1.0, 0.1, 2000), step_size=Schedule("constant", 0.0, 0.0, 1),
                   forget_episodes=1000),
        # (Tuned for weighted importance sampling; with Retrace, `METHOD_DEFAULTS`, seeds 0-9 all gave 0.740.)
        # Off-policy Monte Carlo learns only from the greedy tail of an episode, so exploration must become
        # rare for tails to reach back to the start (at epsilon 0.1 the settings above kept 0.25-0.55).
        "mc-off-policy": dict(episodes=30_000, epsilon=_decay(1.0, 0.01, 20_000), step_size=_decay(0.1, 0.01, 30_000),
                              forget_episodes=None),
    },
    "FrozenLake8x8-v1": {
        "all": dict(episodes=20_000, gamma=0.995, epsilon=_decay(1.0, 0.01, 16_000),
                    step_size=_decay(0.1, 0.01, 20_000), eval_every=1000),
        # Monte Carlo: the returns of an action the greedy policy rarely takes (2.5 % of the visits at
        # epsilon 0.1) come from ever older policies under a per-sample step size (1/N, or a floor):
        # such actions stay underestimated and the greedy policy locks in or flips into traps (exact
        # greedy value 0.84-0.86 at best, swinging to 0.04 and back). Averages that forget in episode
        # time (weight 1/e per 3000 episodes) value every action by the recent policy: 0.885-0.89.
        "mc": dict(episodes=65_000, epsilon=_decay(1.0, 0.1, 4000), step_size=Schedule("constant", 0.0, 0.0, 1),
                   forget_episodes=3000),
        # Exploring starts keep the Monte Carlo settings above; evaluating every 250 episodes let keep-the-best
        # see a better greedy policy on seed 5 (0.863 with an evaluation every 1000; seeds 0-9 0.876-0.890).
        "mc-es": dict(eval_every=250),
        # Off-policy Monte Carlo takes the settings above too. With weighted importance sampling it needed a
        # step-size floor (0.1 -> 0.01: the weights of the near-random first episodes grow 4x a step) and still
        # missed on 9 of seeds 0-9 (0.774-0.871); with Retrace's bounded weights (`METHOD_DEFAULTS`) the plain
        # forgetting averages reach 0.884-0.894 on every seed 0-9, <= 23 s.
        "expected-sarsa": dict(episodes=30_000, epsilon=_decay(1.0, 0.01, 24_000), step_size=_decay(0.1, 0.01, 30_000)),
        # SARSA's 20000 episodes missed on seed 2 (0.856 of a bar of 0.868), 30000 on seed 3 (0.865): the
        # margin is small (the best stationary policy at this gamma is worth 0.894), so 40000.
        # An evaluation every 250 episodes rather than 1000: keep-the-best then sees the greedy policy at more
        # of its swings (seed 5 kept 0.863 with 40 evaluations, 0.878 with 160; seeds 0-9 0.878-0.889).
        "sarsa": dict(episodes=40_000, epsilon=_decay(1.0, 0.01, 32_000), step_size=_decay(0.1, 0.01, 40_000),
                      eval_every=250),
    },
    "Taxi-v4": {
        "all": dict(episodes=5000, gamma=0.99, epsilon=_decay(1.0, 0.01, 4000),
                    step_size=_decay(0.5, 0.05, 5000), eval_every=250),
        # Long random early episodes: the averages must forget them (floor 0.05) and explore longer.
        "mc": dict(episodes=30_000, epsilon=_decay(1.0, 0.01, 24_000), step_size=Schedule("constant", 0.05, 0.05, 1),
                   eval_every=1000),
        # (Tuned for weighted importance sampling; with Retrace, seeds 0-9 gave 7.91-7.93, <= 7 s.)
        # Off-policy: with epsilon down to 0.01 an action the greedy target does not take is tried too rarely to
        # lose the low value the random early episodes gave it (7.05-7.48 of a bar of 7.53 on seeds 0-4).
        # Exploration that stays at 0.1 and averages forgetting in episode time (1/e per 1000 episodes):
        # 0.981-0.987 of the optimum on seeds 0-1, 13 s. Once the target policy was no longer re-judged after
        # each update (see `agents.tabular.mc.OffPolicyMC`), 30000 episodes left seeds 3 and 8 at 7.50 and
        # 7.53 (bar 7.53); 60000 (the schedules stretched with them) reached 7.78-7.88 on seeds 0-19, <= 23 s.
        "mc-off-policy": dict(episodes=60_000, epsilon=_decay(1.0, 0.1, 4000), forget_episodes=1000),
    },
    "CliffWalking-v1": {
        "all": dict(episodes=3000, gamma=1.0, epsilon=_decay(0.5, 0.01, 2000),
                    step_size=_decay(0.5, 0.1, 3000), eval_every=100, max_episode_steps=1000),
        # Each of Double Q's tables learns from half the steps: twice the budget. Exploration starts at 1:
        # from 0.5 the states along the cliff edge were left valued by their early falls on seeds 5 and 8
        # (greedy path one row up, -15); from 1, every seed 0-29 found -13.
        "double-q": dict(episodes=6000, epsilon=_decay(1.0, 0.01, 4000), step_size=_decay(0.5, 0.1, 6000)),
        # (Tuned for weighted importance sampling; with Retrace, seeds 0-9 all found -13, each within 0.3 s.)
        # Off-policy Monte Carlo learns only from greedy tails. With Q starting at 0, above every real value of
        # this task, an action without a return yet looks best: the greedy target takes it, the weight of
        # every earlier step becomes 0, nothing upstream learns and the greedy policy loops (-1000 on seeds
        # 0, 3 and 4 with the settings above). Starting at -100 (worse than any path that does not fall)
        # lets only tried actions be greedy; with a 100-step cap and 20000 episodes every seed 0-19 found
        # -13 (each run stops at the optimum within 2 s). With the target policy no longer re-judged after each
        # update, a return that found the shorter path reaches the steps before it one episode later, and
        # 20000 episodes left seed 9 one row up (-15; variants with epsilon from 1 or a step size ending at 0.3
        # left 2-4 of seeds 0-19 there); 40000 (schedules stretched with them): every seed 0-39 at -13, <= 4 s.
        "mc-off-policy": dict(episodes=40_000, max_episode_steps=100, initial_q=-100.0, epsilon=_decay(0.5, 0.01, 24_000),
                              step_size=_decay(0.5, 0.1, 40_000)),
    },
    "Blackjack-v1": {
        # Rewards are noisy (+-1 from the same state), so the step size decays to a small value; Monte
        # Carlo uses it too rather than 1/N averages, which would keep the random early episodes forever.
        "all": dict(episodes=200_000, gamma=1.0, epsilon=_decay(1.0, 0.01, 100_000),
                    step_size=_decay(0.05, 0.001, 200_000, "exponential"), eval_every=10_000,
                    final_eval_episodes=20_000),
        # 300000 episodes ended 0.0014 short of the bar on seeds 2 and 3: the last greedy flips of marginal
        # hands need averages over more hands (a smaller final step size, over a longer run).
        # 500000 left seed 8 at -0.0534 (an evaluation every 2500 episodes did not help); 800000, the schedules
        # stretched with them: seeds 0-4 -0.0470..-0.0489, confirmed on 5-9 (-0.0464..-0.0497), <= 35 s alone.
        "mc": dict(sample_average=False, episodes=800_000, epsilon=_decay(1.0, 0.01, 400_000),
                   step_size=_decay(0.05, 0.0003, 800_000, "exponential"), eval_every=25_000),
    },
}


# --- defaults derived from the task, for tasks with no ENV_DEFAULTS entry ---------------------------------
@dataclass(frozen=True)
class TaskFacts:
    """What the derived defaults of a task are computed from (`task_facts`)."""

    n_states: int
    n_actions: int
    horizon: int | None
    """Steps after which an episode is cut: the task's time limit, else the training step cap (None: none)."""
    time_limited: bool
    """True: ``horizon`` is the task's own time limit; False: the training step cap (or none)."""
    reward_range: tuple[float, float] | None
    """Smallest and largest reward of one step, from the model (None: no model)."""
    stochastic: bool | None
    """Some state-action has more than one outcome, from the model (slippery ice; None: no model)."""
    gamma: float | None
    """Of the discounts `GAMMA_STEPS` away from 1 (in units of 1/horizon), the one whose optimal
    stationary policy scores best on the model within the horizon (None: no model or no horizon)."""
    random_episode_length: float | None = None
    """Expected steps of an episode under the uniformly random policy, within the horizon, from the model
    (None: no model). Short ones (holes beside the start) mean few updates per episode."""
    explored_value: float | None = None
    """Expected return within the horizon of the policy optimal at ``gamma`` when it acts at random with chance
    `OFF_POLICY_EPSILON_END`: what mc-off-policy's behaviour earns at the end of its exploration (None: no
    gamma searched, or an optimal value of 0 or below). On a goal task, the share of its episodes that succeed."""
    explored_episode_length: float | None = None
    """Expected steps of an episode of that same exploring policy, within the horizon (None: no gamma searched):
    about what a run's episodes grow to, and so its time per episode."""

    def describe(self) -> str:
        limit = ("none" if self.horizon is None else
                 f"time limit {self.horizon}" if self.time_limited else f"step cap {self.horizon}")
        dynamics = {True: "stochastic", False: "deterministic", None: "no model"}[self.stochastic]
        rewards = "" if self.reward_range is None else f", rewards {self.reward_range[0]:g}..{self.reward_range[1]:g}"
        length = ("" if self.random_episode_length is None
                  else f", random-policy episodes {self.random_episode_length:.1f} steps")
        explored = ""
        if self.explored_episode_length is not None:
            worth = "" if self.explored_value is None else f" worth {self.explored_value:.3g},"
            explored = (f", optimal policy at epsilon {OFF_POLICY_EPSILON_END:g}:{worth} episodes "
                        f"{self.explored_episode_length:.1f} steps")
        return f"{self.n_states} states, {self.n_actions} actions, {limit}, {dynamics}{rewards}{length}{explored}"


GAMMA_STEPS = (1.0, 2.0, 0.5, 5.0)
"""Candidate discounts of a task with horizon T are 1 - c/T for these c, first ones preferred on ties.
Why not 1: a greedy policy of a goal task learned at gamma 1 may bump into walls forever (every
policy that ends in the goal some day is worth the same); why not a fixed 0.99: the best discount
depends on the map and its limit (on FrozenLake8x8's 200 steps 0.99 scores 94.5 % of the optimum,
0.995 97.9 %; on a slippery random 8x8 map under 100 steps 0.99 scores 88 %, 0.98 96 %)."""
GAMMA_SEARCH_MAX_PAIRS = 20_000
"""Larger tasks skip the search (planning each candidate costs S * A * S per sweep) and take 1 - 1/T."""


def task_facts(env: str, env_kwargs: dict | None = None, max_episode_steps: int | None = 1000) -> TaskFacts:
    """Make ``env`` and read what the derived defaults need from its spaces, time limit and model."""
    from agents.tabular import dp
    from agents.tabular.envs import make_tabular_env
    from agents.tabular.model import build_model

    made = make_tabular_env(env, env_kwargs, max_episode_steps=max_episode_steps)
    try:
        horizon = made.task_time_limit or made.time_limit
        try:
            model = build_model(made)
        except UsageError:
            model = None
    finally:
        made.close()
    facts = dict(n_states=made.n_states, n_actions=made.n_actions, horizon=horizon,
                 time_limited=made.task_time_limit is not None, reward_range=None, stochastic=None, gamma=None)
    if model is None:
        return TaskFacts(**facts)
    rewards = _model_rewards(made, model)
    length_steps = min(horizon or RANDOM_LENGTH_MAX_STEPS, RANDOM_LENGTH_MAX_STEPS)
    uniform = dp.epsilon_greedy(model, np.zeros(model.n_observed, dtype=np.int64), 1.0)
    facts.update(reward_range=(float(min(rewards)), float(max(rewards))), stochastic=_has_random_outcomes(made),
                 random_episode_length=dp.episode_length(model, uniform, length_steps))
    if horizon is not None and model.n_states * model.n_actions <= GAMMA_SEARCH_MAX_PAIRS:
        best_value, best_gamma, best_policy = -math.inf, None, None
        for steps in GAMMA_STEPS:
            gamma = 1.0 - steps / horizon
            if gamma <= 0:
                continue
            q = dp.policy_iteration(model, gamma=gamma, theta=1e-9).q
            policy = dp.greedy_actions(q[: model.n_observed])
            value = dp.policy_value(model, policy, horizon=horizon)
            if value > best_value + 1e-9:
                best_value, best_gamma, best_policy = value, gamma, policy
        facts["gamma"] = best_gamma  # c = 0.5 keeps gamma above 0 for any horizon, so best_policy is set
        explored = dp.epsilon_greedy(model, best_policy, OFF_POLICY_EPSILON_END)
        facts["explored_episode_length"] = dp.episode_length(model, explored, length_steps)
        if best_value > 0:
            facts["explored_value"] = dp.policy_value(model, best_policy, horizon=horizon,
                                                      epsilon=OFF_POLICY_EPSILON_END)
    return TaskFacts(**facts)


def _model_rewards(made, model) -> list[float]:
    """Every one-step reward the env's ``P`` table lists (else the model's expected rewards)."""
    P = getattr(made.env.unwrapped, "P", None)
    if isinstance(P, dict):
        return [r for by_action in P.values() for outcomes in by_action.values() for _, _, r, _ in outcomes]
    return model.reward.ravel().tolist()


def _has_random_outcomes(made) -> bool:
    """Whether some state-action of ``P`` has outcomes that differ (next state, reward or ending)."""
    P = getattr(made.env.unwrapped, "P", None)
    if not isinstance(P, dict):
        return True  # a model built by other means (Blackjack's cards) is a random one
    return any(len({(s, r, t) for _, s, r, t in outcomes}) > 1
               for by_action in P.values() for outcomes in by_action.values())


def _round_budget(episodes: float) -> int:
    """Two significant digits: budgets read as 12000 or 41000, not 40960."""
    magnitude = 10 ** max(0, int(math.log10(max(episodes, 1))) - 1)
    return int(round(episodes / magnitude) * magnitude)


EPISODES_PER_PAIR = {"deterministic": 40, "stochastic": 160}
"""Derived budget: training episodes per state-action pair (at least `MIN_DERIVED_EPISODES`)."""
STEPS_PER_PAIR = {"deterministic": 0, "stochastic": 4000}
"""Derived budget, also: at least this many steps per state-action pair, counted at the random policy's
episode length. Where holes beside the start end most episodes within a few steps, 160 episodes per
pair give each pair too few updates: on slippery random 8x8 map 0 (random episodes 6 steps, optimum
0.078) Q-learning's 41000 episodes reached 0.79 of the optimum, 82000 0.94; Double Q-learning and mc
needed the 300000 of 4000 steps per pair (0.82 and 0.33 of the optimum at 150000, 0.91 at 300000)."""
RANDOM_LENGTH_MAX_STEPS = 10_000
"""Steps summed for `TaskFacts.random_episode_length` and `explored_episode_length` where no time limit or step cap
ends episodes sooner."""
TD_EXPLORATION_SHARE = 0.4
"""Derived TD epsilon reaches 0.01 after this share of the budget: optimistic initial values (the largest
reward) already lead the agent to what it has not tried, and the random steps of a high epsilon mostly
end in holes (on slippery random 8x8 maps, 0.4 rather than 0.8 took Q-learning from 0.95 to 0.99 of the
optimum on a map not in the benchmark's suite)."""
BONUS_ALGOS = ("mc", "mc-es")
"""The methods whose derived defaults take an exploration bonus (`EXPLORATION_BONUS_SHARE`)."""
EXPLORATION_BONUS_SHARE = 0.1
"""Derived `MCConfig.exploration_bonus` of mc and mc-es, as a share of the task's largest reward (where it is positive).
On slippery random maps where mc missed 90 % of the optimum (seeds 0-4 of 8x8 maps 0 and 2, 7x7 map 2,
6x6 map 4), 0.1 met every seed (8x8 map 0: 0.93-0.96, against 0.68-0.87 on seeds 1-4 without; seed 2's
greedy policy had been worth 0 until episode 190000); 0.03 left seed 1 of 8x8 map 0 at 0.86, 0.3 met it
(0.96). With 0.1 mc met every map of the random suite on every seed 0-9 (slippery worst 0.917), <= 47 s.
On slippery 6x6 map 4, seeds 0-4, mc-es and mc-off-policy missed as often or more with it (1 and 3 of 5); but
mc-es's greedy policy on 8x8 map 0 (the corridor of holes) ended at 0.46 of the optimum on seed 4 without it and
0.96 with it (seeds 0-3: 0.96 either way), so mc-es takes it too (the suite: see the README)."""
RANDOM_START_SHARE = 0.25
"""Derived `MCConfig.random_start_share` of mc-es. On slippery random 6x6 map 4 (optimum 0.067: the goal lies past a
narrow corridor, and the choices that decide the value are far from it, between returns that succeed about 5 % of
the time), seeds 0-9, a random start in every episode left mc-es at 0.858 and 0.898 of the optimum on seeds 2 and 8
(median 0.975); in three quarters of the episodes one seed missed (0.893), in half the worst was 0.904, in a quarter
0.932 (median 0.993; chosen). With it the random-map suite met every run on seeds 0-9 (slippery worst 0.928; 6x6
map 4 worst 0.964), <= 40 s."""
DOUBLE_Q_STEP_SIZE_END = 0.02
"""Derived final step size of Double Q-learning where outcomes are random (the other TD methods: 0.01). Each of its
two tables learns from half the steps. On slippery random 8x8 map 0 (optimum 0.078, the goal past a corridor of
holes; its budget is the 300000-episode maximum) 0.01 missed 90 % of the optimum on seeds 4 and 7 (0.889, 0.885);
0.02 met seeds 0-9 (worst 0.908, median 0.926). The random-map suite, seeds 0-9: 250/250 with 0.02 (248/250 with
0.01), in the same number of steps."""
DOUBLE_Q_MAX_EXPLORED_STEPS = 6_500_000
"""Double Q-learning's derived budget holds at most this many steps, counted at `TaskFacts.explored_episode_length`
(its episodes run longer as it learns: 1.1-1.5x that length on slippery random maps). Its step costs about 1.4x
a Q-learning step (two tables, a coin per update), and its doubled budget made 11-13.4 million steps on the
long-episode maps of the random-map suite (8x8 maps 1, 2, 4, 7x7 map 1): 44-51 s at this lab machine's usual pace,
up to 70 s when it ran slower. The cap takes those maps to 0.65-0.8 of their episodes (7.2-9.7 million steps
measured) and leaves 8x8 map 0 (short episodes, the 300000 maximum) as it was. Those four maps then met seeds 0-9
(40/40, worst 0.953 of the optimum) in 26-40 s; the suite's slowest run is now 8x8 map 0's (at most 51 s)."""
OFF_POLICY_EPSILON_END = 0.2
"""Derived final epsilon of mc-off-policy (on-policy Monte Carlo: 0.1), with averages that forget over 1.25 % of
the budget rather than 2.5 %. Its target is the greedy policy whatever the behaviour does, so more exploration
costs it nothing in what it learns; a Retrace return is cut where the behaviour leaves the greedy policy and goes
on from max Q there, so more exploration means shorter, less noisy returns. On slippery random 6x6 map 4 (optimum
0.067, returns that succeed about 5 % of the time), seeds 0-9: epsilon 0.1 with 2.5 % gave worst 0.784 (seeds 1
and 5 missed), 0.1 with 1.25 % worst 0.875, 0.1 with 1 % worst 0.844, **0.2 with 1.25 % worst 0.943** (median
0.993), and 0.2 with 2.5 % 0.19-0.50 on every seed: the two go together (the values that max Q bootstraps from
must be recent). The random-map suite, seeds 0-9: 249/250 (8x8 map 0 seed 5 at 0.871: there epsilon-greedy behaviour
reaches the goal far more rarely at 0.2 than at 0.1), <= 44 s; before, 247/250 (6x6 map 4 on seeds 1, 5, 9).
Where the behaviour would earn less than `OFF_POLICY_MIN_EXPLORED_VALUE`, the end is 0.1 instead."""
OFF_POLICY_MIN_EXPLORED_VALUE = 0.02
"""mc-off-policy explores down to `OFF_POLICY_EPSILON_END` only where the optimal policy, acting at random that
often, still earns this share of the task's largest reward (`TaskFacts.explored_value`; on a goal task, one
episode in 50 reaches the goal); elsewhere down to 0.1. Its Monte Carlo averages learn from the returns that
reach the goal. On slippery random 6x6 map 4 (which needs 0.2, see `OFF_POLICY_EPSILON_END`) the behaviour
earns 0.027 at 0.2; on 8x8 map 0, where 0.2 missed on seed 5, 0.0095 (0.026 at 0.1); on the other maps of the
suite 0.036 or more. At 0.1, 8x8 map 0 met seeds 0-9 (worst 0.928, median 0.938, <= 44.5 s), and the suite
250/250 (the other maps keep 0.2: the same runs)."""
MIN_DERIVED_EPISODES = 5000
MAX_DERIVED_EPISODES = 300_000
"""The most episodes of a derived budget, any method: on slippery random 8x8 maps a learned policy's
episodes run to ~45 steps, and Double Q-learning's 300000 took at most 46.5 s here (the runs must fit
in 60 s; 450000 took 46 s on map 0, whose holes end many episodes early)."""


EVALUATIONS_PER_RUN = {"model": 100, "no model": 20}
"""Derived evaluations of the greedy policy per run. Monte Carlo's greedy policy swings between evaluations
(an average that forgets follows the recent episodes), and keep-the-best keeps only what an evaluation
saw: on the slippery random maps an evaluation every 1 % rather than 5 % of the budget took mc and mc-es
from 0.83-0.89 of the optimum to 0.93-0.98 on five of six maps they missed. With a model an evaluation
is a policy evaluation on it, which costs no episodes and little time."""


def derived_defaults(algo: str, facts: TaskFacts) -> dict:
    """The settings of ``algo`` on a task with no `ENV_DEFAULTS` entry, from its `TaskFacts`.

    * budget: `EPISODES_PER_PAIR` episodes per state-action (more where outcomes are random: each
      estimate averages noisy returns), or more where random episodes are short (`STEPS_PER_PAIR`),
      Double Q-learning and Monte Carlo twice that (half the steps per table; no bootstrapping), all
      within [`MIN_DERIVED_EPISODES`, `MAX_DERIVED_EPISODES`];
    * initial Q: the largest reward where it is positive (optimism: untried actions look best until tried;
      where every reward is negative 0 is optimistic already);
    * gamma: `TaskFacts.gamma` (searched on the model), else 1 - 1/T, else 1;
    * TD: epsilon 1 -> 0.01 over the first `TD_EXPLORATION_SHARE` of the budget; step size 0.1 -> 0.01 over the budget
      where outcomes are random (an average of many samples; Double Q-learning 0.1 -> `DOUBLE_Q_STEP_SIZE_END`),
      0.5 -> 0.05 where they are not;
    * Monte Carlo: epsilon 1 -> 0.1 over the first 10 % (it never becomes greedy: every action keeps
      being tried, so its average follows the current policy), averages that forget in episode time
      over 5 % of the budget (`MCConfig.forget_episodes`), no step-size floor; mc and mc-es count the
      optimistic initial Q as one return (`MCConfig.initial_weight`); they learn from rewards with a
      count-based exploration bonus (`EXPLORATION_BONUS_SHARE` of the largest reward, `BONUS_ALGOS`;
      mc-off-policy measured no gain from one); mc-es starts `RANDOM_START_SHARE` of its episodes in a random
      state, the others at the task's start; mc-off-policy, whose Retrace
      returns bootstrap, forgets over 1.25 %, explores down to `OFF_POLICY_EPSILON_END` (0.1 where the optimal
      policy would earn less than `OFF_POLICY_MIN_EXPLORED_VALUE` of the largest reward so), and takes TD's
      0.5 -> 0.05 where outcomes are not random;
    * `EVALUATIONS_PER_RUN` evaluations of the greedy policy (keep-the-best and the stop at the optimum
      use them): 100 where the model gives their exact value at no cost in episodes, 20 where each one
      plays episodes.
    """
    stochastic = facts.stochastic is not False  # no model: assume the worst
    kind = "stochastic" if stochastic else "deterministic"
    pairs = facts.n_states * facts.n_actions
    episodes = max(MIN_DERIVED_EPISODES, EPISODES_PER_PAIR[kind] * pairs)
    if facts.random_episode_length:
        episodes = max(episodes, STEPS_PER_PAIR[kind] * pairs / facts.random_episode_length)
    if algo == "double-q" or algo in MC_ALGOS:
        episodes *= 2  # Double Q: each table learns from half the steps; Monte Carlo: no bootstrapping
    if algo == "double-q" and facts.explored_episode_length:
        episodes = min(episodes, DOUBLE_Q_MAX_EXPLORED_STEPS / facts.explored_episode_length)
    episodes = _round_budget(min(MAX_DERIVED_EPISODES, episodes))
    if facts.gamma is not None:
        gamma = facts.gamma
    elif facts.horizon is not None:
        gamma = 1.0 - 1.0 / facts.horizon
    else:
        gamma = 1.0
    evaluations = EVALUATIONS_PER_RUN["model" if facts.stochastic is not None else "no model"]
    settings = dict(episodes=episodes, gamma=round(gamma, 6), eval_every=max(1, episodes // evaluations))
    if facts.reward_range is not None and facts.reward_range[1] > 0:
        settings["initial_q"] = facts.reward_range[1]
    if algo in TD_ALGOS:
        settings["epsilon"] = _decay(1.0, 0.01, max(1, round(TD_EXPLORATION_SHARE * episodes)))
        if stochastic:
            settings["step_size"] = _decay(0.1, DOUBLE_Q_STEP_SIZE_END if algo == "double-q" else 0.01, episodes)
        else:
            settings["step_size"] = _decay(0.5, 0.05, episodes)
    else:
        off_policy = algo == "mc-off-policy"
        wide = off_policy and (facts.explored_value is None
                               or facts.explored_value >= OFF_POLICY_MIN_EXPLORED_VALUE * facts.reward_range[1])
        settings["epsilon"] = _decay(1.0, OFF_POLICY_EPSILON_END if wide else 0.1, max(1, episodes // 10))
        settings["step_size"] = Schedule("constant", 0.0, 0.0, 1)
        settings["forget_episodes"] = max(1, episodes // 20)
        if not off_policy:
            if "initial_q" in settings:
                settings["initial_weight"] = 1.0  # optimism that outlives the first disappointing return
                if algo in BONUS_ALGOS:
                    settings["exploration_bonus"] = EXPLORATION_BONUS_SHARE * facts.reward_range[1]
            if algo == "mc-es":
                settings["random_start_share"] = RANDOM_START_SHARE
            return settings
        # Off-policy Monte Carlo's Retrace returns bootstrap from Q, which keeps moving: a shorter memory follows
        # it (forgetting over 2.5 % rather than 5 % took slippery 6x6 map 4 from 0.44 to 0.98 of the optimum,
        # unseen 7x7 map 5 from 0.79 to 0.96; `OFF_POLICY_EPSILON_END` and 1.25 %: see there).
        settings["forget_episodes"] = max(1, episodes // 80)
        if not stochastic:
            # Bootstrapping from max Q carries the optimism of untried actions into the values of well-trodden
            # loops; a slow average kept them above a path tried once and found empty, and the goal of not
            # slippery 8x8 map 0 was never reached. A floor, as TD's where outcomes are not random, lets those
            # values fall at the policy's pace.
            settings["step_size"] = _decay(0.5, 0.05, episodes)
    return settings


def named_task(env: str, env_kwargs: dict | None = None) -> str | None:
    """The `ENV_DEFAULTS` entry that ``env`` with ``env_kwargs`` is, or None for any other task.

    Kwargs that only restate a registered task keep its entry (FrozenLake-v1 with ``is_slippery`` true;
    FrozenLake-v1 with ``map_name`` 8x8 and ``max_episode_steps`` 200 is FrozenLake8x8-v1); any other map,
    dynamics or time limit is another task and gets derived defaults.
    """
    env_kwargs = dict(env_kwargs or {})
    if not env_kwargs:
        return env if env in ENV_DEFAULTS else None
    import gymnasium as gym

    def identity(env_id: str, kwargs: dict):
        try:
            spec = gym.spec(env_id)
        except gym.error.Error:
            return None
        kwargs = dict(kwargs)
        limit = kwargs.pop("max_episode_steps", spec.max_episode_steps)
        return spec.entry_point, _constructor_arguments(spec, {**spec.kwargs, **kwargs}), limit

    wanted = identity(env, env_kwargs)
    for named in ENV_DEFAULTS:
        if wanted is not None and identity(named, {}) == wanted:
            return named
    return None


def _constructor_arguments(spec, kwargs: dict) -> dict:
    """``kwargs`` with the constructor's defaults filled in, so that restating a default changes nothing."""
    import inspect

    from gymnasium.envs.registration import load_env_creator

    try:
        creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
        parameters = inspect.signature(creator).parameters
    except (ValueError, TypeError, ImportError, AttributeError):
        return kwargs
    filled = {name: p.default for name, p in parameters.items()
              if p.default is not inspect.Parameter.empty and name != "render_mode"}
    filled.update(kwargs)
    if filled.get("desc") is not None:
        filled.pop("map_name", None)  # FrozenLake ignores the map name when given the map itself
    return {name: (list(value) if isinstance(value, tuple) else value) for name, value in filled.items()}


def env_defaults(algo: str, env: str, env_kwargs: dict | None = None, *,
                 max_episode_steps: int | None = 1000) -> tuple[dict, str]:
    """The settings of ``algo`` on ``env`` and where they come from.

    First the method's `METHOD_DEFAULTS`; over them, a task with an `ENV_DEFAULTS` entry (`named_task`)
    takes it: "all", then its family (td, mc), then the algo; any other task (another map, other
    dynamics, another env) takes `derived_defaults`.
    """
    family = "td" if algo in TD_ALGOS else "mc"
    settings: dict = dict(METHOD_DEFAULTS.get(algo, {}))
    named = named_task(env, env_kwargs)
    if named is None:
        facts = task_facts(env, env_kwargs, max_episode_steps)
        return settings | derived_defaults(algo, facts), f"derived from the task: {facts.describe()}"
    table = ENV_DEFAULTS[named]
    for key in ("all", family, algo):
        settings.update(table.get(key, {}))
    return settings, f"ENV_DEFAULTS[{named!r}]"


def default_config(algo: str, env: str, env_kwargs: dict | None = None, **overrides) -> ControlConfig:
    """The config of ``algo`` on ``env`` with its per-environment defaults, then ``overrides``.

    An override of None is a value (``forget_episodes=None``: no forgetting; ``max_episode_steps=None``:
    no cap). A schedule override may be a partial dict (``epsilon={"end": 0.05}``): its other fields
    come from the default schedule. A different ``episodes`` stretches the default schedules with it.
    Errors name the command-line flags.
    """
    check_choice("--algo", algo, CONTROL_ALGOS)
    step_cap = overrides.get("max_episode_steps", ControlConfig.max_episode_steps)
    settings, source = env_defaults(algo, env, env_kwargs, max_episode_steps=step_cap)
    settings["defaults_from"] = source
    if "episodes" in overrides and "episodes" in settings:
        # A shorter or longer budget keeps the shape of the default schedules: they are stretched with it
        # (a schedule override that gives no length of its own is stretched too).
        scale = overrides["episodes"] / settings["episodes"]
        for name in ("epsilon", "step_size"):
            given = overrides.get(name, {})
            if name in settings and isinstance(given, dict) and "episodes" not in given:
                schedule = settings[name]
                settings[name] = dataclasses.replace(schedule, episodes=max(1, round(schedule.episodes * scale)))
    cls = TDConfig if algo in TD_ALGOS else MCConfig
    for name in ("epsilon", "step_size"):
        if isinstance(overrides.get(name), dict):  # a partial schedule: the rest from the default one
            base = settings.get(name) or next(f for f in dataclasses.fields(cls) if f.name == name).default_factory()
            overrides[name] = dataclasses.asdict(base) | overrides[name]
    if cls is TDConfig:
        misplaced = [name for name in MC_ONLY_FIELDS if name in overrides]
        if misplaced:
            verb = "applies" if len(misplaced) == 1 else "apply"
            raise UsageError(f"{', '.join(field_flag(n) for n in misplaced)} only {verb} to Monte Carlo "
                             f"(--algo {', '.join(MC_ALGOS)}), not to {algo}")
    settings.update(overrides)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(settings) - known
    if unknown:
        raise UsageError(f"unknown config fields {sorted(unknown)} for {algo}")
    return cls(algo=algo, env=env, env_kwargs=dict(env_kwargs or {}), **settings)


def config_from_dict(data: dict) -> ControlConfig | DPConfig:
    """Rebuild a config stored in a run folder's config.json."""
    data = dict(data)
    if "method" in data:
        cls = DPConfig
    else:
        cls = TDConfig if data.get("algo") in TD_ALGOS else MCConfig
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})
