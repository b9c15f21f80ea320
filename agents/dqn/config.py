"""`DQNConfig`: the single source of every DQN hyperparameter, with per-env defaults.

Kept free of TensorFlow so that the CLI can build its flags (one per field, help text = the field's
docstring) without paying for the TensorFlow import.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from agents.dqn.envs import env_kind
from rllab.checks import check_choice, check_float, check_int
from rllab.errors import UsageError
from rllab.precision import AUTO, check_mixed_precision

DEFAULT_ENV = "CartPole-v1"
BUDGET_FIELDS = ("total_steps",)
"""Config fields that --resume may change: a larger budget extends the run."""


@dataclass
class DQNConfig:
    """Hyperparameters of one DQN run. Step counts are environment steps (transitions, all envs together)."""

    env_id: str = "CartPole-v1"
    """Gymnasium id of an env with a Box observation and Discrete actions, or an Atari game (ALE/<Game>-v5)."""
    env_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for gymnasium.make (JSON object on the command line; not for Atari games)."""
    clip_rewards: bool = False
    """Train on the sign of each reward (-1, 0, +1); scores are logged unclipped."""
    life_loss_episodes: bool = False
    """Atari: a lost life ends the training episode (no bootstrapping past it); scores are of whole games."""
    sticky_actions: float = 0.0
    """Atari: probability that the previous action repeats instead of the chosen one (0.25: the v5 protocol)."""
    total_steps: int = 60_000
    """Training budget in environment steps (see ENV_DEFAULTS for per-env budgets)."""
    num_envs: int = 4
    """Environment copies stepped together; one batched Q-network call chooses all their actions."""
    async_envs: bool = False
    """Step the envs while the learner updates (Atari: ALE's own threads; other envs: one subprocess per copy).
    The update then trains on the replay as it was before the step in flight."""

    network: str = "mlp"
    """Q-network torso: mlp (dense ReLU layers of hidden_units) or nature_cnn (the Nature-DQN convolutions
    on stacked frames, uint8 scaled inside); the plain or dueling Q head goes on top."""
    hidden_units: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the mlp torso (ignored by other torsos)."""
    dueling: bool = False
    """Dueling head on the torso: Q = V + A - mean(A)."""
    double_q: bool = True
    """Double DQN: the online net picks the next action, the target net scores it."""
    n_step: int = 3
    """Rewards summed before bootstrapping (n-step returns)."""
    gamma: float = 0.99
    """Discount factor."""

    buffer_size: int = 100_000
    """Replay buffer capacity in transitions."""
    replay: str = "uniform"
    """Replay buffer, sampled uniformly: uniform (whole transitions in a ring) or frames (stacked-frame
    observations with each frame stored once: about 7 KB per Atari transition instead of 56 KB)."""
    batch_size: int = 64
    """Transitions per gradient step."""
    learning_rate: float = 2.3e-3
    """Adam learning rate at the start of training."""
    final_learning_rate: float = 2.3e-4
    """Learning rate reached by linear decay at total_steps (equal to learning_rate: no decay)."""
    adam_epsilon: float = 1e-7
    """Adam's epsilon."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    learning_starts: int = 1_000
    """Environment steps of uniformly random actions before the first update."""
    train_frequency: int = 256
    """Environment steps between updates."""
    gradient_steps: int = 128
    """Gradient steps per update (run inside one compiled call)."""
    target_update_interval: int = 128
    """Gradient steps between target-network updates."""
    tau: float = 1.0
    """Target update weight: 1 copies the online net (hard update), < 1 is Polyak averaging."""

    epsilon_start: float = 1.0
    """Exploration rate at the start."""
    epsilon_end: float = 0.04
    """Exploration rate after the decay."""
    exploration_fraction: float = 0.16
    """Fraction of total_steps over which epsilon decays linearly."""

    eval_interval: int = 2_000
    """Environment steps between greedy evaluations (one epoch: metrics are logged at the same cadence)."""
    eval_episodes: int = 20
    """Greedy episodes per evaluation, run in parallel on a separate vector env."""
    eval_epsilon: float = 0.0
    """Exploration rate of evaluation episodes (Atari: 0.05, so a policy that never serves cannot stall a game)."""
    stop_threshold: float | None = None
    """Stop once an evaluation's mean return reaches this (None: train for the whole budget)."""
    stop_confirm_episodes: int = 100
    """An evaluation reaching stop_threshold is extended to this many episodes and must still reach it."""
    checkpoint_every_epochs: int = 5
    """Evaluation epochs between checkpoints (one is always written at the end)."""
    jit_compile: bool = True
    """Compile the update and action steps with XLA."""
    mixed_precision: bool = False
    """Compute the Q-network in bfloat16 (weights and the loss stay float32): faster convolutions on CPUs
    with AVX-512 BF16 and on GPUs, slower elsewhere. auto (Atari's default): bfloat16 where the CPU has
    AVX512-BF16/AMX or a GPU is used, else float32."""

    def validate(self) -> "DQNConfig":
        """Check every field; a bad value is a `UsageError` naming it. Returns self."""
        check_int("--total-steps", self.total_steps, min_value=1)
        check_int("--num-envs", self.num_envs, min_value=1, max_value=1024)
        if not self.hidden_units or any(int(u) < 1 for u in self.hidden_units):
            raise UsageError(f"--hidden-units must be positive integers, got {list(self.hidden_units)}")
        check_int("--n-step", self.n_step, min_value=1)
        check_float("--gamma", self.gamma, min_value=0.0, max_value=1.0)
        check_int("--buffer-size", self.buffer_size, min_value=self.num_envs)
        check_int("--batch-size", self.batch_size, min_value=1)
        check_float("--learning-rate", self.learning_rate, min_value=0.0, min_inclusive=False)
        check_float("--final-learning-rate", self.final_learning_rate, min_value=0.0, max_value=self.learning_rate)
        check_float("--adam-epsilon", self.adam_epsilon, min_value=0.0, min_inclusive=False)
        check_float("--max-grad-norm", self.max_grad_norm, min_value=0.0, min_inclusive=False)
        check_int("--learning-starts", self.learning_starts, min_value=0)
        check_int("--train-frequency", self.train_frequency, min_value=1)
        check_int("--gradient-steps", self.gradient_steps, min_value=1)
        check_int("--target-update-interval", self.target_update_interval, min_value=1)
        check_float("--tau", self.tau, min_value=0.0, max_value=1.0, min_inclusive=False)
        check_float("--epsilon-start", self.epsilon_start, min_value=0.0, max_value=1.0)
        check_float("--epsilon-end", self.epsilon_end, min_value=0.0, max_value=1.0)
        check_float("--exploration-fraction", self.exploration_fraction, min_value=0.0, max_value=1.0)
        check_int("--eval-interval", self.eval_interval, min_value=1)
        check_int("--eval-episodes", self.eval_episodes, min_value=1)
        if self.stop_threshold is not None:
            check_float("--stop-threshold", self.stop_threshold)
        check_int("--stop-confirm-episodes", self.stop_confirm_episodes, min_value=1)
        check_int("--checkpoint-every-epochs", self.checkpoint_every_epochs, min_value=1)
        check_mixed_precision(self.mixed_precision)
        check_float("--eval-epsilon", self.eval_epsilon, min_value=0.0, max_value=1.0)
        check_float("--sticky-actions", self.sticky_actions, min_value=0.0, max_value=1.0, max_inclusive=False)
        atari = env_kind(self.env_id) == "atari"
        if not atari and (self.sticky_actions or self.life_loss_episodes):
            flag = "--sticky-actions" if self.sticky_actions else "--life-loss-episodes"
            raise UsageError(f"{flag} applies to Atari games (ALE/<Game>-v5) only, not {self.env_id}")
        if atari and self.env_kwargs:
            raise UsageError(f"--env-kwargs is not used for Atari games; the flags --sticky-actions and "
                             f"--life-loss-episodes set what it would, got {self.env_kwargs}")
        from agents.dqn.networks import NETWORKS
        from agents.dqn.replay import REPLAY_BUFFERS

        check_choice("--network", self.network, NETWORKS)
        check_choice("--replay", self.replay, REPLAY_BUFFERS)
        return self

    @property
    def iterations(self) -> int:
        """Vector-env steps (each advances all num_envs copies) needed for total_steps."""
        return -(-self.total_steps // self.num_envs)

    @property
    def iterations_per_epoch(self) -> int:
        return max(1, -(-self.eval_interval // self.num_envs))


# Per-env defaults, applied over the dataclass defaults and under anything given explicitly.
# CartPole-v1 caps returns at 500, so an evaluation mean of 500 over eval_episodes greedy episodes
# means every one of them balanced for the whole episode: training stops there (and the saved final
# policy is that evaluated one). Other envs train for their whole budget unless --stop-threshold is given.
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"total_steps": 60_000, "stop_threshold": 500.0},
    "Acrobot-v1": {"total_steps": 100_000},
}


ATARI_DEFAULTS: dict[str, Any] = {
    # Nature DQN with Double DQN, Adam and 3-step returns, on a CPU-sized replay (the SB3 zoo's Atari
    # buffer size; 1M transitions fit in about 7 GB with --buffer-size 1000000): one gradient step of
    # batch 32 per 4 env steps, a hard target update every 1000 gradient steps, epsilon 1 -> 0.01 over
    # the first 10 % of the budget.
    "total_steps": 1_000_000, "num_envs": 4, "network": "nature_cnn", "replay": "frames",
    "buffer_size": 100_000, "batch_size": 32, "n_step": 3, "gamma": 0.99,
    "learning_rate": 1e-4, "final_learning_rate": 1e-4, "adam_epsilon": 1.5e-4, "max_grad_norm": 10.0,
    "learning_starts": 20_000, "train_frequency": 4, "gradient_steps": 1, "target_update_interval": 1000,
    "epsilon_end": 0.01, "exploration_fraction": 0.1,
    "clip_rewards": True, "life_loss_episodes": True,
    "eval_interval": 50_000, "eval_episodes": 8, "eval_epsilon": 0.05, "checkpoint_every_epochs": 2,
    "jit_compile": False, "mixed_precision": AUTO,
}
"""Defaults of every Atari game (``ALE/...`` ids), over the dataclass defaults."""


def defaults_for_env(env_id: str) -> dict[str, Any]:
    """The per-env defaults of ``env_id``: its ENV_DEFAULTS entry, or ATARI_DEFAULTS for an ALE game."""
    return dict(ATARI_DEFAULTS) if env_kind(env_id) == "atari" else dict(ENV_DEFAULTS.get(env_id, {}))


def config_for_env(env_id: str, overrides: Mapping[str, Any] | None = None) -> DQNConfig:
    """Dataclass defaults, then the env's defaults (`defaults_for_env`), then ``overrides`` (unknown keys
    are a `UsageError`)."""
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(DQNConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UsageError(f"unknown DQN config keys {unknown}; known: {', '.join(sorted(known))}")
    values = {**defaults_for_env(env_id), **overrides, "env_id": env_id}
    return config_from_dict(values)


def config_from_dict(values: Mapping[str, Any]) -> DQNConfig:
    """Rebuild a config from its JSON form (lists back to tuples); validates it."""
    values = dict(values)
    if "hidden_units" in values:
        values["hidden_units"] = tuple(int(u) for u in values["hidden_units"])
    known = {f.name for f in dataclasses.fields(DQNConfig)}
    return DQNConfig(**{k: v for k, v in values.items() if k in known}).validate()
