"""Gymnasium environments for tabular methods: space checks, observation indexing and step caps.

A tabular method needs a finite state set and a finite action set. Accepted: an observation space
that is ``Discrete`` or a ``Tuple`` of ``Discrete`` (Blackjack), and a ``Discrete`` action space.
A tuple observation is encoded to one index in mixed radix (`ObservationIndexer`), so every
learner sees states ``0 .. n_states - 1``. Anything else is a one-line `UsageError` naming the space.

What differs between environment families (the picture to draw, the exact model of an env that
publishes no ``P``, how to set a random start state, the default discount of dynamic programming,
extra checks of ``--env-kwargs``) is carried by the env's `EnvTraits`: `traits_for` is the one
place that looks at an env id, so no other module tests for Blackjack or FrozenLake.

Time limits: the exact optimum every learner is measured against respects the environment's
*registered* ``TimeLimit`` (FrozenLake 100 steps, FrozenLake8x8 and Taxi 200). Environments with
no registered limit (CliffWalking-v1) get a training step cap (``max_episode_steps``) so that an
episode of a bad early policy always ends; hitting the cap is a *truncation*, not a termination.
"""
from __future__ import annotations

import difflib
import inspect
import json
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from agents.tabular import blackjack
from rllab.errors import UsageError


@dataclass(frozen=True)
class ObservationIndexer:
    """Maps an observation (an int, or a tuple of ints) to one state index and back.

    ``sizes`` are the ``n`` of each ``Discrete`` component and ``starts`` their ``start`` offsets;
    a plain ``Discrete`` space has one component. The index is mixed radix, first component most
    significant, so Blackjack's ``(player_sum, dealer_card, usable_ace)`` becomes
    ``(player_sum * 11 + dealer_card) * 2 + usable_ace``.
    """

    sizes: tuple[int, ...]
    starts: tuple[int, ...]
    is_tuple: bool

    @property
    def n_states(self) -> int:
        return int(np.prod(self.sizes))

    def index(self, observation) -> int:
        if not self.is_tuple:
            return int(observation) - self.starts[0]
        index = 0
        for value, size, start in zip(observation, self.sizes, self.starts):
            index = index * size + (int(value) - start)
        return index

    def observation(self, index: int):
        """The observation of state ``index`` (a tuple for a tuple space)."""
        if not self.is_tuple:
            return int(index) + self.starts[0]
        parts = np.unravel_index(int(index), self.sizes)
        return tuple(int(p) + s for p, s in zip(parts, self.starts))


def indexer_for(env_id: str, observation_space) -> ObservationIndexer:
    """The `ObservationIndexer` of a ``Discrete`` or ``Tuple``-of-``Discrete`` space, else `UsageError`."""
    from gymnasium import spaces

    if isinstance(observation_space, spaces.Discrete):
        return ObservationIndexer((int(observation_space.n),), (int(observation_space.start),), False)
    if isinstance(observation_space, spaces.Tuple) and observation_space.spaces and all(
        isinstance(s, spaces.Discrete) for s in observation_space.spaces
    ):
        return ObservationIndexer(
            tuple(int(s.n) for s in observation_space.spaces), tuple(int(s.start) for s in observation_space.spaces), True
        )
    raise UsageError(
        f"tabular methods need a Discrete or Tuple-of-Discrete observation space; {env_id} has {observation_space}"
    )


def check_action_space(env_id: str, action_space) -> int:
    """The number of actions of a ``Discrete`` action space starting at 0, else `UsageError`."""
    from gymnasium import spaces

    if not isinstance(action_space, spaces.Discrete):
        raise UsageError(f"tabular methods need a Discrete action space; {env_id} has {action_space}")
    if int(action_space.start) != 0:
        raise UsageError(f"tabular methods need actions numbered from 0; {env_id} has {action_space}")
    return int(action_space.n)


