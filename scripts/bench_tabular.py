"""Benchmark the tabular methods against the exact optimum; prints a table and writes JSON.

Targets (issues 3 and 8, 2 CPU cores): exact optima within the registered time limits FrozenLake-v1
0.744, FrozenLake8x8-v1 0.913, Taxi-v4 7.93, CliffWalking-v1 -13, Blackjack-v1 -0.043. Every control
method with its default settings, on every seed: >= 95 % of a positive optimum, within 0.01 on
Blackjack, -13 on CliffWalking for the off-policy methods (the on-policy methods' safe-path return is
reported), each run <= 60 s wall. DP methods exact to 1e-6.

``--random-maps``: FrozenLake maps from ``generate_random_map(size=n, p=0.8, seed=k)`` (n 4-8, k 0-4,
slippery and not; maps whose optimum is 0 are skipped) with the defaults derived from each map: every
method's greedy policy >= 90 % of the map's exact optimum, each run <= 60 s.

Each greedy policy is measured twice: by its exact expected return on the model (what the target
check uses: noise-free) and by playing >= 2000 episodes on the real env (mean +- standard error).
"Episodes to target" is the first logged episode where the exact value met the bar. A run keeps the
Q table whose greedy policy measured best during training (``keep_best``) and may stop once that
policy has been worth the optimum for a while (``stop_at_optimum``; "episodes" shows what it used).
The summary gives, per task and method, the worst and median exact value over the seeds and the
share of runs that met the bar; the JSON holds every run.

    python scripts/bench_tabular.py --seeds 0-9 --out bench_tabular.json     # named tasks, every seed
    python scripts/bench_tabular.py --envs FrozenLake-v1 --algos mc sarsa --seeds 0-4
    python scripts/bench_tabular.py --random-maps --seeds 0 --out bench_tabular_maps.json
    python scripts/bench_tabular.py --summarize a.json b.json               # one summary of earlier runs
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.tabular import dp  # noqa: E402
from agents.tabular.config import DPConfig, default_config  # noqa: E402
from agents.tabular.envs import make_tabular_env, traits_for  # noqa: E402
from agents.tabular.model import build_model  # noqa: E402
from agents.tabular.train import solve, train_control  # noqa: E402
from rllab.bench import MachineRecord  # noqa: E402

ENVS = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1", "Blackjack-v1")
PUBLISHED_OPTIMA = {"FrozenLake-v1": 0.744, "FrozenLake8x8-v1": 0.913, "Taxi-v4": 7.93, "CliffWalking-v1": -13.0,
                    "Blackjack-v1": -0.043}
CONTROL = ("q-learning", "sarsa", "expected-sarsa", "double-q", "mc", "mc-es", "mc-off-policy")
ON_POLICY = ("mc", "mc-es", "sarsa", "expected-sarsa")
MAX_WALL_S = 60.0
MAP_SIZES, MAP_SEEDS, MAP_FROZEN_PROBABILITY = (4, 5, 6, 7, 8), (0, 1, 2, 3, 4), 0.8
MAP_BAR = 0.9
"""Random maps: the greedy policy must reach this share of the map's exact optimum."""


