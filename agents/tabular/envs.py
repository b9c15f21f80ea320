"""Gymnasium environments for tabular methods: space checks, observation indexing and step caps.

A tabular method needs a finite state set and a finite action set. Accepted: an observation space
that is ``Discrete`` or a ``Tuple`` of ``Discrete`` (Blackjack), and a ``Discrete`` action space.
A tuple observation is encoded to one index in mixed radix (`ObservationIndexer`), so every
learner sees states ``0 .. n_states - 1``. Anything else is a one-line `UsageError` naming the space.

Time limits: the exact optimum every learner is measured against respects the environment's
*registered* ``TimeLimit`` (FrozenLake 100 steps, FrozenLake8x8 and Taxi 200). Environments with
no registered limit (CliffWalking-v1) get a training step cap (``max_episode_steps``) so that an
episode of a bad early policy always ends; hitting the cap is a *truncation*, not a termination.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

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


def _unknown_env_message(env_id: str, detail: str) -> str:
    import gymnasium as gym

    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; e.g. FrozenLake-v1, Taxi-v4, CliffWalking-v1, Blackjack-v1"
    return f"cannot make env {env_id!r}: {detail}{hint}"


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

    @property
    def n_states(self) -> int:
        return self.indexer.n_states

    def reset(self, seed: int | None = None) -> int:
        observation, _ = self.env.reset(seed=seed)
        return self.indexer.index(observation)

    def step(self, action: int) -> tuple[int, float, bool, bool]:
        """``(next_state, reward, terminated, truncated)`` with the state as an index."""
        observation, reward, terminated, truncated, _ = self.env.step(int(action))
        return self.indexer.index(observation), float(reward), bool(terminated), bool(truncated)

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
    render = {"render_mode": render_mode} if render_mode else {}
    try:
        env = gym.make(env_id, disable_env_checker=True, **render, **env_kwargs)
    except gym.error.Error as exc:  # missing extra, bad render mode
        raise UsageError(f"cannot make env {env_id!r}: {str(exc).splitlines()[0]}") from None
    except (TypeError, ValueError, KeyError) as exc:  # a kwarg the env does not take or a bad kwarg value
        raise UsageError(f"cannot make env {env_id!r} with --env-kwargs {env_kwargs}: {exc}") from None
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
                      task_time_limit=task_time_limit)


def exploring_start(tabular_env: TabularEnv, rng: np.random.Generator) -> int:
    """Put a freshly reset env in a random state (exploring starts) and return its index.

    Toy-text envs keep their state in ``unwrapped.s``; a random non-absorbing state is chosen.
    Blackjack gets random hands for a random (player sum 12..21, dealer card, usable ace) as in
    Sutton & Barto's example 5.3. Other environments cannot be set: `UsageError`.
    """
    unwrapped = tabular_env.env.unwrapped
    if tabular_env.env_id.startswith("Blackjack"):
        player_sum, dealer_card, usable = int(rng.integers(12, 22)), int(rng.integers(1, 11)), int(rng.integers(2))
        if usable:
            hand = [1, player_sum - 11]
        elif player_sum <= 20:
            hand = [10, player_sum - 10]
        else:
            hand = [10, 9, 2]
        unwrapped.player = hand
        unwrapped.dealer = [dealer_card, int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]))]
        return tabular_env.indexer.index(unwrapped._get_obs())
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


def _absorbing(transitions_by_action) -> bool:
    """A state every action of which ends the episode at once with reward 0 (FrozenLake's holes and goal)."""
    return all(terminated and reward == 0 for outcomes in transitions_by_action.values()
               for _, _, reward, terminated in outcomes)
