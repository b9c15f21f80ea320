"""Replay ring buffer and n-step accumulation."""
import numpy as np
import pytest

from agents.dqn.replay import NStepAccumulator, ReplayBuffer
from rllab.errors import UsageError


def _add(buffer, first_id, count):
    ids = np.arange(first_id, first_id + count)
    obs = np.repeat(ids[:, None], 2, axis=1).astype(buffer.obs_dtype)
    buffer.add_batch(obs, ids, ids.astype(np.float32), obs + 1, np.full(count, 0.5, np.float32))


def test_wraps_around_overwriting_the_oldest_rows():
    buffer = ReplayBuffer(5, (2,))
    _add(buffer, 1, 3)
    _add(buffer, 4, 3)  # ids 1..6: id 6 overwrites row 0 (id 1)
    assert len(buffer) == 5 and buffer.position == 1
    assert buffer.actions.tolist() == [6, 2, 3, 4, 5]
    assert buffer.next_obs[0].tolist() == [7, 7]
    _add(buffer, 7, 5)  # a whole lap
    assert sorted(buffer.actions.tolist()) == [7, 8, 9, 10, 11] and buffer.position == 1


def test_sample_shapes_and_dtypes():
    buffer = ReplayBuffer(10, (3, 2), np.uint8)
    buffer.add_batch(np.ones((4, 3, 2), np.uint8), np.arange(4), np.ones(4), np.ones((4, 3, 2), np.uint8), np.ones(4))
    obs, actions, rewards, next_obs, discounts = buffer.sample(np.random.default_rng(0), (7, 5))
    assert obs.shape == next_obs.shape == (7, 5, 3, 2) and obs.dtype == next_obs.dtype == np.uint8
    assert actions.shape == rewards.shape == discounts.shape == (7, 5)
    assert (actions.dtype, rewards.dtype, discounts.dtype) == (np.int32, np.float32, np.float32)


def test_sampling_never_returns_unwritten_or_stale_rows():
    buffer = ReplayBuffer(100, (2,))
    _add(buffer, 1, 3)
    sampled = buffer.sample(np.random.default_rng(0), (2000,))[1]
    assert set(sampled.tolist()) == {1, 2, 3}  # never the zero rows beyond size
    # Restoring a smaller saved buffer into a used one must clear the rows it does not cover.
    _add(buffer, 4, 50)
    small = ReplayBuffer(100, (2,))
    _add(small, 100, 2)
    buffer.load_state_dict(small.state_dict())
    assert len(buffer) == 2 and buffer.position == 2
    assert not buffer.actions[2:].any()
    assert set(buffer.sample(np.random.default_rng(1), (500,))[1].tolist()) == {100, 101}


def test_state_round_trip_and_empty_sample_error():
    buffer = ReplayBuffer(4, (2,))
    with pytest.raises(UsageError, match="empty"):
        buffer.sample(np.random.default_rng(0), (1,))
    _add(buffer, 1, 3)
    _add(buffer, 4, 3)
    copy = ReplayBuffer(4, (2,))
    copy.load_state_dict(buffer.state_dict())
    for name in ("obs", "actions", "rewards", "next_obs", "discounts", "position", "size"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(buffer, name))


def _push(acc, step, rewards, terminated=(False,), truncated=(False,)):
    obs = np.array([[float(step)]])
    return list(acc.push(obs, np.array([step]), np.array(rewards, float), obs + 1, np.array(terminated), np.array(truncated)))


def test_n_step_returns_window_and_episode_end_flushes():
    gamma = 0.5
    acc = NStepAccumulator(1, 3, gamma)
    assert _push(acc, 0, [1.0]) == [] and _push(acc, 1, [2.0]) == []
    (obs, actions, rewards, next_obs, discounts), = _push(acc, 2, [4.0])
    assert actions.tolist() == [0] and next_obs.tolist() == [[3.0]]
    assert rewards[0] == pytest.approx(1 + gamma * 2 + gamma**2 * 4) and discounts[0] == pytest.approx(gamma**3)
    # Termination at step 3: the windows starting at steps 1, 2, 3 flush with discount 0.
    (_, actions, rewards, next_obs, discounts), = _push(acc, 3, [8.0], terminated=[True])
    assert actions.tolist() == [1, 2, 3] and discounts.tolist() == [0.0, 0.0, 0.0]
    assert rewards.tolist() == pytest.approx([2 + gamma * 4 + gamma**2 * 8, 4 + gamma * 8, 8])
    assert (next_obs == 4.0).all()
    # Truncation: the partial windows bootstrap from the final observation with gamma**k.
    _push(acc, 10, [1.0])
    (_, actions, _, next_obs, discounts), = _push(acc, 11, [1.0], truncated=[True])
    assert actions.tolist() == [10, 11] and discounts.tolist() == pytest.approx([gamma**2, gamma])
    assert (next_obs == 12.0).all()


def test_n_step_pending_windows_survive_a_checkpoint():
    acc = NStepAccumulator(1, 3, 0.9)
    _push(acc, 0, [1.0])
    _push(acc, 1, [2.0])
    restored = NStepAccumulator(1, 3, 0.9)
    restored.load_state_dict(acc.state_dict())
    assert [b[2].tolist() for b in _push(restored, 2, [3.0])] == [b[2].tolist() for b in _push(acc, 2, [3.0])]
