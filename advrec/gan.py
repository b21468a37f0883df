"""A generative adversarial network as a Keras 3 model with a custom ``train_step``, and the
two-player pattern (:class:`TwoPlayerModel`) every adversarial game of the library shares; with
:class:`GeneratorSnapshots` (a generator's samples during training) and
:func:`generator_gradient_norm` (how much a generator loss moves the generator).

Each call of ``train_step`` plays the game of Goodfellow et al. (2014, Algorithm 1) once:
``discriminator_steps`` updates of the discriminator on the real batch and fresh fakes, then
one update of the generator. Each player has its own gradient tape and its own optimizer, and
the generator's fakes are computed *inside* its tape, so its gradient flows through the
discriminator. Noise comes from a ``keras.random.SeedGenerator``, so runs are reproducible and
the step is pure TensorFlow: it runs unchanged under ``fit`` (with ``steps_per_execution``), on a
GPU, under a ``tf.distribute`` strategy, and under the ``mixed_float16`` policy (logits and losses
stay float32; the optimizers are wrapped in ``LossScaleOptimizer``).

Usage::

    gan = GAN(mlp_generator(2, (2,)), mlp_discriminator((2,)), latent_dim=2, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    gan.fit(real_samples, batch_size=256, epochs=10)
    fakes = gan.sample(1000)
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from advrec.distribute import dense_gradients, replica_normal
from advrec.losses import (
    DiscriminatorLoss,
    GeneratorLoss,
    gan_objective,
    scale_for_replicas,
    weighted_mean,
)


def mlp_generator(
    latent_dim: int,
    output_shape: Sequence[int],
    hidden_units: Sequence[int] = (64, 64),
    output_activation: str | None = None,
    name: str = "generator",
) -> keras.Model:
    """A multilayer perceptron ``z (batch, latent_dim) -> x (batch, *output_shape)``."""
    output_shape = tuple(int(d) for d in output_shape)
    output_size = 1
    for dim in output_shape:
        output_size *= dim
    noise = keras.Input(shape=(latent_dim,), name="noise")
    hidden = noise
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    flat = keras.layers.Dense(output_size, activation=output_activation)(hidden)
    sample = keras.layers.Reshape(output_shape)(flat)
    return keras.Model(noise, sample, name=name)


def mlp_discriminator(
    input_shape: Sequence[int],
    hidden_units: Sequence[int] = (64, 64),
    activation: str = "relu",
    name: str = "discriminator",
) -> keras.Model:
    """A multilayer perceptron ``x (batch, *input_shape) -> logit (batch, 1)``.

    Inputs of any shape are flattened first (the source article applied ``Dense`` to 28x28x1
    images directly). The output is a logit -- no sigmoid -- computed in float32, so the losses
    in :mod:`advrec.losses` stay numerically stable under mixed precision.
    """
    sample = keras.Input(shape=tuple(input_shape), name="sample")
    hidden = keras.layers.Flatten()(sample)
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation=activation)(hidden)
    logit = keras.layers.Dense(1, dtype="float32", name="logit")(hidden)
    return keras.Model(sample, logit, name=name)


class TwoPlayerModel:
    """The training pattern every adversarial game in the library shares (a mixin for a
    ``keras.Model``): the image :class:`GAN`, IRGAN, CFGAN, the cold-start generator and the
    shilling profile GAN.

    - ``compile(discriminator_optimizer, generator_optimizer)``: one optimizer per player (two
      distinct objects, wrapped for loss scaling under ``mixed_float16``), each built on its
      player's variables in the model's strategy scope, so every variable exists before ``fit``.
    - One update per player, with one replica-scaling rule: inside the player's tape,
      ``scaled = self.scaled_loss(player, loss, count)`` (the replica's share of the global mean,
      :func:`advrec.losses.scale_for_replicas`, then the optimizer's loss scale); after it,
      ``self.apply_update(player, tape, scaled)`` differentiates w.r.t. that player's variables
      only and applies its optimizer.
    - Metrics: ``self.track(*names)`` in ``__init__`` creates a ``keras.metrics.Mean`` per name;
      ``self.report(name=value, ...)`` updates them and returns every result (the step's logs).

    A subclass defines ``discriminator_variables`` and ``generator_variables`` (by default the
    trainable variables of ``self.discriminator`` and ``self.generator``), ``train_step`` and
    whatever it scores with. The player called the discriminator is the one that judges: in the
    cold-start game it is the recommender.
    """

    PLAYERS = ("discriminator", "generator")

    def build(self, input_shape=None) -> None:
        """Nothing to build: a subclass creates every variable in ``__init__``."""
        self.built = True

    def compile(
        self,
        discriminator_optimizer: keras.optimizers.Optimizer,
        generator_optimizer: keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        """Sets and builds one optimizer per player; ``kwargs`` go to ``keras.Model.compile``."""
        if discriminator_optimizer is generator_optimizer:
            raise ValueError(
                "The discriminator and the generator need separate optimizer objects (each "
                "keeps its own moments and step count); create two, e.g. keras.optimizers.Adam() "
                "twice."
            )
        super().compile(**kwargs)
        if self.dtype_policy.name == "mixed_float16":
            discriminator_optimizer = _with_loss_scaling(discriminator_optimizer)
            generator_optimizer = _with_loss_scaling(generator_optimizer)
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_optimizer = generator_optimizer
        # Create the optimizers' slots now, in the strategy the model was made in: built lazily
        # in the first step they would be created inside a replica context and fail.
        with self.distribute_strategy.scope():
            discriminator_optimizer.build(self.discriminator_variables)
            generator_optimizer.build(self.generator_variables)

    @property
    def discriminator_variables(self) -> list[tf.Variable]:
        return self.discriminator.trainable_variables

    @property
    def generator_variables(self) -> list[tf.Variable]:
        return self.generator.trainable_variables

    def player_optimizer(self, player: str) -> keras.optimizers.Optimizer:
        if player not in self.PLAYERS:
            raise ValueError(f"player must be one of {self.PLAYERS}, got {player!r}.")
        return getattr(self, f"{player}_optimizer")

    def scaled_loss(self, player: str, loss: tf.Tensor, count: tf.Tensor | None = None):
        """The loss to differentiate for ``player``, computed inside its tape: this replica's
        share of the global batch's mean ``loss`` (a mean over ``count`` examples here), times
        the optimizer's loss scale (1 unless mixed precision)."""
        return self.player_optimizer(player).scale_loss(scale_for_replicas(loss, count))

    def apply_update(
        self, player: str, tape: tf.GradientTape, scaled: tf.Tensor
    ) -> list[tf.Tensor]:
        """One optimizer step of ``player`` on the gradient of ``scaled`` w.r.t. its variables
        only; returns the (dense) gradients."""
        variables = getattr(self, f"{player}_variables")
        gradients = dense_gradients(tape.gradient(scaled, variables), variables)
        self.player_optimizer(player).apply(gradients, variables)
        return gradients

    def track(self, *names: str) -> None:
        """Creates one ``keras.metrics.Mean`` per name (call in ``__init__``)."""
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def report(self, count: tf.Tensor | None = None, **values: tf.Tensor) -> dict[str, tf.Tensor]:
        """Updates the named trackers with ``values``; returns every tracker's result.

        ``count`` (float scalar) weighs each value: the number of real examples it is a mean
        over (the sum of the batch's 0/1 weights), so that an epoch's value is the mean over
        real examples however the last batch was padded (:mod:`advrec.models.contract`, rule 5).
        """
        for name, value in values.items():
            self.trackers[name].update_state(value, sample_weight=count)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class GAN(TwoPlayerModel, keras.Model):
    """Generator and discriminator trained against each other by ``fit``.

    Args:
        generator: maps noise ``(batch, latent_dim)`` to samples ``(batch, *data_shape)``.
        discriminator: maps samples ``(batch, *data_shape)`` to logits ``(batch, 1)``.
        latent_dim: size of the standard-normal noise vector ``z``.
        discriminator_steps: discriminator updates per generator update (``k`` in
            Goodfellow et al., 2014); each uses the same real batch and fresh noise.
        seed: seed of the noise; ``None`` draws one at random.

    The step honours padded batches (:mod:`advrec.models.contract`): with a 0/1 ``sample_weight``
    ``[B]`` every loss is the weighted mean over the real rows -- the real samples and the fakes
    drawn for them, row ``i``'s noise being what it is unpadded -- the gradients are scaled by the
    batch's real rows, and the trackers weigh each batch by them. So
    :func:`advrec.training.fit_model` trains it through the engine (:attr:`supports_padded_batches`)
    when both losses take ``weights``: the named objectives do; a pair of the user's own callables
    without a ``weights`` parameter trains through Keras ``fit`` on unpadded batches.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        discriminator_steps: int = 1,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
        if int(discriminator_steps) < 1:
            raise ValueError(
                f"discriminator_steps must be a positive integer, got {discriminator_steps!r}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.discriminator_steps = int(discriminator_steps)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator_loss: DiscriminatorLoss | None = None
        self.generator_loss: GeneratorLoss | None = None
        self._padded_batches: bool | None = None
        self.track("d_loss", "g_loss", "d_real", "d_fake")
        # Both players are built functional models, so the GAN is built too: `fit` must not
        # try to build it by calling it on the data (the data are samples, not noise).
        self.built = generator.built and discriminator.built

    def compile(
        self,
        discriminator_optimizer: keras.optimizers.Optimizer,
        generator_optimizer: keras.optimizers.Optimizer,
        objective: str | tuple[DiscriminatorLoss, GeneratorLoss] = "non_saturating",
        **kwargs,
    ) -> None:
        """Set the two optimizers and the losses.

        Args:
            discriminator_optimizer: updates the discriminator only.
            generator_optimizer: updates the generator only (must be a different object).
            objective: ``"non_saturating"`` (default), ``"minimax"``, ``"article"`` (the source
                article's incorrect loss, for demonstrations), or a pair of callables
                ``(discriminator_loss(real_logits, fake_logits), generator_loss(fake_logits))``;
                give each a ``weights`` parameter (float ``[B]``, see :mod:`advrec.losses`) and
                the GAN trains through the engine.
            **kwargs: passed to ``keras.Model.compile`` (e.g. ``steps_per_execution``).
        """
        super().compile(discriminator_optimizer, generator_optimizer, **kwargs)
        if isinstance(objective, str):
            self.discriminator_loss, self.generator_loss = gan_objective(objective)
        else:
            self.discriminator_loss, self.generator_loss = objective

    @property
    def supports_padded_batches(self) -> bool:
        """Whether the step honours padded batches (:mod:`advrec.engine`): True once compiled
        with losses that both take ``weights`` (every named objective), unless set otherwise
        (``gan.supports_padded_batches = False`` trains through Keras ``fit``)."""
        if self._padded_batches is not None:
            return self._padded_batches
        return self._losses_take_weights()

    @supports_padded_batches.setter
    def supports_padded_batches(self, value: bool) -> None:
        self._padded_batches = bool(value)

    def _losses_take_weights(self) -> bool:
        return all(_takes_weights(f) for f in (self.discriminator_loss, self.generator_loss))

    def _weighted(self, loss, *logits: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
        """``loss(*logits)``, with ``weights=weights`` when there are weights."""
        if weights is None:
            return loss(*logits)
        if not _takes_weights(loss):
            raise TypeError(
                f"the GAN's loss {getattr(loss, '__name__', loss)!r} takes no `weights`, so it "
                "cannot train on weighted (or padded) batches; give it a weights parameter "
                "(float [B], see advrec.losses) or train without sample weights."
            )
        return loss(*logits, weights=weights)

    def call(self, noise: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Generate samples ``(batch, *data_shape)`` from noise ``(batch, latent_dim)``."""
        return self.generator(noise, training=training)

    def sample_noise(self, batch_size: int | tf.Tensor) -> tf.Tensor:
        """Standard-normal noise ``(batch_size, latent_dim)`` from the model's seed generator.

        Under a ``tf.distribute`` strategy each replica gets its own slice of one global draw
        (:func:`advrec.distribute.replica_normal`).
        """
        return replica_normal((batch_size, self.latent_dim), self.seed_generator)

    def sample(self, num_samples: int) -> tf.Tensor:
        """Draw ``num_samples`` generated samples ``(num_samples, *data_shape)``."""
        return self.generator(self.sample_noise(num_samples), training=False)

    # --- one player's gradient each -----------------------------------------------------------

    def discriminator_gradients(
        self, real: tf.Tensor, noise: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor, tf.Tensor]:
        """Gradient of the discriminator loss w.r.t. the discriminator's variables only.

        Args:
            real: ``(batch, *data_shape)`` real samples.
            noise: ``(batch, latent_dim)`` noise for the fakes.
            weights: float ``[batch]`` weight of row ``i`` (its real sample and its fake; 0 for
                padding), or ``None`` (all 1).

        Returns:
            (gradients aligned with ``discriminator.trainable_variables``, loss,
            real logits ``(batch, 1)``, fake logits ``(batch, 1)``).
        """
        fake = self.generator(noise, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            loss = self._weighted(
                self.discriminator_loss, real_logits, fake_logits, weights=weights
            )
            scaled = self.scaled_loss("discriminator", loss, _count(real, weights))
        gradients = tape.gradient(scaled, self.discriminator_variables)
        return gradients, loss, real_logits, fake_logits

    def generator_gradients(
        self, noise: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[list[tf.Tensor], tf.Tensor]:
        """Gradient of the generator loss w.r.t. the generator's variables only.

        The fakes are generated inside the tape, so the gradient flows from the
        discriminator's logits back into the generator.

        Args:
            noise: ``(batch, latent_dim)``.
            weights: float ``[batch]`` weight of each fake (0 for padding), or ``None`` (all 1).

        Returns:
            (gradients aligned with ``generator.trainable_variables``, loss).
        """
        with tf.GradientTape() as tape:
            fake = self.generator(noise, training=True)
            fake_logits = self.discriminator(fake, training=True)
            loss = self._weighted(self.generator_loss, fake_logits, weights=weights)
            scaled = self.scaled_loss("generator", loss, _count(noise, weights))
        gradients = tape.gradient(scaled, self.generator_variables)
        return gradients, loss

    # --- the game -----------------------------------------------------------------------------

    def discriminator_step(
        self, real: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """One discriminator update on ``real (batch, *data_shape)`` (rows weighted by
        ``weights`` ``[batch]``); returns its loss and the probabilities ``(batch, 1)`` it
        gives the real and the fake samples."""
        noise = self.sample_noise(tf.shape(real)[0])
        gradients, loss, real_logits, fake_logits = self.discriminator_gradients(
            real, noise, weights
        )
        self.discriminator_optimizer.apply(gradients, self.discriminator_variables)
        return loss, tf.sigmoid(real_logits), tf.sigmoid(fake_logits)

    def generator_step(
        self, batch_size: int | tf.Tensor, weights: tf.Tensor | None = None
    ) -> tf.Tensor:
        """One generator update on ``batch_size`` fresh fakes (weighted by ``weights``
        ``[batch_size]``); returns its loss."""
        gradients, loss = self.generator_gradients(self.sample_noise(batch_size), weights)
        self.generator_optimizer.apply(gradients, self.generator_variables)
        return loss

    def train_step(self, data) -> dict[str, tf.Tensor]:
        """One round of the game on real samples ``(B, *data_shape)``, with an optional 0/1
        ``sample_weight`` ``[B]`` (padding rows weigh 0: their fakes too, as the ``B`` fakes of
        each move are drawn row by row)."""
        real, _, weights = keras.utils.unpack_x_y_sample_weight(data)
        if weights is not None:
            weights = tf.cast(weights, tf.float32)
        count = _count(real, weights)
        for _ in range(self.discriminator_steps):  # unrolled when traced: k is a Python int
            d_loss, d_real, d_fake = self.discriminator_step(real, weights)
            self.report(
                count=count,
                d_loss=d_loss,
                d_real=weighted_mean(tf.reshape(d_real, [-1]), weights),
                d_fake=weighted_mean(tf.reshape(d_fake, [-1]), weights),
            )
        g_loss = self.generator_step(tf.shape(real)[0], weights)
        return self.report(count=count, g_loss=g_loss)


def _count(batch: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
    """float32 scalar: the real rows of ``batch`` ``[B, ...]``, ``sum(weights)`` or ``B``."""
    if weights is None:
        return tf.cast(tf.shape(batch)[0], tf.float32)
    return tf.reduce_sum(tf.cast(weights, tf.float32))


def _takes_weights(loss) -> bool:
    """Whether the callable ``loss`` accepts a ``weights`` keyword argument."""
    if loss is None:
        return False
    try:
        parameters = inspect.signature(loss).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins)
        return False
    return any(p.name == "weights" or p.kind is p.VAR_KEYWORD for p in parameters)


class GeneratorSnapshots(keras.callbacks.Callback):
    """Keeps the generator's samples from fixed ``noise`` ``(n, latent_dim)`` after each epoch of
    ``epochs`` (1-based): ``samples[epoch]`` is a numpy array ``(n, *data_shape)``, so snapshots
    differ only because the generator changed."""

    def __init__(self, noise, epochs=()) -> None:
        super().__init__()
        self.noise, self.epochs, self.samples = noise, set(epochs), {}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 in self.epochs:
            self.samples[epoch + 1] = np.asarray(self.model.generator(self.noise, training=False))


def generator_gradient_norm(gan: GAN, noise, loss=None) -> float:
    """Global l2 norm of the gradient of a generator loss w.r.t. the generator's weights, on the
    fakes made from ``noise`` ``(n, latent_dim)``; ``loss(fake_logits)`` defaults to the GAN's
    own (e.g. :func:`advrec.losses.minimax_generator_loss`)."""
    loss = gan.generator_loss if loss is None else loss
    with tf.GradientTape() as tape:
        fake_logits = gan.discriminator(gan.generator(noise, training=True), training=True)
        value = loss(fake_logits)
    gradients = tape.gradient(value, gan.generator.trainable_variables)
    return float(tf.linalg.global_norm(gradients))


def _with_loss_scaling(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """Wrap ``optimizer`` in a ``LossScaleOptimizer`` unless it already is one."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
