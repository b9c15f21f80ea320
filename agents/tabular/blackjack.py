"""The exact model of Gymnasium's ``Blackjack-v1``, which publishes no ``P`` table.

Rules as ``BlackjackEnv`` plays them (``sab=True``, the registered default): cards are drawn with
replacement from ``[A, 2..9, 10, J, Q, K]`` (an infinite deck, so draws are independent: a 10-valued
card has probability 4/13, every other value 1/13). The observation is
``(player_sum, dealer_showing, usable_ace)``. Hitting adds a card (-1 and the end on a bust);
sticking lets the dealer draw until their sum (ace counted 11 when that does not bust) is at least
17, then scores +1 / 0 / -1. A player *natural* (ace + ten-card as the first two cards) wins +1
unless the dealer also holds one (then 0).

Two pieces make it exact:

* `dealer_outcomes`: the distribution of the dealer's final score (17..21 or bust) given the
  showing card, by recursion over the dealer's (hard sum, holds an ace) with the hidden card as
  the first draw.
* The observation ``(21, d, 1)`` is reached both by a natural and by a soft 21 of three or more
  cards, which stick to different rewards; the model adds one hidden state per dealer card for
  "holding a natural" (state ``704 + d``). Sticking on 21 is optimal in both, so the optimal
  policy on observations is unchanged and the value from the start distribution is exact.

`random_hand_start` is Blackjack's exploring start (the env keeps no settable ``s``). Both are
hooked into the rest of the package by `agents.tabular.envs.EnvTraits`; nothing else tests for
Blackjack.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from agents.tabular.model import TabularModel

CARD_PROBABILITY = {card: (4 / 13 if card == 10 else 1 / 13) for card in range(1, 11)}
STICK, HIT = 0, 1
N_OBSERVED = 32 * 11 * 2
BUST = 0


def observation_index(player_sum: int, dealer_card: int, usable_ace: int) -> int:
    """The mixed-radix index of a Blackjack observation (as `ObservationIndexer` computes it)."""
    return (player_sum * 11 + dealer_card) * 2 + usable_ace


def natural_index(dealer_card: int) -> int:
    """The hidden model state "the player holds a natural and the dealer shows ``dealer_card``"."""
    return N_OBSERVED + dealer_card


def _hand_value(hard_sum: int, has_ace: bool) -> int:
    return hard_sum + 10 if has_ace and hard_sum + 10 <= 21 else hard_sum


@lru_cache(maxsize=None)
def _dealer_final(hard_sum: int, has_ace: bool) -> tuple[tuple[int, float], ...]:
    """Final-score distribution ((score, probability), ...) of a dealer holding this hand."""
    value = _hand_value(hard_sum, has_ace)
    if value > 21:
        return ((BUST, 1.0),)
    if value >= 17:
        return ((value, 1.0),)
    outcome: dict[int, float] = {}
    for card, p in CARD_PROBABILITY.items():
        for score, q in _dealer_final(hard_sum + card, has_ace or card == 1):
            outcome[score] = outcome.get(score, 0.0) + p * q
    return tuple(sorted(outcome.items()))


def dealer_outcomes(dealer_card: int) -> dict[int, float]:
    """{final score: probability} for a dealer showing ``dealer_card`` (1 = ace); 0 means bust."""
    return dict(_dealer_final(dealer_card, dealer_card == 1))


def dealer_natural_probability(dealer_card: int) -> float:
    """Probability that the hidden card makes a dealer natural."""
    return {1: 4 / 13, 10: 1 / 13}.get(dealer_card, 0.0)


def stick_reward(player_sum: int, dealer_card: int) -> float:
    """Expected reward of sticking on ``player_sum`` (<= 21) without a natural."""
    return sum(p * np.sign(player_sum - score) for score, p in dealer_outcomes(dealer_card).items())


def blackjack_model(tabular_env=None) -> TabularModel:
    """The exact `TabularModel` of Blackjack-v1 (observed states plus 11 natural states).

    Follows the env's ``sab`` / ``natural`` flags (default ``sab=True``: a natural wins +1 unless the
    dealer has one; ``natural=True`` without sab pays 1.5 for a winning natural)."""
    unwrapped = tabular_env.env.unwrapped if tabular_env is not None else None
    sab = bool(getattr(unwrapped, "sab", True))
    bonus = bool(getattr(unwrapped, "natural", False)) and not sab
    n_states = N_OBSERVED + 11
    transition = np.zeros((n_states, 2, n_states))
    reward = np.zeros((n_states, 2))

    def add_hit(source: int, hard_sum: int, has_ace: bool, dealer_card: int) -> None:
        for card, p in CARD_PROBABILITY.items():
            new_sum, new_ace = hard_sum + card, has_ace or card == 1
            if new_sum > 21:
                reward[source, HIT] -= p
                continue
            value = _hand_value(new_sum, new_ace)
            transition[source, HIT, observation_index(value, dealer_card, int(value != new_sum))] += p

    for dealer_card in range(1, 11):
        for player_sum in range(4, 22):
            for usable in (0, 1):
                if usable and player_sum < 12:
                    continue  # a usable ace counts 11, so the sum is at least 12
                state = observation_index(player_sum, dealer_card, usable)
                reward[state, STICK] = stick_reward(player_sum, dealer_card)
                # Without a usable ace an ace can only matter if it could still count 11 later, i.e.
                # the hand holds no ace yet when the hard sum is <= 11 (else it would be usable).
                add_hit(state, player_sum - 10 if usable else player_sum, bool(usable), dealer_card)
        natural = natural_index(dealer_card)
        if sab:  # Sutton & Barto: a natural wins unless the dealer has one too
            reward[natural, STICK] = 1.0 - dealer_natural_probability(dealer_card)
        else:  # an ordinary 21, paid 1.5 on a win with natural=True
            win = sum(p for score, p in dealer_outcomes(dealer_card).items() if score < 21)
            reward[natural, STICK] = stick_reward(21, dealer_card) + (0.5 * win if bonus else 0.0)
        add_hit(natural, 11, True, dealer_card)

    initial = np.zeros(n_states)
    for first, p1 in CARD_PROBABILITY.items():
        for second, p2 in CARD_PROBABILITY.items():
            hard_sum, has_ace = first + second, 1 in (first, second)
            value = _hand_value(hard_sum, has_ace)
            for dealer_card, pd in CARD_PROBABILITY.items():
                if {first, second} == {1, 10}:
                    initial[natural_index(dealer_card)] += p1 * p2 * pd
                else:
                    initial[observation_index(value, dealer_card, int(value != hard_sum))] += p1 * p2 * pd
    hidden_shows = np.array([observation_index(21, d, 1) for d in range(11)])  # a natural shows soft 21
    return TabularModel(transition, reward, initial, None, N_OBSERVED, hidden_shows)


def random_hand_start(tabular_env, rng: np.random.Generator) -> int:
    """Exploring start: deal random hands for a random (player sum, dealer card, usable ace) in a freshly
    reset env; returns the state index.

    Every hand a deal can start in is drawn: sums 4..21 without a usable ace, 12..21 with one. (Sutton
    & Barto's example 5.3 starts from 12..21 only, as "always hit below 12" is obvious to a person;
    a learner that never starts below 12 never visits those hands, keeps both actions there at 0 and
    its greedy policy sticks on 4..11: exact value -0.13 against the optimum -0.043.)
    """
    unwrapped = tabular_env.env.unwrapped
    usable = int(rng.integers(2))
    player_sum = int(rng.integers(12, 22)) if usable else int(rng.integers(4, 22))
    if usable:
        hand = [1, player_sum - 11]
    elif player_sum <= 11:
        hand = [2, player_sum - 2]
    elif player_sum <= 20:
        hand = [10, player_sum - 10]
    else:
        hand = [10, 9, 2]
    dealer_card = int(rng.integers(1, 11))
    unwrapped.player = hand
    unwrapped.dealer = [dealer_card, int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]))]
    return tabular_env.indexer.index(unwrapped._get_obs())
