"""Benchmark `rllab dqn train` with its defaults over several seeds; prints a table and writes JSON.

Per seed it times the whole train command (a fresh process: imports, env and network set-up,
training, evaluations, export), reads the env step at which an evaluation first reached the env's
reward threshold (20 greedy episodes, the SB3 zoo protocol), then scores the saved final policy over
100 greedy episodes with `rllab dqn eval`. The targets (issue 4): final score >= threshold on every
seed, median wall time <= 30 s, median env steps to first solve <= 30k.

    python scripts/bench_dqn_cartpole.py --seeds 0 1 2 3 4 --out bench_dqn.json
    python scripts/bench_dqn_cartpole.py --env Acrobot-v1 --seeds 0 1 2 3 4 --out bench_dqn_acrobot.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from rllab.bench import MachineRecord, write_report  # noqa: E402

MAX_WALL_SECONDS = 30.0
MAX_STEPS_TO_SOLVE = 30_000


def rllab_command() -> list[str]:
    script = shutil.which("rllab")
    return [script] if script else [sys.executable, "-m", "rllab.cli"]


def run(args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    result = subprocess.run([*rllab_command(), *args], capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"bench: `rllab {' '.join(args)}` failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result, elapsed


def bench_seed(env_id: str, seed: int, root: Path, episodes: int, extra: list[str]) -> dict:
    run_dir = root / f"{env_id}-seed{seed}"
    _, wall = run(["dqn", "train", "--env", env_id, "--seed", str(seed), "--run-dir", str(run_dir), *extra])
    summary = json.loads((run_dir / "artifacts" / "train_summary.json").read_text())
    evaluation, _ = run(["dqn", "eval", "--run-dir", str(run_dir), "--episodes", str(episodes), "--json"])
    scores = json.loads(evaluation.stdout.strip().splitlines()[-1])
    return {
        "seed": seed,
        "train_wall_s": round(wall, 2),
        "env_steps": summary["env_steps"],
        "first_solved_env_step": summary["first_solved_env_step"],
        "final_policy": summary["final_policy"],
        "final_mean": scores["mean_return"],
        "final_std": scores["std_return"],
        "final_min": scores["min_return"],
        "final_max": scores["max_return"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: CartPole-v1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds (default: 0 1 2 3 4)")
    parser.add_argument("--episodes", type=int, default=100, help="greedy episodes scoring each final policy (default: 100)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="score a final policy must reach (default: the env's reward_threshold, 475 for CartPole-v1)")
    parser.add_argument("--train-args", default="", help="extra flags for `rllab dqn train`, one quoted string")
    parser.add_argument("--out", default="bench_dqn.json", help="JSON results file (default: bench_dqn.json)")
    parser.add_argument("--keep-runs", metavar="DIR", default=None, help="write the run folders here and keep them")
    args = parser.parse_args()

    import gymnasium as gym

    threshold = args.threshold if args.threshold is not None else gym.spec(args.env).reward_threshold
    root = Path(args.keep_runs) if args.keep_runs else Path(tempfile.mkdtemp(prefix="bench_dqn_"))
    machine = MachineRecord()
    rows = []
    print(f"{'seed':>4} {'train s':>8} {'env steps':>9} {'1st solve':>9} {'final':>6} {'mean':>8} {'min':>7}", flush=True)
    for seed in args.seeds:
        row = bench_seed(args.env, seed, root, args.episodes, shlex.split(args.train_args))
        rows.append(row)
        print(f"{seed:>4} {row['train_wall_s']:>8.1f} {row['env_steps']:>9} {str(row['first_solved_env_step']):>9} "
              f"{row['final_policy']:>6} {row['final_mean']:>8.2f} {row['final_min']:>7.1f}", flush=True)
    machine_record = machine.finish()
    if not args.keep_runs:
        shutil.rmtree(root, ignore_errors=True)

    solve_steps = [r["first_solved_env_step"] if r["first_solved_env_step"] is not None else float("inf") for r in rows]
    median_wall = statistics.median(r["train_wall_s"] for r in rows)
    median_solve = statistics.median(solve_steps)
    passing = sum(r["final_mean"] >= threshold for r in rows)
    targets = {f"final_mean>={threshold:g} on every seed": passing == len(rows)}
    if args.env == "CartPole-v1":  # the wall-time and sample targets are CartPole's (issue 4)
        targets[f"median train wall <= {MAX_WALL_SECONDS:g} s"] = median_wall <= MAX_WALL_SECONDS
        targets[f"median env steps to first solve <= {MAX_STEPS_TO_SOLVE}"] = median_solve <= MAX_STEPS_TO_SOLVE
    print(f"\n{args.env}: {passing}/{len(rows)} seeds >= {threshold:g} over {args.episodes} greedy episodes; "
          f"median train wall {median_wall:.1f} s; median env steps to first solve {median_solve}")
    for target, met in targets.items():
        print(f"  {'MET ' if met else 'MISS'} {target}")
    print(f"load average (1/5/15 min) before {machine_record['load_average_start']}, "
          f"after {machine_record['load_average_end']}; {machine_record['cpus']} CPUs")
    result = {
        "env_id": args.env, "seeds": args.seeds, "episodes": args.episodes, "threshold": threshold,
        "train_args": args.train_args, "rows": rows, "median_train_wall_s": median_wall,
        "median_first_solved_env_step": None if median_solve == float("inf") else median_solve,
        "seeds_passing": passing, "targets": targets,
        "machine": machine_record,
        "command": " ".join(sys.argv),
    }
    write_report(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
