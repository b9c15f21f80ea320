"""`GAN`: one trainer for every architecture, a `keras.Model` so that plain ``fit()`` trains it.

``train_step`` is the classic recipe:

1. D phase (``d_steps`` times, each on its own real batch): D learns real = 1 (or 1 - label
   smoothing) and fake = 0 on fresh generated images; only D's weights change.
2. G phase: G learns to make D say 1 on fresh generated images; the gradient flows through D, whose
   weights are left alone (only G's gradients are applied).

The noise (and, conditional, the fake labels) may come with the data: a batch that is a dict
``{"images", "labels"?, "z_d", "z_g", "fake_labels_d"?, "fake_labels_g"?}`` (what `gan.train.make_dataset`
makes) carries its own draws, so that under a multi-replica ``tf.distribute`` strategy every replica
gets its slice of them like the images (a seed generator would give every replica the same draws),
and one step equals the one-device step over the global batch. Plain image batches draw the noise here.

Losses are means over the replica's batch; Keras reduces the gradients across replicas.

With ``info_codes`` K > 0 (InfoGAN's categorical code, unsupervised: `gan.models`) the category of each
fake is the argmax of its z's first K entries; D's extra K logits must recover it, and both D (on the
fakes of its phase) and G add ``info_weight`` times that cross-entropy to their loss, so each category
comes to stand for one kind of image. Training draws the categories equally often unless ``category_shift`` (set
between epochs by `gan.train.DataCategoryPrior`) is added to z's first K entries; `category_prior` measures
how often D assigns real images to each.

Four `keras.metrics.Mean` trackers (``d_loss``, ``g_loss``, ``d_real`` = mean D(x), ``d_fake`` =
mean D(G(z))) are what ``fit()`` logs, so CSVLogger, TensorBoard, EarlyStopping and friends work
unchanged. With ``ema > 0`` a moving average of G's weights is kept after each G update and is what
samples come from (`GAN.sampler`).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from gan.models import info_category
from rllab.checks import check_float, check_int


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    Data: batches of images in [-1, 1] shaped (B, 28, 28, 1), or ``(images, labels)`` for a
    conditional GAN (G and D then take ``[z, label]`` / ``[image, label]``).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, noise_dim: int,
                 conditional: bool = False, num_classes: int = 10, seed: int | None = None, ema: float = 0.0,
                 info_codes: int = 0, info_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.ema = check_float("ema", ema, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.ema_generator = None
        if self.ema > 0:
            # A copy of G whose weights follow G's exponential moving average: samples from it are
            # steadier and cleaner than from G's last step.
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.noise_dim = check_int("noise_dim", noise_dim, min_value=1)
        self.info_codes = check_int("info_codes", info_codes, min_value=0, max_value=self.noise_dim - 1)
        self.info_weight = check_float("info_weight", info_weight, min_value=0.0)
        self.conditional = bool(conditional)
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Added to the code entries of every z training draws (`gan.models.argmax_shift` of a prior); zero: the
        # categories are drawn equally often.
        self.category_shift = (self.add_weight(shape=(self.info_codes,), initializer="zeros", trainable=False,
                                               name="category_shift") if self.info_codes else None)
        self.built = True  # G and D are built models: nothing left to build (ModelCheckpoint can save weights)

    def compile(self, d_optimizer, g_optimizer, loss_fn=None, *, label_smoothing: float = 0.0, d_steps: int = 1, **kwargs):
        """``loss_fn(targets, logits)``: binary cross-entropy on logits unless given."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn or keras.losses.BinaryCrossentropy(from_logits=True)
        self.label_smoothing = check_float("label_smoothing", label_smoothing, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.d_steps = check_int("d_steps", d_steps, min_value=1)
        names = ("d_loss", "g_loss", "d_real", "d_fake") + (("info_loss",) if self.info_codes else ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        return list(getattr(self, "trackers", {}).values())

    def build_optimizers(self) -> None:
        """Create the optimizers' slots now (a checkpoint restore needs them to exist)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def sampler(self) -> keras.Model:
        """The generator to draw samples from and to export: the moving average of G when kept, else G."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        """G's images: ``inputs`` is z, or ``[z, labels]`` when conditional."""
        return self.generator(inputs, training=training)

    def update_ema(self):
        """Move the averaged G towards G (the decay ramps up over the first steps: (1 + t) / (10 + t))."""
        t = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema, (1.0 + t) / (10.0 + t))
        for average, weight in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            average.assign(decay * average + (1.0 - decay) * weight)
        for average, weight in zip(self.ema_generator.non_trainable_variables, self.generator.non_trainable_variables):
            average.assign(weight)

    def _noise(self, batch_size):
        return keras.random.normal((batch_size, self.noise_dim), seed=self.seed_generator)

    def _with_training_prior(self, z):
        """``z`` with ``category_shift`` added to its code entries (unchanged without codes)."""
        if not self.info_codes:
            return z
        shift = tf.cast(self.category_shift, z.dtype)
        return tf.concat([z[:, :self.info_codes] + shift, z[:, self.info_codes:]], axis=1)

    def _fake_labels(self, batch_size):
        return keras.random.randint((batch_size,), 0, self.num_classes, seed=self.seed_generator, dtype="int32")

    def _g(self, z, labels, training):
        return self.generator([z, labels] if self.conditional else z, training=training)

    def _d(self, images, labels, training):
        """D's real/fake logits (B, 1) and, with info codes, its code logits (B, K); else None."""
        logits = tf.cast(self.discriminator([images, labels] if self.conditional else images, training=training), tf.float32)
        if not self.info_codes:
            return logits, None
        return logits[:, :1], logits[:, 1:]

    def _info_loss(self, code_logits, z):
        """Cross-entropy of D's guess of each fake's category (the argmax of z's first K entries); 0 without codes."""
        if not self.info_codes:
            return 0.0
        codes = info_category(z, self.info_codes)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(codes, code_logits))

    def d_step(self, real, labels, z=None, fake_labels=None):
        """One D update on ``real`` and as many fresh fakes (from ``z``/``fake_labels`` when given);
        returns (loss, mean D(x), mean D(G(z)), info loss)."""
        batch = tf.shape(real)[0]
        z = self._with_training_prior(self._noise(batch) if z is None else z)
        if self.conditional and fake_labels is None:
            fake_labels = self._fake_labels(batch)
        # G makes the fakes in training mode (batch statistics), as in the G phase, but its batch-norm
        # moving averages are left alone: a D update changes D's variables only.
        fake = self.generator.stateless_call(
            [v.value for v in self.generator.trainable_variables],
            [v.value for v in self.generator.non_trainable_variables],
            [z, fake_labels] if self.conditional else z, training=True)[0]
        images = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)
        both_labels = tf.concat([labels, fake_labels], axis=0) if self.conditional else None
        targets = tf.concat([tf.fill([batch, 1], 1.0 - self.label_smoothing), tf.zeros([batch, 1])], axis=0)
        with tf.GradientTape() as tape:
            logits, code_logits = self._d(images, both_labels, training=True)
            loss = self.loss_fn(targets, logits)
            info_loss = self._info_loss(None if code_logits is None else code_logits[batch:], z)
            total = loss + self.info_weight * info_loss
        grads = tape.gradient(total, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        probs = tf.sigmoid(logits)
        return loss, tf.reduce_mean(probs[:batch]), tf.reduce_mean(probs[batch:]), info_loss

    def g_step(self, batch, z=None, labels=None):
        """One G update through the frozen D, target 1 (on ``z``/``labels`` when given); returns the loss."""
        z = self._with_training_prior(self._noise(batch) if z is None else z)
        if self.conditional and labels is None:
            labels = self._fake_labels(batch)
        with tf.GradientTape() as tape:
            logits, code_logits = self._d(self._g(z, labels, training=True), labels, training=True)
            loss = self.loss_fn(tf.ones_like(logits), logits)
            total = loss + self.info_weight * self._info_loss(code_logits, z)
        grads = tape.gradient(total, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        return loss

    def train_step(self, data):
        draws = {}
        if isinstance(data, dict):
            draws = data
            real, labels = data["images"], data.get("labels")
        else:
            real, labels = data if self.conditional else (data, None)
        if isinstance(real, (tuple, list)):  # (x,) from a plain dataset
            real = real[0]

        def split(tensor):
            return [None] * self.d_steps if tensor is None else tf.split(tensor, self.d_steps) if self.d_steps > 1 else [tensor]

        batches = split(real)
        for real_batch, label_batch, z, fake_labels in zip(batches, split(labels), split(draws.get("z_d")),
                                                           split(draws.get("fake_labels_d"))):
            d_loss, d_real, d_fake, info_loss = self.d_step(real_batch, label_batch, z, fake_labels)
            self.trackers["d_loss"].update_state(d_loss)
            if self.info_codes:
                self.trackers["info_loss"].update_state(info_loss)
            self.trackers["d_real"].update_state(d_real)
            self.trackers["d_fake"].update_state(d_fake)
        g_loss = self.g_step(tf.shape(batches[0])[0], draws.get("z_g"), draws.get("fake_labels_g"))
        self.trackers["g_loss"].update_state(g_loss)
        if self.ema_generator is not None:
            self.update_ema()
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def category_prior(self, images, *, batch_size: int = 2000):
        """How often each InfoGAN category should be drawn to match ``images`` (real images in [-1, 1]): the mean
        of D's category probabilities over them (float64, sums to 1). Labels are not used."""
        total = 0.0
        for start in range(0, len(images), batch_size):
            _, code_logits = self._d(images[start:start + batch_size], None, training=False)
            total = total + tf.reduce_sum(tf.nn.softmax(code_logits), axis=0).numpy().astype("float64")
        return total / total.sum()

    def generate(self, z, labels=None, *, batch_size: int = 1000):
        """Images in [-1, 1] from G in inference mode (NumPy in, NumPy out)."""
        inputs = [z, labels] if self.conditional else z
        return self.sampler.predict(inputs, batch_size=batch_size, verbose=0)
