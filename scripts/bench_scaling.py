"""Benchmark the distributed path: training images/s of the CNN classifier and the DCGAN at 1 and 2
replicas; prints a table and writes JSON.

Each figure comes from a fresh process (logical devices must be set before TensorFlow starts):
``one-device`` on the CPU, then ``mirrored`` over two logical CPU devices of the same 2 cores, the
same global batch. On a CPU no speed-up is possible: the ratio shows the overhead of the distributed
path (splitting batches, all-reducing gradients). Target (issue 13): overhead under 15 %. The time is the
sum of the train steps' durations (batch callbacks, `rllab.callbacks.ThroughputMeter`), not of whole
``fit()`` calls. Where GPUs are visible, ``--devices /gpu:0 /gpu:1`` measures real replicas.

    python scripts/bench_scaling.py --out bench_scaling.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ("classifier", "dcgan")


def measure(model: str, replicas: int, steps: int, devices: list[str] | None, repeats: int = 3) -> dict:
    """In this process: images/s of ``steps`` training steps after 5 warm-up steps, the median of ``repeats``."""
    import numpy as np
    import tensorflow as tf

    if devices is None and replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        devices = [f"/cpu:{i}" for i in range(replicas)]
    import keras

    import rllab.quiet  # noqa: F401
    from rllab.callbacks import ThroughputMeter
    from rllab.distribute import make_distribution

    distribution = (make_distribution("mirrored", devices) if replicas > 1
                    else make_distribution("one-device", devices[:1] if devices else None))
    rng = np.random.default_rng(0)
    count = (max(steps, 5) + 1) * 128  # enough images that no timed step (nor the untimed first) runs short of data
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, count).astype(np.int32)
    if model == "classifier":
        from rllab.classify.model import build_classifier, to_inputs

        batch = 128
        with distribution.strategy.scope():
            net = build_classifier("cnn")
            net.compile(optimizer=keras.optimizers.Adam(1e-3),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        x = to_inputs(images)

        def run(n, callbacks=()):
            net.fit(x[: n * batch], labels[: n * batch], batch_size=batch, epochs=1, shuffle=False, verbose=0,
                    callbacks=list(callbacks))
    else:
        from gan.config import GANConfig
        from gan.train import build_trainer, make_dataset

        config = GANConfig(arch="dcgan", mixed_precision=False, jit_compile=False)
        batch = config.images_per_step
        with distribution.strategy.scope():
            gan = build_trainer(config, seed=0)
        dataset, _ = make_dataset(images, labels, batch=batch, seed=0, first_epoch=0, conditional=False,
                                  noise_dim=config.noise_dim, d_steps=config.d_steps, replicas=distribution.replicas)

        def run(n, callbacks=()):
            gan.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0, callbacks=list(callbacks))

    run(5)  # tracing and warm-up
    timings = []
    for _ in range(repeats):
        # The steps alone: a fit() call's own start and end sometimes add as long again as its 60 steps (seen:
        # 2.6 s more on 2.6 s of steps, in whole multiples), which is not the distributed path's cost.
        meter = ThroughputMeter(batch)
        run(steps + 1, [meter])  # the meter leaves each fit()'s first step out
        timings.append(meter.timed_seconds)
    seconds = sorted(timings)[len(timings) // 2]
    return {"model": model, "replicas": distribution.replicas, "global_batch": batch, "steps": steps,
            "seconds_each": [round(t, 2) for t in timings], "images_per_s": round(steps * batch / seconds, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per run, 3 runs per figure, "
                        "the median kept (default: 60)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--devices", nargs="+", default=None, help="real devices for the 2-replica figure")
    parser.add_argument("--out", default="bench_scaling.json")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "REPLICAS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker[0], int(args.worker[1]), args.steps, args.devices)))
        return 0

    from rllab.bench import MachineRecord, write_report

    machine = MachineRecord()
    rows = []
    for model in args.models:
        for replicas in (1, 2):
            command = [sys.executable, __file__, "--worker", model, str(replicas), "--steps", str(args.steps)]
            if args.devices:
                command += ["--devices", *args.devices]
            result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            if result.returncode != 0:
                sys.exit(f"bench_scaling: {model} at {replicas} replicas failed:\n{result.stderr[-2000:]}")
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"{model:10s} {replicas} replica(s): {rows[-1]['images_per_s']:8.1f} images/s "
                  f"(global batch {rows[-1]['global_batch']})", flush=True)
        one, two = rows[-2]["images_per_s"], rows[-1]["images_per_s"]
        rows[-1]["overhead_vs_one_device"] = round(1 - two / one, 3)
        print(f"{model:10s} distributed-path overhead at 2 replicas: {100 * (1 - two / one):.1f} % (target < 15 %)")
    write_report(args.out, {"rows": rows, "machine": machine.finish(),
                            "command": "python scripts/bench_scaling.py " + " ".join(sys.argv[1:] if argv is None else argv)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
