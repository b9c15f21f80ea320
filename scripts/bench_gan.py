"""Benchmark the GAN presets side by side with the same training budget; prints a table and writes JSON.

Targets (issue 9, 2 CPU cores, a 10-minute training budget each, seeds 0 and 1; the judge
classifier's one-off training is not counted):

- ``dcgan``: classifier score >= 9.3, every digit 7-13 % of the samples, Fréchet classifier distance
  at most half the ``tutorial`` preset's (same seed, same budget), and >= 3x its images per second;
- ``dcgan-cond`` (dcgan --conditional): >= 97 % of the samples asked for digit d classified as d, every d;
- ``mlp``: classifier score >= 8.0.

    RLLAB_DATA_DIR=../shared/datasets python scripts/bench_gan.py --minutes 10 --seeds 0 1 --out bench_gan.json

``--throughput`` first times the train step of dcgan and tutorial with and without XLA and bfloat16
mixed precision (the choice the presets' defaults make); ``--throughput --presets`` (no preset) times only.
Runs go one after the other (seed by seed), and the JSON is rewritten after each, so an interrupted
benchmark keeps what it measured.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gan.config import GANConfig  # noqa: E402
from rllab.bench import MachineRecord, write_report  # noqa: E402

PRESETS = {
    "dcgan": {"arch": "dcgan"},
    "tutorial": {"arch": "tutorial"},
    "mlp": {"arch": "mlp"},
    "dcgan-cond": {"arch": "dcgan", "conditional": True},
}
TARGETS = {
    "dcgan": "score >= 9.3; every class 7-13 %; FCD <= tutorial's / 2; images/s >= 3x tutorial's",
    "dcgan-cond": "asked-for digit recognised >= 97 % for every digit",
    "mlp": "score >= 8.0",
    "tutorial": "(baseline)",
}


def throughput(steps: int, data_path, archs=("dcgan", "tutorial"), rounds: int = 3) -> list[dict]:
    """Images per second of the train step of each arch under each compile/precision choice.

    The four choices of an arch take turns: ``rounds`` rounds of ``steps`` timed steps each, after two
    untimed ones, so that the machine's drift (10 % and more over a minute here) hits every choice alike;
    each choice's figure is its median round."""
    from gan.train import build_trainer, dtype_policy, make_dataset
    from rllab.data import get_dataset

    (x, y), _ = get_dataset("mnist").load(data_path)
    rows = []
    for arch in archs:
        cases = []
        for jit in (False, True):
            for mixed in (False, True):
                config = GANConfig(arch=arch, jit_compile=jit, mixed_precision=mixed)
                with dtype_policy(mixed):
                    gan = build_trainer(config, 0)
                    gan.make_train_function()
                    dataset, _ = make_dataset(x, y, batch=config.batch_size, seed=0, first_epoch=0, conditional=False)
                    batches = iter(dataset)
                    started = time.perf_counter()
                    float(gan.train_function(batches)["d_loss"])
                    first_step = time.perf_counter() - started
                    gan.train_function(batches)
                cases.append({"config": config, "gan": gan, "batches": batches, "first_step": first_step, "rounds": []})
        for _ in range(rounds):
            for case in cases:
                with dtype_policy(case["config"].mixed_precision):
                    started = time.perf_counter()
                    for _ in range(steps):
                        logs = case["gan"].train_function(case["batches"])
                    float(logs["d_loss"])
                    case["rounds"].append(steps * case["config"].batch_size / (time.perf_counter() - started))
        for case in cases:
            config, per_round = case["config"], case["rounds"]
            images_per_second = statistics.median(per_round)
            rows.append({"arch": arch, "jit_compile": config.jit_compile, "mixed_precision": config.mixed_precision,
                         "batch_size": config.batch_size, "images_per_second": images_per_second,
                         "seconds_per_step": config.batch_size / images_per_second, "rounds_images_per_second": per_round,
                         "first_step_seconds": case["first_step"]})
            print(f"{arch:8s} jit {config.jit_compile!s:5s} bf16 {config.mixed_precision!s:5s}: {images_per_second:7.1f} "
                  f"images/s (rounds {', '.join(f'{r:.0f}' for r in per_round)}; first step {case['first_step']:.1f} s)",
                  flush=True)
    return rows


