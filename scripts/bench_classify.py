"""Benchmark the classifiers against the foundation issue's targets; prints a table and writes JSON.

Targets (2 CPU cores): MLP 10 epochs >= 88 % Fashion-MNIST test accuracy; CNN >= 92 % Fashion-MNIST
and >= 99.2 % MNIST with <= 5 minutes of training.

    RLLAB_DATA_DIR=../shared/datasets python scripts/bench_classify.py --out bench_classify.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rllab.bench import MachineRecord, write_report  # noqa: E402
from rllab.classify import ClassifierConfig, train_classifier  # noqa: E402

TARGETS = {
    ("fashion_mnist", "mlp"): {"min_test_accuracy": 0.88},
    ("fashion_mnist", "cnn"): {"min_test_accuracy": 0.92, "max_train_seconds": 300},
    ("mnist", "cnn"): {"min_test_accuracy": 0.992, "max_train_seconds": 300},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=[f"{d}:{m}" for d, m in TARGETS],
                        help="DATASET:MODEL pairs to run (default: all three targets)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds per case (default: 0)")
    parser.add_argument("--out", default="bench_classify.json", help="JSON file to write (default: bench_classify.json)")
    parser.add_argument("--runs-root", default=None, help="where run folders go (default: a temporary folder)")
    args = parser.parse_args()

    machine = MachineRecord()
    root = args.runs_root or tempfile.mkdtemp(prefix="bench_classify_")
    rows = []
    for case in args.cases:
        dataset, model = case.split(":")
        target = TARGETS.get((dataset, model), {})
        for seed in args.seeds:
            started = time.perf_counter()
            result = train_classifier(ClassifierConfig(dataset=dataset, model=model), run_dir=os.path.join(root, f"{dataset}-{model}-{seed}"), seed=seed, verbose=0)
            wall = time.perf_counter() - started
            met = result["test_accuracy"] >= target.get("min_test_accuracy", 0) and result["train_seconds"] <= target.get("max_train_seconds", float("inf"))
            rows.append({**result, "seed": seed, "wall_seconds": wall, "target": target, "target_met": met})
            print(f"{dataset:14s} {model:4s} seed {seed}: test acc {result['test_accuracy']:.4f}  "
                  f"{result['seconds_per_epoch']:.1f} s/epoch  train {result['train_seconds']:.0f} s  "
                  f"{'MET' if met else 'MISSED'} {target}", flush=True)

    print("\n| dataset | model | seed | epochs | test accuracy | s/epoch | train s | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['model']} | {r['seed']} | {r['epochs']} | {r['test_accuracy']:.4f} | "
              f"{r['seconds_per_epoch']:.1f} | {r['train_seconds']:.0f} | {r['target']} | {r['target_met']} |")
    write_report(args.out, {"machine": machine.finish(), "results": rows, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()
