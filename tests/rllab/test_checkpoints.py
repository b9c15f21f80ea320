"""Checkpointer bulk state: one copy on disk, and a kill mid-save leaves the previous checkpoint whole."""
import numpy as np
import pytest

import rllab.checkpoints
from rllab.checkpoints import Checkpointer
from rllab.errors import UsageError


class FakeRun:
    """Small state (a counter) and bulk state (a 'replay buffer') that both change with every step."""

    def __init__(self):
        self.step = 0
        self.buffer = np.zeros(0)

    def advance(self, step):
        self.step, self.buffer = step, np.arange(step * 10, dtype=np.float64)

    def get_state(self):
        return {"step": np.int64(self.step)}

    def set_state(self, state):
        self.step = int(state["step"])

    def get_bulk_state(self):
        return {"replay/data": self.buffer}

    def set_bulk_state(self, state):
        self.buffer = state["replay/data"].copy()


def _checkpointer(directory, run):
    return Checkpointer(directory, max_to_keep=3, get_state=run.get_state, set_state=run.set_state,
                        get_bulk_state=run.get_bulk_state, set_bulk_state=run.set_bulk_state)


def _save(ckpt, run, step):
    run.advance(step)
    ckpt.step.assign(step)
    ckpt.save()


def _restored(directory):
    run = FakeRun()
    ckpt = _checkpointer(directory, run)
    assert ckpt.restore()
    return run, int(ckpt.step.numpy())


def test_bulk_state_round_trips_and_is_stored_once(tmp_path):
    run = FakeRun()
    ckpt = _checkpointer(tmp_path, run)
    for step in (1, 2, 3, 4, 5):
        _save(ckpt, run, step)
    assert [p.name for p in tmp_path.glob("*.bulk.npz")] == ["ckpt-5.bulk.npz"]
    assert sorted(p.name for p in tmp_path.glob("*.state.npz")) == [f"ckpt-{n}.state.npz" for n in (3, 4, 5)]
    restored, step = _restored(tmp_path)
    assert step == restored.step == 5
    np.testing.assert_array_equal(restored.buffer, np.arange(50))


@pytest.mark.parametrize("killed_before", ["state file", "TF commit"])
def test_a_kill_mid_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch, killed_before):
    run = FakeRun()
    ckpt = _checkpointer(tmp_path, run)
    _save(ckpt, run, 1)
    _save(ckpt, run, 2)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    if killed_before == "state file":  # the bulk file of step 3 is written, then the process dies
        writes = []
        real_save = rllab.checkpoints.save_npz_atomic
        monkeypatch.setattr(rllab.checkpoints, "save_npz_atomic",
                            lambda path, **arrays: killed() if writes else writes.append(real_save(path, **arrays)))
    else:
        monkeypatch.setattr(ckpt._manager, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        _save(ckpt, run, 3)
    monkeypatch.undo()
    assert (tmp_path / "ckpt-3.bulk.npz").is_file()  # the newer bulk file exists beside the older one ...

    restored, step = _restored(tmp_path)  # ... yet the restore is step 2, small and bulk state alike
    assert step == restored.step == 2
    np.testing.assert_array_equal(restored.buffer, np.arange(20))

    # The resumed run's next save removes the orphan: one bulk file again.
    resumed = _checkpointer(tmp_path, restored)
    resumed.restore()
    _save(resumed, restored, 4)
    assert [p.name for p in tmp_path.glob("*.bulk.npz")] == ["ckpt-4.bulk.npz"]


def test_a_missing_bulk_file_is_a_clear_error_before_anything_loads(tmp_path):
    run = FakeRun()
    ckpt = _checkpointer(tmp_path, run)
    _save(ckpt, run, 7)
    (tmp_path / "ckpt-7.bulk.npz").unlink()
    fresh = FakeRun()
    restorer = _checkpointer(tmp_path, fresh)
    with pytest.raises(UsageError, match=r"no intact checkpoint .*ckpt-7 \(its bulk state file ckpt-7.bulk.npz is missing\)"):
        restorer.restore()
    assert int(restorer.step.numpy()) == 0 and fresh.step == 0  # nothing half-restored


def test_without_bulk_getters_no_bulk_file_is_written(tmp_path):
    state = {"x": np.arange(3)}
    ckpt = Checkpointer(tmp_path, get_state=lambda: state, set_state=state.update)
    ckpt.step.assign(1)
    ckpt.save()
    assert not list(tmp_path.glob("*.bulk.npz")) and (tmp_path / "ckpt-1.state.npz").is_file()
