"""Hyperparameters of the tabular methods: one dataclass per method family, plus schedules.

The configs are the single source of hyperparameters: the CLI fills them (`default_config` picks
per-environment defaults that reach the benchmark targets), a run folder stores them in
``config.json`` and ``--resume`` rebuilds them from it (`config_from_dict`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from rllab.checks import check_choice, check_float, check_int
from rllab.errors import UsageError

SCHEDULE_KINDS = ("constant", "linear", "exponential")
TD_ALGOS = ("q-learning", "sarsa", "expected-sarsa", "double-q")
MC_ALGOS = ("mc", "mc-es", "mc-off-policy")
CONTROL_ALGOS = TD_ALGOS + MC_ALGOS
DP_METHODS = ("value-iteration", "policy-iteration", "finite-horizon")
MC_ONLY_FIELDS = ("first_visit", "sample_average", "forget_episodes")

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
        if self.epsilon.start > 1 or self.epsilon.end > 1:
            raise UsageError(f"{field_flag('epsilon.start')} and {field_flag('epsilon.end')} must be in [0, 1], "
                             f"got {self.epsilon.start:g} and {self.epsilon.end:g}")
        self.initial_q = check_float("--initial-q", self.initial_q)
        if self.max_episode_steps is not None:
            self.max_episode_steps = check_int("--max-episode-steps", self.max_episode_steps, min_value=1)
        self.eval_every = check_int("--eval-every", self.eval_every, min_value=0)
        self.eval_episodes = check_int("--eval-episodes", self.eval_episodes, min_value=1)
        self.final_eval_episodes = check_int("--final-eval-episodes", self.final_eval_episodes, min_value=1)


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
    """Update only the first visit of a state-action in an episode (else every visit)."""
    sample_average: bool = True
    """Step size max(1/N(s, a), step_size): the exact average of the first 1/step_size returns, then a
    recency-weighted one that forgets the returns of the early, more random policy (weighted IS uses
    W / C(s, a)). False: ``step_size`` alone. A step size of 0 gives the textbook's plain average."""
    forget_episodes: int | None = None
    """Make the averages forget in episode time: a return's weight decays by 1/e over this many
    episodes, whatever the visit rate of its state-action, so rarely taken actions are valued by
    the recent policy as much as frequent ones (None: counts never decay)."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("--algo (Monte Carlo)", self.algo, MC_ALGOS)
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


ENV_DEFAULTS: dict[str, dict[str, dict]] = {
    # gamma < 1 matters: at gamma = 1 "bump into the wall" is worth as much as moving, and a greedy
    # policy that bumps forever never reaches the goal. 0.995 is the discount whose optimal
    # stationary policy scores best on the 8x8 map under its 200-step limit (0.894 of 0.913).
    "FrozenLake-v1": {
        "all": dict(episodes=10_000, gamma=0.99, epsilon=_decay(1.0, 0.01, 8000),
                    step_size=_decay(0.1, 0.01, 10_000), eval_every=500),
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
        "expected-sarsa": dict(episodes=30_000, epsilon=_decay(1.0, 0.01, 24_000), step_size=_decay(0.1, 0.01, 30_000)),
    },
    "Taxi-v4": {
        "all": dict(episodes=5000, gamma=0.99, epsilon=_decay(1.0, 0.01, 4000),
                    step_size=_decay(0.5, 0.05, 5000), eval_every=250),
        # Long random early episodes: the averages must forget them (floor 0.05) and explore longer.
        "mc": dict(episodes=30_000, epsilon=_decay(1.0, 0.01, 24_000), step_size=Schedule("constant", 0.05, 0.05, 1),
                   eval_every=1000),
    },
    "CliffWalking-v1": {
        "all": dict(episodes=3000, gamma=1.0, epsilon=_decay(0.5, 0.01, 2000),
                    step_size=_decay(0.5, 0.1, 3000), eval_every=100, max_episode_steps=1000),
        # Each of Double Q's tables learns from half the steps: twice the budget.
        "double-q": dict(episodes=6000, epsilon=_decay(0.5, 0.01, 4000), step_size=_decay(0.5, 0.1, 6000)),
    },
    "Blackjack-v1": {
        # Rewards are noisy (+-1 from the same state), so the step size decays to a small value; Monte
        # Carlo uses it too rather than 1/N averages, which would keep the random early episodes forever.
        "all": dict(episodes=200_000, gamma=1.0, epsilon=_decay(1.0, 0.01, 100_000),
                    step_size=_decay(0.05, 0.001, 200_000, "exponential"), eval_every=10_000,
                    final_eval_episodes=20_000),
        "mc": dict(sample_average=False, episodes=300_000, epsilon=_decay(1.0, 0.01, 150_000),
                   step_size=_decay(0.05, 0.0005, 300_000, "exponential"), eval_every=20_000),
    },
}


def env_defaults(algo: str, env: str, env_kwargs: dict | None = None) -> dict:
    """The per-environment settings of ``algo`` on ``env`` (`ENV_DEFAULTS`: "all", then its family, then the algo).

    FrozenLake-v1 with ``map_name`` 8x8 takes FrozenLake8x8-v1's.
    """
    family = "td" if algo in TD_ALGOS else "mc"
    env_key = env
    if env == "FrozenLake-v1" and (env_kwargs or {}).get("map_name") == "8x8":
        env_key = "FrozenLake8x8-v1"
    settings: dict = {}
    table = ENV_DEFAULTS.get(env_key, {})
    for key in ("all", family, algo):
        settings.update(table.get(key, {}))
    return settings


def default_config(algo: str, env: str, env_kwargs: dict | None = None, **overrides) -> ControlConfig:
    """The config of ``algo`` on ``env`` with its per-environment defaults, then ``overrides``.

    An override of None is a value (``forget_episodes=None``: no forgetting; ``max_episode_steps=None``:
    no cap). A schedule override may be a partial dict (``epsilon={"end": 0.05}``): its other fields
    come from the default schedule. A different ``episodes`` stretches the default schedules with it.
    Errors name the command-line flags.
    """
    check_choice("--algo", algo, CONTROL_ALGOS)
    settings = env_defaults(algo, env, env_kwargs)
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