def check_targets(rows: list[dict]) -> dict:
    """Per seed and per target: the measured figure and whether it holds."""
    by = {(r["preset"], r["seed"]): r for r in rows}
    checks = {}
    for (preset, seed), r in by.items():
        tutorial = by.get(("tutorial", seed))
        if preset == "dcgan":
            checks[f"dcgan seed {seed}: score >= 9.3"] = (r["classifier_score"], r["classifier_score"] >= 9.3)
            checks[f"dcgan seed {seed}: classes 7-13 %"] = (
                [round(min(r["class_shares"]), 4), round(max(r["class_shares"]), 4)],
                min(r["class_shares"]) >= 0.07 and max(r["class_shares"]) <= 0.13)
            if tutorial:
                ratio = r["frechet_distance"] / tutorial["frechet_distance"]
                checks[f"dcgan seed {seed}: FCD <= tutorial / 2"] = (round(ratio, 4), ratio <= 0.5)
                speed = r["images_per_second"] / tutorial["images_per_second"]
                checks[f"dcgan seed {seed}: images/s >= 3x tutorial"] = (round(speed, 3), speed >= 3.0)
        elif preset == "dcgan-cond":
            checks[f"dcgan-cond seed {seed}: every digit >= 97 %"] = (r["min_conditional_accuracy"], r["min_conditional_accuracy"] >= 0.97)
        elif preset == "mlp":
            checks[f"mlp seed {seed}: score >= 8.0"] = (r["classifier_score"], r["classifier_score"] >= 8.0)
    return {name: {"measured": value, "met": bool(met)} for name, (value, met) in checks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget of each run (default: 10)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="seeds (default: 0 1)")
    parser.add_argument("--presets", nargs="*", choices=sorted(PRESETS), default=list(PRESETS),
                        help="presets to run, in this order for each seed (default: dcgan tutorial mlp dcgan-cond; "
                             "none: with --throughput, only the step timings)")
    parser.add_argument("--throughput", action="store_true", help="first time the train steps (XLA x bfloat16)")
    parser.add_argument("--throughput-steps", type=int, default=20,
                        help="timed steps per round of each throughput case (default: 20)")
    parser.add_argument("--throughput-rounds", type=int, default=3,
                        help="rounds in which the throughput cases take turns (default: 3)")
    parser.add_argument("--throughput-archs", nargs="+", choices=("dcgan", "tutorial"), default=["dcgan", "tutorial"],
                        help="archs whose steps --throughput times (default: dcgan tutorial)")
    parser.add_argument("--out", default="bench_gan.json", help="JSON file to write (default: bench_gan.json)")
    parser.add_argument("--runs-root", default=None, help="where run folders go (default: a temporary folder)")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default: $RLLAB_DATA_DIR)")
    args = parser.parse_args()
    for flag in ("throughput_steps", "throughput_rounds"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give at least 1")

    from gan.metrics import classifier_path
    from gan.train import train_gan
    from rllab.runs import holds_run

    machine = MachineRecord()
    root = Path(args.runs_root or tempfile.mkdtemp(prefix="bench_gan_"))

    def run_dir(preset: str, seed: int) -> Path:
        return root / f"{preset}-seed{seed}"

    taken = [run_dir(preset, seed).name for seed in args.seeds for preset in args.presets
             if holds_run(run_dir(preset, seed))]
    if taken:  # checked before the first run, not after an hour of them
        parser.error(f"--runs-root {root} already holds {', '.join(taken)}; choose an empty or new folder")
    # Trained once, before any timed run (and not at all for the step timings alone).
    judge = classifier_path("mnist", data_path=args.data_dir) if args.presets else None
    report = {"command": " ".join(sys.argv), "minutes": args.minutes, "classifier": str(judge), "runs_root": str(root)}
    if args.throughput:
        report["throughput"] = throughput(args.throughput_steps, args.data_dir, archs=args.throughput_archs,
                                          rounds=args.throughput_rounds)
    rows = []
    for seed in args.seeds:
        for preset in args.presets:
            config = GANConfig(**PRESETS[preset], minutes=args.minutes)
            print(f"{preset:10s} seed {seed}: training for {args.minutes:g} minutes, then evaluating "
                  f"(run folder {run_dir(preset, seed)})", flush=True)
            started = time.perf_counter()
            # verbose: a line per epoch (time used, losses, the epoch's score and FCD), so a 40-minute bench shows progress
            result = train_gan(config, run_dir=run_dir(preset, seed), seed=seed, data_path=args.data_dir,
                               classifier=judge, verbose=True)
            rows.append({"preset": preset, "seed": seed, "wall_seconds": time.perf_counter() - started, **result})
            cond = f"  min cond. acc {result['min_conditional_accuracy']:.4f}" if "min_conditional_accuracy" in result else ""
            print(f"{preset:10s} seed {seed}: {result['epochs_done']} epochs, {result['images_per_second']:.0f} images/s, "
                  f"score {result['classifier_score']:.3f}, FCD {result['frechet_distance']:.3f} "
                  f"(floor {result['frechet_floor']:.3f}), class shares {min(result['class_shares']):.3f}-"
                  f"{max(result['class_shares']):.3f}{cond}", flush=True)
            report.update(results=rows, targets=check_targets(rows), machine=machine.finish())
            write_report(args.out, report)
    if not rows:
        report.update(machine=machine.finish())
        write_report(args.out, report)
        return

    print(f"\n{args.minutes:g}-minute budget per run; judge {judge}; real test images score "
          f"{rows[0]['real_classifier_score']:.3f}, FCD floor (10k train vs 10k test) {rows[0]['frechet_floor']:.3f}")
    print("| preset | seed | epochs | images/s | classifier score | FCD | class share min-max | min cond. acc |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cond = f"{r['min_conditional_accuracy']:.4f}" if "min_conditional_accuracy" in r else "-"
        print(f"| {r['preset']} | {r['seed']} | {r['epochs_done']} | {r['images_per_second']:.0f} | "
              f"{r['classifier_score']:.3f} | {r['frechet_distance']:.3f} | "
              f"{min(r['class_shares']):.3f}-{max(r['class_shares']):.3f} | {cond} |")
    print("\n| preset | median score | worst-seed score | median FCD | worst-seed FCD | median images/s |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets:
        mine = [r for r in rows if r["preset"] == preset]
        scores, fcds = [r["classifier_score"] for r in mine], [r["frechet_distance"] for r in mine]
        print(f"| {preset} | {statistics.median(scores):.3f} | {min(scores):.3f} | {statistics.median(fcds):.3f} | "
              f"{max(fcds):.3f} | {statistics.median(r['images_per_second'] for r in mine):.0f} |")
    print("\ntargets:")
    for name, check in report["targets"].items():
        print(f"  {'MET   ' if check['met'] else 'MISSED'} {name}: {check['measured']}")
    write_report(args.out, report)


if __name__ == "__main__":
    main()
