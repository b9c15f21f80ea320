"""Atari games for DQN: ``ale_py``'s vector env for training and evaluation, a one-game env for play.

Training and evaluation step the games with `ale_py.vector_env.AtariVectorEnv`, which runs the
standard DQN preprocessing in C++ threads: 4 frames per action with max-pooling of the last two,
84x84 grayscale, a stack of the last 4 frames (channels first: observations are ``(4, 84, 84)``
uint8), up to 30 no-ops and FIRE on reset. Same-step autoreset, as for every DQN vector env.

What the agent trains on and what it reports are kept apart:

* **rewards** are the raw game rewards; the agent clips them itself (``--clip-rewards``), so the
  unclipped score is always there to log;
* **episodes** for learning may end at every lost life (``--life-loss-episodes``: ALE's
  ``life_loss_info``, a termination signal while the game goes on); ``info["game_over"]`` marks the
  steps where the real game ended (it was reset), which is what scores are logged on;
* **sticky actions** are off unless asked (``--sticky-actions 0.25`` is the v5 protocol).

Evaluation always plays the full game (no life-loss episodes), capped at 108,000 frames.

``rllab dqn play`` records video, which the vector env cannot render: `AtariPlayEnv` reproduces the
same preprocessing in NumPy on one ``gymnasium.make`` game with ``render_mode="rgb_array"``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rllab.errors import UsageError
from rllab.quiet import verbose

if TYPE_CHECKING:
    from agents.dqn.config import DQNConfig

FRAME_SKIP = 4
STACK = 4
FRAME_SIZE = 84
NOOP_MAX = 30
MAX_GAME_FRAMES = 108_000
"""Frames after which a game is cut (30 minutes of play at 60 Hz), the usual evaluation cap."""
LIST_GAMES_HINT = "'rllab dqn games' lists the ids"


def game_ids() -> list[str]:
    """Every ``ALE/<Game>-v5`` id ale_py registers with Gymnasium."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return sorted(env_id for env_id in gym.registry if env_id.startswith("ALE/") and env_id.endswith("-v5"))


def rom_name(env_id: str) -> str:
    """``"ALE/Breakout-v5"`` -> ``"breakout"``; an id ale_py does not know is a one-line `UsageError`."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise UsageError(f"unknown Atari game {env_id!r} ({str(exc).splitlines()[0]}); {LIST_GAMES_HINT}") from None
    game = spec.kwargs.get("game")
    if not game:
        raise UsageError(f"{env_id!r} names no Atari game; {LIST_GAMES_HINT}")
    return game


def _vector_env(config: "DQNConfig", num_envs: int, *, training: bool):
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.vector import AutoresetMode

    return AtariVectorEnv(
        rom_name(config.env_id), num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        repeat_action_probability=config.sticky_actions,
        max_num_frames_per_episode=MAX_GAME_FRAMES,
        frameskip=FRAME_SKIP, stack_num=STACK, img_height=FRAME_SIZE, img_width=FRAME_SIZE,
        noop_max=NOOP_MAX, use_fire_reset=True,
        reward_clipping=False,  # the agent clips (--clip-rewards): the raw score stays visible
        life_loss_info=training and config.life_loss_episodes,
        episodic_life=False,
    )


class AtariGames:
    """`AtariVectorEnv` plus ``info["game_over"]``: True where the real game ended at this step.

    With life-loss episodes a termination does not mean the game is over; a reset does, and a reset
    shows as an episode frame number that went back (every game restarts its count). ``step_async`` /
    ``step_wait`` split a step so the games run in ALE's threads meanwhile (``--async-envs``).
    """

    def __init__(self, config: "DQNConfig", num_envs: int, *, training: bool = True):
        self.env = _vector_env(config, num_envs, training=training)
        self.num_envs = num_envs
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self._frame_numbers = np.zeros(num_envs, dtype=np.int64)

    def reset(self, *, seed: int | None = None):
        obs, info = self.env.reset(seed=seed)
        self._frame_numbers = np.asarray(info["episode_frame_number"], dtype=np.int64)
        return obs, info

    def step(self, actions):
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions) -> None:
        """Start a step in ALE's threads; `step_wait` returns its results."""
        self.env.send(np.asarray(actions, dtype=np.int32))

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.env.recv()
        frames = np.asarray(info["episode_frame_number"], dtype=np.int64)
        game_over = truncated | (frames <= self._frame_numbers)
        info["game_over"] = game_over
        self._frame_numbers = frames
        lost_a_life = terminated & ~game_over
        if lost_a_life.any():
            # The game goes on after a lost life, so the observation returned is the one reached; ALE
            # 0.12 leaves info["final_obs"] unwritten (stale memory) for these envs.
            info["final_obs"] = np.array(info["final_obs"])
            info["final_obs"][lost_a_life] = obs[lost_a_life]
        return obs, rewards.astype(np.float32), terminated, truncated, info

    def close(self):
        self.env.close()


def make_vector(config: "DQNConfig", num_envs: int, *, training: bool = True) -> AtariGames:
    """``num_envs`` games of ``config.env_id`` (the caller seeds them with the first ``reset(seed=...)``)."""
    return AtariGames(config, num_envs, training=training)


class AtariPlayEnv:
    """One game with the vector env's preprocessing done in NumPy, and ``render()`` for video.

    Frames are resized with Pillow's area filter (the vector env uses OpenCV's): close enough for a
    trained network, not bit-identical.
    """

    def __init__(self, config: "DQNConfig", render_mode: str | None = None):
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        rom_name(config.env_id)  # a bad id fails here, with the hint
        if not verbose():  # ALE's start-up banner on stderr, as rllab --verbose shows TensorFlow's
            ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        self.env = gym.make(config.env_id, frameskip=1, repeat_action_probability=config.sticky_actions,
                            max_num_frames_per_episode=MAX_GAME_FRAMES, obs_type="grayscale",
                            render_mode=render_mode)
        from gymnasium import spaces

        self.observation_space = spaces.Box(0, 255, (STACK, FRAME_SIZE, FRAME_SIZE), np.uint8)
        self.action_space = self.env.action_space
        meanings = self.env.unwrapped.get_action_meanings()
        self._fire = meanings.index("FIRE") if "FIRE" in meanings else None
        self._stack = np.zeros(self.observation_space.shape, np.uint8)

    def _frame(self, screens) -> np.ndarray:
        from PIL import Image

        pooled = np.maximum(*screens) if len(screens) == 2 else screens[0]
        return np.asarray(Image.fromarray(pooled).resize((FRAME_SIZE, FRAME_SIZE), Image.BOX), dtype=np.uint8)

    def _push(self, frame):
        self._stack = np.concatenate([self._stack[1:], frame[None]])

    def reset(self, *, seed: int | None = None):
        screen, info = self.env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(int(rng.integers(0, NOOP_MAX + 1))):
            screen, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                screen, info = self.env.reset()
        if self._fire is not None:
            screen, _, _, _, info = self.env.step(self._fire)
        self._stack = np.zeros(self.observation_space.shape, np.uint8)
        self._push(self._frame([screen]))
        return self._stack.copy(), info

    def step(self, action):
        total, screens = 0.0, []
        terminated = truncated = False
        info = {}
        for i in range(FRAME_SKIP):
            screen, reward, terminated, truncated, info = self.env.step(int(action))
            total += float(reward)
            if i >= FRAME_SKIP - 2:
                screens.append(screen)
            if terminated or truncated:
                screens = screens or [screen]
                break
        self._push(self._frame(screens[-2:]))
        return self._stack.copy(), total, terminated, truncated, info

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()
