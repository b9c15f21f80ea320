"""Run by tests/rllab/test_distribute.py in a fresh process per model (logical devices must be set
before TensorFlow starts, and one MirroredStrategy per process: a second one in the same process can
mismatch collective keys): one training step on one device and under MirroredStrategy over two logical
CPUs, same global batch; prints the largest weight difference as one JSON line.

    python tests/rllab/mirrored_step.py classifier|gan|conditional_gan
"""
import json
import sys

import numpy as np

if __name__ == "__main__":  # never on import (pytest collects this folder)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from rllab.distribute import make_distribution  # noqa: E402

rng = np.random.default_rng(0)
images = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
labels = rng.integers(0, 10, 64).astype(np.int32)


def classifier_step(distribution):
    from rllab.classify.model import build_classifier, to_inputs

    keras.utils.set_random_seed(1)
    with distribution.strategy.scope():
        model = build_classifier("cnn")  # conv, batch norm, dropout 0.2 (off: same masks are not comparable)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model.fit(to_inputs(images), labels, batch_size=64, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def gan_step(distribution, conditional):
    from gan.config import GANConfig
    from gan.train import build_trainer, make_dataset

    # mlp: no batch norm, whose statistics are per replica (see gan/models.py); dropout off as above
    config = GANConfig(arch="mlp", conditional=conditional, batch_size=32, d_steps=2, epochs=1)
    keras.utils.set_random_seed(1)
    with distribution.strategy.scope():
        gan = build_trainer(config, seed=1)
    for layer in gan.discriminator.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    dataset, _ = make_dataset(images, labels, batch=config.images_per_step, seed=3, first_epoch=0,
                              conditional=conditional, noise_dim=config.noise_dim, d_steps=config.d_steps,
                              replicas=distribution.replicas)
    gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    return gan.generator.get_weights() + gan.discriminator.get_weights()


def largest_difference(step, *args):
    one = step(make_distribution("one-device", ["/cpu:0"]), *args)
    two = make_distribution("mirrored", ["/cpu:0", "/cpu:1"])
    assert two.replicas == 2
    mirrored = step(two, *args)
    return max(float(np.abs(a - b).max()) for a, b in zip(one, mirrored))


CASES = {"classifier": (classifier_step,), "gan": (gan_step, False), "conditional_gan": (gan_step, True)}

if __name__ == "__main__":
    case = sys.argv[1]
    print(json.dumps({case: largest_difference(*CASES[case])}))
    sys.stdout.flush()
