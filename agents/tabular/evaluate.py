"""Measuring a greedy policy: Monte Carlo on the real env, and exactly on the model when there is one."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agents.tabular import dp
from agents.tabular.envs import TabularEnv
from agents.tabular.model import TabularModel
from rllab.checks import check_memory


def greedy_action(q: np.ndarray, state: int, step: int) -> int:
    """Greedy action of a stationary (S, A) or time-dependent (H, S, A) Q table at ``step``."""
    if q.ndim == 3:
        return int(q[min(step, q.shape[0] - 1), state].argmax())
    return int(q[state].argmax())


def play_greedy(env: TabularEnv, q: np.ndarray, *, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns and lengths of ``episodes`` greedy episodes (episode ``i`` reset with seed ``seed + i``)."""
    check_memory(f"--episodes {episodes}", episodes * 16)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    for i in range(episodes):
        state = env.reset(seed=seed + i)
        total, step = 0.0, 0
        while True:
            state, reward, terminated, truncated = env.step(greedy_action(q, state, step))
            total += reward
            step += 1
            if terminated or truncated:
                break
        returns[i], lengths[i] = total, step
    return returns, lengths


@dataclass
class Reference:
    """The exact optimum of a task and the model to value policies with (None: no model)."""

    model: TabularModel | None
    optimum: float | None
    horizon: int | None
    """Horizon of the exact values: the task's time limit, else the evaluation step cap."""

    def policy_value(self, q: np.ndarray) -> float | None:
        """Exact expected return of the greedy policy of ``q`` (None without a model)."""
        if self.model is None:
            return None
        return dp.policy_value(self.model, dp.greedy_actions(q), horizon=self._horizon_for(q))

    def _horizon_for(self, q: np.ndarray) -> int | None:
        return q.shape[0] if q.ndim == 3 else self.horizon


def reference_for(env: TabularEnv, *, step_cap: int | None = None) -> Reference:
    """Model, exact optimum and value horizon of ``env`` (all None when it publishes no model)."""
    from agents.tabular.model import build_model
    from rllab.errors import UsageError

    try:
        model = build_model(env)
    except UsageError:
        return Reference(None, None, None)
    value, _ = dp.optimum(model)
    return Reference(model, value, model.time_limit or step_cap)


def summarize(returns: np.ndarray, lengths: np.ndarray, reference: Reference, q: np.ndarray) -> dict:
    """The figures ``eval`` reports: mean return, its standard error, success / win rates, the optimum."""
    n = returns.size
    figures = {
        "episodes": int(n),
        "mean_return": float(returns.mean()),
        "std_error": float(returns.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        "mean_length": float(lengths.mean()),
    }
    values = set(np.unique(returns).tolist())
    if values <= {0.0, 1.0}:
        figures["success_rate"] = float((returns == 1.0).mean())
    elif values <= {-1.0, 0.0, 1.0}:
        figures["win_rate"] = float((returns > 0).mean())
        figures["draw_rate"] = float((returns == 0).mean())
    if reference.optimum is not None:
        exact = reference.policy_value(q)
        figures["exact_return"] = exact
        figures["optimum"] = reference.optimum
        figures["ratio_to_optimum"] = ratio(figures["mean_return"], reference.optimum)
        figures["exact_ratio_to_optimum"] = ratio(exact, reference.optimum)
        figures["gap_to_optimum"] = reference.optimum - exact
    return figures


def ratio(value: float, optimum: float) -> float | None:
    """value / optimum where that means "fraction of the optimum" (a positive optimum); else None."""
    return value / optimum if optimum > 0 else None


def at_optimum(value: float, optimum: float) -> bool:
    """Whether an exact value equals the optimum, up to the rounding of the dynamic programme."""
    return value >= optimum - 1e-9 * max(1.0, abs(optimum))


def meets_target(value: float, optimum: float) -> bool:
    """The benchmark's bar: >= 95 % of a positive optimum; otherwise within 5 % of |optimum| or 0.01,
    whichever is larger (CliffWalking: exactly -13 since returns are integers; Blackjack: within 0.01)."""
    if optimum > 0:
        return value >= 0.95 * optimum - 1e-9
    return value >= optimum - max(0.01, 0.05 * abs(optimum)) - 1e-9
