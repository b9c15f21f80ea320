"""Q-network builders, chosen by name (``DQNConfig.network``).

Every builder returns a functional ``keras.Model`` mapping a batch of observations to one Q-value per
action, built only from stock Keras layers, so the exported file loads with plain
``keras.models.load_model`` (no custom objects, no ``Lambda``). Add a builder for a new observation kind
(the Atari CNN next) to `NETWORKS`.
"""
from __future__ import annotations

from typing import Callable, Sequence

from rllab.checks import check_choice, check_int
from rllab.errors import UsageError


def build_mlp_q_network(
    obs_shape: Sequence[int], num_actions: int, *, hidden_units: Sequence[int] = (256, 256), dueling: bool = False
):
    """An MLP Q-network for vector observations; with ``dueling`` the last hidden layer feeds separate
    value and advantage heads combined as ``Q = V + A - mean(A)`` (Wang et al., 2016)."""
    import keras

    from rllab.models import build_mlp

    hidden_units = tuple(hidden_units)  # build_mlp validates the sizes
    if not dueling:
        return build_mlp(tuple(obs_shape), num_actions, hidden_units=hidden_units, name="q_network")
    num_actions = check_int("num_actions", num_actions, min_value=1)
    if not hidden_units:
        raise UsageError("a dueling Q-network needs at least one hidden layer, got hidden_units=()")
    # The shared trunk: every hidden layer, the last one with its ReLU kept as the trunk's output.
    trunk = build_mlp(
        tuple(obs_shape), hidden_units[-1], hidden_units=hidden_units[:-1], output_activation="relu", name="trunk"
    )
    features = trunk.output
    value = keras.layers.Dense(1, name="value")(features)
    advantages = keras.layers.Dense(num_actions, name="advantages")(features)
    mean_advantage = keras.layers.GlobalAveragePooling1D(name="mean_advantage")(
        keras.layers.Reshape((num_actions, 1))(advantages)
    )
    centred = keras.layers.Subtract(name="centred_advantages")([advantages, mean_advantage])
    q_values = keras.layers.Add(name="q_values")([value, centred])
    return keras.Model(trunk.input, q_values, name="dueling_q_network")


NETWORKS: dict[str, Callable] = {"mlp": build_mlp_q_network}


def build_q_network(name: str, obs_shape: Sequence[int], num_actions: int, **options):
    """The Q-network called ``name`` (a key of `NETWORKS`); an unknown name is a `UsageError`."""
    return NETWORKS[check_choice("network", name, NETWORKS)](obs_shape, num_actions, **options)
