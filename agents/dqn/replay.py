"""Experience replay: a preallocated NumPy ring buffer and the n-step return accumulator that feeds it.

A stored transition is ``(obs, action, reward, next_obs, discount)`` where ``discount`` already holds
``gamma**k * (1 - terminated)`` for the ``k`` rewards summed into ``reward``. The learner's target is then
simply ``reward + discount * Q_target(next_obs)``: termination (discount 0) never bootstraps, a time-limit
truncation bootstraps from the true final observation, and n-step returns need no special case.

The buffer is chosen by ``DQNConfig.replay`` from `REPLAY_BUFFERS`. Any implementation offers what
`ReplayBuffer` offers and the agent uses: ``len()``, ``add_batch(obs, actions, rewards, next_obs,
discounts)`` (one row per vector env, in env order), ``sample(rng, batch_shape)`` returning the `FIELDS`
arrays, and ``state_dict()`` / ``load_state_dict(state)`` of plain NumPy arrays (checkpointed once per
run, as bulk state).

`FrameReplay` (``--replay frames``, the Atari default) stores each frame of stacked-frame observations
once instead of 2 x 4 times. It takes raw steps (``add_steps``) rather than finished transitions and
forms n-step returns when it samples, because its transitions are positions in per-env frame streams.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterator

import numpy as np

from rllab.checks import check_choice, check_float, check_int, check_memory
from rllab.errors import UsageError

if TYPE_CHECKING:
    from agents.dqn.config import DQNConfig

# The arrays of one batch of transitions, in the order every consumer (sampling, the update step) uses.
FIELDS = ("obs", "actions", "rewards", "next_obs", "discounts")


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions, stored in preallocated NumPy arrays.

    Observations keep their environment dtype (``uint8`` Atari frames stay one byte per pixel).
    Once full, the oldest rows are overwritten; sampling only ever draws from the ``size`` rows written.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype | str = np.float32):
        self.capacity = check_int("buffer capacity", capacity, min_value=1)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.obs_dtype = np.dtype(obs_dtype)
        check_memory(f"a replay buffer of {self.capacity} transitions (--buffer-size)",
                     self.bytes_needed(self.capacity, self.obs_shape, self.obs_dtype))
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=self.obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int32)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.discounts = np.zeros(self.capacity, dtype=np.float32)
        self.position = 0  # the row the next transition goes to
        self.size = 0  # rows holding real transitions

    @classmethod
    def from_config(cls, config: "DQNConfig", observation_space) -> "ReplayBuffer":
        return cls(config.buffer_size, observation_space.shape, observation_space.dtype)

    @staticmethod
    def bytes_needed(capacity: int, obs_shape: tuple[int, ...], obs_dtype) -> int:
        """Memory of a buffer of ``capacity`` transitions: two observations, action, reward, discount."""
        return capacity * (2 * int(np.prod(obs_shape)) * np.dtype(obs_dtype).itemsize + 4 + 4 + 4)

    def __len__(self) -> int:
        return self.size

    def add_batch(self, obs, actions, rewards, next_obs, discounts) -> None:
        """Append ``len(actions)`` transitions (one per vector env), wrapping around when full."""
        count = len(actions)
        if count > self.capacity:
            raise UsageError(f"cannot add {count} transitions at once to a replay buffer of capacity {self.capacity}")
        rows = (self.position + np.arange(count)) % self.capacity
        self.obs[rows] = obs
        self.actions[rows] = actions
        self.rewards[rows] = rewards
        self.next_obs[rows] = next_obs
        self.discounts[rows] = discounts
        self.position = int((self.position + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample(self, rng: np.random.Generator, batch_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        """Uniformly sampled transitions (with replacement), each array shaped ``(*batch_shape, ...)``."""
        if self.size == 0:
            raise UsageError("cannot sample from an empty replay buffer")
        rows = rng.integers(0, self.size, size=batch_shape)
        return tuple(getattr(self, field)[rows] for field in FIELDS)

    # --- checkpointing: plain arrays only (saved with allow_pickle=False) -------------------------------
    def state_dict(self, prefix: str = "replay/") -> dict[str, np.ndarray]:
        """The filled rows and ring position as NumPy arrays (unfilled rows are not saved)."""
        state = {prefix + field: getattr(self, field)[: self.size] for field in FIELDS}
        state[prefix + "position"] = np.asarray(self.position, dtype=np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], prefix: str = "replay/") -> None:
        size = len(state[prefix + "actions"])
        if size > self.capacity:
            raise UsageError(f"saved replay buffer holds {size} transitions, more than the capacity {self.capacity}")
        for field in FIELDS:
            getattr(self, field)[:size] = state[prefix + field]
            getattr(self, field)[size:] = 0
        self.size = size
        self.position = int(state[prefix + "position"])


class FrameReplay:
    """Replay for frame-stack observations ``(stack, *frame)`` that holds each frame once.

    Each env copy writes one stream of frames into its own ring of ``capacity // num_envs`` slots. An
    episode's first observation goes in as its ``stack`` frames; every step after adds the newest
    frame of the observation reached. The observation at slot ``k`` is then frames ``k-stack+1 .. k``,
    exactly what the env stacked (episode boundaries need no masking: a new episode brings its own
    first stack), and the slot holds the action taken there, its raw reward and whether the episode
    ended. A slot is a transition start only once its action is known; n-step returns are summed at
    sampling time, stopping at the episode's end (discount 0 after a termination, ``gamma**k`` and the
    final observation after a truncation) and never reading past the newest frame or, at the old end of
    a wrapped ring, before its oldest.

    Slots per transition: 1 + (stack + 1) / episode length, about 1.02 on Atari (4 extra frames per
    life of ~200 steps).
    """

    def __init__(self, capacity: int, num_envs: int, obs_shape: tuple[int, ...], *, n_step: int = 1,
                 gamma: float = 0.99, obs_dtype: np.dtype | str = np.uint8):
        self.num_envs = check_int("num_envs", num_envs, min_value=1)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        if len(self.obs_shape) < 2:
            raise UsageError(f"--replay frames needs stacked-frame observations (stack, ...), got shape {self.obs_shape}")
        self.stack = self.obs_shape[0]
        self.n_step = check_int("n_step", n_step, min_value=1)
        self.gamma = check_float("gamma", gamma, min_value=0.0, max_value=1.0)
        self.capacity = check_int("buffer capacity", capacity, min_value=1)
        self.slots = self.capacity // self.num_envs
        if self.slots < 2 * (self.stack + self.n_step + 1):
            raise UsageError(f"--buffer-size {capacity} is too small for {num_envs} envs with frame stacks of "
                             f"{self.stack} and {self.n_step}-step returns; give at least "
                             f"{2 * (self.stack + self.n_step + 1) * num_envs}")
        self.obs_dtype = np.dtype(obs_dtype)
        check_memory(f"a replay buffer of {self.capacity} transitions (--buffer-size)",
                     self.bytes_needed(self.capacity, self.obs_shape, self.obs_dtype))
        shape = (self.num_envs, self.slots)
        self.frames = np.zeros((*shape, *self.obs_shape[1:]), dtype=self.obs_dtype)
        self.actions = np.zeros(shape, dtype=np.int32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)
        self.ended = np.zeros(shape, dtype=bool)  # the episode ended at this step (terminated or truncated)
        self.has_action = np.zeros(shape, dtype=bool)  # a transition starts here
        self.head = np.zeros(self.num_envs, dtype=np.int64)  # the slot each stream writes next
        self.count = np.zeros(self.num_envs, dtype=np.int64)  # slots written, up to `slots`
        self.transitions = 0
        self._envs = np.arange(self.num_envs)

    @classmethod
    def from_config(cls, config: "DQNConfig", observation_space) -> "FrameReplay":
        return cls(config.buffer_size, config.num_envs, observation_space.shape, n_step=config.n_step,
                   gamma=config.gamma, obs_dtype=observation_space.dtype)

    @staticmethod
    def bytes_needed(capacity: int, obs_shape: tuple[int, ...], obs_dtype) -> int:
        """One frame plus action, reward and three flags per slot."""
        return capacity * (int(np.prod(obs_shape[1:])) * np.dtype(obs_dtype).itemsize + 4 + 4 + 3)

    def __len__(self) -> int:
        """Complete transitions, at least: a stream's newest ``n_step - 1`` may still wait for rewards."""
        return max(0, self.transitions - self.num_envs * (self.n_step - 1))

    # --- writing ----------------------------------------------------------------------------------------
    def _push(self, envs: np.ndarray, frames: np.ndarray) -> None:
        """Append one frame to each of the streams ``envs``, overwriting their oldest slot when full."""
        slots = self.head[envs]
        self.transitions -= int(np.count_nonzero(self.has_action[envs, slots]))
        self.frames[envs, slots] = frames
        self.has_action[envs, slots] = False
        self.ended[envs, slots] = False
        self.head[envs] = (slots + 1) % self.slots
        self.count[envs] = np.minimum(self.count[envs] + 1, self.slots)

    def begin_episodes(self, obs: np.ndarray, envs: np.ndarray | None = None) -> None:
        """First observations of new episodes, ``obs`` one row per env: all ``stack`` frames of the rows
        ``envs`` (default: every env) go in. Also after a resume that restarts the episodes."""
        envs = self._envs if envs is None else np.asarray(envs)
        for frame in range(self.stack):
            self._push(envs, obs[envs, frame])

    def add_steps(self, actions, rewards, reached_obs, terminated, truncated, next_obs) -> None:
        """One vector step: ``reached_obs`` is what each env reached (the true final observation where an
        episode ended), ``next_obs`` what the env returned (the next episode's first where one ended)."""
        last = (self.head - 1) % self.slots  # each stream's newest slot: the observation acted on
        done = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        self.actions[self._envs, last] = actions
        self.rewards[self._envs, last] = rewards
        self.terminated[self._envs, last] = terminated
        self.ended[self._envs, last] = done
        self.has_action[self._envs, last] = True
        self.transitions += self.num_envs
        self._push(self._envs, reached_obs[:, -1])
        if done.any():
            self.begin_episodes(next_obs, np.flatnonzero(done))

    # --- sampling ---------------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, batch_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        """Uniform transitions (with replacement): the `FIELDS` arrays, each shaped ``(*batch_shape, ...)``."""
        if self.transitions == 0:
            raise UsageError("cannot sample from an empty replay buffer")
        size = int(np.prod(batch_shape))
        envs, starts = np.empty(size, np.int64), np.empty(size, np.int64)
        filled = 0
        weights = self.count / self.count.sum()
        for _ in range(1000):  # rejection: slots that start no complete transition are redrawn
            want = 2 * (size - filled) + 8
            e = rng.choice(self.num_envs, size=want, p=weights)
            logical = rng.integers(self.stack - 1, np.maximum(self.count[e] - 1, self.stack), size=want)
            slot = (self.head[e] - self.count[e] + logical) % self.slots
            ok = self.has_action[e, slot] & (logical >= self.stack - 1)
            ok &= self._complete(e, slot)
            take = min(size - filled, int(ok.sum()))
            envs[filled:filled + take] = e[ok][:take]
            starts[filled:filled + take] = slot[ok][:take]
            filled += take
            if filled == size:
                break
        else:
            raise UsageError("the replay buffer holds no complete transition yet; raise --learning-starts")
        rewards, discounts, next_slots = self._n_step(envs, starts)
        offsets = np.arange(-self.stack + 1, 1)
        obs = self.frames[envs[:, None], (starts[:, None] + offsets) % self.slots]
        next_obs = self.frames[envs[:, None], (next_slots[:, None] + offsets) % self.slots]
        actions = self.actions[envs, starts]
        return tuple(x.reshape(*batch_shape, *x.shape[1:]) for x in (obs, actions, rewards, next_obs, discounts))

    def _complete(self, envs, starts) -> np.ndarray:
        """Every step of the n-step window from ``starts`` is known (or the episode ended before)."""
        complete = np.ones(len(envs), dtype=bool)
        alive = np.ones(len(envs), dtype=bool)
        for i in range(self.n_step):
            slot = (starts + i) % self.slots
            complete &= ~alive | self.has_action[envs, slot]
            alive &= ~self.ended[envs, slot]
        return complete

    def _n_step(self, envs, starts):
        rewards = np.zeros(len(envs), np.float32)
        discounts = np.ones(len(envs), np.float32)
        alive = np.ones(len(envs), dtype=bool)
        steps = np.zeros(len(envs), np.int64)
        for i in range(self.n_step):
            slot = (starts + i) % self.slots
            rewards += alive * discounts * self.rewards[envs, slot]
            steps += alive
            terminal = alive & self.terminated[envs, slot]
            discounts = np.where(alive, discounts * self.gamma, discounts)
            discounts[terminal] = 0.0
            alive &= ~self.ended[envs, slot]
        return rewards, discounts.astype(np.float32), (starts + steps) % self.slots

    # --- checkpointing ------------------------------------------------------------------------------------
    _ARRAYS = ("frames", "actions", "rewards", "terminated", "ended", "has_action")

    def state_dict(self, prefix: str = "replay/") -> dict[str, np.ndarray]:
        """Each stream's written slots, oldest first (unwritten slots are not saved)."""
        state = {prefix + "count": self.count.copy()}
        written = [(self.head[e] - count + np.arange(count)) % self.slots for e, count in enumerate(self.count)]
        for name in self._ARRAYS:
            array = getattr(self, name)
            state[prefix + name] = np.concatenate([array[e, rows] for e, rows in enumerate(written)])
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], prefix: str = "replay/") -> None:
        count = np.asarray(state[prefix + "count"], dtype=np.int64)
        if count.shape != (self.num_envs,):
            raise UsageError(f"saved replay buffer has {count.shape[0]} streams, this run has {self.num_envs} envs")
        if count.max(initial=0) > self.slots:
            raise UsageError(f"saved replay buffer holds {int(count.max())} slots per env, more than the "
                             f"{self.slots} of --buffer-size {self.capacity}")
        bounds = np.concatenate([[0], np.cumsum(count)])
        for name in self._ARRAYS:
            array = getattr(self, name)
            array[...] = 0
            for e in range(self.num_envs):
                array[e, :count[e]] = state[prefix + name][bounds[e]:bounds[e + 1]]
        self.count = count.copy()
        self.head = count % self.slots
        self.transitions = int(np.count_nonzero(self.has_action))


