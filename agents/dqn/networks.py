"""Q-networks as torso + head: ``DQNConfig.network`` names the torso, ``DQNConfig.dueling`` picks the head.

The torso turns a batch of observations into feature vectors; the head turns features into one Q-value
per action. Either head goes on any torso. The result is a functional ``keras.Model`` of stock Keras
layers only, so the exported file loads with plain ``keras.models.load_model`` (no custom objects, no
``Lambda``).

Each torso takes its own options, read from the DQNConfig fields of the same names (`Torso.config_fields`):
the MLP's ``hidden_units`` go to the MLP torso only; ``nature_cnn`` (Atari frames) takes none.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

from rllab.checks import check_choice, check_int
from rllab.precision import resolve_mixed_precision

if TYPE_CHECKING:
    from agents.dqn.config import DQNConfig


# --- torsos: observations -> features ---------------------------------------------------------------------
def mlp_torso(inputs, *, hidden_units: Sequence[int] = (256, 256)):
    """Dense + ReLU layers of widths ``hidden_units`` (observations with several axes are flattened first)."""
    import keras

    x = keras.layers.Flatten()(inputs) if len(inputs.shape) > 2 else inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(check_int("hidden_units", units, min_value=1), activation="relu", name=f"hidden_{i}")(x)
    return x


def nature_cnn_torso(inputs):
    """The Nature-DQN convolutional torso (Mnih et al., 2015) on stacked frames.

    Takes the env's ``(4, 84, 84)`` uint8 stacks as they are (channels first) and does the rest inside
    the network, so the replay buffer and the actor hand over raw bytes: scale to [0, 1] and move the
    stack axis last (channels-last convolutions are the fast ones on CPU). Then conv 32 8x8/4,
    conv 64 4x4/2, conv 64 3x3/1 and dense 512, all ReLU.
    """
    import keras

    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)  # first: oneDNN has no uint8 transpose here
    x = keras.layers.Permute((2, 3, 1), name="channels_last")(x) if len(inputs.shape) == 4 else x
    x = keras.layers.Conv2D(32, 8, strides=4, activation="relu", name="conv_0")(x)
    x = keras.layers.Conv2D(64, 4, strides=2, activation="relu", name="conv_1")(x)
    x = keras.layers.Conv2D(64, 3, strides=1, activation="relu", name="conv_2")(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(512, activation="relu", name="hidden")(x)


# --- heads: features -> one Q-value per action ------------------------------------------------------------
def q_head(features, num_actions: int):
    """One linear output per action."""
    import keras

    return keras.layers.Dense(num_actions, name="q_values")(features)


def dueling_head(features, num_actions: int):
    """Separate value and advantage streams, ``Q = V + A - mean_a(A)`` (Wang et al., 2016).

    Subtracting the mean advantage makes V and A identifiable: the advantages average to zero over the
    actions, so ``mean_a(Q) = V``.
    """
    import keras

    value = keras.layers.Dense(1, name="value")(features)
    advantages = keras.layers.Dense(num_actions, name="advantages")(features)
    # mean over actions with stock layers (no Lambda, so safe_mode loading works)
    mean_advantage = keras.layers.GlobalAveragePooling1D(name="mean_advantage")(
        keras.layers.Reshape((num_actions, 1))(advantages)
    )
    centred = keras.layers.Subtract(name="centred_advantages")([advantages, mean_advantage])
    return keras.layers.Add(name="q_values")([value, centred])


# --- the registry and the builder -------------------------------------------------------------------------
class Torso(NamedTuple):
    build: Callable
    """``(inputs, **options) -> features``: Keras layers applied to the observation input."""
    config_fields: tuple[str, ...]
    """The DQNConfig fields passed to ``build`` as options of the same name."""


NETWORKS: dict[str, Torso] = {
    "mlp": Torso(mlp_torso, ("hidden_units",)),
    "nature_cnn": Torso(nature_cnn_torso, ()),
}


def build_q_network(obs_shape: Sequence[int], num_actions: int, *, network: str = "mlp", dueling: bool = False,
                    mixed_precision: bool = False, **torso_options):
    """The ``network`` torso (a key of `NETWORKS`, given ``torso_options``) under a plain or dueling Q head.

    ``mixed_precision``: layers compute in bfloat16 with float32 weights; the Q-values come out float32.
    """
    import keras

    torso = NETWORKS[check_choice("network", network, NETWORKS)]
    num_actions = check_int("num_actions", num_actions, min_value=1)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed_precision else "float32")
    try:  # the global policy is what layers are built with; put back whatever the caller had
        inputs = keras.Input(shape=tuple(int(d) for d in obs_shape), name="observations")
        head = dueling_head if dueling else q_head
        q_values = head(torso.build(inputs, **torso_options), num_actions)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    if mixed_precision:
        q_values = keras.layers.Activation("linear", dtype="float32", name="q_values_float32")(q_values)
    return keras.Model(inputs, q_values, name="dueling_q_network" if dueling else "q_network")


def q_network_for(config: "DQNConfig", obs_shape: Sequence[int], num_actions: int):
    """The Q-network ``config`` describes: its torso gets only the config fields it declares."""
    torso = NETWORKS[check_choice("network", config.network, NETWORKS)]
    options = {name: getattr(config, name) for name in torso.config_fields}
    return build_q_network(obs_shape, num_actions, network=config.network, dueling=config.dueling,
                           mixed_precision=resolve_mixed_precision(config.mixed_precision), **options)
