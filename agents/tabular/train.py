"""Training, solving, evaluating and plotting runs: what ``rllab tabular train/solve/eval/plot`` call.

A run folder (`rllab.runs.Run`, kind "tabular") holds::

    config.json              the method's dataclass config, seed, versions (and --resume changes)
    metrics.csv              one row per log interval (episode, return, epsilon, greedy value, ...)
    checkpoints/state.npz    tables, counters and RNG states at the last save (--resume; no pickle)
    checkpoints/best_q.npy   the table whose greedy policy measured best so far, with best.json
                             (its value and episode: `rllab.lifecycle.KeepBest`)
    artifacts/q_table.npy    the Q table ((S, A); (H, S, A) for a finite-horizon solution)
    artifacts/result.json    final greedy evaluation, exact optimum, episodes to reach the target
    artifacts/*.png          learning curve, value / policy pictures; episode.txt or episode.gif

The run lifecycle is `rllab.lifecycle`'s: `open_run` (new or resumed, with the flags typed checked
against the stored config; ``--episodes`` extends a run), `KeepBest`, and `StopRequests` (Ctrl-C or
SIGTERM finishes the episode, saves a checkpoint and the final report, then raises `RunInterrupted`).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from agents.tabular import dp
from agents.tabular.agent import Agent, run_episode
from agents.tabular.config import ControlConfig, DPConfig, config_from_dict, field_flag
from agents.tabular.envs import exploring_start, exploring_starts, make_tabular_env
from agents.tabular.evaluate import Reference, at_optimum, meets_target, play_greedy, reference_for, summarize
from agents.tabular.mc import MC_AGENTS
from agents.tabular.run_folder import GROUP, KIND, load_q_table, open_tabular_run
from agents.tabular.td import TD_AGENTS
from rllab import lifecycle
from rllab.checks import check_memory
from rllab.errors import UsageError
from rllab.metrics import MetricsWriter, drop_rows_from
from rllab.runs import CONFIG_NAME, Run, save_npy_atomic, save_npz_atomic
from rllab.seeding import rng_state, seed_everything, set_rng_state

__all__ = ["GROUP", "KIND", "BUDGET", "TrainResult", "train_control", "solve", "evaluate_run", "load_q_table",
           "open_tabular_run", "make_agent", "config_from_dict"]

METRIC_KEYS = ("episode", "env_steps", "return_mean", "length_mean", "epsilon", "step_size",
               "greedy_return", "elapsed_s")
EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use seeds far from the training seed
BUDGET = ("episodes",)
"""Config paths that --resume may change: they extend the run."""
CHECKPOINT = "state.npz"
BEST_Q, BEST_RECORD = "best_q.npy", "best.json"


def make_agent(config: ControlConfig, n_states: int, n_actions: int, rng: np.random.Generator) -> Agent:
    agents = {**TD_AGENTS, **MC_AGENTS}
    return agents[config.algo](n_states, n_actions, config, rng)


@dataclass
class TrainResult:
    run: Run
    q: np.ndarray
    figures: dict
    """The final greedy evaluation (see `agents.tabular.evaluate.summarize`)."""
    episodes_to_target: int | None
    wall_s: float


def _check_resumable(run_dir, given: Mapping[str, Any]) -> None:
    """Refuse, before anything is written, to resume a solve run or to shrink a run below what it trained."""
    if run_dir is None or not (Path(run_dir) / CONFIG_NAME).is_file():
        return  # lifecycle.open_run explains (no --run-dir) or starts a new run (nothing saved yet)
    run = Run.open(run_dir, KIND)
    if "method" in run.config:
        raise UsageError(f"{str(run.path)!r} holds a solve run; only train runs can be resumed")
    checkpoint = run.checkpoints_dir / CHECKPOINT
    if "episodes" in given and (checkpoint.is_file() or _previous(checkpoint).is_file()):
        with _open_checkpoint(checkpoint) as saved:
            trained = int(saved["episode"])
        if given["episodes"] < trained:
            raise UsageError(f"--episodes {given['episodes']} is fewer than the {trained} episodes {str(run.path)!r} "
                             f"has trained; give at least {trained}")


@contextlib.contextmanager
def _open_checkpoint(path: Path):
    """The arrays of the newest intact checkpoint: ``state.npz``, else the one before it
    (``state.prev.npz``), with a one-line notice; when neither reads back, a one-line error."""
    damaged = []
    for candidate in (path, _previous(path)):
        if not candidate.is_file():
            continue
        try:
            arrays = _read_checkpoint(candidate)
        except ValueError as exc:
            damaged.append(f"{candidate.name} ({exc})")
            continue
        if damaged:
            print(f"rllab: damaged checkpoint {damaged[0]}: resuming from {candidate.name}", file=sys.stderr, flush=True)
        yield arrays
        return
    raise UsageError(f"no intact checkpoint in {str(path.parent)!r}: {'; '.join(damaged) or 'none found'}; delete "
                     "them to train the run again from the beginning")


def _previous(path: Path) -> Path:
    return path.with_name(path.name.replace(".npz", ".prev.npz"))


def _read_checkpoint(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"unreadable: {type(exc).__name__}") from None
    missing = {"episode", "env_steps", "returns", "lengths", "rng", "env_rng"} - set(arrays)
    if missing:
        raise ValueError(f"lacks {', '.join(sorted(missing))}")
    return arrays


def _control_config(data: dict) -> ControlConfig:
    config = config_from_dict(data)
    if not isinstance(config, ControlConfig):
        raise TypeError("not a train config")
    return config


def train_control(config: ControlConfig | None, *, seed: int | None = None, run_dir=None, resume: bool = False,
                  given: Mapping[str, Any] | None = None, progress: bool = True,
                  write_plots: bool = True) -> TrainResult:
    """Train a learner on its env, log metrics, keep the Q table and measure its greedy policy.

    ``resume=True`` continues the run in ``run_dir`` from its last checkpoint with its stored config
    and seed; ``given`` (the config values the user typed, by path: ``"episodes"``,
    ``"epsilon.start"``) must equal the stored ones, except ``episodes``, which extends the run (a
    finished run then trains on). A folder that does not exist yet starts a new run from ``config``.
    Ctrl-C or SIGTERM finishes the current episode, saves a checkpoint and the final report, then
    raises `rllab.lifecycle.RunInterrupted`; a second Ctrl-C aborts at once, keeping the last checkpoint.
    """
    given = dict(given or {})
    if resume:
        _check_resumable(run_dir, given)
    made: dict = {}

    budget = given.get("episodes", config.episodes if config is not None else None)
    if budget is not None:
        check_memory(f"--episodes {budget}", budget * 16)  # a return and a length per episode, before any folder

    def make_envs(new_config: ControlConfig) -> None:
        # Before a new run folder exists: a bad env or --env-kwargs leaves nothing behind.
        made["env"] = make_tabular_env(new_config.env, new_config.env_kwargs,
                                       max_episode_steps=new_config.max_episode_steps)
        made["eval_env"] = make_tabular_env(new_config.env, new_config.env_kwargs,
                                            max_episode_steps=new_config.max_episode_steps)

    start_info = lifecycle.open_run(
        GROUP, KIND, config, seed=seed, run_dir=run_dir, resume=resume, from_dict=_control_config, given=given,
        budget=BUDGET, flags={path: field_flag(path) for path in given}, before_create=make_envs)
    run, config, seed = start_info.run, start_info.config, start_info.seed
    if not made:
        make_envs(config)
    env, eval_env = made["env"], made["eval_env"]
    rng = seed_everything(seed, tensorflow=False)
    reference = reference_for(eval_env, step_cap=config.max_episode_steps)
    agent = make_agent(config, env.n_states, env.n_actions, rng)
    start = exploring_starts(env, rng, config.random_start_share) if config.algo == "mc-es" else None
    if start is not None:
        env.reset(seed=seed)
        exploring_start(env, rng)  # fail now, not mid-run, if the env's state cannot be set

    returns = np.zeros(config.episodes)
    lengths = np.zeros(config.episodes, dtype=np.int64)
    first_episode, env_steps, episodes_to_target, elapsed_before = 0, 0, None, 0.0
    optimal_streak = 0  # evaluations in a row at which the greedy policy was worth the optimum
    checkpoint = run.checkpoints_dir / CHECKPOINT
    best_q_path = run.checkpoints_dir / BEST_Q
    restored, metrics_rows = False, 0  # rows of metrics.csv that the checkpoint accounts for
    has_checkpoint = checkpoint.is_file() or _previous(checkpoint).is_file()
    if start_info.resumed and not has_checkpoint:
        start_info.no_checkpoint_yet()
        for stale in (best_q_path, run.checkpoints_dir / BEST_RECORD):
            stale.unlink(missing_ok=True)
    keep_best = lifecycle.KeepBest(run.checkpoints_dir / BEST_RECORD, "greedy_return", mode="max",
                                   save=lambda: save_npy_atomic(best_q_path, agent.greedy_q()))
    if start_info.resumed and has_checkpoint:
        restored = True
        with _open_checkpoint(checkpoint) as saved:
            agent.load_state_arrays({k[len("agent/"):]: saved[k] for k in saved if k.startswith("agent/")})
            first_episode, env_steps = int(saved["episode"]), int(saved["env_steps"])
            done = min(first_episode, config.episodes)
            returns[:done], lengths[:done] = saved["returns"][:done], saved["lengths"][:done]
            target = int(saved["episodes_to_target"])
            episodes_to_target = target if target >= 0 else None
            elapsed_before = float(saved["elapsed_s"])
            optimal_streak = int(saved["optimal_streak"]) if "optimal_streak" in saved else 0
            set_rng_state(rng, saved["rng"])
            env.reset(seed=seed)  # create the env's generator, then put it where it was
            set_rng_state(env.env.unwrapped.np_random, saved["env_rng"])
            metrics_rows = int(saved["metrics_rows"]) if "metrics_rows" in saved else None
            if "best_episode" in saved and int(saved["best_episode"]) >= 0 and keep_best.value is None:
                # A checkpoint written before keep-the-best had its own files: move its best table out.
                old_best = saved["best_q"].copy()
                keep_best.save = lambda: save_npy_atomic(best_q_path, old_best)
                keep_best.update(float(saved["best_value"]), int(saved["best_episode"]))
                keep_best.save = lambda: save_npy_atomic(best_q_path, agent.greedy_q())
        if metrics_rows is not None:
            drop_rows_from(run.metrics_csv, metrics_rows)  # rows logged after the checkpoint are logged again
    metrics = MetricsWriter(run.metrics_csv, METRIC_KEYS, append=restored)
    log_every = config.eval_every or max(1, config.episodes // 100)

    def save_checkpoint(episode: int) -> None:
        if checkpoint.is_file():  # keep the one before: a damaged newest checkpoint then costs one interval
            os.replace(checkpoint, _previous(checkpoint))
        save_npz_atomic(
            checkpoint, episode=np.array(episode), env_steps=np.array(env_steps), returns=returns[:episode],
            lengths=lengths[:episode], rng=rng_state(rng), env_rng=rng_state(env.env.unwrapped.np_random),
            episodes_to_target=np.array(-1 if episodes_to_target is None else episodes_to_target),
            elapsed_s=np.array(elapsed_before + time.monotonic() - started), metrics_rows=np.array(metrics.epoch),
            optimal_streak=np.array(optimal_streak),
            **{f"agent/{k}": v for k, v in agent.state_arrays().items()},
        )

    started = time.monotonic()
    episode = saved_episode = first_episode
    if progress:
        resumed = f", resuming after episode {first_episode}" if restored else ""
        print(f"training {config.algo} on {config.env} for {config.episodes} episodes "
              f"(optimum {_show(reference.optimum)}{resumed}) -> {run.path}", flush=True)
    with lifecycle.StopRequests("finishing this episode, then saving a checkpoint and the final report") as stop:
        try:
            while episode < config.episodes and not stop.requested and not _stops_at_optimum(config, optimal_streak):
                # The first reset of a fresh run is seeded; later resets continue the env's generator.
                reset_seed = seed if episode == 0 else None
                returns[episode], lengths[episode] = run_episode(env, agent, episode, start=start, seed=reset_seed)
                env_steps += int(lengths[episode])
                episode += 1
                if episode % log_every == 0 or episode == config.episodes:
                    greedy = None
                    if config.eval_every:
                        greedy = _greedy_value(agent.greedy_q(), reference, eval_env, config.eval_episodes, seed)
                        if episodes_to_target is None and reference.optimum is not None and meets_target(greedy, reference.optimum):
                            episodes_to_target = episode
                        if config.keep_best:
                            keep_best.update(greedy, episode)
                        if reference.model is not None and reference.optimum is not None:
                            optimal_streak = optimal_streak + 1 if at_optimum(greedy, reference.optimum) else 0
                    window = slice(max(0, episode - log_every), episode)
                    elapsed = elapsed_before + time.monotonic() - started
                    metrics.write({"episode": episode, "env_steps": env_steps, "return_mean": returns[window].mean(),
                                   "length_mean": lengths[window].mean(), "epsilon": agent.epsilon,
                                   "step_size": agent.step_size, "greedy_return": greedy, "elapsed_s": elapsed})
                    save_checkpoint(episode)
                    saved_episode = episode
                    if progress:
                        print(f"episode {episode}/{config.episodes}  return(mean of {log_every}) "
                              f"{returns[window].mean():.4g}  greedy {_show(greedy)}  eps {agent.epsilon:.3g}  "
                              f"{elapsed:.1f}s", flush=True)
        except KeyboardInterrupt:
            # A second Ctrl-C mid-episode: the state is between two steps, not worth saving. The last
            # checkpoint stays as it is (between episodes), so --resume continues exactly from there.
            env.close()
            eval_env.close()
            kept = (f"the checkpoint of episode {saved_episode} is kept" if checkpoint.is_file()
                    else "nothing was saved yet")
            raise lifecycle.RunInterrupted(run.path, f"aborted in episode {episode + 1}; {kept}") from None
        if stop.requested and saved_episode != episode:
            save_checkpoint(episode)
    if progress and _stops_at_optimum(config, optimal_streak) and episode < config.episodes:
        print(f"stopped after episode {episode} of {config.episodes}: the greedy policy was worth the optimum at "
              f"{optimal_streak} evaluations in a row (--stop-at-optimum)", flush=True)
    wall = elapsed_before + time.monotonic() - started

    last_q = agent.greedy_q()
    use_best = config.keep_best and keep_best.value is not None and best_q_path.is_file()
    q = np.load(best_q_path, allow_pickle=False) if use_best else last_q
    figures = _final_report(run, q, eval_env, reference, config.final_eval_episodes, seed)
    figures.update({"table_from_episode": keep_best.step if use_best else episode,
                    "last_table_greedy_return": _greedy_value(last_q, reference, eval_env, config.eval_episodes, seed)})
    figures.update({"algo": config.algo, "env": config.env, "episodes_trained": episode, "env_steps": env_steps,
                    "episodes_to_target": episodes_to_target, "train_wall_s": wall})
    if _stops_at_optimum(config, optimal_streak):
        figures["stopped_at_optimum"] = True  # the budget was not needed: the greedy policy was optimal
    elif episode < config.episodes:
        figures["stopped_early"] = True
    save_npy_atomic(run.artifact("returns.npy"), returns[:episode])
    save_npy_atomic(run.artifact("lengths.npy"), lengths[:episode])
    run.write_json("result.json", figures)
    if write_plots:
        from agents.tabular.plots import plot_run

        plot_run(run)
    env.close()
    eval_env.close()
    if stop.requested and episode < config.episodes:
        raise lifecycle.RunInterrupted(run.path, f"stopped after episode {episode} of {config.episodes}; "
                                                 "checkpoint and report saved")
    return TrainResult(run, q, figures, episodes_to_target, wall)


def _stops_at_optimum(config: ControlConfig, optimal_streak: int) -> bool:
    return config.stop_at_optimum > 0 and optimal_streak >= config.stop_at_optimum


def _greedy_value(q: np.ndarray, reference: Reference, env, episodes: int, seed: int) -> float:
    """Exact value of the greedy policy when there is a model; else a Monte Carlo estimate."""
    if reference.model is not None:
        return reference.policy_value(q)
    returns, _ = play_greedy(env, q, episodes=episodes, seed=seed + EVAL_SEED_OFFSET)
    return float(returns.mean())


def _final_report(run: Run, q: np.ndarray, env, reference: Reference, episodes: int, seed: int) -> dict:
    save_npy_atomic(run.artifact("q_table.npy"), q)
    save_npy_atomic(run.artifact("policy.npy"), dp.greedy_actions(q))
    returns, lengths = play_greedy(env, q, episodes=episodes, seed=seed + EVAL_SEED_OFFSET)
    figures = summarize(returns, lengths, reference, q)
    if reference.optimum is not None:
        figures["meets_target"] = bool(meets_target(figures["exact_return"], reference.optimum))
    return figures


def _show(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def solve(config: DPConfig, *, seed: int = 0, run_dir=None, progress: bool = True, write_plots: bool = True) -> TrainResult:
    """Dynamic programming on the env's model; writes the same run-folder layout as `train_control`."""
    from agents.tabular.model import build_model

    env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps)
    model = build_model(env)  # a bad env, or one without a model, leaves no run folder behind
    if config.method == "finite-horizon":
        horizon = config.horizon if config.horizon is not None else model.time_limit
        if horizon is not None:
            check_memory(f"--horizon {horizon}", horizon * model.n_states * model.n_actions * 8)
    run = Run.create(GROUP, KIND, config, seed=seed, run_dir=run_dir)
    seed_everything(seed, tensorflow=False)
    started = time.monotonic()
    if config.method == "value-iteration":
        result = dp.value_iteration(model, gamma=config.gamma, theta=config.theta)
    elif config.method == "policy-iteration":
        result = dp.policy_iteration(model, gamma=config.gamma, theta=config.theta)
    else:
        result = dp.finite_horizon(model, config.horizon, gamma=config.gamma)
    wall = time.monotonic() - started
    reference = reference_for(env, step_cap=config.max_episode_steps)
    q = dp.observed_q(model, result.q)
    save_npy_atomic(run.artifact("v_table.npy"), result.v[: model.n_observed])
    figures = _final_report(run, q, env, reference, config.eval_episodes, seed)
    figures.update({"method": config.method, "env": config.env, "iterations": result.iterations,
                    "evaluation_sweeps": result.evaluation_sweeps, "solve_wall_s": wall,
                    "model_value": float(model.initial @ result.v)})
    MetricsWriter(run.metrics_csv, ["iterations", "model_value", "exact_return", "mean_return", "solve_wall_s"]).write(
        {"iterations": result.iterations, "model_value": figures["model_value"],
         "exact_return": figures.get("exact_return"), "mean_return": figures["mean_return"], "solve_wall_s": wall})
    run.write_json("result.json", figures)
    if progress:
        print(f"{config.method} on {config.env}: {result.iterations} iterations in {wall:.2f}s, "
              f"value {figures['model_value']:.6g}, greedy policy {figures.get('exact_return', figures['mean_return']):.6g} "
              f"(optimum {_show(reference.optimum)}) -> {run.path}", flush=True)
    if write_plots:
        from agents.tabular.plots import plot_run

        plot_run(run)
    env.close()
    return TrainResult(run, q, figures, None, wall)


def evaluate_run(run_dir, *, episodes: int = 2000, seed: int | None = None) -> dict:
    """Greedy evaluation of a run's Q table on ``episodes`` fresh episodes, with the exact optimum."""
    run, config = open_tabular_run(run_dir)
    q = load_q_table(run)
    env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps)
    if q.shape[-2:] != (env.n_states, env.n_actions):
        raise UsageError(f"the Q table of {str(run.path)!r} has shape {q.shape}, but {config.env} has "
                         f"{env.n_states} states and {env.n_actions} actions")
    reference = reference_for(env, step_cap=config.max_episode_steps)
    seed = run.seed + EVAL_SEED_OFFSET if seed is None else seed
    returns, lengths = play_greedy(env, q, episodes=episodes, seed=seed)
    figures = summarize(returns, lengths, reference, q)
    figures.update({"env": config.env, "run_dir": str(run.path)})
    env.close()
    return figures
