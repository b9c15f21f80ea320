"""Monte Carlo methods: first-/every-visit prediction and three control methods.

* ``mc``: on-policy control with an epsilon-soft (epsilon-greedy) policy;
* ``mc-es``: exploring starts -- every episode begins in a random state with a random first
  action (the env's state is set directly; see `agents.tabular.envs.exploring_start`), then acts
  epsilon-greedily (epsilon 0 is the textbook's greedy policy);
* ``mc-off-policy``: weighted importance sampling; the behaviour is epsilon-greedy, the target
  greedy (ties shared evenly) with respect to the table the episode was played with, and each return
  is weighted by prod pi/b (S&B section 5.7, except that "greedy" is not re-judged after each update);
  every visit by default (`METHOD_DEFAULTS`), first visits with ``first_visit``. With ``retrace``
  the returns are Retrace(lambda = 1) ones instead (Munos et al. 2016): each ratio truncated at 1, and
  where the behaviour left the greedy policy the earlier steps' return continues from max Q there.

Each Q entry is an average of the returns that followed it. With ``forget_episodes`` set, that
average forgets in *episode time*: a return's weight decays by 1/e over ``forget_episodes``
episodes, however often its state-action is visited. A per-sample step-size floor would instead
let a rarely taken action keep returns from a far older, worse policy; it then stays
underestimated, the greedy policy stops trying it, and the policy locks in. With ``initial_weight``
the initial Q counts as that many returns seen at episode 0, so optimism outlives the first return.

With ``exploration_bonus`` b, each reward learned from gains b / sqrt(N(s')), N(s') counting the
arrivals so far in the (non-terminal) state reached: a count-based bonus (Strehl & Littman 2008; Bellemare
et al. 2016). TD carries the optimism of untried actions back along a path by bootstrapping; a Monte
Carlo return carries only what the episode met, so where the goal lies beyond a corridor of holes the
greedy policy stayed worth 0 for most of the budget (slippery random 8x8 map 0, 190000 of 300000
episodes on seed 2). The bonus makes reaching rarely seen states worth a detour and fades as they
become familiar.

Returns are computed backwards at the end of the episode. If a time limit *truncated* the
episode, the return of its last state starts from that state's value (bootstrapped from Q) rather
than from 0: the task would have gone on, and cutting it would teach "time runs out" that the
state does not show.
"""
from __future__ import annotations

import math

import numpy as np

from agents.tabular.agent import Agent


class MonteCarloControl(Agent):
    """On-policy first-visit (or every-visit) Monte Carlo control with an epsilon-soft policy."""

    def __init__(self, n_states, n_actions, config, rng):
        super().__init__(n_states, n_actions, config, rng)
        # N(s, a) for sample averages; with forget_episodes, a count that decays with episodes since last_update.
        self.visits = np.full((n_states, n_actions), config.initial_weight, dtype=np.float64)
        self.arrivals = np.zeros(n_states, dtype=np.float64)  # N(s') of the exploration bonus
        self.last_update = np.zeros((n_states, n_actions), dtype=np.float64)  # episode of each entry's last update
        self.episode: list[tuple[int, int, float]] = []
        self.episode_index = 0
        self.tail_value = 0.0
        self.first_action_random = False

    def begin_episode(self, episode):
        super().begin_episode(episode)
        self.episode = []
        self.episode_index = episode
        self.tail_value = 0.0

    def add_weight(self, table: np.ndarray, state: int, action: int, weight: float) -> float:
        """``table[state, action] += weight`` (the averaging weight of this entry's returns), first
        decayed for the episodes since the entry's last update when ``forget_episodes`` is set;
        returns the new total. One weight table per learner: the update time is shared."""
        forget = self.config.forget_episodes
        total = table.item(state, action)  # Python floats: NumPy scalars cost more per operation, to the same bits
        elapsed = self.episode_index - self.last_update.item(state, action)
        if forget and elapsed:
            total *= math.exp(-elapsed / forget)
        total += weight
        table[state, action] = total
        self.last_update[state, action] = self.episode_index
        return total

    def act(self, state):
        if self.first_action_random and not self.episode:
            return int(self.rng.integers(self.n_actions))
        return self.epsilon_greedy(self.q, state)

    def update(self, state, action, reward, next_state, terminated, truncated):
        bonus = self.config.exploration_bonus
        if bonus and not terminated:
            self.arrivals[next_state] += 1.0
            reward += bonus / math.sqrt(self.arrivals[next_state])
        self.episode.append((state, action, reward))
        if truncated and not terminated:
            self.tail_value = self.bootstrap_value(next_state)

    def bootstrap_value(self, state: int) -> float:
        """Value of the state a time limit cut the episode in (the policy being learned)."""
        return self.expected_value(self.q, state)

    def end_episode(self):
        first = first_visit_flags(self.episode) if self.config.first_visit else None
        q, gamma, step_size, sample_average = self.q, self.gamma, self.step_size, self.config.sample_average
        g = self.tail_value
        for t in range(len(self.episode) - 1, -1, -1):
            state, action, reward = self.episode[t]
            g = reward + gamma * g
            if first is not None and not first[t]:
                continue
            count = self.add_weight(self.visits, state, action, 1.0)
            alpha = max(1.0 / count, step_size) if sample_average else step_size
            value = q.item(state, action)
            q[state, action] = value + alpha * (g - value)

    def state_arrays(self):
        return {"q": self.q, "visits": self.visits, "last_update": self.last_update, "arrivals": self.arrivals}


