"""CFGAN (Chae et al., CIKM 2018): a vector-wise conditional GAN for collaborative filtering.

Each training row is a purchase vector ``e`` over all columns: a user's items (``mode="user"``)
or an item's users (``mode="item"``, what the released ML-100K setting uses). The generator maps
the condition ``c = e`` to a real-valued vector ``r_hat = G(c)`` over all columns; the
discriminator judges ``[c; x]`` with ``x`` either the real ``e`` or the fake ``r_hat ⊙ m``:

- **partial masking (PM):** the mask ``m`` is ``e`` plus a random ``pm_ratio`` share of the
  unobserved columns, so D sees (and G must keep low) some non-purchased entries;
- **zero reconstruction (ZR):** a random ``zr_ratio`` share of the unobserved columns is pulled
  to 0 by ``zr_weight · mean_rows sum_j r_hat_j^2 · z_j``.

The masks are drawn once per ``train_step`` and shared by the discriminator and generator
updates of that step. The fakes are computed *inside* the generator's tape, so G's gradient
flows through D's verdict. Items are ranked by ``r_hat``.

**Schedule.** The released code (Chae et al., ``trainCFGAN``) plays rounds: ``step_D`` passes of
D over all rows in batches of ``batchSize_D``, then ``step_G`` passes of G in batches of
``batchSize_G`` (ML-100K: 2 passes at 64 rows, 4 passes at 32 rows), with masks drawn once per
round. Here each ``train_step`` takes a batch of rows, makes ``discriminator_steps`` D updates on
it and, ``generator_steps`` times, one G update on each of its ``generator_chunks`` equal slices:
with the defaults (1, 2, 2) and 64-row batches, one pass over the rows is one D pass and two G
passes at 32 rows -- half a released round, with the released batch sizes and update counts,
interleaved per batch instead of in whole passes, and with masks drawn per step.

The step honours padded batches (:mod:`advrec.models.contract`): D's and G's losses are means
over the rows of weight 1 and the G slices cut the real rows alone, so the engine
(:mod:`advrec.engine`) trains it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.data.sampling import Examples
from advrec.distribute import global_rows, replica_uniform, sum_over_replicas
from advrec.gan import TwoPlayerModel
from advrec.losses import weighted_mean
from advrec.models.saving import WeightsOnly
from advrec.seeds import derive_seed

MODES = ("user", "item")


def cfgan_masks(
    real: tf.Tensor, pm_ratio: float, zr_ratio: float, seed: keras.random.SeedGenerator
) -> tuple[tf.Tensor, tf.Tensor]:
    """The PM mask and the ZR selection for a batch of purchase vectors.

    Args:
        real: float32 ``[B, n]`` 0/1 purchase vectors.
        pm_ratio: chance that an unobserved entry joins the partial mask.
        zr_ratio: chance that an unobserved entry is pulled to zero.
        seed: the model's seed generator.

    Returns:
        ``mask [B, n]`` (1 on every purchase, and on a random ``pm_ratio`` share of the rest)
        and ``zero [B, n]`` (1 on a random ``zr_ratio`` share of the non-purchases, never on a
        purchase).
    """
    unobserved = 1.0 - real
    n = tf.shape(real)[1]
    draws = replica_uniform((tf.shape(real)[0], 2 * n), seed)  # this replica's rows
    mask = real + unobserved * tf.cast(draws[:, :n] < pm_ratio, real.dtype)
    zero = unobserved * tf.cast(draws[:, n:] < zr_ratio, real.dtype)
    return mask, zero


def _mlp(inputs: int, units: int, layers: int, outputs: int, name: str, seed: int):
    """``inputs -> (units, sigmoid) x layers -> outputs`` (linear), Glorot-uniform weights."""
    x = keras.Input(shape=(inputs,))
    h = x
    for layer in range(layers):
        init = keras.initializers.GlorotUniform(seed=derive_seed(seed, f"{name} layer {layer}"))
        h = keras.layers.Dense(units, activation="sigmoid", kernel_initializer=init)(h)
    init = keras.initializers.GlorotUniform(seed=derive_seed(seed, f"{name} output"))
    out = keras.layers.Dense(outputs, kernel_initializer=init, dtype="float32")(h)
    return keras.Model(x, out, name=name)


class CFGAN(WeightsOnly, TwoPlayerModel, keras.Model):
    """CFGAN with partial masking and zero reconstruction (the "ZP" scheme).

    Defaults follow the released ML-100K setting (``parameters.py`` in the original code:
    item-based, G 1x400, D 1x125, ZR and PM ratios 0.7, ZR weight 0.03, G l2 0.001, D l2 0;
    per round 2 D passes in batches of 64 and 4 G passes in batches of 32, see the module
    docstring for how a step maps onto them).

    The step honours padded batches (rows of ``sample_weight`` 0 change nothing), so
    :func:`advrec.training.fit_model` trains it through the engine.

    Args:
        train: training interactions (implicit; a pair counts once).
        mode: ``"user"`` (rows are users) or ``"item"`` (rows are items).
        generator_units, discriminator_units: hidden width of each player.
        generator_layers, discriminator_layers: hidden layers of each player.
        pm_ratio, zr_ratio, zr_weight: partial masking and zero reconstruction.
        generator_l2, discriminator_l2: weights of ``sum(w^2) / 2`` over each player's weights.
        discriminator_steps: D updates on the step's rows per ``train_step``.
        generator_steps: passes of G over the step's rows per ``train_step``.
        generator_chunks: each G pass makes one update per slice of the step's rows, cut into
            this many equal slices (the released G batch is half the D batch: 2). Every batch
            needs at least this many rows (:meth:`row_examples` checks).
        seed: seeds the weights and the masks.
    """

    supports_padded_batches = True

    def __init__(
        self,
        train: Interactions,
        mode: str = "item",
        generator_units: int = 400,
        discriminator_units: int = 125,
        generator_layers: int = 1,
        discriminator_layers: int = 1,
        pm_ratio: float = 0.7,
        zr_ratio: float = 0.7,
        zr_weight: float = 0.03,
        generator_l2: float = 0.001,
        discriminator_l2: float = 0.0,
        discriminator_steps: int = 1,
        generator_steps: int = 2,
        generator_chunks: int = 2,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        for name, value in (("pm_ratio", pm_ratio), ("zr_ratio", zr_ratio)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}.")
        sizes = (discriminator_steps, generator_steps, generator_chunks)
        if min(*sizes, generator_units, discriminator_units) < 1:
            raise ValueError("steps, chunks and units must be positive integers.")
        if len(train) == 0:
            raise ValueError("the training table is empty: CFGAN has no purchase vectors.")
        self.mode, self.n_users, self.n_items = mode, train.n_users, train.n_items
        self.pm_ratio, self.zr_ratio, self.zr_weight = float(pm_ratio), float(zr_ratio), zr_weight
        self.generator_l2, self.discriminator_l2 = float(generator_l2), float(discriminator_l2)
        self.discriminator_steps, self.generator_steps = discriminator_steps, generator_steps
        self.generator_chunks = int(generator_chunks)
        self.record_training_data(train)
        matrix = train.dense()
        matrix = np.ascontiguousarray(matrix.T) if mode == "item" else matrix
        self.n_rows, self.n_columns = matrix.shape
        self.vectors = tf.constant(matrix)  # [n_rows, n_columns]
        n = self.n_columns
        self.generator = _mlp(n, generator_units, generator_layers, n, "generator", seed)
        self.discriminator = _mlp(
            2 * n, discriminator_units, discriminator_layers, 1, "discriminator", seed
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("d_loss", "g_loss")
        self.built = True  # every variable exists: fit must not build by calling the model

    def row_examples(self, batch_size: int, seed: int = 0) -> Examples:
        """The training rows (int32 ids ``[n_rows]``) as :class:`~advrec.data.sampling.Examples`:
        each epoch a new order, fixed by ``seed`` alone. Every batch must hold at least
        ``generator_chunks`` real rows (the engine's padding rows are in no G slice)."""
        last = self.n_rows % batch_size
        if batch_size < self.generator_chunks or 0 < last < self.generator_chunks:
            raise ValueError(
                f"with {self.n_rows} rows a batch size of {batch_size} leaves a batch of fewer "
                f"than generator_chunks = {self.generator_chunks} rows (one per G slice); "
                "choose another batch size."
            )
        return Examples((np.arange(self.n_rows, dtype=np.int32),), batch_size, seed)

    def generate(self, rows: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_columns]`` generated vectors for int32 ``[B]`` rows."""
        return self.generator(tf.gather(self.vectors, rows), training=False)

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: the generated vectors, read per user."""
        if self.mode == "user":
            return self.generate(users)
        everything = self.generator(self.vectors, training=False)  # [n_items, n_users]
        return tf.gather(tf.transpose(everything), users)

    def call(self, rows, training: bool = False) -> tf.Tensor:
        return self.generator(tf.gather(self.vectors, rows), training=training)

    def _l2(self, variables: list[tf.Variable], weight: float) -> tf.Tensor:
        if not weight:
            return tf.constant(0.0)
        return weight * tf.add_n([tf.nn.l2_loss(v) for v in variables])

    def discriminator_loss(
        self, real: tf.Tensor, mask: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tf.Tensor:
        """D's cross-entropy on ``[c; e]`` (real) and ``[c; G(c) ⊙ m]`` (fake), ``real`` and
        ``mask`` float32 ``[B, n]``; G is fixed. Means over the rows, or over the rows of weight 1
        when 0/1 ``weights`` float ``[B]`` are given."""
        fake = tf.stop_gradient(self.generator(real, training=True)) * mask
        real_logits = self.discriminator(tf.concat([real, real], 1), training=True)
        fake_logits = self.discriminator(tf.concat([real, fake], 1), training=True)
        return weighted_mean(tf.nn.softplus(-tf.reshape(real_logits, [-1])), weights) + (
            weighted_mean(tf.nn.softplus(tf.reshape(fake_logits, [-1])), weights)
        )

    def generator_loss(
        self, real: tf.Tensor, mask: tf.Tensor, zero: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """G's non-saturating loss on D's verdict plus ZR; returns (total, adversarial part).

        Means over the rows, or over the rows of weight 1 when 0/1 ``weights`` float ``[B]``
        are given. Call it inside the generator's tape: the fakes are made here, so the gradient
        reaches G through D.
        """
        generated = self.generator(real, training=True)
        fake_logits = self.discriminator(tf.concat([real, generated * mask], 1), training=True)
        adversarial = weighted_mean(tf.reshape(tf.nn.softplus(-fake_logits), [-1]), weights)
        reconstruction = weighted_mean(tf.reduce_sum(tf.square(generated) * zero, axis=1), weights)
        return adversarial + self.zr_weight * reconstruction, adversarial

    def train_step(self, data):
        rows, _, weights = keras.utils.unpack_x_y_sample_weight(data)
        real = tf.gather(self.vectors, tf.cast(rows, tf.int32))  # [B, n]
        rows = tf.shape(real)[0]
        weights = tf.ones([rows]) if weights is None else tf.cast(weights, real.dtype)
        count = tf.reduce_sum(weights)
        mask, zero = cfgan_masks(real, self.pm_ratio, self.zr_ratio, self.seed_generator)
        for _ in range(self.discriminator_steps):  # unrolled: Python ints
            with tf.GradientTape() as tape:
                d_loss = self.discriminator_loss(real, mask, weights)
                total = d_loss + self._l2(self.discriminator_variables, self.discriminator_l2)
                scaled = self.scaled_loss("discriminator", total, count)
            self.apply_update("discriminator", tape, scaled)
        # Slice c of the *global* batch's real rows: positions [c n / chunks, (c + 1) n / chunks)
        # of its n real rows, as 0/1 weights on this replica's rows, so several devices make the
        # same G updates as one. The engine's padding rows sit after the real ones (position
        # >= n) and weigh 0.
        start, _ = global_rows(rows)
        position = start + tf.range(rows)
        total = tf.cast(tf.round(sum_over_replicas(count)), tf.int32)
        chunks = self.generator_chunks
        for _ in range(self.generator_steps):  # unrolled: Python ints
            for chunk in range(chunks):
                inside = (position >= chunk * total // chunks) & (
                    position < (chunk + 1) * total // chunks
                )
                slice_weights = tf.cast(inside, real.dtype) * weights
                with tf.GradientTape() as tape:
                    g_total, g_loss = self.generator_loss(real, mask, zero, slice_weights)
                    g_total += self._l2(self.generator_variables, self.generator_l2)
                    scaled = self.scaled_loss("generator", g_total, tf.reduce_sum(slice_weights))
                self.apply_update("generator", tape, scaled)
        # g_loss is the last slice's mean: weighed by its rows, so that over replicas and
        # batches it is the mean over the rows of every batch's last slice
        self.report(count=count, d_loss=d_loss)
        return self.report(count=tf.reduce_sum(slice_weights), g_loss=g_loss)
