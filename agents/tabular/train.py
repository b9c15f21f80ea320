"""Training, solving, evaluating and plotting runs: what ``rllab tabular train/solve/eval/plot`` call.

A run folder (`rllab.runs.Run`, kind "tabular") holds::

    config.json            the method's dataclass config, seed, versions
    metrics.csv            one row per log interval (episode, return, epsilon, greedy value, ...)
    checkpoints/state.npz  tables, counters and RNG states at the last interval (--resume; no pickle)
    artifacts/q_table.npy  the Q table ((S, A); (H, S, A) for a finite-horizon solution)
    artifacts/result.json  final greedy evaluation, exact optimum, episodes to reach the target
    artifacts/*.png        learning curve, value / policy pictures; episode.txt or episode.gif
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from agents.tabular import dp
from agents.tabular.agent import Agent, run_episode
from agents.tabular.config import ControlConfig, DPConfig, config_from_dict
from agents.tabular.envs import exploring_start, make_tabular_env
from agents.tabular.evaluate import Reference, meets_target, play_greedy, reference_for, summarize
from agents.tabular.mc import MC_AGENTS
from agents.tabular.td import TD_AGENTS
from rllab.errors import UsageError
from rllab.metrics import MetricsWriter, drop_rows_from
from rllab.runs import Run, save_npy_atomic, save_npz_atomic
from rllab.seeding import rng_state, seed_everything, set_rng_state

GROUP = KIND = "tabular"
METRIC_KEYS = ("episode", "env_steps", "return_mean", "length_mean", "epsilon", "step_size",
               "greedy_return", "elapsed_s")
EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use seeds far from the training seed


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
    interrupted: bool = False


def train_control(config: ControlConfig | None, *, seed: int = 0, run_dir=None, resume: bool = False,
                  progress: bool = True, write_plots: bool = True) -> TrainResult:
    """Train a learner on its env, log metrics, keep the Q table and measure its greedy policy.

    ``resume=True`` continues the run in ``run_dir`` from its last checkpoint with its stored config
    (``config`` may then be None); a finished run resumes to nothing new.
    """
    if config is None and not resume:
        raise UsageError("train needs a config (or --resume with --run-dir)")
    run = Run.create(GROUP, KIND, config if config is not None else {}, seed=seed, run_dir=run_dir, resume=resume)
    if resume:
        config, seed = config_from_dict(run.config), run.seed
        if not isinstance(config, ControlConfig):
            raise UsageError(f"{str(run.path)!r} holds a solve run; only train runs can be resumed")
    rng = seed_everything(seed, tensorflow=False)
    env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps)
    eval_env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps)
    reference = reference_for(eval_env, step_cap=config.max_episode_steps)
    agent = make_agent(config, env.n_states, env.n_actions, rng)
    start = (lambda: exploring_start(env, rng)) if config.algo == "mc-es" else None
    if start is not None:
        env.reset(seed=seed)
        start()  # fail now, not mid-run, if the env's state cannot be set

    returns = np.zeros(config.episodes)
    lengths = np.zeros(config.episodes, dtype=np.int64)
    first_episode, env_steps, episodes_to_target, elapsed_before = 0, 0, None, 0.0
    best_q, best_value, best_episode = None, -np.inf, -1  # the best greedy policy measured so far
    checkpoint = run.checkpoints_dir / "state.npz"
    metrics_rows = 0  # rows of metrics.csv that the checkpoint accounts for
    if resume and checkpoint.is_file():
        with np.load(checkpoint, allow_pickle=False) as saved:
            agent.load_state_arrays({k[len("agent/"):]: saved[k] for k in saved.files if k.startswith("agent/")})
            first_episode, env_steps = int(saved["episode"]), int(saved["env_steps"])
            done = min(first_episode, config.episodes)
            returns[:done], lengths[:done] = saved["returns"][:done], saved["lengths"][:done]
            target = int(saved["episodes_to_target"])
            episodes_to_target = target if target >= 0 else None
            elapsed_before = float(saved["elapsed_s"])
            best_value, best_episode = float(saved["best_value"]), int(saved["best_episode"])
            best_q = saved["best_q"].copy() if best_episode >= 0 else None
            set_rng_state(rng, saved["rng"])
            env.reset(seed=seed)  # create the env's generator, then put it where it was
            set_rng_state(env.env.unwrapped.np_random, saved["env_rng"])
            metrics_rows = int(saved["metrics_rows"]) if "metrics_rows" in saved.files else None
    if resume and metrics_rows is not None:
        drop_rows_from(run.metrics_csv, metrics_rows)  # rows logged after the checkpoint are logged again
    metrics = MetricsWriter(run.metrics_csv, METRIC_KEYS, append=resume)
    log_every = config.eval_every or max(1, config.episodes // 100)

    def save_checkpoint(episode: int) -> None:
        save_npz_atomic(
            checkpoint, episode=np.array(episode), env_steps=np.array(env_steps), returns=returns[:episode],
            lengths=lengths[:episode], rng=rng_state(rng), env_rng=rng_state(env.env.unwrapped.np_random),
            episodes_to_target=np.array(-1 if episodes_to_target is None else episodes_to_target),
            elapsed_s=np.array(elapsed_before + time.monotonic() - started),
            best_q=best_q if best_q is not None else np.zeros(0), best_value=np.array(best_value),
            best_episode=np.array(best_episode), metrics_rows=np.array(metrics.epoch),
            **{f"agent/{k}": v for k, v in agent.state_arrays().items()},
        )

    started = time.monotonic()
    interrupted = False
    episode = first_episode
    if progress:
        print(f"training {config.algo} on {config.env} for {config.episodes} episodes "
              f"(optimum {_show(reference.optimum)}) -> {run.path}", flush=True)
    try:
        while episode < config.episodes:
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
                    if greedy > best_value:
                        best_q, best_value, best_episode = agent.greedy_q().copy(), greedy, episode
                window = slice(max(0, episode - log_every), episode)
                elapsed = elapsed_before + time.monotonic() - started
                metrics.write({"episode": episode, "env_steps": env_steps, "return_mean": returns[window].mean(),
                               "length_mean": lengths[window].mean(), "epsilon": agent.epsilon,
                               "step_size": agent.step_size, "greedy_return": greedy, "elapsed_s": elapsed})
                save_checkpoint(episode)
                if progress:
                    print(f"episode {episode}/{config.episodes}  return(mean of {log_every}) "
                          f"{returns[window].mean():.4g}  greedy {_show(greedy)}  eps {agent.epsilon:.3g}  "
                          f"{elapsed:.1f}s", flush=True)
    except KeyboardInterrupt:
        # The checkpoint of the last interval stays as it is: it holds a consistent state (between
        # episodes), so --resume continues exactly as if nothing had happened.
        interrupted = True
        print(f"\ninterrupted in episode {episode + 1}; --resume --run-dir {run.path} continues from the "
              f"last checkpoint", file=sys.stderr, flush=True)
    wall = elapsed_before + time.monotonic() - started

    last_q = agent.greedy_q()
    keep_best = config.keep_best and best_q is not None
    q = best_q if keep_best else last_q
    figures = _final_report(run, q, eval_env, reference, config.final_eval_episodes, seed)
    figures.update({"table_from_episode": best_episode if keep_best else episode,
                    "last_table_greedy_return": _greedy_value(last_q, reference, eval_env, config.eval_episodes, seed)})
    figures.update({"algo": config.algo, "env": config.env, "episodes_trained": episode, "env_steps": env_steps,
                    "episodes_to_target": episodes_to_target, "train_wall_s": wall})
    save_npy_atomic(run.artifact("returns.npy"), returns[:episode])
    save_npy_atomic(run.artifact("lengths.npy"), lengths[:episode])
    run.write_json("result.json", figures)
    if write_plots:
        from agents.tabular.plots import plot_run

        plot_run(run)
    env.close()
    eval_env.close()
    if interrupted:
        raise KeyboardInterrupt(f"saved at episode {episode}")
    return TrainResult(run, q, figures, episodes_to_target, wall, interrupted)


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
    run = Run.create(GROUP, KIND, config, seed=seed, run_dir=run_dir)
    seed_everything(seed, tensorflow=False)
    env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps)
    from agents.tabular.model import build_model

    model = build_model(env)
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


def load_q_table(run: Run) -> np.ndarray:
    """The run's Q table (.npy, loaded without pickle)."""
    path = run.artifact("q_table.npy")
    if not path.is_file():
        raise UsageError(f"{str(run.path)!r} has no artifacts/q_table.npy yet (training not finished?)")
    try:
        q = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{str(path)!r} is unreadable or corrupt ({exc})") from None
    if q.ndim not in (2, 3) or not np.issubdtype(q.dtype, np.floating):
        raise UsageError(f"{str(path)!r} is not a Q table: shape {q.shape}, dtype {q.dtype}")
    return q


def open_run(run_dir) -> tuple[Run, ControlConfig | DPConfig]:
    run = Run.open(run_dir, KIND)
    return run, config_from_dict(run.config)


def evaluate_run(run_dir, *, episodes: int = 2000, seed: int | None = None) -> dict:
    """Greedy evaluation of a run's Q table on ``episodes`` fresh episodes, with the exact optimum."""
    run, config = open_run(run_dir)
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