def int_ranges(text: str) -> list[int]:
    """``"0-9"`` -> 0..9, ``"3"`` -> [3]; for --seeds and the map options.

    >>> int_ranges("0-3"), int_ranges("7")
    ([0, 1, 2, 3], [7])
    """
    first, dash, last = text.partition("-")
    try:
        low, high = int(first), int(last) if dash else int(first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N-M, got {text!r}") from None
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(f"expected N or N-M with 0 <= N <= M, got {text!r}")
    return list(range(low, high + 1))


def random_maps(sizes=MAP_SIZES, seeds=MAP_SEEDS) -> list[dict]:
    """The random-map suite: one entry per (slippery, size, map seed), in a fixed order; the maps come
    from gymnasium's generator with its own seeded generator, so the same arguments give the same maps."""
    from gymnasium.envs.toy_text.frozen_lake import generate_random_map

    return [{"name": f"{'slippery' if slippery else 'not slippery'} {n}x{n} map {k}", "size": n, "map_seed": k,
             "env_kwargs": {"desc": generate_random_map(size=n, p=MAP_FROZEN_PROBABILITY, seed=k), "is_slippery": slippery}}
            for slippery in (True, False) for n in sizes for k in seeds]


def bench_dp(env_id: str, root: str) -> list[dict]:
    """Finite horizon (the reference), value and policy iteration; exactness checks."""
    model = build_model(make_tabular_env(env_id))
    optimum, reference = dp.optimum(model)
    rows = []
    # Policy iteration at gamma 1 would meet policies that never end (CliffWalking): 0.99 except where
    # every policy ends and gamma 1 is the task (Blackjack); the env's traits know which.
    gamma = traits_for(env_id).dp_gamma
    solutions = {}
    for method in ("finite-horizon", "value-iteration", "policy-iteration"):
        config = DPConfig(method=method, env=env_id, gamma=1.0 if method == "finite-horizon" else gamma, eval_episodes=2000)
        result = solve(config, run_dir=os.path.join(root, f"{env_id}-{method}"), progress=False, write_plots=False)
        solutions[method] = result
        f = result.figures
        rows.append({"env": env_id, "method": method, "gamma": config.gamma, "iterations": f["iterations"],
                     "solve_wall_s": f["solve_wall_s"], "model_value": f["model_value"], "exact_return": f["exact_return"],
                     "mean_return": f["mean_return"], "std_error": f["std_error"], "optimum": optimum,
                     "gap_to_optimum": optimum - f["exact_return"]})
    vi, pi = solutions["value-iteration"].figures, solutions["policy-iteration"].figures
    fh = rows[0]
    fh["exact"] = bool(abs(fh["exact_return"] - optimum) <= 1e-6 and abs(fh["model_value"] - optimum) <= 1e-6)
    fh["published"] = PUBLISHED_OPTIMA.get(env_id)
    agree = abs(vi["model_value"] - pi["model_value"])
    for row in rows[1:]:
        row["vi_pi_value_difference"] = agree
        row["exact"] = bool(agree <= 1e-6)
    return rows


def bench_control(env_id: str, algo: str, seed: int, eval_episodes: int, root: str, env_kwargs: dict | None = None,
                  task: str | None = None) -> dict:
    config = default_config(algo, env_id, env_kwargs)
    config.final_eval_episodes = max(config.final_eval_episodes, eval_episodes)
    task = task or env_id
    started = time.monotonic()
    result = train_control(config, seed=seed, run_dir=os.path.join(root, f"{task}-{algo}-{seed}".replace(" ", "_")),
                           progress=False, write_plots=False)
    wall = time.monotonic() - started
    f = result.figures
    if env_kwargs:  # a random map: 90 % of the map's optimum
        met = f["optimum"] > 0 and f["exact_return"] >= MAP_BAR * f["optimum"] - 1e-9
        target = "skip" if f["optimum"] <= 0 else ("met" if met else "MISSED")
    else:
        report_only = env_id.startswith("CliffWalking") and algo in ON_POLICY
        target = "report" if report_only else ("met" if f["meets_target"] else "MISSED")
    return {"task": task, "env": env_id, "env_kwargs": env_kwargs or {}, "algo": algo, "seed": seed,
            "episodes": config.episodes, "episodes_trained": f["episodes_trained"],
            "stopped_at_optimum": bool(f.get("stopped_at_optimum")), "env_steps": f["env_steps"],
            "train_wall_s": f["train_wall_s"], "wall_s": wall, "within_60s": wall <= MAX_WALL_S,
            "exact_return": f["exact_return"], "mean_return": f["mean_return"], "std_error": f["std_error"],
            "eval_episodes": f["episodes"], "optimum": f["optimum"], "exact_ratio": f["exact_ratio_to_optimum"],
            "gap_to_optimum": f["gap_to_optimum"], "episodes_to_target": f["episodes_to_target"],
            "table_from_episode": f["table_from_episode"], "last_table_exact_return": f["last_table_greedy_return"],
            "defaults_from": config.defaults_from, "target": target}


def summarize_control(rows: list[dict], by: str = "task") -> list[dict]:
    """Per (task or map group, method): worst and median exact value (and ratio), share that met the bar, wall."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row[by], row["algo"]), []).append(row)
    summary = []
    for (task, algo), runs in groups.items():
        graded = [r for r in runs if r["target"] in ("met", "MISSED")]
        ratios = [r["exact_ratio"] for r in runs if r["exact_ratio"] is not None]
        summary.append({
            by: task, "algo": algo, "runs": len(runs), "seeds": sorted({r["seed"] for r in runs}),
            "worst_exact": min(r["exact_return"] for r in runs), "median_exact": statistics.median(r["exact_return"] for r in runs),
            "worst_ratio": min(ratios) if ratios else None, "median_ratio": statistics.median(ratios) if ratios else None,
            "met": sum(r["target"] == "met" for r in graded), "graded": len(graded),
            "max_wall_s": max(r["wall_s"] for r in runs), "median_wall_s": statistics.median(r["wall_s"] for r in runs),
            "over_60s": sum(not r["within_60s"] for r in runs),
            "stopped_at_optimum": sum(r.get("stopped_at_optimum", False) for r in runs),
            "missed": [f"{r['task'] if by != 'task' else ''} seed {r['seed']}: {r['exact_return']:.4f}".strip()
                       for r in graded if r["target"] == "MISSED"],
        })
    return summary


def print_summary(summary: list[dict], by: str = "task") -> None:
    print(f"\n| {by} | method | runs | worst exact | median exact | worst / median ratio | met the bar | "
          "wall s median / max | stopped at optimum |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        ratio = (f"{s['worst_ratio']:.3f} / {s['median_ratio']:.3f}" if s["worst_ratio"] is not None else "-")
        met = f"{s['met']}/{s['graded']}" if s["graded"] else "report"
        over = f" ({s['over_60s']} > 60)" if s["over_60s"] else ""
        print(f"| {s[by]} | {s['algo']} | {s['runs']} | {s['worst_exact']:.4f} | {s['median_exact']:.4f} | {ratio} | "
              f"{met} | {s['median_wall_s']:.1f} / {s['max_wall_s']:.1f}{over} | {s['stopped_at_optimum']} |")
    for s in summary:
        if s["missed"]:
            print(f"missed: {s[by]} {s['algo']}: {'; '.join(s['missed'])}")


def _print_run(row: dict) -> None:
    used = f"{row['episodes_trained']}/{row['episodes']} ep"
    print(f"{row['task']:32s} {row['algo']:15s} seed {row['seed']}: exact {row['exact_return']:.4f}  play "
          f"{row['mean_return']:.4f}+-{row['std_error']:.4f}  optimum {row['optimum']:.4f}  {row['target']}  "
          f"{used}  {row['wall_s']:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help="environment ids (default: the five targets)")
    parser.add_argument("--algos", nargs="+", default=list(CONTROL), help=f"control methods (default: {' '.join(CONTROL)})")
    parser.add_argument("--seeds", nargs="+", type=int_ranges, default=[[0]],
                        help="training seeds, as numbers or ranges: 0-9, or 0-4 7 (default: 0)")
    parser.add_argument("--random-maps", action="store_true",
                        help="the random FrozenLake map suite (derived defaults) instead of the named tasks")
    parser.add_argument("--map-sizes", nargs="+", type=int_ranges, default=[list(MAP_SIZES)],
                        help="random-map sizes n (default: 4-8)")
    parser.add_argument("--map-seeds", nargs="+", type=int_ranges, default=[list(MAP_SEEDS)],
                        help="random-map seeds k (default: 0-4)")
    parser.add_argument("--slippery", choices=("both", "yes", "no"), default="both", help="random maps: which (default: both)")
    parser.add_argument("--eval-episodes", type=int, default=2000, help="greedy evaluation episodes, at least (default: 2000)")
    parser.add_argument("--no-dp", action="store_true", help="skip the dynamic-programming rows")
    parser.add_argument("--out", default="bench_tabular.json", help="JSON file to write (default: bench_tabular.json)")
    parser.add_argument("--runs-root", default=None, help="where run folders go (default: a temporary folder)")
    parser.add_argument("--summarize", nargs="+", metavar="JSON", default=None,
                        help="print one summary of the control runs in these JSON files (nothing is trained)")
    args = parser.parse_args()
    seeds = sorted({seed for group in args.seeds for seed in group})

    if args.summarize:
        rows = [row for path in args.summarize for row in json.loads(Path(path).read_text())["control"]]
        for kind, by in (("named", "task"), ("maps", "group")):
            chosen = [r for r in rows if bool(r.get("env_kwargs")) == (kind == "maps")]
            if chosen:
                print_summary(summarize_control(chosen, by), by)
        return

    root = args.runs_root or tempfile.mkdtemp(prefix="bench_tabular_")
    dp_rows, control_rows = [], []
    bench_started, machine = time.monotonic(), MachineRecord()
    if args.random_maps:
        sizes = sorted({n for group in args.map_sizes for n in group})
        map_seeds = sorted({k for group in args.map_seeds for k in group})
        maps = [m for m in random_maps(sizes, map_seeds)
                if args.slippery == "both" or m["env_kwargs"]["is_slippery"] == (args.slippery == "yes")]
        for entry in maps:
            optimum = dp.optimum(build_model(make_tabular_env("FrozenLake-v1", entry["env_kwargs"])))[0]
            if optimum <= 0:
                print(f"{entry['name']}: optimum 0 (the goal cannot be reached), skipped", flush=True)
                continue
            for algo in args.algos:
                for seed in seeds:
                    row = bench_control("FrozenLake-v1", algo, seed, args.eval_episodes, root, entry["env_kwargs"], entry["name"])
                    row["group"] = ("slippery" if entry["env_kwargs"]["is_slippery"] else "not slippery")
                    control_rows.append(row)
                    _print_run(row)
    else:
        for env_id in args.envs:
            if not args.no_dp:
                for row in bench_dp(env_id, root):
                    dp_rows.append(row)
                    print(f"{env_id:17s} {row['method']:16s} value {row['model_value']:.6f}  greedy exact "
                          f"{row['exact_return']:.6f}  optimum {row['optimum']:.6f}  exact {row['exact']}", flush=True)
            for algo in args.algos:
                for seed in seeds:
                    row = bench_control(env_id, algo, seed, args.eval_episodes, root)
                    control_rows.append(row)
                    _print_run(row)

    if dp_rows:
        print("\n| env | method | value | greedy policy exact | optimum | gap | exact (1e-6) |")
        print("|---|---|---|---|---|---|---|")
        for r in dp_rows:
            print(f"| {r['env']} | {r['method']} (gamma {r['gamma']:g}) | {r['model_value']:.6f} | {r['exact_return']:.6f} | "
                  f"{r['optimum']:.6f} | {r['gap_to_optimum']:.2e} | {'yes' if r['exact'] else 'NO'} |")
    by = "group" if args.random_maps else "task"
    summary = summarize_control(control_rows, by)
    print_summary(summary, by)
    result = {
        "machine": {"python": platform.python_version(), **machine.finish()},
        "command": sys.argv, "total_wall_s": time.monotonic() - bench_started,
        "dp": dp_rows, "summary": summary, "control": control_rows,
        "all_targets_met": all(r["target"] != "MISSED" and r["within_60s"] for r in control_rows)
                           and all(r["exact"] for r in dp_rows),
    }
    Path(args.out).write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {args.out}; all targets met: {result['all_targets_met']}; "
          f"{result['total_wall_s']:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()