class ExploringStartsMC(MonteCarloControl):
    """Monte Carlo ES: the training loop starts each episode in a random state; the first action is random."""

    def __init__(self, n_states, n_actions, config, rng):
        super().__init__(n_states, n_actions, config, rng)
        self.first_action_random = True

    def bootstrap_value(self, state):
        return float(self.q[state].max())


class OffPolicyMC(MonteCarloControl):
    """Off-policy Monte Carlo control with weighted importance sampling (greedy target policy)."""

    def __init__(self, n_states, n_actions, config, rng):
        super().__init__(n_states, n_actions, config, rng)
        self.weights = np.full((n_states, n_actions), config.initial_weight, dtype=np.float64)  # C(s, a): cumulative IS weights
        self.behaviour_probs: list[float] = []
        self.target_probs: list[float] = []

    def begin_episode(self, episode):
        super().begin_episode(episode)
        self.behaviour_probs = []
        self.target_probs = []

    def act(self, state):
        action, behaviour, target = self.epsilon_greedy_with_probabilities(self.q, state)
        # The target policy is the greedy policy of the Q table the episode is played with, fixed before its
        # returns are known. Judging "greedy" after each backward update instead (S&B's box) lets the outcome
        # choose which returns reach earlier steps: a failure lowers Q(s, a) until it is no longer greedy and
        # stops there, a success raises it and flows on, so the values overestimate (FrozenLake8x8: greedy
        # actions valued 0.7-0.9 where their true value was 0.4-0.6, exact greedy value 0.15 of 0.91).
        self.behaviour_probs.append(behaviour)
        self.target_probs.append(target)
        return action

    def bootstrap_value(self, state):
        return float(self.q[state].max())

    def end_episode(self):
        first = first_visit_flags(self.episode) if self.config.first_visit else None
        q, gamma, step_size, sample_average = self.q, self.gamma, self.step_size, self.config.sample_average
        retrace, target_probs = self.config.retrace, self.target_probs
        g, weight = self.tail_value, 1.0
        for t in range(len(self.episode) - 1, -1, -1):
            state, action, reward = self.episode[t]
            g = reward + gamma * g
            if first is None or first[t]:
                total = self.add_weight(self.weights, state, action, weight)
                # Weighted IS averages with W / C(s, a); as for on-policy averages, step_size is a floor so the
                # heavy weights of early, more random episodes are eventually forgotten.
                alpha = max(weight / total, step_size) if sample_average else step_size * weight
                value = q.item(state, action)
                q[state, action] = value + min(alpha, 1.0) * (g - value)
            if not target_probs[t]:
                if not retrace:
                    break  # the greedy target policy would not have taken it: earlier steps get weight 0
                # The target policy would have gone on greedily from here: the return of the steps before
                # continues from its value of this state, as at a time-limit cut (max Q of the current table;
                # the value the greedy action had when the episode was played measured no better).
                g, weight = float(q[state].max()), 1.0
                continue
            ratio = target_probs[t] / self.behaviour_probs[t]
            weight *= min(ratio, 1.0) if retrace else ratio

    def state_arrays(self):
        return super().state_arrays() | {"weights": self.weights}


MC_AGENTS = {"mc": MonteCarloControl, "mc-es": ExploringStartsMC, "mc-off-policy": OffPolicyMC}


def first_visit_flags(episode: list[tuple[int, int, float]]) -> list[bool]:
    """For each step, whether its (state, action) occurs there for the first time in the episode."""
    seen: set[tuple[int, int]] = set()
    flags = []
    for state, action, _ in episode:
        flags.append((state, action) not in seen)
        seen.add((state, action))
    return flags


def mc_prediction(env, policy: np.ndarray, *, episodes: int, gamma: float = 1.0, first_visit: bool = True,
                  rng: np.random.Generator | None = None, seed: int | None = None) -> np.ndarray:
    """Monte Carlo estimate of V for a fixed policy ((S,) actions or (S, A) probabilities), by averaging returns."""
    rng = rng or np.random.default_rng(seed)
    policy = np.asarray(policy)
    totals, counts = np.zeros(env.n_states), np.zeros(env.n_states)
    for episode in range(episodes):
        state = env.reset(seed=seed if episode == 0 else None)
        trajectory = []
        while True:
            action = int(policy[state]) if policy.ndim == 1 else int(rng.choice(env.n_actions, p=policy[state]))
            next_state, reward, terminated, truncated = env.step(action)
            trajectory.append((state, 0, reward))
            if terminated or truncated:
                break
            state = next_state
        first = first_visit_flags(trajectory) if first_visit else [True] * len(trajectory)
        g = 0.0
        for t in range(len(trajectory) - 1, -1, -1):
            state, _, reward = trajectory[t]
            g = reward + gamma * g
            if first[t]:
                totals[state] += g
                counts[state] += 1
    return np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
