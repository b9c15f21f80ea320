"""Deep Q-Network (Mnih et al., 2015) with Double DQN, dueling heads and n-step returns, in Keras.

Read top to bottom:

1. `td_targets` -- the learning target, ``r + discount * Q_target(s', a*)`` with ``a*`` chosen by the
   online net (Double DQN) or the target net (vanilla DQN).
2. `DQNAgent` -- networks, optimizer, replay buffer and vector envs. `DQNAgent.step` is one iteration:
   act epsilon-greedily in every env copy at once, store the transitions, and, when an update is due,
   run ``gradient_steps`` compiled gradient steps in a single ``tf.function`` call.
3. `train` -- wires the agent into the shared loop: run folder, checkpoints, metrics, periodic greedy
   evaluation with keep-the-best, and the final export of the greedy Q-network as ``.keras``.

Every hyperparameter lives in `DQNConfig` (agents/dqn/config.py).
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Callable, Iterable, Mapping

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from agents.dqn.config import BUDGET_FIELDS, DQNConfig, config_from_dict
from agents.dqn.envs import (
    env_snapshot,
    make_envs,
    make_single_env,
    restore_env_snapshot,
    true_next_obs,
)
from agents.dqn.networks import q_network_for
from agents.dqn.replay import NStepAccumulator, check_replay_memory, make_replay_buffer
from rllab.callbacks import EvalCallback, standard_callbacks
from rllab.checkpoints import Checkpointer
from rllab.errors import UsageError
from rllab.lifecycle import KeepBest, RunInterrupted, open_run
from rllab.loop import train_loop
from rllab.models import load_model_file, save_model_atomic
from rllab.precision import resolve_mixed_precision
from rllab.runs import Run, atomic_write
from rllab.seeding import rng_state, seed_everything, set_rng_state

RUN_KIND = "dqn"
FINAL_MODEL = "q_network.keras"
"""The exported greedy Q-network (artifacts/), what eval and play load."""
BEST_MODEL = "best_q_network.keras"
"""The best-evaluated Q-network so far (keep-the-best)."""
SUMMARY = "train_summary.json"
GAMES_CSV = "games.csv"
"""Every finished game of training: env step, unclipped score, length (artifacts/)."""
LEARNING_CURVE = "learning_curve.png"
SCORE_WINDOW = 100
"""Games in the moving average of the learning curve and of ``rollout/score_mean_100``."""
EVAL_MONITOR = "eval/mean_return"
CSV_KEYS = [
    "step", "env_steps", "rollout/ep_return", "rollout/ep_length", "rollout/score_mean_100", "rollout/epsilon",
    "train/loss", "train/q", "train/learning_rate", "time/steps_per_s",
    "eval/mean_return", "eval/std_return", "eval/min_return", "eval/max_return",
]


# --- 1. the learning target -------------------------------------------------------------------------------
def td_targets(rewards, discounts, next_q_target, next_q_online=None):
    """``rewards + discounts * Q_target(s', a*)``: Double DQN when ``next_q_online`` is given.

    ``discounts`` is ``gamma**k * (1 - terminated)`` from the replay buffer, so terminal transitions
    never bootstrap. Double DQN (van Hasselt et al., 2016) picks ``a* = argmax_a Q_online(s', a)`` and
    scores it with the target net, which removes most of max-operator overestimation; vanilla DQN
    uses ``max_a Q_target(s', a)``.
    """
    if next_q_online is None:
        next_values = tf.reduce_max(next_q_target, axis=1)
    else:
        best_actions = tf.argmax(next_q_online, axis=1, output_type=tf.int32)
        next_values = tf.gather(next_q_target, best_actions, axis=1, batch_dims=1)
    return rewards + discounts * tf.stop_gradient(next_values)


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end``."""
    if duration <= 0:
        return end
    return start + (end - start) * min(1.0, t / duration)


def make_greedy_policy(
    q_network: keras.Model, obs_dtype: np.dtype | str, *, jit_compile: bool = True
) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled ``obs batch -> argmax_a Q(obs, a)`` function (int32 NumPy array); no ``predict()``.

    Returns the concrete function for any batch size of ``obs_dtype`` observations: calling it skips
    ``tf.function``'s signature matching, which halves the per-call overhead that dominates acting.
    """

    @tf.function(jit_compile=jit_compile)
    def greedy_actions(obs):
        return tf.argmax(q_network(tf.cast(obs, tf.float32), training=False), axis=1, output_type=tf.int32)

    obs_spec = tf.TensorSpec([None, *q_network.input_shape[1:]], tf.as_dtype(np.dtype(obs_dtype)))
    concrete = greedy_actions.get_concrete_function(obs_spec)
    return lambda obs: concrete(tf.convert_to_tensor(obs)).numpy()


def epsilon_greedy(greedy: Callable, obs: np.ndarray, epsilon: float, num_actions: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``greedy(obs)`` with each action replaced by a uniform one with probability ``epsilon`` (the
    network is skipped when every env explores)."""
    explore = rng.random(len(obs)) < epsilon
    random_actions = rng.integers(0, num_actions, size=len(obs))
    if explore.all():
        return random_actions
    if not explore.any():
        return greedy(obs)
    return np.where(explore, random_actions, greedy(obs))


def with_epsilon(greedy: Callable, epsilon: float, num_actions: int, seed: int) -> Callable:
    """``greedy`` as an epsilon-greedy policy with its own seeded generator (evaluation, play)."""
    if epsilon <= 0:
        return greedy
    rng = np.random.default_rng(seed)
    return lambda obs: epsilon_greedy(greedy, obs, epsilon, num_actions, rng)


def run_greedy_episodes(policy: Callable, envs, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``policy``, run ``envs.num_envs`` at a time.

    Episode ``i`` starts from ``reset(seed=seed + i)``, so the same seed gives the same episodes.
    """
    returns = []
    for first in range(0, episodes, envs.num_envs):
        count = min(envs.num_envs, episodes - first)
        obs, _ = envs.reset(seed=seed + first)
        totals = np.zeros(envs.num_envs)
        running = np.arange(envs.num_envs) < count  # copies beyond `count` idle along
        while running.any():
            obs, rewards, terminated, truncated, _ = envs.step(policy(obs))
            totals += rewards * running
            running &= ~(terminated | truncated)  # an env that autoresets has finished its one episode
        returns.extend(totals[:count])
    return np.asarray(returns)


def return_stats(returns: np.ndarray) -> dict[str, float]:
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "min_return": float(np.min(returns)),
        "max_return": float(np.max(returns)),
    }


# --- 2. the agent -----------------------------------------------------------------------------------------
class DQNAgent:
    """Networks, optimizer, replay and envs of one DQN run; `step` is the training loop's step function."""

    def __init__(self, config: DQNConfig, *, seed: int, rng: np.random.Generator | None = None):
        self.config = config.validate()
        self.seed = seed
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.envs = make_envs(config, config.num_envs, seed)
        self.eval_envs = make_envs(config, min(config.eval_episodes, 32), evaluation=True)
        obs_space = self.envs.single_observation_space
        self.num_actions = int(self.envs.single_action_space.n)
        self.solve_threshold = gym.spec(config.env_id).reward_threshold  # e.g. 475 for CartPole-v1

        self.online = q_network_for(config, obs_space.shape, self.num_actions)
        self.target = q_network_for(config, obs_space.shape, self.num_actions)
        self.target.set_weights(self.online.get_weights())
        updates = max(1, (config.total_steps - config.learning_starts) // config.train_frequency)
        total_gradient_steps = updates * config.gradient_steps  # the learning rate decays over all of them
        self.learning_rate = keras.optimizers.schedules.PolynomialDecay(
            config.learning_rate, total_gradient_steps, config.final_learning_rate, power=1.0
        )
        self.optimizer = keras.optimizers.Adam(
            self.learning_rate, epsilon=config.adam_epsilon, global_clipnorm=config.max_grad_norm
        )
        self.optimizer.build(self.online.trainable_variables)  # slots must exist before a checkpoint restore
        self.huber = keras.losses.Huber(delta=1.0)
        self._update = self._compile_update()
        self.greedy = make_greedy_policy(self.online, obs_space.dtype, jit_compile=config.jit_compile)

        self.buffer = make_replay_buffer(config, obs_space)
        # Buffers that take raw steps (FrameReplay) form n-step returns themselves.
        self.takes_raw_steps = hasattr(self.buffer, "add_steps")
        self.n_step = NStepAccumulator(config.num_envs, config.n_step, config.gamma)
        self.obs, _ = self.envs.reset(seed=seed)
        self.episodes_begun = False  # the buffer has seen the first observations of the current episodes
        # Scores are of whole games, unclipped: a game spans several training episodes with life-loss episodes.
        self.episode_returns = np.zeros(config.num_envs)
        self.episode_lengths = np.zeros(config.num_envs, dtype=np.int64)
        self.games: list[tuple[int, float, int]] = []  # (env step, score, length) of games finished since the last read
        self.env_steps = 0
        self.update_rounds = 0  # updates (of gradient_steps each) done so far
        self.last_eval = (-math.inf, -1)  # (mean return, env step) of the latest evaluation
        self.first_solved_step = -1  # env step of the first evaluation reaching the env's reward_threshold
        self.reached_stop_threshold = False  # persisted: resuming a run that stopped there must not train on
        self._clock = (time.perf_counter(), 0)

    # The compiled update: gradient_steps gradient steps in one call (one Python->TF crossing per update).
    def _compile_update(self):
        online, target, optimizer = self.online, self.target, self.optimizer
        double_q, tau = self.config.double_q, self.config.tau
        target_update_interval = self.config.target_update_interval

        def gradient_step(obs, actions, rewards, next_obs, discounts):
            next_q_target = target(next_obs, training=False)
            next_q_online = online(next_obs, training=False) if double_q else None
            targets = td_targets(rewards, discounts, next_q_target, next_q_online)
            with tf.GradientTape() as tape:
                q_taken = tf.gather(online(obs, training=True), actions, axis=1, batch_dims=1)
                loss = self.huber(targets, q_taken)
            gradients = tape.gradient(loss, online.trainable_variables)
            optimizer.apply_gradients(zip(gradients, online.trainable_variables))
            if optimizer.iterations % target_update_interval == 0:
                for target_weight, online_weight in zip(target.weights, online.weights):
                    target_weight.assign(tau * online_weight + (1.0 - tau) * target_weight)
            return loss, tf.reduce_mean(q_taken)

        @tf.function(jit_compile=self.config.jit_compile, reduce_retracing=True)
        def update(obs, actions, rewards, next_obs, discounts):
            """Arrays shaped (gradient steps, batch, ...): one gradient step per leading index."""
            steps = tf.shape(actions)[0]
            loss_sum, q_sum = tf.constant(0.0), tf.constant(0.0)
            for k in tf.range(steps):
                loss, q = gradient_step(
                    tf.cast(obs[k], tf.float32), actions[k], rewards[k], tf.cast(next_obs[k], tf.float32), discounts[k]
                )
                loss_sum += loss
                q_sum += q
            return loss_sum / tf.cast(steps, tf.float32), q_sum / tf.cast(steps, tf.float32)

        return update

    @property
    def epsilon(self) -> float:
        config = self.config
        if self.env_steps < config.learning_starts:
            return 1.0  # fill the buffer with uniformly random behaviour first
        duration = config.exploration_fraction * config.total_steps
        return linear_schedule(config.epsilon_start, config.epsilon_end, duration, self.env_steps)

    def act(self, obs: np.ndarray, epsilon: float) -> np.ndarray:
        """Epsilon-greedy actions for a batch of observations (the network is skipped when all explore)."""
        return epsilon_greedy(self.greedy, obs, epsilon, self.num_actions, self.rng)

    def collect(self) -> dict[str, float]:
        """One step of every env copy; transitions go to the replay buffer. Returns rollout metrics."""
        return self.finish_collect(*self.start_collect())

    def start_collect(self) -> tuple[np.ndarray, float]:
        """Choose every copy's action and start the step (it runs in the background with --async-envs)."""
        if self.takes_raw_steps and not self.episodes_begun:
            self.buffer.begin_episodes(self.obs)
            self.episodes_begun = True
        epsilon = self.epsilon
        actions = self.act(self.obs, epsilon)
        if self.config.async_envs:
            self.envs.step_async(actions)
        return actions, epsilon

    def finish_collect(self, actions: np.ndarray, epsilon: float) -> dict[str, float]:
        """Wait for the step started by `start_collect` and store its transitions."""
        if self.config.async_envs:
            next_obs, rewards, terminated, truncated, info = self.envs.step_wait()
        else:
            next_obs, rewards, terminated, truncated, info = self.envs.step(actions)
        done = terminated | truncated
        reached_obs = true_next_obs(next_obs, done, info)
        learned_rewards = np.sign(rewards) if self.config.clip_rewards else rewards
        if self.takes_raw_steps:
            self.buffer.add_steps(actions, learned_rewards, reached_obs, terminated, truncated, next_obs)
        else:
            for batch in self.n_step.push(self.obs, actions, learned_rewards, reached_obs, terminated, truncated):
                self.buffer.add_batch(*batch)
        self.obs = next_obs
        self.env_steps += self.config.num_envs
        self.episode_returns += rewards
        self.episode_lengths += 1
        logs = {"rollout/epsilon": epsilon}
        game_over = info.get("game_over", done)  # Atari with life-loss episodes: only some ends are game ends
        if game_over.any():
            logs["rollout/ep_return"] = float(self.episode_returns[game_over].mean())
            logs["rollout/ep_length"] = float(self.episode_lengths[game_over].mean())
            self.games.extend((self.env_steps, float(score), int(length)) for score, length
                              in zip(self.episode_returns[game_over], self.episode_lengths[game_over]))
            self.episode_returns[game_over] = 0.0
            self.episode_lengths[game_over] = 0
        return logs

    def train(self, gradient_steps: int) -> dict[str, float]:
        """``gradient_steps`` compiled gradient steps on uniformly sampled minibatches."""
        batch = self.buffer.sample(self.rng, (gradient_steps, self.config.batch_size))
        loss, q = self._update(*batch)
        return {
            "train/loss": float(loss),
            "train/q": float(q),
            "train/learning_rate": float(self.learning_rate(self.optimizer.iterations)),
        }

    def step(self, iteration: int) -> dict[str, float]:
        """The loop's step function: collect one vector step, then update if one is due."""
        config = self.config
        in_flight = self.start_collect()
        # Synchronous envs step now; asynchronous ones step while the update below runs, and their
        # transitions reach the replay after it.
        logs = {} if config.async_envs else self.finish_collect(*in_flight)
        steps_after = self.env_steps + (config.num_envs if config.async_envs else 0)
        rounds_due = max(0, (steps_after - config.learning_starts) // config.train_frequency)
        if rounds_due > self.update_rounds and len(self.buffer) > 0:
            logs.update(self.train((rounds_due - self.update_rounds) * config.gradient_steps))
            self.update_rounds = rounds_due
        if config.async_envs:
            logs.update(self.finish_collect(*in_flight))
        if (iteration + 1) % config.iterations_per_epoch == 0:
            started, steps_then = self._clock
            now = time.perf_counter()
            logs["time/steps_per_s"] = (self.env_steps - steps_then) / max(now - started, 1e-9)
            logs["env_steps"] = float(self.env_steps)
            self._clock = (now, self.env_steps)
        return logs

    def evaluate(self) -> dict[str, float]:
        """Greedy returns on the separate eval envs; seeds differ per evaluation but not per run replay."""
        config = self.config
        episodes = config.eval_episodes
        eval_seed = 1_000_003 * (self.seed + 1) + self.env_steps
        policy = with_epsilon(self.greedy, config.eval_epsilon, self.num_actions, eval_seed)
        returns = run_greedy_episodes(policy, self.eval_envs, episodes, eval_seed)
        if config.stop_threshold is not None and returns.mean() >= config.stop_threshold:
            # About to stop: make sure a lucky handful of episodes is not what stops training.
            extra = config.stop_confirm_episodes - episodes
            if extra > 0:
                returns = np.concatenate(
                    [returns, run_greedy_episodes(policy, self.eval_envs, extra, eval_seed + episodes)]
                )
        stats = return_stats(returns)
        self.last_eval = (stats["mean_return"], self.env_steps)
        if config.stop_threshold is not None and stats["mean_return"] >= config.stop_threshold:
            self.reached_stop_threshold = True  # EvalCallback stops the loop on the same comparison
        solved = self.solve_threshold is not None and stats["mean_return"] >= self.solve_threshold
        if solved and self.first_solved_step < 0:
            self.first_solved_step = self.env_steps
        return stats

    def close(self) -> None:
        self.envs.close()
        self.eval_envs.close()

    # --- checkpointable state outside TensorFlow (the TF checkpoint holds nets and optimizer) ----------
    # The replay buffer is "bulk" state: the Checkpointer keeps one copy of it on disk (for the newest
    # checkpoint) instead of one per kept checkpoint. Everything else is small and goes in each checkpoint.
    def get_state(self) -> dict[str, np.ndarray]:
        last_score, last_step = self.last_eval
        state = {
            "agent/obs": self.obs,
            "agent/episode_returns": self.episode_returns,
            "agent/episode_lengths": self.episode_lengths,
            "agent/env_steps": np.int64(self.env_steps),
            "agent/update_rounds": np.int64(self.update_rounds),
            "agent/first_solved_step": np.int64(self.first_solved_step),
            "agent/reached_stop_threshold": np.bool_(self.reached_stop_threshold),
            "agent/last_eval_score": np.float64(last_score),
            "agent/last_eval_step": np.int64(last_step),
            "agent/rng": rng_state(self.rng),
            **self.n_step.state_dict(),
        }
        snapshot = env_snapshot(self.envs)
        if snapshot is not None:
            state.update(snapshot)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.episode_returns = state["agent/episode_returns"].copy()
        self.episode_lengths = state["agent/episode_lengths"].copy()
        self.env_steps = int(state["agent/env_steps"])
        self.update_rounds = int(state["agent/update_rounds"])
        self.first_solved_step = int(state["agent/first_solved_step"])
        self.reached_stop_threshold = bool(state["agent/reached_stop_threshold"])
        self.last_eval = (float(state["agent/last_eval_score"]), int(state["agent/last_eval_step"]))
        set_rng_state(self.rng, state["agent/rng"])
        self.n_step.load_state_dict(state)
        if "env/physics" in state:
            restore_env_snapshot(self.envs, state)
            self.obs = state["agent/obs"].copy()
            self.episodes_begun = True
        else:
            # No exact env snapshot for this env: start fresh episodes (the run continues, not bit-exactly).
            print("dqn: this env cannot be snapshotted; resuming with fresh episodes", file=sys.stderr)
            self.obs, _ = self.envs.reset(seed=self.seed + self.env_steps)
            self.episode_returns[:] = 0.0
            self.episode_lengths[:] = 0
            self.n_step.load_state_dict({})
            self.episodes_begun = False  # a frame buffer starts the new episodes' streams
        self._clock = (time.perf_counter(), self.env_steps)

    def get_bulk_state(self) -> dict[str, np.ndarray]:
        return self.buffer.state_dict()

    def set_bulk_state(self, state: dict[str, np.ndarray]) -> None:
        self.buffer.load_state_dict(state)


# --- 3. training with the shared loop ---------------------------------------------------------------------
class GameLog(keras.callbacks.Callback):
    """Keeps every finished game's unclipped score in ``artifacts/games.csv`` (rewritten atomically each
    epoch), adds the mean of the last 100 to the epoch's logs and draws the learning curve at the end.

    On resume the games after the restored checkpoint's env step are dropped: they are played again.
    """

    def __init__(self, agent: "DQNAgent", run: Run):
        super().__init__()
        self.agent, self.csv, self.png = agent, run.artifact(GAMES_CSV), run.artifact(LEARNING_CURVE)
        self.games = self._read(agent.env_steps) if self.csv.is_file() else []

    def _read(self, up_to_step: int) -> list[tuple[int, float, int]]:
        rows = np.loadtxt(self.csv, delimiter=",", skiprows=1, ndmin=2)
        return [(int(step), float(score), int(length)) for step, score, length in rows if step <= up_to_step]

    def on_epoch_end(self, epoch, logs=None):
        self.games.extend(self.agent.games)
        self.agent.games.clear()
        if self.games and logs is not None:
            logs["rollout/score_mean_100"] = float(np.mean([score for _, score, _ in self.games[-SCORE_WINDOW:]]))
        lines = ["env_step,score,length"] + [f"{step},{score:g},{length}" for step, score, length in self.games]
        atomic_write(self.csv, lambda f: f.write("\n".join(lines) + "\n"))

    def on_train_end(self, logs=None):
        self.on_epoch_end(-1)
        if self.games:
            from rllab.plotting import plot_curves

            steps, scores, _ = zip(*self.games)
            plot_curves(self.png, {"game score (unclipped)": scores}, x=steps, xlabel="env steps", ylabel="score",
                        title=f"{self.agent.config.env_id}: training games", smooth=SCORE_WINDOW)


# --- training ---------------------------------------------------------------------------------------------
def train(
    config: DQNConfig | None,
    *,
    seed: int | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    given: Mapping[str, Any] | None = None,
    progress: bool = True,
    extra_callbacks: Iterable[keras.callbacks.Callback] = (),
) -> dict:
    """Train a DQN run, or continue one with ``resume`` (the stored config and seed win; ``given``, the
    flags typed, must match them except ``total_steps``, which extends the run).

    Returns the summary also written to ``artifacts/train_summary.json``. Ctrl-C/SIGTERM: the loop
    saves a checkpoint, the final policy is exported as usual, then `RunInterrupted` is raised.

    Keep-the-best: every evaluation that beats all earlier ones of the run (resumes included) is saved
    as ``best_q_network.keras``. At the end the final policy is whichever of the best-evaluated and
    the last network scored higher; it is exported as ``artifacts/q_network.keras``.
    """
    started = time.perf_counter()
    start = open_run(
        "dqn", RUN_KIND, config, seed=seed, run_dir=run_dir, resume=resume, from_dict=config_from_dict,
        given=given, budget=BUDGET_FIELDS, flags={"env_id": "--env"},
        before_create=_precheck,
    )
    run, config, seed = start.run, start.config, start.seed
    rng = seed_everything(seed)
    agent = DQNAgent(config, seed=seed, rng=rng)
    checkpointer = Checkpointer(
        run.checkpoints_dir, get_state=agent.get_state, set_state=agent.set_state,
        get_bulk_state=agent.get_bulk_state, set_bulk_state=agent.set_bulk_state,
        online=agent.online, target=agent.target, optimizer=agent.optimizer,
    )
    if start.resumed and not checkpointer.restore():
        start.no_checkpoint_yet()

    keep_best = KeepBest(run.checkpoints_dir / "best.json", EVAL_MONITOR, mode="max",
                         save=lambda: save_model_atomic(agent.online, run.artifact(BEST_MODEL)))
    evaluation = EvalCallback(agent.evaluate, EVAL_MONITOR, threshold=config.stop_threshold, keep_best=keep_best,
                              step=lambda epoch: agent.env_steps)
    callbacks = standard_callbacks(
        run, resume=start.resumed, extra=[GameLog(agent, run), evaluation, *extra_callbacks], csv_keys=CSV_KEYS,
        plot_every=None,  # plotting every epoch costs seconds on a short run: plot once at the end
    )
    # A run that already stopped on its threshold is complete: resuming it only re-exports the result.
    total_iterations = int(checkpointer.step.numpy()) if agent.reached_stop_threshold else config.iterations
    try:
        result = train_loop(
            agent.step, total_steps=total_iterations, steps_per_epoch=config.iterations_per_epoch,
            callbacks=callbacks, optimizer=agent.optimizer, checkpointer=checkpointer,
            checkpoint_every_epochs=config.checkpoint_every_epochs, progress=progress,
        )
        summary = finalize(agent, run, keep_best)
    finally:
        agent.close()
    summary.update(
        interrupted=result.interrupted, stopped_early=result.stopped_early,
        wall_seconds_this_call=time.perf_counter() - started,
        mixed_precision=resolve_mixed_precision(config.mixed_precision),  # what ran: "auto" decided on this machine
    )
    run.write_json(SUMMARY, summary)
    if result.interrupted:
        raise RunInterrupted(run.path, f"checkpoint saved at env step {agent.env_steps}, "
                                       f"policy so far exported to {summary['final_model']}")
    return summary


def _precheck(config: DQNConfig) -> None:
    """What can fail fails before a run folder exists: the env id and spaces, the buffer's memory."""
    env = make_single_env(config)
    try:
        check_replay_memory(config, env.observation_space)
    finally:
        env.close()


def finalize(agent: DQNAgent, run: Run, keep_best: KeepBest) -> dict:
    """Export the final greedy Q-network: the best-evaluated one if it beats the last network."""
    last_score, last_step = agent.last_eval
    if last_step != agent.env_steps:  # the run did not end on an evaluation: score the last network now
        last_score = agent.evaluate()["mean_return"]
    best_file = run.artifact(BEST_MODEL)
    final_file = run.artifact(FINAL_MODEL)
    if keep_best.value is not None and keep_best.value > last_score and best_file.is_file():
        chosen, final_score, final_step = "best", keep_best.value, keep_best.step
        atomic_write(final_file, lambda f: f.write(best_file.read_bytes()), binary=True)
    else:
        chosen, final_score, final_step = "last", last_score, agent.env_steps
        save_model_atomic(agent.online, final_file)
    return {
        "env_id": agent.config.env_id,
        "env_steps": agent.env_steps,
        "final_model": str(final_file),
        "final_policy": chosen,
        "final_policy_eval_mean": final_score,
        "final_policy_env_step": final_step,
        "last_policy_eval_mean": last_score,
        "best_eval_mean": keep_best.value,
        "solve_threshold": agent.solve_threshold,
        "first_solved_env_step": agent.first_solved_step if agent.first_solved_step >= 0 else None,
        "gradient_steps": int(agent.optimizer.iterations.numpy()),
    }


def load_q_network(run: Run) -> keras.Model:
    """The exported greedy Q-network of a finished run (plain ``keras.models.load_model``)."""
    path = run.artifact(FINAL_MODEL)
    if not path.is_file():
        raise UsageError(
            f"{str(run.path)!r} has no exported Q-network ({FINAL_MODEL}); train it (or --resume it) to the end first"
        )
    return load_model_file(path, what="Q-network")
