"""The one run lifecycle: resume by re-running the same command, budget flags, fresh starts, keep-the-best."""
import json

import pytest

from rllab.cli import main
from rllab.errors import UsageError
from rllab.lifecycle import KeepBest, merge_resume_flags, open_run
from rllab.runs import Run


def _from_dict(values):
    return dict(values)


def _open(tmp_path, config=None, **kwargs):
    kwargs.setdefault("seed", None)
    return open_run("g", "demo", config, run_dir=tmp_path / "run", from_dict=_from_dict, **kwargs)


def test_equal_flags_pass_budget_flags_extend_and_other_flags_are_refused():
    stored = {"lr": 0.001, "steps": 100, "sizes": [64, 64], "schedule": {"start": 1.0, "end": 0.1}}
    merged, changes = merge_resume_flags(stored, {"lr": 0.001, "sizes": (64, 64), "schedule.start": 1.0})
    assert merged == stored and changes == {}
    merged, changes = merge_resume_flags(stored, {"steps": 500}, budget=["steps"])
    assert merged["steps"] == 500 and changes == {"steps": [100, 500]}
    with pytest.raises(UsageError, match=r"--schedule-start differs .*stored 1.0, given 0.5"):
        merge_resume_flags(stored, {"schedule.start": 0.5})
    with pytest.raises(UsageError, match=r"^--env differs from the run being resumed \(stored \[64, 64\], given \[64\]\)"):
        merge_resume_flags(stored, {"sizes": [64]}, flags={"sizes": "--env"})


def test_resume_keeps_the_stored_config_and_records_a_budget_change(tmp_path):
    first = _open(tmp_path, {"lr": 0.1, "steps": 10}, seed=3, resume=False)
    assert not first.resumed and first.seed == 3
    again = _open(tmp_path, {"lr": 0.5, "steps": 10}, seed=None, resume=True, given={"steps": 30}, budget=["steps"])
    assert again.resumed and again.seed == 3 and again.config == {"lr": 0.1, "steps": 30}
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["steps"] == 30
    assert record["resumes"][0]["changes"] == {"--steps": [10, 30]}
    with pytest.raises(UsageError, match="--seed differs .*stored 3, given 4"):
        _open(tmp_path, {}, seed=4, resume=True)
    with pytest.raises(UsageError, match="--lr differs"):
        _open(tmp_path, {}, resume=True, given={"lr": 0.2})


def test_resume_of_a_run_that_saved_nothing_starts_it_anew(tmp_path, capsys):
    start = _open(tmp_path, {"lr": 0.1}, seed=2, resume=True, given={"lr": 0.1})
    assert not start.resumed and start.seed == 2 and Run.open(tmp_path / "run", "demo").config == {"lr": 0.1}
    assert "starting a new run" in capsys.readouterr().err
    with pytest.raises(UsageError, match="--resume needs --run-dir"):
        open_run("g", "demo", {}, seed=None, run_dir=None, resume=True, from_dict=_from_dict)


def test_a_folder_holding_something_else_is_not_restarted_over(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a run folder"):
        _open(tmp_path, {"lr": 0.1}, resume=True)


def test_keep_best_ignores_nan_and_respects_mode(tmp_path):
    best = KeepBest(tmp_path / "b.json", "loss", mode="min")
    assert best.update(2.0, 1) and not best.update(float("nan"), 2) and not best.update(3.0, 3) and best.update(1.0, 4)
    (tmp_path / "b.json").write_text("{broken")
    with pytest.raises(UsageError, match="unreadable or corrupt"):
        KeepBest(tmp_path / "b.json", "loss")


def test_classify_resume_by_re_running_the_same_command(tmp_path, data_dir, capsys):
    command = ["classify", "train", "--dataset", "mnist", "--train-limit", "600", "--validation-size", "100",
               "--epochs", "1", "--batch-size", "64", "--seed", "5", "--run-dir", str(tmp_path / "run"),
               "--data-dir", str(data_dir)]
    assert main(command) == 0
    assert main([*command, "--resume"]) == 0  # every flag equal to the stored one: accepted
    assert main([*command, "--resume", "--learning-rate", "0.5"]) == 2
    assert "--learning-rate differs from the run being resumed (stored 0.001, given 0.5)" in capsys.readouterr().err
    extended = [*command, "--resume"]
    extended[extended.index("--epochs") + 1] = "2"
    assert main(extended) == 0
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1"]
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["epochs"] == 2 and record["resumes"][-1]["changes"] == {"--epochs": [1, 2]}
