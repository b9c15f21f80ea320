"""Environment factory: the envs of a DQN run, built from its `DQNConfig`.

`make_envs` (training and evaluation vector envs) and `make_single_env` (play, and the pre-check that
fails before a run folder exists) are the only way DQN builds envs. They dispatch on `env_kind`, how an
env id is built, to a builder in `ENV_BUILDERS`: plain Gymnasium ids go through ``gym.make``; Atari ids
(``ALE/...``) go to `agents.dqn.atari`: ``ale_py.vector_env.AtariVectorEnv`` (channels-first
``(4, 84, 84)`` uint8 frames, vectorised natively in C++ threads, not through ``gym.make``).

DQN needs a ``Box`` observation and a ``Discrete`` action space; anything else is a one-line
`UsageError` naming the space. Vector envs use same-step autoreset: when an episode ends, ``step``
already returns the first observation of the next episode and puts the true last observation in
``info["final_obs"]`` -- see `true_next_obs`. That keeps the reset observation out of the replay buffer
and lets a checkpoint capture the whole env state without a pending-reset flag.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np

from rllab.checks import check_int
from rllab.errors import UsageError
from rllab.seeding import rng_state, set_rng_state

if TYPE_CHECKING:
    from agents.dqn.config import DQNConfig


# --- the factory every DQN entry point uses ---------------------------------------------------------------
class EnvBuilder(NamedTuple):
    """How one kind of env is built from a config. Both must return validated spaces (`validate_spaces`)."""

    single: Callable[..., object]
    """``(config, render_mode) -> gym.Env``: one env, for play and for the pre-check."""
    vector: Callable[..., object]
    """``(config, num_envs, seed, evaluation) -> VectorEnv`` with same-step autoreset (``info["final_obs"]``);
    ``evaluation`` envs score whole games."""


def env_kind(env_id: str) -> str:
    """How ``env_id`` is built: ``"atari"`` for ALE ids (ale_py's own vector env), else ``"gymnasium"``."""
    return "atari" if env_id.startswith("ALE/") else "gymnasium"


ENV_BUILDERS: dict[str, EnvBuilder] = {
    "gymnasium": EnvBuilder(
        single=lambda config, render_mode: make_env(config.env_id, render_mode=render_mode, env_kwargs=config.env_kwargs),
        vector=lambda config, num_envs, seed, evaluation: make_vec_env(
            config.env_id, num_envs, seed, env_kwargs=config.env_kwargs,
            asynchronous=config.async_envs and not evaluation),
    ),
    "atari": EnvBuilder(
        single=lambda config, render_mode: _atari().AtariPlayEnv(config, render_mode),
        vector=lambda config, num_envs, seed, evaluation: _atari().make_vector(config, num_envs,
                                                                              training=not evaluation),
    ),
}


def _atari():
    from agents.dqn import atari  # imports ale_py: only when an Atari id is used

    return atari


def _builder(env_id: str) -> EnvBuilder:
    kind = env_kind(env_id)
    if kind not in ENV_BUILDERS:
        raise UsageError(f"cannot make env {env_id!r}: {kind.title()} envs are not supported by DQN yet")
    return ENV_BUILDERS[kind]


def make_single_env(config: "DQNConfig", *, render_mode: str | None = None):
    """One env of ``config.env_id`` (with ``config.env_kwargs``); a bad id or space is a one-line `UsageError`."""
    return _builder(config.env_id).single(config, render_mode)


def make_envs(config: "DQNConfig", num_envs: int, seed: int | None = None, *, evaluation: bool = False):
    """``num_envs`` copies of ``config.env_id`` in one vector env with same-step autoreset.

    ``seed`` seeds copy ``i`` with ``seed + i`` (the first ``reset(seed=...)`` is up to the caller).
    ``evaluation``: the envs score whole games (Atari: no life-loss episodes), whatever training uses.
    """
    return _builder(config.env_id).vector(config, num_envs, seed, evaluation)


# --- Gymnasium envs through gym.make ----------------------------------------------------------------------

def make_env(env_id: str, *, render_mode: str | None = None, env_kwargs: dict | None = None):
    """One Gymnasium env, with an unknown id or bad space reported as a one-line `UsageError`."""
    import gymnasium as gym

    check_env_kwargs(env_kwargs or {})
    if render_mode == "rgb_array":
        headless_rendering()
    try:
        # render_mode only when asked for: envs without rendering need not accept the keyword.
        render = {"render_mode": render_mode} if render_mode else {}
        env = gym.make(env_id, **render, **(env_kwargs or {}))
    except gym.error.Error as exc:  # unknown id, bad version, missing extra
        raise UsageError(f"cannot make env {env_id!r}: {str(exc).splitlines()[0]}") from None
    except (TypeError, ValueError) as exc:  # an env_kwargs key the env does not take, or a bad value
        raise UsageError(f"cannot make env {env_id!r} with --env-kwargs {json.dumps(env_kwargs)}: {exc}") from None
    validate_spaces(env_id, env.observation_space, env.action_space)
    return env


def check_env_kwargs(env_kwargs: dict) -> None:
    """The keyword arguments gym.make itself takes are checked here; the env checks its own."""
    if "render_mode" in env_kwargs:
        raise UsageError("--env-kwargs cannot set render_mode: training and eval run without rendering, "
                         "and 'rllab dqn play' records rgb_array frames itself")
    steps = env_kwargs.get("max_episode_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise UsageError(f"--env-kwargs max_episode_steps must be a positive integer, got {json.dumps(steps)}")


def headless_rendering() -> None:
    """Let pygame draw rgb_array frames without a display (no 'XDG_RUNTIME_DIR is invalid' noise)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def validate_spaces(env_id: str, observation_space, action_space) -> None:
    """Raise `UsageError` unless the observation space is a Box and the action space Discrete."""
    from gymnasium import spaces

    if not isinstance(action_space, spaces.Discrete):
        raise UsageError(f"DQN needs a Discrete action space; {env_id} has {action_space}")
    if not isinstance(observation_space, spaces.Box):
        raise UsageError(f"DQN needs a Box observation space; {env_id} has {observation_space}")


def make_vec_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    *,
    env_kwargs: dict | None = None,
    asynchronous: bool = False,
    wrap: Callable | None = None,
):
    """``num_envs`` copies of ``env_id`` in a Gymnasium vector env with same-step autoreset.

    ``seed`` seeds env ``i`` with ``seed + i`` (first reset is up to the caller: ``reset(seed=seed)``).
    ``wrap(env) -> env`` is applied to each copy (the hook for Atari preprocessing).
    ``asynchronous`` runs the copies in subprocesses: worth it only for slow envs (Atari), not classic control.
    """
    import gymnasium as gym

    num_envs = check_int("num_envs", num_envs, min_value=1)
    make_env(env_id, env_kwargs=env_kwargs).close()  # validates the id and spaces before any subprocess starts

    def make_one():
        env = gym.make(env_id, **(env_kwargs or {}))
        return wrap(env) if wrap else env

    vector_cls = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
    envs = vector_cls([make_one] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    validate_spaces(env_id, envs.single_observation_space, envs.single_action_space)  # the spaces after `wrap`
    return envs


def true_next_obs(next_obs: np.ndarray, done: np.ndarray, info: dict) -> np.ndarray:
    """The observation each env actually reached: ``info["final_obs"]`` where its episode just ended.

    With same-step autoreset ``next_obs`` already holds the reset observation of the next episode for
    those envs; storing it as the successor would teach the agent a transition that never happened.
    """
    if not np.any(done):
        return next_obs
    real = next_obs.copy()
    for env in np.flatnonzero(done):
        real[env] = info["final_obs"][env]
    return real


# --- exact env snapshots for checkpoint/resume ------------------------------------------------------------
# A resumed run only matches an uninterrupted one if every env continues from the same physics state,
# step count and RNG. Classic-control envs keep their physics in ``unwrapped.state`` (a NumPy array);
# envs without such a state (Atari) cannot be snapshotted this way, and `env_snapshot` returns None.


def env_snapshot(vec_env) -> dict[str, np.ndarray] | None:
    """Physics state, elapsed steps and RNG of every copy in a SyncVectorEnv, or None if unsupported."""
    sub_envs = getattr(vec_env, "envs", None)
    if sub_envs is None:
        return None
    physics, elapsed, rngs = [], [], []
    for env in sub_envs:
        state = getattr(env.unwrapped, "state", None)
        if not isinstance(state, np.ndarray):
            return None
        physics.append(np.asarray(state, dtype=np.float64))
        elapsed.append(_elapsed_steps(env))
        rngs.append(str(rng_state(env.unwrapped.np_random)))
    return {
        "env/physics": np.stack(physics),
        "env/elapsed_steps": np.asarray(elapsed, dtype=np.int64),
        "env/rng": np.asarray(rngs),
    }


def restore_env_snapshot(vec_env, state: dict[str, np.ndarray]) -> None:
    for index, env in enumerate(vec_env.envs):
        env.unwrapped.state = state["env/physics"][index].copy()
        _set_elapsed_steps(env, int(state["env/elapsed_steps"][index]))
        set_rng_state(env.unwrapped.np_random, state["env/rng"][index])


def _time_limit(env):
    from gymnasium.wrappers import TimeLimit

    while env is not None:
        if isinstance(env, TimeLimit):
            return env
        env = getattr(env, "env", None)
    return None


def _elapsed_steps(env) -> int:
    limit = _time_limit(env)
    return -1 if limit is None else int(limit._elapsed_steps or 0)


def _set_elapsed_steps(env, steps: int) -> None:
    limit = _time_limit(env)
    if limit is not None:
        limit._elapsed_steps = steps
