"""``rllab tabular``: train / solve / eval / plot (see `agents.tabular.train`).

Every field of the configs (`ControlConfig` and Monte Carlo's `MCConfig` for ``train``, `DPConfig`
for ``solve``) is a flag whose help is the field's docstring, with its default and the per-env
defaults of `agents.tabular.config.ENV_DEFAULTS`, so the flags cannot drift from the configs.

Nothing heavy is imported here at import time (``rllab --help`` stays fast); the handlers import
the algorithms. Tabular code never imports TensorFlow.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from agents.tabular.config import (CONTROL_ALGOS, DOUBLE_Q_MAX_EXPLORED_STEPS, DOUBLE_Q_STEP_SIZE_END, DP_METHODS,
                                   ENV_DEFAULTS, EPISODES_PER_PAIR, EVALUATIONS_PER_RUN, EXPLORATION_BONUS_SHARE,
                                   GAMMA_STEPS, MAX_DERIVED_EPISODES, MC_ALGOS, MIN_DERIVED_EPISODES,
                                   OFF_POLICY_EPSILON_END, OFF_POLICY_MIN_EXPLORED_VALUE, RANDOM_START_SHARE,
                                   SCHEDULE_FLAGS, SCHEDULE_KINDS, STEPS_PER_PAIR, TD_ALGOS, TD_EXPLORATION_SHARE,
                                   ControlConfig, DPConfig, MCConfig)
from agents.tabular.envs import FAMILIES, GENERIC
from rllab.cli_common import (add_config_flags, add_eval_args, add_train_args, emit_json, nonneg_int, number,
                              positive_float, positive_int, probability)

DERIVED_DEFAULTS_HELP = (
    "Any other task (another env, map, dynamics or time limit, e.g. --env-kwargs '{\"desc\": [...]}' or "
    "'{\"map_name\": \"8x8\", \"is_slippery\": false}') gets defaults derived from the task: episodes "
    f"{EPISODES_PER_PAIR['stochastic']} per state-action where the model shows random outcomes (slippery), "
    f"{EPISODES_PER_PAIR['deterministic']} where not, and with random outcomes at least "
    f"{STEPS_PER_PAIR['stochastic']} steps per state-action at the random policy's episode length (from the model), "
    "double-q and Monte Carlo twice that (double-q at most "
    f"{DOUBLE_Q_MAX_EXPLORED_STEPS / 1e6:g} million steps counted at the episode length of the optimal policy acting "
    f"at random one step in {1 / OFF_POLICY_EPSILON_END:g}), all within "
    f"{MIN_DERIVED_EPISODES}-{MAX_DERIVED_EPISODES} episodes; "
    "initial Q the largest reward where it is "
    "positive (optimism); gamma 1 - c/T with T the time limit (else the step cap) and c "
    f"the one of {', '.join(f'{c:g}' for c in GAMMA_STEPS)} whose optimal stationary policy scores best on the "
    "model within T (1 - 1/T without a model); TD: epsilon 1 -> 0.01 over "
    f"{TD_EXPLORATION_SHARE:.0%} of the budget, step size "
    f"0.1 -> 0.01 (random outcomes; double-q 0.1 -> {DOUBLE_Q_STEP_SIZE_END:g}) or 0.5 -> 0.05 over the budget; "
    "Monte Carlo: epsilon 1 -> 0.1 over 10%, "
    "averages that forget over 5% of the budget (mc-off-policy: epsilon 1 -> "
    f"{OFF_POLICY_EPSILON_END:g}, or 0.1 where the optimal policy acting at random that often would earn less than "
    f"{OFF_POLICY_MIN_EXPLORED_VALUE:g} x the largest reward, and forgetting over 1.25%), mc and mc-es count the "
    "optimistic initial "
    "Q as one return (--initial-weight 1) and learn with a count-based exploration bonus of "
    f"{EXPLORATION_BONUS_SHARE:g} x the largest reward (--exploration-bonus), mc-es starts "
    f"{RANDOM_START_SHARE:.0%} of its episodes in a random state (--random-start-share), "
    "no step-size floor (mc-off-policy where outcomes are not random: "
    "0.5 -> 0.05 over the budget); "
    f"{EVALUATIONS_PER_RUN['model']} evaluations of the greedy policy per run where the model gives their exact "
    f"value, else {EVALUATIONS_PER_RUN['no model']}.")

_ENV_HELP = ("Gymnasium id with Discrete or Tuple-of-Discrete observations and Discrete actions, e.g. FrozenLake-v1, "
             "FrozenLake8x8-v1, Taxi-v4, CliffWalking-v1, Blackjack-v1")
_MISSING = object()


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "tabular", help="dynamic programming, Monte Carlo and TD control on toy-text tasks",
        description="Tabular reinforcement learning on Gymnasium's toy-text tasks, measured against the exact "
                    "optimum that dynamic programming computes within the registered time limit.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_solve(commands)

    evaluate = commands.add_parser(
        "eval", help="measure the greedy policy of a run",
        description="Play the greedy policy of a run's Q table: mean return, standard error, success rate where "
                    "returns are 0/1, and the exact optimum with the ratio (plus the policy's exact value).",
    )
    add_eval_args(evaluate)
    evaluate.add_argument("--episodes", type=positive_int, default=2000, metavar="N", help="evaluation episodes (default: 2000)")
    evaluate.add_argument("--seed", type=nonneg_int, default=None, metavar="N",
                          help="first episode seed (default: the run's seed + 1000000, as its final evaluation)")
    evaluate.set_defaults(func=_eval)

    plot = commands.add_parser("plot", help="(re)draw a run's pictures",
                               description="Learning curve, value and policy pictures, and one rendered greedy episode, "
                                           "into the run's artifacts folder.")
    plot.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train or solve")
    plot.set_defaults(func=_plot)


# --- train ------------------------------------------------------------------------------------------------
def _nonneg_number(text: str) -> float:
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _schedule_docs(name: str, what: str, flags: dict[str, str]) -> dict[str, str]:
    return {
        f"{name}.start": f"{what} at the start of its schedule",
        f"{name}.end": f"{what} at the end of its schedule (ignored by constant)",
        f"{name}.kind": f"shape of the {what} schedule: constant (stays at {flags['start']}), linear, exponential "
                        f"(the same factor every episode; {flags['start']} and {flags['end']} > 0)",
        f"{name}.episodes": f"length of the {what} schedule in episodes; it stays at {flags['end']} after",
    }


_TRAIN_DOCS = {
    "env": _ENV_HELP,
    "env_kwargs": 'keyword arguments for gymnasium.make, e.g. \'{"map_name": "8x8", "is_slippery": false}\'',
    "eval_episodes": "episodes per greedy evaluation during training where the env has no model (the final "
                     "evaluation plays --final-eval-episodes)",
    **_schedule_docs("epsilon", "exploration probability", SCHEDULE_FLAGS["epsilon"]),
    **_schedule_docs("step_size", "step size (learning rate alpha; Monte Carlo: the floor under 1/N)",
                     SCHEDULE_FLAGS["step_size"]),
    "max_episode_steps": "step cap of training episodes where the env registers no time limit (a cut is a "
                         "truncation); none: no cap",
    "stop_at_optimum": "stop before the budget once the greedy policy's exact value (from the model) has equalled "
                       "the optimum at N evaluations in a row; 0: train the whole budget",
    "keep_best": "keep the Q table whose greedy policy measured best during training (every --eval-every "
                 "episodes; exact where the env has a model), not the last one (--no-keep-best, or --keep-last)",
    "first_visit": "Monte Carlo: update only the first visit of a state-action in an episode "
                   "(--no-first-visit, or --every-visit: every visit; mc-off-policy's default)",
    "sample_average": "Monte Carlo: step size max(1/N(s, a), --step-size), the exact average of the first "
                      "1/step-size returns, then a recency-weighted one (--no-sample-average: --step-size alone)",
    "forget_episodes": "Monte Carlo: a return's weight in its average decays by 1/e over N episodes, however often "
                       "its state-action is visited; none: no forgetting (1/N averages with the step size as floor)",
    "exploration_bonus": "Monte Carlo: every reward learned from gains X / sqrt(N), N the arrivals so far in the "
                         "non-terminal state reached: a count-based exploration bonus that fades as states become "
                         "familiar (returns, unlike TD's bootstrapped targets, cannot carry the optimism of untried "
                         f"actions back along a path); derived defaults: {EXPLORATION_BONUS_SHARE:g} x the largest "
                         "reward for mc and mc-es; 0: none",
    "random_start_share": "mc-es: the share of episodes that begin in a random state (exploring starts); the others "
                          "begin where the task's reset puts them, and every episode's first action is random; "
                          f"derived defaults: {RANDOM_START_SHARE:g}",
}


def _config_value(settings: dict, path: str, default=_MISSING):
    """The value of config path ``path`` (``"epsilon.end"``) in a settings dict of ENV_DEFAULTS."""
    name, _, part = path.partition(".")
    if name not in settings:
        return default
    value = settings[name]
    return getattr(value, part) if part else value


def _show(value) -> str:
    return "none" if value is None else str(value)


def per_env_defaults(config_cls: type = MCConfig) -> dict[str, str]:
    """The help's default of every config path some env overrides, derived from `ENV_DEFAULTS`.

    The config's own default first, then each env whose value differs, with the algos (or families:
    td, mc) that differ from the env's value in parentheses, e.g.
    ``10000; FrozenLake8x8-v1: 20000 (mc: 65000, expected-sarsa: 30000); ...``.

    >>> per_env_defaults()["gamma"]
    '1.0; FrozenLake-v1: 0.99; FrozenLake8x8-v1: 0.995; Taxi-v4: 0.99'
    """
    base_config = dataclasses.asdict(config_cls()) | {"algo": ControlConfig.algo}
    paths = []
    for name, value in base_config.items():
        if isinstance(value, dict):  # a schedule: one path per field
            paths.extend(f"{name}.{part}" for part in value)
        else:
            paths.append(name)
    shown: dict[str, str] = {}
    for path in paths:
        name, _, part = path.partition(".")
        base = base_config[name][part] if part else base_config[name]
        parts = []
        for env, table in ENV_DEFAULTS.items():
            env_value = _config_value(table.get("all", {}), path, base)
            algos = [f"{key}: {_show(value)}" for key, settings in table.items() if key != "all"
                     for value in [_config_value(settings, path)] if value is not _MISSING and value != env_value]
            if env_value != base or algos:
                parts.append(f"{env}: {_show(env_value)}" + (f" ({', '.join(algos)})" if algos else ""))
        if parts:
            shown[path] = "; ".join([_show(base), *parts])
    return shown


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="learn a Q table with TD or Monte Carlo control",
        description="Learn a Q table by interacting with the env. The defaults of the five benchmark tasks are tuned "
                    "for their targets on every seed (scripts/bench_tabular.py; the README says what was measured and "
                    "where they fall short) and listed with each flag: the config's "
                    "default, then 'ENV: value', with the algos that differ in parentheses (td: every TD algo, mc: "
                    "every Monte Carlo one); --env-kwargs that only restate a task (is_slippery true) keep its "
                    "defaults. " + DERIVED_DEFAULTS_HELP + " Every flag overrides them, and a different --episodes "
                    "stretches the default schedules with it; config.json records the values used and, under "
                    "defaults_from, where they came from.",
        epilog=f"TD algos: {', '.join(TD_ALGOS)}; Monte Carlo algos: {', '.join(MC_ALGOS)} (only they take "
               "--first-visit, --sample-average, --forget-episodes, --initial-weight, --exploration-bonus, --random-start-share and --retrace). Ctrl-C finishes the episode and saves a "
               "checkpoint and the report; the same command with --resume continues it (--episodes N extends a run).",
    )
    flags = add_config_flags(
        train, MCConfig,
        flag_names={f"{name}.{part}": flag for name, table in SCHEDULE_FLAGS.items() for part, flag in table.items()},
        choices={"algo": CONTROL_ALGOS, "epsilon.kind": SCHEDULE_KINDS, "step_size.kind": SCHEDULE_KINDS},
        parsers={"gamma": probability, "epsilon.start": probability, "epsilon.end": probability,
                 "step_size.start": _nonneg_number, "step_size.end": _nonneg_number, "eval_every": nonneg_int,
                 "stop_at_optimum": nonneg_int, "initial_weight": _nonneg_number,
                 "exploration_bonus": _nonneg_number, "random_start_share": probability},
        defaults={"algo": ControlConfig.algo, **per_env_defaults()},
        docs=_TRAIN_DOCS,
        skip=("defaults_from",),
    )
    train.add_argument("--every-visit", dest="first_visit", action="store_const", const=False, default=None,
                       help="same as --no-first-visit")
    train.add_argument("--keep-last", dest="keep_best", action="store_const", const=False, default=None,
                       help="same as --no-keep-best")
    train.add_argument("--quiet", action="store_true", help="no progress lines (default: print one per log interval)")
    add_train_args(train, "tabular", seed_help="seed of Python, NumPy and the environment",
                   budget_flags=[flags.flags["episodes"]])
    train.set_defaults(func=_train, config_flags=flags)


def config_from_flags(given: dict):
    """The config of a new run from the flags typed (by config path), on top of the per-env defaults."""
    from agents.tabular.config import default_config

    values = dict(given)
    algo = values.pop("algo", ControlConfig.algo)
    env = values.pop("env", ControlConfig.env)
    env_kwargs = values.pop("env_kwargs", {})
    overrides: dict = {}
    for path, value in values.items():
        name, _, part = path.partition(".")
        if part:
            overrides.setdefault(name, {})[part] = value
        else:
            overrides[name] = value
    return default_config(algo, env, env_kwargs, **overrides)


def _train(args: argparse.Namespace) -> int:
    from agents.tabular.train import train_control
    from rllab.runs import CONFIG_NAME

    given = args.config_flags.given(args)
    # Resuming a run folder: its stored config wins (the flags are only checked against it).
    stored = args.resume and args.run_dir is not None and (Path(args.run_dir) / CONFIG_NAME).is_file()
    config = None if stored else config_from_flags(given)
    result = train_control(config, seed=args.seed, run_dir=args.run_dir, resume=args.resume, given=given,
                           progress=not args.quiet)
    _print_figures(result.figures)
    print(f"run folder: {result.run.path}")
    return 0


# --- solve ------------------------------------------------------------------------------------------------
def _dp_gamma_default() -> str:
    special = ", ".join(f"{family}: {traits.dp_gamma}" for family, traits in FAMILIES.items()
                        if traits.dp_gamma != GENERIC.dp_gamma)
    return f"1.0 for finite-horizon; else {GENERIC.dp_gamma}" + (f" ({special}, where every policy ends its "
                                                                 "episodes)" if special else "")


def _add_solve(commands) -> None:
    solve = commands.add_parser(
        "solve", help="dynamic programming on the env's exact model",
        description="Solve the env from its model (env.unwrapped.P; Blackjack's is built exactly). Writes the same "
                    "run folder as train, so eval and plot work on it. finite-horizon is the exact optimum within "
                    "the registered time limit (value iteration with gamma 1 where there is none).",
    )
    flags = add_config_flags(
        solve, DPConfig,
        choices={"method": DP_METHODS},
        parsers={"gamma": probability, "theta": positive_float, "horizon": positive_int},
        defaults={"gamma": _dp_gamma_default(),
                  "horizon": "the registered time limit; value iteration to convergence where there is none"},
        docs={"env": f"{_ENV_HELP}, with a model (env.unwrapped.P, or Blackjack's)",
              "env_kwargs": _TRAIN_DOCS["env_kwargs"], "horizon": "steps of the finite-horizon solution"},
    )
    solve.add_argument("--run-dir", metavar="DIR", default=None, help="run folder to write (default: runs/tabular/<UTC timestamp>)")
    solve.add_argument("--seed", type=nonneg_int, default=0, metavar="N", help="seed of the evaluation episodes (default: 0)")
    solve.set_defaults(func=_solve, config_flags=flags)


def _solve(args: argparse.Namespace) -> int:
    from agents.tabular.envs import traits_for
    from agents.tabular.train import solve

    given = args.config_flags.given(args)
    method = given.get("method", DPConfig.method)
    env = given.get("env", DPConfig.env)
    gamma = 1.0 if method == "finite-horizon" else traits_for(env).dp_gamma
    config = DPConfig(**{"gamma": gamma, **given})
    result = solve(config, seed=args.seed, run_dir=args.run_dir)
    _print_figures(result.figures)
    print(f"run folder: {result.run.path}")
    return 0


# --- eval / plot ------------------------------------------------------------------------------------------
def _eval(args: argparse.Namespace) -> int:
    from agents.tabular.train import evaluate_run

    figures = evaluate_run(args.run_dir, episodes=args.episodes, seed=args.seed)
    _print_figures(figures)
    if args.json:
        emit_json(figures)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from agents.tabular.plots import plot_run
    from agents.tabular.run_folder import open_tabular_run

    run, _ = open_tabular_run(args.run_dir)
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
