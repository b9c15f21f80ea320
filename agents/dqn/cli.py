"""``rllab dqn train | eval | play | games``.

Imports no TensorFlow at import time (``rllab --help`` stays fast): the handlers import `agents.dqn.dqn`.
Every `DQNConfig` field is a ``train`` flag (``hidden_units`` -> ``--hidden-units``) whose help text is
the field's docstring, so the flags cannot drift from the config.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from agents.dqn.config import ATARI_DEFAULTS, BUDGET_FIELDS, DEFAULT_ENV, ENV_DEFAULTS, DQNConfig, config_for_env
from rllab.cli_common import (add_config_flags, add_eval_args, add_train_args, emit_json, nonneg_int, positive_int,
                               probability)

PER_ENV_DEFAULTS = {**ENV_DEFAULTS, "ALE/* (Atari)": ATARI_DEFAULTS}




def register(subparsers) -> None:
    group = subparsers.add_parser(
        "dqn", help="deep Q-networks on Gymnasium environments",
        description="Double DQN (Huber loss, Adam, n-step returns, optional dueling head) on any Gymnasium env "
                    "with a Box observation and Discrete actions, and on Atari games (ALE/<Game>-v5, pixels).",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_eval(commands)
    _add_play(commands)
    games = commands.add_parser("games", help="list the Atari game ids (ALE/<Game>-v5) that --env accepts",
                                description="List the Atari game ids whose ROMs ship with ale-py.")
    games.set_defaults(func=_games)


def _games(args) -> int:
    from agents.dqn.atari import game_ids

    print("\n".join(game_ids()))
    return 0


# --- train ------------------------------------------------------------------------------------------------
def _per_env_defaults() -> dict[str, str]:
    """The help's default of each field some env overrides: ``60000; Acrobot-v1: 100000``."""
    shown: dict[str, str] = {}
    for config_field in dataclasses.fields(DQNConfig):
        per_env = {env: values[config_field.name] for env, values in PER_ENV_DEFAULTS.items() if config_field.name in values}
        if per_env:
            base = config_field.default if config_field.default is not dataclasses.MISSING else config_field.default_factory()
            shown[config_field.name] = f"{base}" + "".join(f"; {env}: {value}" for env, value in per_env.items())
    return shown


def _add_train(commands) -> None:
    env_defaults = "; ".join(f"{env}: {values}" for env, values in PER_ENV_DEFAULTS.items())
    parser = commands.add_parser(
        "train", help="train a DQN agent (writes a run folder)",
        description="Train Double DQN on a Gymnasium env or an Atari game (--env ALE/Breakout-v5: pixels, "
                    "ale_py's vector env; 'rllab dqn games' lists them). Every flag left out takes the env's default: the "
                    "config defaults overridden per env as listed below. The run folder gets config.json, "
                    "metrics.csv, tensorboard/, checkpoints/ and artifacts/q_network.keras (the final greedy "
                    "Q-network: the best-evaluated one if it beats the last).",
        epilog=f"Per-env defaults: {env_defaults}. Ctrl-C saves a checkpoint; the same command with --resume "
               "continues from it.",
    )
    from agents.dqn.networks import NETWORKS
    from agents.dqn.replay import REPLAY_BUFFERS

    flags = add_config_flags(
        parser, DQNConfig,
        flag_names={"env_id": "--env"},
        choices={"network": tuple(NETWORKS), "replay": tuple(REPLAY_BUFFERS)},
        docs={"env_id": "Gymnasium env id with a Box observation and Discrete actions"},
        parsers={"learning_starts": nonneg_int},
        defaults=_per_env_defaults(),
    )
    add_train_args(parser, "dqn", seed_help="seed of Python, NumPy, TensorFlow and the environments",
                   budget_flags=[flags.flags[name] for name in BUDGET_FIELDS])
    parser.set_defaults(func=_train, config_flags=flags)


