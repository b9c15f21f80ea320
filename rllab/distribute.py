"""``--strategy``: the fit()-based trainers (classify, gan) on one device, several local devices or
several machines, through TensorFlow's own `tf.distribute`.

- ``one-device``: `tf.distribute.OneDeviceStrategy` on the first GPU, else the CPU.
- ``mirrored``: `tf.distribute.MirroredStrategy` over the local GPUs, or over ``--devices``.
- ``multi-worker``: `tf.distribute.MultiWorkerMirroredStrategy`, workers described by the standard
  ``TF_CONFIG`` environment variable (``{"cluster": {"worker": ["host:port", ...]}, "task": {"type":
  "worker", "index": i}}``). ``TF_CONFIG`` is checked, then the run is refused with a one-line error:
  Keras 3's ``fit()`` cannot consume a dataset distributed by this strategy ("Attempt to convert a
  value (PerReplica...)", keras-team/keras#20585, reproduced here with TF 2.21 / Keras 3.15 on two
  loopback workers). See docs/scaling.md.
- ``auto``: mirrored when more than one GPU is visible, otherwise one device.

``--batch-size`` is the **global** batch: each step takes that many examples and splits them evenly
across the replicas, so a run computes the same thing on one device or on several (it must divide
evenly). Variables are created and models compiled inside ``strategy.scope()``; Keras splits each
global batch across the local replicas.
Keras reduces gradients across replicas for ``fit()`` and for a custom ``train_step`` alike: a loss
that is the mean over a replica's batch gives the same step as one device over the global batch
(tests/rllab/test_distribute.py checks both, weights equal to float precision).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Sequence

from rllab.errors import UsageError

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
TF_CONFIG = "TF_CONFIG"


def parse_tf_config(text: str | None) -> dict:
    """The ``TF_CONFIG`` of a multi-worker run, checked; anything malformed is a one-line `UsageError`."""
    if not text:
        raise UsageError(f"--strategy multi-worker needs the {TF_CONFIG} environment variable describing the workers, "
                         'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{TF_CONFIG} is not valid JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise UsageError(f'{TF_CONFIG} must be an object with a "cluster" object, got {text[:80]!r}')
    cluster = config["cluster"]
    for job, addresses in cluster.items():
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise UsageError(f'{TF_CONFIG} cluster job "{job}" must be a list of "host:port" strings, got {addresses!r}')
    if "worker" not in cluster and "chief" not in cluster:
        raise UsageError(f'{TF_CONFIG} cluster needs a "worker" (or "chief") job, got jobs {sorted(cluster)}')
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise UsageError(f'{TF_CONFIG} "task" must name a job of the cluster ({", ".join(sorted(cluster))}), got {task!r}')
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise UsageError(f'{TF_CONFIG} task index must be 0..{len(cluster[task["type"]]) - 1} for job '
                         f'"{task["type"]}", got {index!r}')
    return config


@dataclass
class Distribution:
    """A strategy and what a trainer needs to know about it."""

    strategy: Any
    """The `tf.distribute.Strategy`; build and compile under ``strategy.scope()``."""
    name: str
    """The strategy actually used (``auto`` resolved)."""

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def check_batch(self, global_batch: int, flag: str = "--batch-size") -> int:
        """The per-replica batch; a global batch that does not split evenly is a `UsageError`."""
        if global_batch % self.replicas:
            raise UsageError(f"{flag} {global_batch} does not split evenly over {self.replicas} replicas "
                             f"(--strategy {self.name}); give a multiple of {self.replicas}")
        return global_batch // self.replicas

    def record(self, global_batch: int) -> dict:
        """What config.json records under ``distribution``."""
        devices = list(getattr(self.strategy.extended, "worker_devices", ()) or ())
        return {"strategy": self.name, "replicas": self.replicas, "global_batch": int(global_batch),
                "per_replica_batch": int(global_batch) // self.replicas, "devices": devices}


def _local_devices(kind: str) -> list[str]:
    import tensorflow as tf

    return [device.name for device in tf.config.list_logical_devices(kind)]


def _check_devices(devices: Sequence[str]) -> list[str]:
    """Every name must be a logical device of this machine (``/gpu:0``, ``/cpu:1`` or the full name)."""
    available = _local_devices("GPU") + _local_devices("CPU")
    short = {name.split("device:")[-1].lower(): name for name in available}
    resolved = []
    for device in devices:
        key = device.strip().lower().split("device:")[-1].lstrip("/")
        if key not in short:
            raise UsageError(f"--devices: no device {device!r} on this machine; available: "
                             f"{', '.join('/' + k for k in short)}")
        resolved.append(short[key])
    if len(set(resolved)) != len(resolved):
        raise UsageError(f"--devices names a device twice: {list(devices)}")
    return resolved


def make_distribution(name: str = "auto", devices: Sequence[str] | None = None) -> Distribution:
    """The `Distribution` of ``--strategy name`` (``--devices`` for mirrored / one-device)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if devices and name in ("auto", "multi-worker"):
        raise UsageError(f"--devices applies to --strategy mirrored or one-device, not {name}")
    if name == "auto":
        name = "mirrored" if len(_local_devices("GPU")) > 1 else "one-device"
    if name == "one-device":
        chosen = _check_devices(devices) if devices else (_local_devices("GPU") or _local_devices("CPU"))[:1]
        if len(chosen) != 1:
            raise UsageError(f"--strategy one-device takes one device, got {list(devices)}")
        return Distribution(tf.distribute.OneDeviceStrategy(chosen[0]), name)
    if name == "mirrored":
        chosen = _check_devices(devices) if devices else None
        return Distribution(tf.distribute.MirroredStrategy(chosen), name)
    parse_tf_config(os.environ.get(TF_CONFIG))
    raise UsageError("--strategy multi-worker: Keras 3's fit() cannot train under MultiWorkerMirroredStrategy "
                     "(keras-team/keras#20585: PerReplica inputs); use mirrored on one machine")


def add_strategy_args(parser) -> None:
    """``--strategy`` and ``--devices`` for the fit()-based ``train`` commands."""
    parser.add_argument("--strategy", choices=STRATEGIES, default="auto",
                        help="tf.distribute strategy: one-device (first GPU, else CPU), mirrored (all local GPUs or "
                             "--devices), multi-worker (checks TF_CONFIG, then refused: Keras 3 fit() cannot run "
                             "under it yet), auto (mirrored with more than one GPU, else one-device). "
                             "--batch-size is the global batch, split evenly across replicas (default: auto)")
    parser.add_argument("--devices", nargs="+", default=None, metavar="DEV",
                        help="devices for --strategy mirrored / one-device, e.g. /gpu:0 /gpu:1 (default: all GPUs)")