REPLAY_BUFFERS: dict[str, type[ReplayBuffer] | type[FrameReplay]] = {
    "uniform": ReplayBuffer,
    "frames": FrameReplay,
}
"""``DQNConfig.replay`` picks one; each class offers ``from_config(config, observation_space)`` and
``bytes_needed(capacity, obs_shape, obs_dtype)``."""


def check_replay_memory(config: "DQNConfig", observation_space) -> None:
    """Refuse a --buffer-size that cannot fit in memory before anything (a run folder) is made."""
    needed = REPLAY_BUFFERS[config.replay].bytes_needed(config.buffer_size, observation_space.shape,
                                                        observation_space.dtype)
    check_memory(f"a replay buffer of {config.buffer_size} transitions (--buffer-size)", needed)


def make_replay_buffer(config: "DQNConfig", observation_space):
    """The replay buffer named by ``config.replay``, sized by the config for ``observation_space``."""
    return REPLAY_BUFFERS[check_choice("replay", config.replay, REPLAY_BUFFERS)].from_config(config, observation_space)


class NStepAccumulator:
    """Turns per-env 1-step transitions into n-step ones: ``sum_j gamma**j r_j`` with discount ``gamma**k``.

    With ``n_step=1`` it passes transitions straight through (vectorised). When an episode ends, every
    pending partial window is flushed: after termination with discount 0, after truncation bootstrapping
    from the true final observation with ``gamma**k`` for the ``k < n`` rewards it holds.
    """

    def __init__(self, num_envs: int, n_step: int, gamma: float):
        self.num_envs = check_int("num_envs", num_envs, min_value=1)
        self.n_step = check_int("n_step", n_step, min_value=1)
        self.gamma = check_float("gamma", gamma, min_value=0.0, max_value=1.0)
        # Per env: the (obs, action, reward) of the steps whose n-step return is not complete yet.
        self.pending: list[deque] = [deque() for _ in range(self.num_envs)]

    def push(self, obs, actions, rewards, next_obs, terminated, truncated) -> Iterator[tuple[np.ndarray, ...]]:
        """Yield batches ``(obs, actions, rewards, next_obs, discounts)`` of the transitions now complete.

        ``next_obs`` must be the TRUE next observation (the final one for envs whose episode just ended),
        never the first observation of the next episode.
        """
        terminated = np.asarray(terminated, dtype=bool)
        done = terminated | np.asarray(truncated, dtype=bool)
        if self.n_step == 1:
            discounts = (self.gamma * (~terminated)).astype(np.float32)
            yield obs, actions, np.asarray(rewards, dtype=np.float32), next_obs, discounts
            return
        completed = []
        for env in range(self.num_envs):
            window = self.pending[env]
            window.append((obs[env], actions[env], float(rewards[env])))
            if len(window) == self.n_step or done[env]:
                # Full window: emit its first step. Episode over: emit every pending step (shorter windows).
                while window:
                    completed.append(self._emit(window, next_obs[env], bool(terminated[env])))
                    window.popleft()
                    if not done[env]:
                        break
        if completed:
            yield tuple(np.stack(column) for column in zip(*completed))

    def _emit(self, window: deque, next_obs: np.ndarray, terminated: bool) -> tuple:
        first_obs, first_action, _ = window[0]
        discounted_return = sum(self.gamma**j * reward for j, (_, _, reward) in enumerate(window))
        discount = 0.0 if terminated else self.gamma ** len(window)
        return first_obs, first_action, np.float32(discounted_return), next_obs, np.float32(discount)

    # --- checkpointing -----------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "nstep/") -> dict[str, np.ndarray]:
        """Pending windows as padded arrays plus per-env lengths (empty when n_step == 1)."""
        if self.n_step == 1:
            return {}
        lengths = np.array([len(w) for w in self.pending], dtype=np.int64)
        sample_obs = next((w[0][0] for w in self.pending if w), None)
        if sample_obs is None:
            return {prefix + "lengths": lengths}
        obs = np.zeros((self.num_envs, self.n_step, *np.shape(sample_obs)), dtype=np.asarray(sample_obs).dtype)
        actions = np.zeros((self.num_envs, self.n_step), dtype=np.int64)
        rewards = np.zeros((self.num_envs, self.n_step), dtype=np.float64)
        for env, window in enumerate(self.pending):
            for j, (o, a, r) in enumerate(window):
                obs[env, j], actions[env, j], rewards[env, j] = o, a, r
        return {prefix + "lengths": lengths, prefix + "obs": obs, prefix + "actions": actions, prefix + "rewards": rewards}

    def load_state_dict(self, state: dict[str, np.ndarray], prefix: str = "nstep/") -> None:
        self.pending = [deque() for _ in range(self.num_envs)]
        if self.n_step == 1 or prefix + "lengths" not in state:
            return
        for env, length in enumerate(state[prefix + "lengths"]):
            for j in range(int(length)):
                self.pending[env].append(
                    (state[prefix + "obs"][env, j], state[prefix + "actions"][env, j], float(state[prefix + "rewards"][env, j]))
                )
