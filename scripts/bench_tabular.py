"""Benchmark the tabular methods against the exact optimum; prints a table and writes JSON.

Targets (issue 3, 2 CPU cores): exact optima within the registered time limits FrozenLake-v1 0.744,
FrozenLake8x8-v1 0.913, Taxi-v4 7.93, CliffWalking-v1 -13, Blackjack-v1 -0.043. Every control method
with its default budget: >= 95 % of a positive optimum, within 0.01 on Blackjack, -13 on
CliffWalking for the off-policy methods (the on-policy methods' safe-path return is reported), each
run <= 60 s wall. DP methods exact to 1e-6.

Each greedy policy is measured twice: by its exact expected return on the model (what the target
check uses: noise-free) and by playing >= 2000 episodes on the real env (mean +- standard error).
"Episodes to target" is the first logged episode where the exact value met the bar. A run keeps the
Q table whose greedy policy measured best during training (``keep_best``); the table also shows the
episode it comes from and the exact value of the last table.

    python scripts/bench_tabular.py --out bench_tabular.json            # all: several minutes
    python scripts/bench_tabular.py --envs FrozenLake-v1 --algos q-learning sarsa
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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

ENVS = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1", "Blackjack-v1")
PUBLISHED_OPTIMA = {"FrozenLake-v1": 0.744, "FrozenLake8x8-v1": 0.913, "Taxi-v4": 7.93, "CliffWalking-v1": -13.0,
                    "Blackjack-v1": -0.043}
CONTROL = ("mc", "sarsa", "expected-sarsa", "q-learning", "double-q")
ON_POLICY = ("mc", "mc-es", "sarsa", "expected-sarsa")
MAX_WALL_S = 60.0


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


def bench_control(env_id: str, algo: str, seed: int, eval_episodes: int, root: str) -> dict:
    config = default_config(algo, env_id)
    config.final_eval_episodes = max(config.final_eval_episodes, eval_episodes)
    started = time.monotonic()
    result = train_control(config, seed=seed, run_dir=os.path.join(root, f"{env_id}-{algo}-{seed}"), progress=False,
                           write_plots=False)
    wall = time.monotonic() - started
    f = result.figures
    report_only = env_id.startswith("CliffWalking") and algo in ON_POLICY
    return {"env": env_id, "algo": algo, "seed": seed, "episodes": config.episodes, "env_steps": f["env_steps"],
            "train_wall_s": f["train_wall_s"], "wall_s": wall, "within_60s": wall <= MAX_WALL_S,
            "exact_return": f["exact_return"], "mean_return": f["mean_return"], "std_error": f["std_error"],
            "eval_episodes": f["episodes"], "optimum": f["optimum"], "exact_ratio": f["exact_ratio_to_optimum"],
            "gap_to_optimum": f["gap_to_optimum"], "episodes_to_target": f["episodes_to_target"],
            "table_from_episode": f["table_from_episode"], "last_table_exact_return": f["last_table_greedy_return"],
            "target": "report" if report_only else ("met" if f["meets_target"] else "MISSED")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help="environment ids (default: the five targets)")
    parser.add_argument("--algos", nargs="+", default=list(CONTROL),
                        help="control methods (default: mc sarsa expected-sarsa q-learning double-q; also mc-es, mc-off-policy)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds (default: 0)")
    parser.add_argument("--eval-episodes", type=int, default=2000, help="greedy evaluation episodes, at least (default: 2000)")
    parser.add_argument("--no-dp", action="store_true", help="skip the dynamic-programming rows")
    parser.add_argument("--out", default="bench_tabular.json", help="JSON file to write (default: bench_tabular.json)")
    parser.add_argument("--runs-root", default=None, help="where run folders go (default: a temporary folder)")
    args = parser.parse_args()

    root = args.runs_root or tempfile.mkdtemp(prefix="bench_tabular_")
    dp_rows, control_rows = [], []
    bench_started = time.monotonic()
    for env_id in args.envs:
        if not args.no_dp:
            for row in bench_dp(env_id, root):
                dp_rows.append(row)
                print(f"{env_id:17s} {row['method']:16s} value {row['model_value']:.6f}  greedy exact "
                      f"{row['exact_return']:.6f}  optimum {row['optimum']:.6f}  exact {row['exact']}", flush=True)
        for algo in args.algos:
            for seed in args.seeds:
                row = bench_control(env_id, algo, seed, args.eval_episodes, root)
                control_rows.append(row)
                print(f"{env_id:17s} {algo:15s} seed {seed}: exact {row['exact_return']:.4f}  play "
                      f"{row['mean_return']:.4f}+-{row['std_error']:.4f}  optimum {row['optimum']:.4f}  "
                      f"{row['target']}  to-target {row['episodes_to_target']}  {row['wall_s']:.1f}s", flush=True)

    print("\n| env | method | value | greedy policy exact | optimum | gap | exact (1e-6) |")
    print("|---|---|---|---|---|---|---|")
    for r in dp_rows:
        print(f"| {r['env']} | {r['method']} (gamma {r['gamma']:g}) | {r['model_value']:.6f} | {r['exact_return']:.6f} | "
              f"{r['optimum']:.6f} | {r['gap_to_optimum']:.2e} | {'yes' if r['exact'] else 'NO'} |")
    print("\n| env | algo | episodes | greedy exact | played (mean +- s.e., n) | optimum | exact/optimum | gap | "
          "episodes to target | kept table (episode) / last table exact | wall s | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in control_rows:
        ratio = f"{r['exact_ratio']:.3f}" if r["exact_ratio"] is not None else "-"
        wall = f"{r['wall_s']:.1f}" + ("" if r["within_60s"] else " (>60)")
        print(f"| {r['env']} | {r['algo']} | {r['episodes']} | {r['exact_return']:.4f} | {r['mean_return']:.4f} +- "
              f"{r['std_error']:.4f} ({r['eval_episodes']}) | {r['optimum']:.4f} | {ratio} | {r['gap_to_optimum']:.4f} | "
              f"{r['episodes_to_target']} | {r['table_from_episode']} / {r['last_table_exact_return']:.4f} | {wall} | {r['target']} |")
    summary = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1m": os.getloadavg()[0]},
        "total_wall_s": time.monotonic() - bench_started,
        "dp": dp_rows, "control": control_rows,
        "all_targets_met": all(r["target"] != "MISSED" and r["within_60s"] for r in control_rows)
                           and all(r["exact"] for r in dp_rows),
    }
    Path(args.out).write_text(json.dumps(summary, indent=2, default=float))
    print(f"\nwrote {args.out}; all targets met: {summary['all_targets_met']}; "
          f"{summary['total_wall_s']:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()