def time_limit_of(env) -> int | None:
    """The step limit of the outermost ``TimeLimit`` wrapper (``--env-kwargs`` may set max_episode_steps)."""
    import gymnasium as gym

    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return int(env._max_episode_steps)
        env = env.env
    return None


# --- what differs between environment families ----------------------------------------------------------
@dataclass(frozen=True)
class EnvTraits:
    """What an environment family does differently; every other module asks this instead of testing ids."""

    picture: str = "generic"
    """The value/policy picture `agents.tabular.plots` draws: frozenlake, cliffwalking, taxi, blackjack or
    generic (V and greedy action per state index)."""
    dp_gamma: float = 0.99
    """Default discount of value and policy iteration: 1 where every policy ends its episodes (Blackjack),
    else 0.99 (a policy that never ends them has no finite value at 1)."""
    exact_model: Callable[[Any], Any] | None = None
    """Builds the exact `TabularModel` of an env that publishes no ``P`` table (None: from ``P``)."""
    exploring_start: Callable[[Any, np.random.Generator], int] | None = None
    """Puts a freshly reset env in a random state and returns it (None: set the toy-text ``s``)."""
    check_kwargs: Callable[[str, dict], None] | None = None
    """Checks the values of ``--env-kwargs`` that the env itself would accept silently or report badly."""


def _check_frozenlake_kwargs(env_id: str, kwargs: dict) -> None:
    """Map names, maps and rates of FrozenLake, with what is accepted (gymnasium reports a bare ``KeyError``)."""
    from gymnasium.envs.toy_text.frozen_lake import MAPS

    names = " or ".join(MAPS)
    if "desc" in kwargs:
        desc = kwargs["desc"]
        rows_ok = (isinstance(desc, list) and desc and all(isinstance(row, str) and row for row in desc)
                   and len({len(row) for row in desc}) == 1 and set("".join(desc)) <= set("SFHG"))
        if not rows_ok or "S" not in "".join(desc) or "G" not in "".join(desc):
            raise UsageError(f"--env-kwargs: {env_id}'s desc must be a list of equal-length rows of S (start), F "
                             f"(frozen), H (hole) and G (goal) with an S and a G, e.g. [\"SF\", \"HG\"]; got {json.dumps(desc)}")
    elif "map_name" in kwargs and kwargs["map_name"] not in MAPS:
        raise UsageError(f"--env-kwargs: {env_id} has no map named {json.dumps(kwargs['map_name'])}; map_name takes "
                         f"{names} (or give the map itself as desc)")
    if "success_rate" in kwargs:
        rate = kwargs["success_rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise UsageError(f"--env-kwargs: {env_id}'s success_rate must be a number in [0, 1], got {json.dumps(rate)}")
    if "reward_schedule" in kwargs:
        schedule = kwargs["reward_schedule"]
        if (not isinstance(schedule, list) or len(schedule) != 3
                or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in schedule)):
            raise UsageError(f"--env-kwargs: {env_id}'s reward_schedule must be 3 numbers (goal, hole, frozen), "
                             f"got {json.dumps(schedule)}")


GENERIC = EnvTraits()
FAMILIES: dict[str, EnvTraits] = {
    "FrozenLake": EnvTraits(picture="frozenlake", check_kwargs=_check_frozenlake_kwargs),
    "CliffWalking": EnvTraits(picture="cliffwalking"),
    "Taxi": EnvTraits(picture="taxi"),
    "Blackjack": EnvTraits(picture="blackjack", dp_gamma=1.0, exact_model=blackjack.blackjack_model,
                           exploring_start=blackjack.random_hand_start),
}


def traits_for(env_id: str) -> EnvTraits:
    """The `EnvTraits` of an env id: its family is the name before the version (``FrozenLake8x8-v1``: FrozenLake).

    >>> traits_for("Blackjack-v1").dp_gamma, traits_for("FrozenLake8x8-v1").picture, traits_for("Acrobot-v1").picture
    (1.0, 'frozenlake', 'generic')
    """
    name = env_id.split("/")[-1].split("-")[0]
    for family, traits in FAMILIES.items():
        if name.startswith(family):
            return traits
    return GENERIC


