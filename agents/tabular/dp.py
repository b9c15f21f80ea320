"""Dynamic programming on a `TabularModel`: policy evaluation, policy iteration, value iteration and
the exact finite-horizon solver.

Every backup is ``Q = reward + gamma * transition @ V`` (see `agents.tabular.model`). Policies are
arrays: ``(S,)`` greedy actions for a stationary policy, ``(H, S)`` for a time-dependent one
(row ``t`` acts at step ``t`` of the episode), or ``(S, A)`` action probabilities.

The finite-horizon solver is the reference of the lab: with the registered ``TimeLimit`` of ``H``
steps, the best achievable expected return is ``V_H`` of the recursion ``V_0 = 0``,
``V_k = max_a [r + P V_{k-1}]`` (undiscounted; a time-limit cut is just the end of the sum). The
optimal policy then depends on the steps left, so its Q table is ``(H, S, A)``. An environment
without a time limit is solved by value iteration to convergence instead (``gamma = 1`` works when
every good policy ends its episodes: CliffWalking, Blackjack).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.tabular.model import TabularModel
from rllab.checks import check_float, check_int, check_memory
from rllab.errors import UsageError


@dataclass
class DPResult:
    """What a solver found."""

    q: np.ndarray
    """(S, A), or (H, S, A) for the finite-horizon solver (row t: Q at step t)."""
    v: np.ndarray
    """(S,) optimal state values (at step 0 for the finite-horizon solver)."""
    iterations: int
    """Sweeps (value iteration, finite horizon) or improvement steps (policy iteration)."""
    evaluation_sweeps: int = 0
    """Policy-evaluation sweeps in total (policy iteration)."""

    @property
    def policy(self) -> np.ndarray:
        return greedy_actions(self.q)


def greedy_actions(q: np.ndarray) -> np.ndarray:
    """Argmax over the last axis (first best action on ties), as int64."""
    return np.asarray(q).argmax(axis=-1).astype(np.int64)


def backup(model: TabularModel, v: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: the (S, A) action values of acting once and then following values ``v``."""
    return model.reward + gamma * (model.transition @ v)


