"""--strategy: mirrored steps equal one-device steps; bad devices and TF_CONFIG are one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rllab.distribute import make_distribution, parse_tf_config
from rllab.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", ["classifier", "gan", "conditional_gan"])
def test_a_mirrored_step_over_two_cpus_equals_the_one_device_step(case):
    # A fresh process: logical devices must be configured before TensorFlow starts.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(REPO / "tests/rllab/mirrored_step.py"), case],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    difference = json.loads(result.stdout.strip().splitlines()[-1])[case]
    # The GAN cases use d_steps 2 and noise that travels with the data; Adam's first step is about
    # lr * sign(gradient), so float-level gradient differences stay far below 1e-4.
    assert difference < 1e-4


def test_bad_devices_name_what_exists():
    with pytest.raises(UsageError, match=r"no device '/cpu:7'.*available: /cpu:0"):
        make_distribution("mirrored", ["/cpu:7"])
    with pytest.raises(UsageError, match="--devices applies to --strategy mirrored or one-device"):
        make_distribution("auto", ["/cpu:0"])
    one = make_distribution("one-device", ["/cpu:0"])
    assert one.replicas == 1 and one.check_batch(64) == 64
    assert one.record(64) == {"strategy": "one-device", "replicas": 1, "global_batch": 64, "per_replica_batch": 64,
                              "devices": one.record(64)["devices"]}


@pytest.mark.parametrize("text, message", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"task": {}}', 'must be an object with a "cluster" object'),
    ('{"cluster": {"worker": ["localhost"]}}', 'must be a list of "host:port" strings'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "ps", "index": 0}}', '"task" must name a job'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "task index must be 0..1"),
])
def test_malformed_tf_config_is_one_clear_error(text, message):
    with pytest.raises(UsageError, match=message):
        parse_tf_config(text)


def test_a_valid_tf_config_passes():
    config = parse_tf_config('{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, '
                             '"task": {"type": "worker", "index": 1}}')
    assert config["task"]["index"] == 1


@pytest.mark.parametrize("flags, env, message", [
    (["--strategy", "mirrored", "--devices", "/gpu:9"], {}, "--devices: no device '/gpu:9'"),
    (["--strategy", "multi-worker"], {"TF_CONFIG": "{oops"}, "TF_CONFIG is not valid JSON"),
    (["--strategy", "multi-worker"], {"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:2222"]}, '
                                                   '"task": {"type": "worker", "index": 0}}'}, "keras-team/keras#20585"),
])
@pytest.mark.parametrize("group", ["classify", "gan"])
def test_cli_strategy_mistakes_are_one_line_errors_and_write_nothing(tmp_path, monkeypatch, capsys, group, flags, env,
                                                                     message):
    from rllab.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run_dir = tmp_path / "run"
    assert main([group, "train", *flags, "--run-dir", str(run_dir)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rllab: error: ") and message in lines[0], lines
    assert not run_dir.exists()


def test_config_json_records_the_strategy_replicas_and_global_batch(tmp_path, data_dir):
    from rllab.classify.config import ClassifierConfig
    from rllab.classify.train import train_classifier

    config = ClassifierConfig(dataset="mnist", model="mlp", epochs=1, batch_size=64, train_limit=256, validation_size=64)
    train_classifier(config, run_dir=tmp_path / "run", seed=0, strategy="one-device", verbose=0, data_path=data_dir)
    record = json.loads((tmp_path / "run" / "config.json").read_text())["distribution"]
    assert record["strategy"] == "one-device" and record["replicas"] == 1
    assert record["global_batch"] == record["per_replica_batch"] == 64