def check_env_kwargs(env_id: str, env_kwargs: dict) -> None:
    """Unknown names and wrongly typed values of ``--env-kwargs``, as a one-line `UsageError` naming them.

    The names an env takes come from its constructor's signature (plus ``max_episode_steps``, which
    ``gymnasium.make`` takes); a parameter whose annotation or default is a bool or a number must get one.
    """
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    if "render_mode" in env_kwargs:
        raise UsageError("--env-kwargs: render_mode is chosen by rllab (ANSI text or RGB frames for the pictures); drop it")
    spec = gym.spec(env_id)
    try:
        creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
        parameters = inspect.signature(creator).parameters
    except (ValueError, TypeError, ImportError, AttributeError):
        parameters = None  # a signature we cannot read: gymnasium.make reports what it rejects
    if parameters is not None and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        taken = [name for name, p in parameters.items() if name != "render_mode" and p.kind is not p.VAR_POSITIONAL]
        for name in env_kwargs:
            if name not in taken and name != "max_episode_steps":
                close = difflib.get_close_matches(name, taken, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise UsageError(f"--env-kwargs: {env_id} takes no {name!r}; {hint}it takes "
                                 f"{', '.join(taken + ['max_episode_steps']) or 'only max_episode_steps'}")
        for name, value in env_kwargs.items():
            if name not in parameters:
                continue
            kind = _expected_kind(parameters[name])
            if kind == "bool" and not isinstance(value, bool):
                raise UsageError(f"--env-kwargs: {env_id}'s {name} must be true or false, got {json.dumps(value)}")
            if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise UsageError(f"--env-kwargs: {env_id}'s {name} must be a number, got {json.dumps(value)}")
    if "max_episode_steps" in env_kwargs:
        steps = env_kwargs["max_episode_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UsageError(f"--env-kwargs: max_episode_steps must be a positive integer, got {json.dumps(steps)}")
    check = traits_for(env_id).check_kwargs
    if check is not None:
        check(env_id, env_kwargs)


def _expected_kind(parameter: inspect.Parameter) -> str | None:
    annotation = parameter.annotation
    if isinstance(annotation, str):
        annotation = annotation.strip()
    if annotation in (bool, "bool") or (annotation is inspect.Parameter.empty and isinstance(parameter.default, bool)):
        return "bool"
    if annotation in (float, int, "float", "int") or (
        annotation is inspect.Parameter.empty and isinstance(parameter.default, (int, float))
        and not isinstance(parameter.default, bool)
    ):
        return "number"
    return None


def _unknown_env_message(env_id: str, detail: str) -> str:
    import gymnasium as gym

    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; e.g. FrozenLake-v1, Taxi-v4, CliffWalking-v1, Blackjack-v1"
    return f"cannot make env {env_id!r}: {detail}{hint}"


class TableStepper:
    """Steps a toy-text env (FrozenLake, CliffWalking, Taxi) from its ``P`` table, as its ``step`` does.

    Their ``step`` samples the outcome with ``categorical_sample``: one ``np_random.random()`` draw
    against the cumulative probabilities, for every step (also of a one-outcome transition). This
    does the same draw against the same cumulative sums, so every outcome and the env's random
    stream are exactly those of ``env.step`` (tested), and it keeps ``unwrapped.s`` and
    ``lastaction`` up to date; the wrappers' work is the ``TimeLimit`` count, done here. Stepping
    through ``gymnasium.make``'s wrappers was half the cost of a training step; with this, training
    runs twice as fast (FrozenLake8x8, Taxi). Envs it cannot mirror exactly (other classes or
    wrappers, a render mode, Taxi's fickle passenger) get None from `for_env` and use ``env.step``.
    """

    def __init__(self, unwrapped, table: list, time_limit: int | None):
        self.unwrapped = unwrapped
        self.table = table
        """``table[s][a]``: (cumulative probabilities, outcomes ``(state index, reward, terminated)``)."""
        self.time_limit = time_limit
        self.restart()

    @classmethod
    def for_env(cls, env, indexer: ObservationIndexer, time_limit: int | None) -> "TableStepper | None":
        import gymnasium as gym
        from gymnasium.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv, TaxiEnv

        while isinstance(env, gym.Wrapper):
            if not isinstance(env, (gym.wrappers.TimeLimit, gym.wrappers.OrderEnforcing)):
                return None
            env = env.env
        kinds = (FrozenLakeEnv, CliffWalkingEnv, TaxiEnv)
        if (not any(type(env).step is kind.step for kind in kinds) or getattr(env, "render_mode", None) is not None
                or getattr(env, "fickle_passenger", False) or indexer.is_tuple or indexer.starts != (0,)):
            return None
        table = [[(tuple(float(c) for c in np.cumsum([p for p, *_ in outcomes])),
                   tuple((indexer.index(s), float(r), bool(t)) for _, s, r, t in outcomes))
                  for _, outcomes in sorted(env.P[s].items())] for s in range(len(env.P))]
        return cls(env, table, time_limit)

    def step(self, action: int) -> tuple[int, float, bool, bool]:
        unwrapped = self.unwrapped
        cumulative, outcomes = self.table[unwrapped.s][action]
        chosen = bisect_right(cumulative, self.draw())  # the first outcome whose cumulative bound exceeds the draw
        if chosen == len(outcomes):
            chosen = 0  # categorical_sample's argmax of an all-False row (a draw above float rounding)
        state, reward, terminated = outcomes[chosen]
        unwrapped.s = state
        unwrapped.lastaction = action
        self.elapsed += 1
        return state, reward, terminated, self.time_limit is not None and self.elapsed >= self.time_limit

    def restart(self) -> None:
        """After the env's reset: a seeded reset gives the env a new generator, whose draws `step` then takes."""
        self.draw = self.unwrapped.np_random.random
        self.elapsed = 0


@dataclass
class TabularEnv:
    """A Gymnasium env checked for tabular use, with its state indexing and episode step limit."""

    env: object
    """The Gymnasium env (with its registered wrappers, plus a ``TimeLimit`` for a training step cap)."""
    env_id: str
    indexer: ObservationIndexer
    n_actions: int
    time_limit: int | None
    """Steps after which an episode is truncated (registered limit or training cap; None: never)."""
    task_time_limit: int | None
    """The task's own limit (registered, or set by ``--env-kwargs``), without the training cap: the
    horizon of the exact optimum."""
    traits: EnvTraits = field(default=GENERIC)
    """What this env's family does differently (`traits_for`)."""

    table_stepper: "TableStepper | None" = None
    """Steps toy-text envs from their ``P`` table with the env's own random draws (`TableStepper`);
    None: through ``env.step``."""

    @property
    def n_states(self) -> int:
        return self.indexer.n_states

    def __post_init__(self):
        if self.table_stepper is None:
            self.table_stepper = TableStepper.for_env(self.env, self.indexer, self.time_limit)

    def reset(self, seed: int | None = None) -> int:
        observation, _ = self.env.reset(seed=seed)
        if self.table_stepper is not None:
            self.table_stepper.restart()
        return self.indexer.index(observation)

    def step(self, action: int) -> tuple[int, float, bool, bool]:
        """``(next_state, reward, terminated, truncated)`` with the state as an index."""
        if self.table_stepper is not None:
            return self.table_stepper.step(int(action))
        observation, reward, terminated, truncated, _ = self.env.step(int(action))
        return self.indexer.index(observation), float(reward), bool(terminated), bool(truncated)

    def step_function(self) -> Callable[[int], tuple[int, float, bool, bool]]:
        """`step` itself, or, where it delegates to the `TableStepper`, the stepper's (one call less per step)."""
        return self.table_stepper.step if self.table_stepper is not None else self.step

    def close(self) -> None:
        self.env.close()


def make_tabular_env(
    env_id: str,
    env_kwargs: dict | None = None,
    *,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> TabularEnv:
    """Make ``env_id`` and check its spaces; unknown ids, bad kwargs and bad spaces are `UsageError`.

    ``max_episode_steps`` caps episodes only when the environment has no registered time limit
    (a registered limit is part of the task and is kept as it is).
    """
    import gymnasium as gym

    if not isinstance(env_id, str) or not env_id:
        raise UsageError(f"--env must be a Gymnasium environment id, got {env_id!r}")
    env_kwargs = dict(env_kwargs or {})
    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise UsageError(_unknown_env_message(env_id, str(exc).splitlines()[0])) from None
    check_env_kwargs(env_id, env_kwargs)
    render = {"render_mode": render_mode} if render_mode else {}
    try:
        env = gym.make(env_id, disable_env_checker=True, **render, **env_kwargs)
    except gym.error.Error as exc:  # missing extra, bad render mode
        raise UsageError(f"cannot make env {env_id!r}: {str(exc).splitlines()[0]}") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # a bad kwarg value the checks above let through
        detail = f"no such key or value {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UsageError(f"cannot make env {env_id!r} with --env-kwargs {json.dumps(env_kwargs)}: {detail}") from None
    try:
        indexer = indexer_for(env_id, env.observation_space)
        n_actions = check_action_space(env_id, env.action_space)
    except UsageError:
        env.close()
        raise
    task_time_limit = time_limit = time_limit_of(env)
    if time_limit is None and max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=int(max_episode_steps))
        time_limit = int(max_episode_steps)
    return TabularEnv(env=env, env_id=env_id, indexer=indexer, n_actions=n_actions, time_limit=time_limit,
                      task_time_limit=task_time_limit, traits=traits_for(env_id))


def exploring_start(tabular_env: TabularEnv, rng: np.random.Generator) -> int:
    """Put a freshly reset env in a random state (exploring starts) and return its index.

    Toy-text envs keep their state in ``unwrapped.s``; a random non-absorbing state is chosen. A family
    with its own way (``EnvTraits.exploring_start``: Blackjack deals random hands) uses it. Other
    environments cannot be set: `UsageError`.
    """
    if tabular_env.traits.exploring_start is not None:
        return tabular_env.traits.exploring_start(tabular_env, rng)
    unwrapped = tabular_env.env.unwrapped
    P = getattr(unwrapped, "P", None)
    if P is None or not hasattr(unwrapped, "s"):
        raise UsageError(f"exploring starts need an env whose state can be set; {tabular_env.env_id} has no "
                         "'s' state and 'P' model: use --algo mc or mc-off-policy")
    candidates = getattr(tabular_env, "_start_candidates", None)
    if candidates is None:
        candidates = np.array([s for s in range(tabular_env.n_states) if not _absorbing(P[s])], dtype=np.int64)
        tabular_env._start_candidates = candidates
    state = int(candidates[rng.integers(candidates.size)])
    unwrapped.s = state
    return state


def exploring_starts(tabular_env: TabularEnv, rng: np.random.Generator,
                     random_share: float = 1.0) -> Callable[[int], int]:
    """The ``start`` of `agents.tabular.agent.run_episode` for mc-es: given the state the reset put the env in,
    it moves a share ``random_share`` of episodes to a random state (`exploring_start`) and leaves the others
    where they are. With a share of 1 no extra random number is drawn, so such runs play as they always did.
    """
    if random_share >= 1.0:
        return lambda reset_state: exploring_start(tabular_env, rng)
    return lambda reset_state: exploring_start(tabular_env, rng) if rng.random() < random_share else reset_state


def _absorbing(transitions_by_action) -> bool:
    """A state every action of which ends the episode at once with reward 0 (FrozenLake's holes and goal)."""
    return all(terminated and reward == 0 for outcomes in transitions_by_action.values()
               for _, _, reward, terminated in outcomes)