def _policy_matrices(model: TabularModel, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reward (S,) and transition (S, S) of following a stationary policy."""
    policy = np.asarray(policy)
    if policy.ndim == 1:
        states = np.arange(model.n_states)
        return model.reward[states, policy], model.transition[states, policy]
    return (policy * model.reward).sum(axis=1), np.einsum("sa,sat->st", policy, model.transition)


def policy_evaluation(
    model: TabularModel, policy: np.ndarray, *, gamma: float = 1.0, theta: float = 1e-10,
    max_sweeps: int = 100_000, v: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Iterative policy evaluation of a stationary policy: ``(V, sweeps)``, to a max change of ``theta``.

    Raises `UsageError` if it has not converged after ``max_sweeps`` (with ``gamma = 1`` a policy
    that never ends its episodes has no finite value).
    """
    reward, transition = _policy_matrices(model, policy)
    v = np.zeros(model.n_states) if v is None else v.copy()
    for sweep in range(1, max_sweeps + 1):
        new_v = reward + gamma * (transition @ v)
        delta = np.max(np.abs(new_v - v))
        v = new_v
        if delta <= theta:
            return v, sweep
    raise UsageError(f"policy evaluation did not converge in {max_sweeps} sweeps with gamma={gamma}; "
                     "a policy that never ends its episodes has no finite value at gamma=1: use a gamma below 1 (--gamma)")


def policy_iteration(model: TabularModel, *, gamma: float = 0.99, theta: float = 1e-10, max_iterations: int = 10_000) -> DPResult:
    """Howard's policy iteration: evaluate, improve greedily, until the policy is stable.

    Starts from "always action 0" and keeps the current action on ties, so it cannot cycle between
    equally good policies. With ``gamma = 1`` every policy met must end its episodes.
    """
    gamma = check_float("gamma", gamma, min_value=0.0, max_value=1.0)
    policy = np.zeros(model.n_states, dtype=np.int64)
    v = np.zeros(model.n_states)
    sweeps = 0
    for iteration in range(1, max_iterations + 1):
        v, used = policy_evaluation(model, policy, gamma=gamma, theta=theta, v=v)
        sweeps += used
        q = backup(model, v, gamma)
        current = q[np.arange(model.n_states), policy]
        improved = q.max(axis=1) > current + theta
        if not improved.any():
            return DPResult(q=q, v=v, iterations=iteration, evaluation_sweeps=sweeps)
        policy = np.where(improved, q.argmax(axis=1), policy)
    raise UsageError(f"policy iteration did not converge in {max_iterations} iterations")


def value_iteration(model: TabularModel, *, gamma: float = 0.99, theta: float = 1e-10, max_iterations: int = 1_000_000) -> DPResult:
    """Value iteration until the values change by at most ``theta`` in a sweep."""
    gamma = check_float("gamma", gamma, min_value=0.0, max_value=1.0)
    theta = check_float("theta", theta, min_value=0.0, min_inclusive=False)
    v = np.zeros(model.n_states)
    for iteration in range(1, max_iterations + 1):
        q = backup(model, v, gamma)
        new_v = q.max(axis=1)
        delta = np.max(np.abs(new_v - v))
        v = new_v
        if delta <= theta:
            return DPResult(q=backup(model, v, gamma), v=v, iterations=iteration)
    raise UsageError(f"value iteration did not converge in {max_iterations} sweeps with gamma={gamma}")


def finite_horizon(model: TabularModel, horizon: int | None = None, *, gamma: float = 1.0) -> DPResult:
    """The exact optimum within ``horizon`` steps (default: the model's time limit).

    Returns Q of shape (H, S, A): row ``t`` is for step ``t`` (``H - t`` steps left). Without any
    horizon this is value iteration to convergence (Q of shape (S, A)).
    """
    horizon = model.time_limit if horizon is None else check_int("horizon", horizon, min_value=1)
    if horizon is None:
        return value_iteration(model, gamma=gamma, theta=1e-12)
    check_memory(f"--horizon {horizon}", horizon * model.n_states * model.n_actions * 8)
    q = np.zeros((horizon, model.n_states, model.n_actions))
    v = np.zeros(model.n_states)
    for steps_left in range(1, horizon + 1):
        q[horizon - steps_left] = backup(model, v, gamma)
        v = q[horizon - steps_left].max(axis=1)
    return DPResult(q=q, v=v, iterations=horizon)


def policy_value(model: TabularModel, policy: np.ndarray, *, horizon: int | None = None, gamma: float = 1.0,
                 epsilon: float = 0.0) -> float:
    """The exact expected return of ``policy`` from the start distribution within ``horizon`` steps.

    ``policy`` is (S_obs,) or (H, S_obs) greedy actions over the observed states; hidden model states
    (Blackjack's natural) act like the observation they show. Without a horizon the value is
    iterated to convergence (the policy must end its episodes when ``gamma = 1``). With ``epsilon``
    a stationary policy acts epsilon-greedily: a uniformly random action with that chance.
    """
    policy = np.asarray(policy, dtype=np.int64)
    stationary = policy.ndim == 1  # (after the epsilon-greedy step below it is (S, A) probabilities)
    horizon = model.time_limit if horizon is None else horizon
    policy = epsilon_greedy(model, policy, epsilon) if epsilon else _extend_to_hidden_states(model, policy)
    if horizon is None:
        v, _ = policy_evaluation(model, policy, gamma=gamma, theta=1e-12)
        return float(model.initial @ v)
    v = np.zeros(model.n_states)
    if stationary:
        reward, transition = _policy_matrices(model, policy)
        for _ in range(horizon):
            new_v = reward + gamma * (transition @ v)
            if np.array_equal(new_v, v):
                break  # a fixed point: more steps left change nothing (episodes end sooner)
            v = new_v
        return float(model.initial @ v)
    for t in reversed(range(horizon)):
        reward, transition = _policy_matrices(model, policy[t])
        v = reward + gamma * (transition @ v)
    return float(model.initial @ v)


def epsilon_greedy(model: TabularModel, policy: np.ndarray, epsilon: float) -> np.ndarray:
    """(S, A) action probabilities of the stationary ``policy`` (greedy actions over the observed states)
    acting at random with chance ``epsilon`` (1: the uniformly random policy)."""
    policy = np.asarray(policy, dtype=np.int64)
    if policy.ndim != 1:
        raise ValueError(f"epsilon applies to a stationary policy, got one of shape {policy.shape}")
    policy = _extend_to_hidden_states(model, policy)
    probabilities = np.full((model.n_states, model.n_actions), epsilon / model.n_actions)
    probabilities[np.arange(model.n_states), policy] += 1.0 - epsilon
    return probabilities


def episode_length(model: TabularModel, probabilities: np.ndarray, steps: int) -> float:
    """Expected steps of an episode of the stationary (S, A) ``probabilities`` (`epsilon_greedy`): the sum over
    the first ``steps`` steps of the chance that the episode is still going."""
    _, going_on = _policy_matrices(model, probabilities)  # (S, S): the chance of going on from s to s'
    alive = model.initial.astype(float)
    length = 0.0
    for _ in range(steps):
        going = alive.sum()
        if going < 1e-9:
            break
        length += going
        alive = alive @ going_on
    return float(length)


def _extend_to_hidden_states(model: TabularModel, policy: np.ndarray) -> np.ndarray:
    if model.n_states == model.n_observed:
        return policy
    return np.concatenate([policy, policy[..., np.asarray(model.hidden_shows, dtype=np.int64)]], axis=-1)


def optimum(model: TabularModel) -> tuple[float, DPResult]:
    """The best expected undiscounted return from the start distribution, with its solution."""
    result = finite_horizon(model)
    return float(model.initial @ result.v), result


def observed_q(model: TabularModel, q: np.ndarray) -> np.ndarray:
    """The Q table over the observed states only (drops hidden model states)."""
    return np.ascontiguousarray(q[..., : model.n_observed, :])
