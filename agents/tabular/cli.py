"""``rllab tabular``: train / solve / eval / plot (see `agents.tabular.train`).

Nothing heavy is imported here at import time (``rllab --help`` stays fast); the handlers import
the algorithms. Tabular code never imports TensorFlow.
"""
from __future__ import annotations

import argparse

from rllab.cli_common import add_eval_args, add_train_args, emit_json, json_object, nonneg_int, positive_float, positive_int, probability

ALGOS = ("q-learning", "sarsa", "expected-sarsa", "double-q", "mc", "mc-es", "mc-off-policy")
METHODS = ("value-iteration", "policy-iteration", "finite-horizon")
SCHEDULES = ("constant", "linear", "exponential")
_ENV_HELP = ("Gymnasium id with Discrete or Tuple-of-Discrete observations and Discrete actions, e.g. FrozenLake-v1, "
             "FrozenLake8x8-v1, Taxi-v4, CliffWalking-v1, Blackjack-v1 (default: FrozenLake-v1)")


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "tabular", help="dynamic programming, Monte Carlo and TD control on toy-text tasks",
        description="Tabular reinforcement learning on Gymnasium's toy-text tasks, measured against the exact "
                    "optimum that dynamic programming computes within the registered time limit.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="learn a Q table with TD or Monte Carlo control",
        description="Learn a Q table by interacting with the env. The defaults are tuned per environment for the "
                    "benchmark targets (scripts/bench_tabular.py); every flag below overrides them, and a different "
                    "--episodes stretches the default schedules with it.",
    )
    train.add_argument("--algo", choices=ALGOS, default="q-learning",
                       help="q-learning, sarsa, expected-sarsa, double-q (TD); mc (on-policy epsilon-soft), "
                            "mc-es (exploring starts), mc-off-policy (weighted importance sampling) (default: q-learning)")
    train.add_argument("--env", default="FrozenLake-v1", metavar="ID", help=_ENV_HELP)
    train.add_argument("--env-kwargs", type=json_object, default={}, metavar="JSON",
                       help='keyword arguments for gymnasium.make, e.g. \'{"map_name": "8x8", "is_slippery": false}\'')
    train.add_argument("--episodes", type=positive_int, default=None, metavar="N", help="training episodes (default: per env)")
    train.add_argument("--gamma", type=probability, default=None, help="discount factor (default: per env)")
    train.add_argument("--epsilon", type=probability, default=None, metavar="E",
                       help="exploration at the start of the epsilon schedule (default: per env)")
    train.add_argument("--epsilon-end", type=probability, default=None, metavar="E", help="exploration at the end of its schedule")
    train.add_argument("--epsilon-decay", choices=SCHEDULES, default=None, help="shape of the epsilon schedule")
    train.add_argument("--epsilon-episodes", type=positive_int, default=None, metavar="N", help="length of the epsilon schedule")
    train.add_argument("--step-size", type=positive_float, default=None, metavar="ALPHA", help="learning rate at the start of its schedule")
    train.add_argument("--step-size-end", type=positive_float, default=None, metavar="ALPHA", help="learning rate at the end of its schedule")
    train.add_argument("--step-size-decay", choices=SCHEDULES, default=None, help="shape of the step-size schedule")
    train.add_argument("--initial-q", type=float, default=None, metavar="Q", help="initial value of every Q entry (default: 0)")
    train.add_argument("--every-visit", action="store_true", help="Monte Carlo: update every visit, not only the first")
    train.add_argument("--forget-episodes", type=positive_int, default=None, metavar="N",
                       help="Monte Carlo: a return's weight in its average decays by 1/e over N episodes, however "
                            "often its state-action is visited (default: per env; none: 1/N averages with the "
                            "step size as floor)")
    train.add_argument("--max-episode-steps", type=positive_int, default=None, metavar="N",
                       help="step cap of training episodes where the env registers no time limit (default: 1000)")
    train.add_argument("--eval-every", type=nonneg_int, default=None, metavar="N",
                       help="episodes between greedy-policy measurements in metrics.csv; 0: none (default: per env)")
    train.add_argument("--keep-last", action="store_true",
                       help="keep the last Q table, not the one whose greedy policy measured best during training")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    add_train_args(train, "tabular")
    train.set_defaults(func=_train)

    solve = commands.add_parser(
        "solve", help="dynamic programming on the env's exact model",
        description="Solve the env from its model (env.unwrapped.P; Blackjack's is built exactly). Writes the same "
                    "run folder as train, so eval and plot work on it. finite-horizon is the exact optimum within "
                    "the registered time limit (value iteration with gamma 1 where there is none).",
    )
    solve.add_argument("--method", choices=METHODS, default="finite-horizon", help="(default: finite-horizon)")
    solve.add_argument("--env", default="FrozenLake-v1", metavar="ID", help=_ENV_HELP)
    solve.add_argument("--env-kwargs", type=json_object, default={}, metavar="JSON", help="keyword arguments for gymnasium.make")
    solve.add_argument("--gamma", type=probability, default=None,
                       help="discount (default: 1 for finite-horizon and Blackjack, 0.99 otherwise)")
    solve.add_argument("--theta", type=positive_float, default=1e-10, help="convergence threshold (default: 1e-10)")
    solve.add_argument("--horizon", type=positive_int, default=None, metavar="H",
                       help="finite-horizon steps (default: the registered time limit)")
    solve.add_argument("--eval-episodes", type=positive_int, default=2000, metavar="N", help="greedy evaluation episodes (default: 2000)")
    solve.add_argument("--run-dir", metavar="DIR", default=None, help="run folder to write (default: runs/tabular/<UTC timestamp>)")
    solve.add_argument("--seed", type=nonneg_int, default=0, metavar="N", help="seed of the evaluation episodes (default: 0)")
    solve.set_defaults(func=_solve)

    evaluate = commands.add_parser(
        "eval", help="measure the greedy policy of a run",
        description="Play the greedy policy of a run's Q table: mean return, standard error, success rate where "
                    "returns are 0/1, and the exact optimum with the ratio (plus the policy's exact value).",
    )
    add_eval_args(evaluate)
    evaluate.add_argument("--episodes", type=positive_int, default=2000, metavar="N", help="evaluation episodes (default: 2000)")
    evaluate.add_argument("--seed", type=nonneg_int, default=None, metavar="N", help="first episode seed (default: derived from the run)")
    evaluate.set_defaults(func=_eval)

    plot = commands.add_parser("plot", help="(re)draw a run's pictures",
                               description="Learning curve, value and policy pictures, and one rendered greedy episode, "
                                           "into the run's artifacts folder.")
    plot.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train or solve")
    plot.set_defaults(func=_plot)


