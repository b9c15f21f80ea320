"""``rllab dqn train | eval | play``.

Imports no TensorFlow at import time (``rllab --help`` stays fast): the handlers import `agents.dqn.dqn`.
Every `DQNConfig` field is a ``train`` flag (``hidden_units`` -> ``--hidden-units``) whose help text is
the field's docstring, so the flags cannot drift from the config.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing

from agents.dqn.config import ENV_DEFAULTS, DQNConfig, config_for_env, field_docs
from rllab.cli_common import add_eval_args, add_train_args, emit_json, json_object, nonneg_int, positive_int
from rllab.errors import UsageError

DEFAULT_ENV = "CartPole-v1"
VIDEO_SUFFIXES = (".gif", ".mp4")


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "dqn", help="deep Q-networks on Gymnasium environments",
        description="Double DQN (Huber loss, Adam, n-step returns, optional dueling head) on any Gymnasium env "
                    "with a Box observation and Discrete actions.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_eval(commands)
    _add_play(commands)


# --- train ------------------------------------------------------------------------------------------------
def _config_flags() -> list[dataclasses.Field]:
    """The config fields exposed as flags (env_id is --env)."""
    return [f for f in dataclasses.fields(DQNConfig) if f.name != "env_id"]


NONE = "none"
"""What --stop-threshold none parses to (a flag left out parses to None: keep the env's default)."""


def _optional_float(text: str) -> float | str:
    if text.lower() == NONE:
        return NONE
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _add_config_flag(parser: argparse.ArgumentParser, config_field: dataclasses.Field, doc: str) -> None:
    flag = "--" + config_field.name.replace("_", "-")
    default = config_field.default if config_field.default is not dataclasses.MISSING else config_field.default_factory()
    per_env = {env: values[config_field.name] for env, values in ENV_DEFAULTS.items() if config_field.name in values}
    shown = f"default: {default}" + "".join(f"; {env}: {value}" for env, value in per_env.items())
    help_text = f"{doc} ({shown})"
    annotation = typing.get_type_hints(DQNConfig)[config_field.name]
    if annotation is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
    elif annotation is int:
        int_type = nonneg_int if config_field.name in ("learning_starts",) else positive_int
        parser.add_argument(flag, type=int_type, default=None, metavar="N", help=help_text)
    elif annotation is float:
        parser.add_argument(flag, type=float, default=None, metavar="X", help=help_text)
    elif annotation == (float | None):
        parser.add_argument(flag, type=_optional_float, default=None, metavar="X|none", help=help_text)
    elif annotation is str:
        parser.add_argument(flag, default=None, metavar="NAME", help=help_text)
    elif annotation is dict:
        parser.add_argument(flag, type=json_object, default=None, metavar="JSON", help=help_text)
    elif annotation == tuple[int, ...]:
        parser.add_argument(flag, type=positive_int, nargs="+", default=None, metavar="N", help=help_text)
    else:  # a new field type needs a line here; fail loudly rather than silently drop the flag
        raise TypeError(f"no command-line flag type for DQNConfig.{config_field.name}: {annotation}")


def _add_train(commands) -> None:
    env_defaults = "; ".join(f"{env}: {values}" for env, values in ENV_DEFAULTS.items())
    parser = commands.add_parser(
        "train", help="train a DQN agent (writes a run folder)",
        description="Train Double DQN on a Gymnasium env. Every flag left out takes the env's default: the "
                    "config defaults overridden per env as listed below. The run folder gets config.json, "
                    "metrics.csv, tensorboard/, checkpoints/ and artifacts/q_network.keras (the final greedy "
                    "Q-network: the best-evaluated one if it beats the last).",
        epilog=f"Per-env defaults: {env_defaults}. Ctrl-C saves a checkpoint; --resume continues from it.",
    )
    parser.add_argument("--env", default=None, metavar="ID",
                        help=f"Gymnasium env id with a Box observation and Discrete actions (default: {DEFAULT_ENV})")
    add_train_args(parser, "dqn")
    docs = field_docs()
    for config_field in _config_flags():
        _add_config_flag(parser, config_field, docs[config_field.name])
    parser.set_defaults(func=_train)


def _train(args) -> int:
    overrides = {f.name: getattr(args, f.name) for f in _config_flags() if getattr(args, f.name) is not None}
    overrides = {name: None if value == NONE else value for name, value in overrides.items()}
    if args.resume:
        given = sorted(overrides) + (["env"] if args.env else [])
        if given:
            raise UsageError(f"--resume continues with the run's stored config; drop {', '.join(given)}")
        config = None
    else:
        config = config_for_env(args.env or DEFAULT_ENV, overrides)
    from agents.dqn import dqn

    summary = dqn.train(config, seed=args.seed, run_dir=args.run_dir, resume=args.resume)
    solved = summary["first_solved_env_step"]
    print(f"{summary['env_id']}: {summary['env_steps']} env steps; final policy = {summary['final_policy']} "
          f"(eval mean {summary['final_policy_eval_mean']:.1f} at step {summary['final_policy_env_step']}); "
          f"first solved at {solved if solved is not None else 'never'}; saved {summary['final_model']}")
    return 130 if summary["interrupted"] else 0


# --- eval -------------------------------------------------------------------------------------------------
def _add_eval(commands) -> None:
    parser = commands.add_parser(
        "eval", help="score a run's final greedy Q-network",
        description="Run greedy episodes of artifacts/q_network.keras and report mean, std, min and max return.",
    )
    add_eval_args(parser)
    parser.add_argument("--episodes", type=positive_int, default=100, metavar="N",
                        help="greedy episodes to run (default: 100)")
    parser.add_argument("--seed", type=nonneg_int, default=0, metavar="N",
                        help="episode i starts from reset(seed=N+i) (default: 0)")
    parser.set_defaults(func=_eval)


def _eval(args) -> int:
    from agents.dqn import dqn
    from agents.dqn.envs import make_vec_env
    from rllab.runs import Run

    run = Run.open(args.run_dir, dqn.RUN_KIND)
    config = dqn.config_from_dict(run.config)
    envs = make_vec_env(config.env_id, min(args.episodes, 32), env_kwargs=config.env_kwargs)
    policy = dqn.make_greedy_policy(dqn.load_q_network(run), envs.single_observation_space.dtype)
    try:
        returns = dqn.run_greedy_episodes(policy, envs, args.episodes, args.seed)
    finally:
        envs.close()
    stats = dqn.return_stats(returns)
    print(f"{config.env_id}: mean return {stats['mean_return']:.2f} ± {stats['std_return']:.2f} "
          f"(min {stats['min_return']:.1f}, max {stats['max_return']:.1f}) over {args.episodes} greedy episodes")
    if args.json:
        emit_json({"env_id": config.env_id, "episodes": args.episodes, **stats})
    return 0


# --- play -------------------------------------------------------------------------------------------------
def _add_play(commands) -> None:
    parser = commands.add_parser(
        "play", help="record greedy episodes of a run as a GIF or MP4",
        description="Run greedy episodes of artifacts/q_network.keras with rgb_array rendering and save them "
                    "as one animation (.gif, or .mp4 when imageio's ffmpeg plugin is installed).",
    )
    parser.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train")
    parser.add_argument("--episodes", type=positive_int, default=1, metavar="K", help="episodes to record (default: 1)")
    parser.add_argument("--video", required=True, metavar="PATH", help="output file ending in .gif or .mp4")
    parser.add_argument("--fps", type=positive_int, default=30, metavar="N", help="frames per second (default: 30)")
    parser.add_argument("--frame-every", type=positive_int, default=1, metavar="N",
                        help="keep every N-th frame (smaller files for long episodes; default: 1)")
    parser.add_argument("--seed", type=nonneg_int, default=0, metavar="N",
                        help="episode i starts from reset(seed=N+i) (default: 0)")
    parser.set_defaults(func=_play)


def _play(args) -> int:
    from pathlib import Path

    suffix = Path(args.video).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise UsageError(f"--video must end in {' or '.join(VIDEO_SUFFIXES)}, got {args.video!r}")
    if suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401  (imageio needs it to write MP4)
        except ImportError:
            raise UsageError("--video .mp4 needs the imageio-ffmpeg package; install it or write a .gif") from None
    from agents.dqn import dqn
    from agents.dqn.envs import make_env
    from rllab.plotting import save_gif
    from rllab.runs import Run

    run = Run.open(args.run_dir, dqn.RUN_KIND)
    config = dqn.config_from_dict(run.config)
    env = make_env(config.env_id, render_mode="rgb_array", env_kwargs=config.env_kwargs)
    policy = dqn.make_greedy_policy(dqn.load_q_network(run), env.observation_space.dtype)
    frames, returns = [], []
    try:
        for episode in range(args.episodes):
            obs, _ = env.reset(seed=args.seed + episode)
            total, step, done = 0.0, 0, False
            while not done:
                if step % args.frame_every == 0:
                    frames.append(env.render())
                obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
                total, step, done = total + float(reward), step + 1, terminated or truncated
            frames.append(env.render())  # the final state
            returns.append(total)
    finally:
        env.close()
    path = save_gif(frames, args.video, fps=args.fps)
    print(f"{config.env_id}: returns {', '.join(f'{r:.1f}' for r in returns)}; "
          f"{len(frames)} frames written to {path}")
    return 0
