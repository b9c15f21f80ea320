"""Experience replay: a preallocated NumPy ring buffer and the n-step return accumulator that feeds it.

A stored transition is ``(obs, action, reward, next_obs, discount)`` where ``discount`` already holds
``gamma**k * (1 - terminated)`` for the ``k`` rewards summed into ``reward``. The learner's target is then
simply ``reward + discount * Q_target(next_obs)``: termination (discount 0) never bootstraps, a time-limit
truncation bootstraps from the true final observation, and n-step returns need no special case.

The buffer is chosen by ``DQNConfig.replay`` from `REPLAY_BUFFERS`. Any implementation offers what
`ReplayBuffer` offers and the agent uses: ``len()``, ``add_batch(obs, actions, rewards, next_obs,
discounts)`` (one row per vector env, in env order), ``sample(rng, batch_shape)`` returning the `FIELDS`
arrays, and ``state_dict()`` / ``load_state_dict(state)`` of plain NumPy arrays (checkpointed once per
run, as bulk state). A frame-sharing Atari buffer (each frame stored once instead of 2 x 4 times) slots in
there.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Iterator

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


def _uniform_buffer(config: "DQNConfig", observation_space) -> ReplayBuffer:
    return ReplayBuffer(config.buffer_size, observation_space.shape, observation_space.dtype)


REPLAY_BUFFERS: dict[str, Callable[["DQNConfig", object], ReplayBuffer]] = {
    "uniform": _uniform_buffer,
}
"""``name -> (config, single-env observation space) -> buffer``; ``DQNConfig.replay`` picks one."""


def check_replay_memory(config: "DQNConfig", observation_space) -> None:
    """Refuse a --buffer-size that cannot fit in memory before anything (a run folder) is made."""
    check_memory(f"a replay buffer of {config.buffer_size} transitions (--buffer-size)",
                 ReplayBuffer.bytes_needed(config.buffer_size, observation_space.shape, observation_space.dtype))


def make_replay_buffer(config: "DQNConfig", observation_space):
    """The replay buffer named by ``config.replay``, sized by the config for ``observation_space``."""
    return REPLAY_BUFFERS[check_choice("replay", config.replay, REPLAY_BUFFERS)](config, observation_space)


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