def _train(args) -> int:
    given = args.config_flags.given(args)
    config = config_for_env(given.get("env_id", DEFAULT_ENV), {k: v for k, v in given.items() if k != "env_id"})
    from agents.dqn import dqn

    summary = dqn.train(config, seed=args.seed, run_dir=args.run_dir, resume=args.resume, given=given)
    solved = summary["first_solved_env_step"]
    print(f"{summary['env_id']}: {summary['env_steps']} env steps; final policy = {summary['final_policy']} "
          f"(eval mean {summary['final_policy_eval_mean']:.1f} at step {summary['final_policy_env_step']}); "
          f"first solved at {solved if solved is not None else 'never'}; saved {summary['final_model']}")
    return 0


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
    _add_epsilon(parser)
    parser.set_defaults(func=_eval)


def _add_epsilon(parser) -> None:
    parser.add_argument("--epsilon", type=probability, default=None, metavar="X",
                        help="probability of a random action instead of the greedy one (default: the run's "
                             "--eval-epsilon: 0 for classic control, 0.05 for Atari, whose games a policy that "
                             "never serves would stall until the 108,000-frame cap)")


def _eval(args) -> int:
    from agents.dqn import dqn
    from agents.dqn.envs import make_envs
    from rllab.runs import Run

    run = Run.open(args.run_dir, dqn.RUN_KIND)
    config = dqn.config_from_dict(run.config)
    epsilon = config.eval_epsilon if args.epsilon is None else args.epsilon
    envs = make_envs(config, min(args.episodes, 32), evaluation=True)
    greedy = dqn.make_greedy_policy(dqn.load_q_network(run), envs.single_observation_space.dtype)
    policy = dqn.with_epsilon(greedy, epsilon, int(envs.single_action_space.n), args.seed)
    try:
        returns = dqn.run_greedy_episodes(policy, envs, args.episodes, args.seed)
    finally:
        envs.close()
    stats = dqn.return_stats(returns)
    stats["median_return"] = float(np.median(returns))
    print(f"{config.env_id}: mean return {stats['mean_return']:.2f} ± {stats['std_return']:.2f} "
          f"(median {stats['median_return']:.1f}, min {stats['min_return']:.1f}, max {stats['max_return']:.1f}) "
          f"over {args.episodes} episodes at epsilon {epsilon:g}")
    if args.json:
        emit_json({"env_id": config.env_id, "episodes": args.episodes, "epsilon": epsilon, **stats})
    return 0


# --- play -------------------------------------------------------------------------------------------------
def _add_play(commands) -> None:
    parser = commands.add_parser(
        "play", help="record greedy episodes of a run as a GIF or MP4",
        description="Run greedy episodes of artifacts/q_network.keras with rgb_array rendering and save them "
                    "as one animation (.gif or .mp4).",
    )
    parser.add_argument("--run-dir", metavar="DIR", required=True, help="run folder written by train")
    parser.add_argument("--episodes", type=positive_int, default=1, metavar="K", help="episodes to record (default: 1)")
    parser.add_argument("--video", required=True, metavar="PATH", help="output file ending in .gif or .mp4")
    parser.add_argument("--fps", type=positive_int, default=30, metavar="N", help="frames per second (default: 30)")
    parser.add_argument("--frame-every", type=positive_int, default=1, metavar="N",
                        help="keep every N-th frame (smaller files for long episodes; default: 1)")
    parser.add_argument("--seed", type=nonneg_int, default=0, metavar="N",
                        help="episode i starts from reset(seed=N+i) (default: 0)")
    _add_epsilon(parser)
    parser.set_defaults(func=_play)


def _play(args) -> int:
    from rllab.plotting import check_video_path, save_video

    check_video_path("--video", args.video)  # before the episodes are played, not after
    from agents.dqn import dqn
    from agents.dqn.envs import make_single_env
    from rllab.runs import Run

    run = Run.open(args.run_dir, dqn.RUN_KIND)
    config = dqn.config_from_dict(run.config)
    env = make_single_env(config, render_mode="rgb_array")
    greedy = dqn.make_greedy_policy(dqn.load_q_network(run), env.observation_space.dtype)
    epsilon = config.eval_epsilon if args.epsilon is None else args.epsilon
    policy = dqn.with_epsilon(greedy, epsilon, int(env.action_space.n), args.seed)
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
    path = save_video(frames, args.video, fps=args.fps)
    print(f"{config.env_id}: returns {', '.join(f'{r:.1f}' for r in returns)}; "
          f"{len(frames)} frames written to {path}")
    return 0