def _schedule_override(start, end, kind, episodes, default):
    """The per-env default schedule with the fields given on the command line replaced (None: no flag given)."""
    import dataclasses

    given = {name: value for name, value in
             (("start", start), ("end", end), ("kind", kind), ("episodes", episodes)) if value is not None}
    return dataclasses.replace(default, **given) if given else None


def _train(args: argparse.Namespace) -> int:
    from agents.tabular.config import default_config
    from agents.tabular.train import train_control

    if args.resume:
        config = None
    else:
        base = default_config(args.algo, args.env, args.env_kwargs, episodes=args.episodes)  # schedules stretched
        config = default_config(
            args.algo, args.env, args.env_kwargs,
            episodes=args.episodes, gamma=args.gamma, initial_q=args.initial_q,
            max_episode_steps=args.max_episode_steps, eval_every=args.eval_every, forget_episodes=args.forget_episodes,
            epsilon=_schedule_override(args.epsilon, args.epsilon_end, args.epsilon_decay, args.epsilon_episodes, base.epsilon),
            step_size=_schedule_override(args.step_size, args.step_size_end, args.step_size_decay, None, base.step_size),
            **({"first_visit": False} if args.every_visit else {}),
            **({"keep_best": False} if args.keep_last else {}),
        )
    result = train_control(config, seed=args.seed, run_dir=args.run_dir, resume=args.resume, progress=not args.quiet)
    _print_figures(result.figures)
    print(f"run folder: {result.run.path}")
    return 0


def _solve(args: argparse.Namespace) -> int:
    from agents.tabular.config import DPConfig
    from agents.tabular.train import solve

    gamma = args.gamma
    if gamma is None:
        gamma = 1.0 if args.method == "finite-horizon" or args.env.startswith("Blackjack") else 0.99
    config = DPConfig(method=args.method, env=args.env, env_kwargs=args.env_kwargs, gamma=gamma, theta=args.theta,
                      horizon=args.horizon, eval_episodes=args.eval_episodes)
    result = solve(config, seed=args.seed, run_dir=args.run_dir)
    _print_figures(result.figures)
    print(f"run folder: {result.run.path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from agents.tabular.train import evaluate_run

    figures = evaluate_run(args.run_dir, episodes=args.episodes, seed=args.seed)
    _print_figures(figures)
    if args.json:
        emit_json(figures)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from agents.tabular.plots import plot_run
    from agents.tabular.train import open_run

    run, _ = open_run(args.run_dir)
    for path in plot_run(run):
        print(f"wrote {path}")
    return 0


def _print_figures(figures: dict) -> None:
    shown = ("mean_return", "std_error", "success_rate", "win_rate", "exact_return", "optimum",
             "ratio_to_optimum", "exact_ratio_to_optimum", "meets_target", "episodes_to_target")
    parts = []
    for key in shown:
        value = figures.get(key)
        if value is None:
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    print("greedy policy: " + ", ".join(parts), flush=True)
