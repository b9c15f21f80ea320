"""FrameReplay: each frame stored once, yet every sampled transition is one the env really produced.

The reference is the whole-transition path (NStepAccumulator) fed the same synthetic frame streams:
frames carry unique ids, so a stack mixed across episodes, envs or ring laps cannot match it.
"""
import numpy as np
import pytest

from agents.dqn.replay import FrameReplay, NStepAccumulator
from rllab.errors import UsageError

STACK, GAMMA, N_STEP = 4, 0.5, 3


class FrameStreams:
    """``num_envs`` envs whose frames are unique ids; reset stacks are ``[0, 0, 0, id]`` as ALE's are."""

    def __init__(self, num_envs, episode_lengths, seed=0):
        self.num_envs, self.lengths = num_envs, episode_lengths
        self.rng = np.random.default_rng(seed)
        self.next_id = 1
        self.t = np.zeros(num_envs, int)
        self.episode = np.zeros(num_envs, int)
        self.obs = np.stack([self._reset_stack() for _ in range(num_envs)])

    def _new_frame(self):
        self.next_id += 1
        return np.array([self.next_id - 1], np.int64)

    def _reset_stack(self):
        stack = np.zeros((STACK, 1), np.int64)
        stack[-1] = self._new_frame()
        return stack

    def step(self):
        actions = self.rng.integers(0, 3, self.num_envs)
        rewards = self.rng.integers(0, 3, self.num_envs).astype(np.float32)
        reached = np.concatenate([self.obs[:, 1:], np.stack([self._new_frame() for _ in range(self.num_envs)])[:, None]], 1)
        self.t += 1
        length = np.array([self.lengths[(e + k) % len(self.lengths)] for e, k in enumerate(self.episode)])
        done = self.t >= length
        terminated = done & (self.episode % 2 == 0)  # alternate: terminated, then truncated episodes
        truncated = done & ~terminated
        next_obs = reached.copy()
        for e in np.flatnonzero(done):
            next_obs[e] = self._reset_stack()
            self.t[e] = 0
            self.episode[e] += 1
        obs, self.obs = self.obs, next_obs
        return obs, actions, rewards, reached, terminated, truncated, next_obs


def _key(obs, action, reward, next_obs, discount):
    return tuple(np.ravel(obs)), int(action), round(float(reward), 6), tuple(np.ravel(next_obs)), round(float(discount), 6)


def _fill(capacity, steps, num_envs=2, lengths=(5, 1, 8, 2, 13)):
    streams = FrameStreams(num_envs, lengths)
    buffer = FrameReplay(capacity, num_envs, (STACK, 1), n_step=N_STEP, gamma=GAMMA, obs_dtype=np.int64)
    reference = NStepAccumulator(num_envs, N_STEP, GAMMA)
    buffer.begin_episodes(streams.obs)
    produced = []  # every complete transition, in the order the accumulator emits them
    for _ in range(steps):
        obs, actions, rewards, reached, terminated, truncated, next_obs = streams.step()
        buffer.add_steps(actions, rewards, reached, terminated, truncated, next_obs)
        for batch in reference.push(obs, actions, rewards, reached, terminated, truncated):
            produced.extend(_key(*row) for row in zip(*batch))
    return buffer, produced


def _sample_keys(buffer, count, seed=0):
    obs, actions, rewards, next_obs, discounts = buffer.sample(np.random.default_rng(seed), (count,))
    return {_key(*row) for row in zip(obs, actions, rewards, next_obs, discounts)}


def test_sampled_transitions_are_exactly_the_real_n_step_transitions():
    buffer, produced = _fill(capacity=2000, steps=120)
    sampled = _sample_keys(buffer, 20_000)
    # Every complete transition is there (episode ends, terminations and truncations included), and
    # nothing else: no stack mixing two episodes, no window past an episode's end or the newest frame.
    assert sampled == set(produced)
    discounts = {key[4] for key in produced}
    assert {0.0, GAMMA, GAMMA**2, GAMMA**3} <= discounts  # terminations, short truncated windows, full windows


def test_wrapped_rings_sample_only_transitions_still_whole_in_them():
    buffer, produced = _fill(capacity=2 * 30, steps=200)  # 30 slots per env: many laps
    sampled = _sample_keys(buffer, 5000)
    assert sampled <= set(produced)
    oldest_kept = min(min(key[0][-1] for key in sampled), min(key[3][-1] for key in sampled))
    assert oldest_kept > 200  # early frames were overwritten and are never served
    assert len(buffer) <= 2 * 30


def test_holds_about_one_frame_per_transition():
    buffer, _ = _fill(capacity=4000, steps=1000, lengths=(200,))
    slots = int(buffer.count.sum())
    assert 1.0 <= slots / buffer.transitions < 1.03  # 4 extra frames per 200-step episode
    atari_bytes = FrameReplay.bytes_needed(1_000_000, (4, 84, 84), np.uint8)
    assert atari_bytes < 8 * 10**9  # a 1M-transition Atari buffer fits in < 8 GB
    assert atari_bytes / 1_000_000 < 84 * 84 + 16


def test_state_dict_round_trip_samples_the_same():
    buffer, _ = _fill(capacity=2 * 30, steps=77)
    restored = FrameReplay(2 * 30, 2, (STACK, 1), n_step=N_STEP, gamma=GAMMA, obs_dtype=np.int64)
    restored.load_state_dict(buffer.state_dict())
    assert len(restored) == len(buffer)
    first = buffer.sample(np.random.default_rng(3), (64,))
    second = restored.sample(np.random.default_rng(3), (64,))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_bad_sizes_and_early_sampling_are_clear_errors():
    with pytest.raises(UsageError, match="too small"):
        FrameReplay(8, 2, (STACK, 1))
    with pytest.raises(UsageError, match="stacked-frame"):
        FrameReplay(100, 1, (4,))
    buffer, _ = _fill(capacity=200, steps=0)
    with pytest.raises(UsageError, match="empty"):
        buffer.sample(np.random.default_rng(0), (4,))
