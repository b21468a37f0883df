"""Cold start: embeddings for new items (or users) generated from their side information.

A trained BPR-MF scores ``x_ui = [p_u, 1] . [q_i, b_i]``; a new item has no ``[q_i, b_i]``. Every
model here learns, on the warm items, a map from content ``c_i`` to that embedding, and scores a
new item with the generated one; the user side is the mirror image (demographics ``a_u`` to
``[p_u, 1]``). The pre-trained tables are frozen constants.

- :class:`RegressionGenerator` -- ``G(c)`` fitted to the warm embeddings by mean squared error.
- :class:`DropoutNetRecommender` -- DropoutNet-style (Volkovs et al., NeurIPS 2017): two towers
  read the preference embedding (dropped to zero at random in training) and the content, and are
  trained so their dot product reproduces the pre-trained scores; a new item is the case of a
  dropped preference.
- :class:`AdversarialGenerator` -- GAR-style (Chen et al., SIGIR 2022): a generator ``G`` and a
  recommender ``R`` (two residual towers over the frozen embeddings) play a game. ``R`` learns to
  rank a user's real item above both a random item and the generated embedding of the real
  item; ``G`` learns to make ``R`` score its embedding as high as the real one. One optimizer per
  player, one ``train_step``.

Baselines that learn no generator are in :mod:`advrec.models.content`; how cold-start models
are evaluated and selected is :mod:`advrec.coldstart_protocol`; the training procedure (warm
BPR-MF, then a generator early-stopped on the cold validation entities) is
:mod:`advrec.recipes.coldstart`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from advrec.data.coldstart import ColdStartSplit
from advrec.distribute import replica_randint, replica_uniform
from advrec.gan import TwoPlayerModel
from advrec.losses import scale_for_replicas, weighted_mean
from advrec.models.saving import WeightsOnly
from advrec.seeds import derive_seed

__all__ = [
    "AdversarialGenerator",
    "ColdStartModel",
    "DropoutNetRecommender",
    "GENERATORS",
    "RegressionGenerator",
    "check_cold_start_inputs",
    "pretrained_tables",
]


def pretrained_tables(model) -> tuple[np.ndarray, np.ndarray]:
    """``([P, 1] [n_users, dim+1], [Q, b] [n_items, dim+1])`` of a trained BPR-MF.

    Their product is exactly the model's score matrix, so an item (or user) is one vector.
    """
    p = np.asarray(model.user_factors.numpy(), np.float32)
    q = np.asarray(model.item_factors.numpy(), np.float32)
    b = np.asarray(model.item_bias.numpy(), np.float32)
    return (
        np.concatenate([p, np.ones((len(p), 1), np.float32)], axis=1),
        np.concatenate([q, b[:, None]], axis=1),
    )


def check_cold_start_inputs(
    split: ColdStartSplit, features, entity_table, opposite_table
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The side information and the pre-trained tables as float32 arrays, checked against the
    split (see :class:`ColdStartModel` for their shapes); a mismatch says what to pass."""
    features = np.asarray(features, np.float32)
    entity_table = np.asarray(entity_table, np.float32)
    opposite_table = np.asarray(opposite_table, np.float32)
    if features.ndim != 2 or len(features) != split.n_entities:
        raise ValueError(
            f"features must be [{split.n_entities}, n_features] (one row per {split.side[:-1]}"
            f" by full id), got {features.shape}."
        )
    if not np.isfinite(features).all():
        raise ValueError("features hold NaN or infinite values; impute or drop those columns.")
    n_warm = len(split.warm_ids)
    if entity_table.ndim != 2 or entity_table.shape[0] != n_warm:
        raise ValueError(
            f"entity_table must have one row per warm {split.side[:-1]} "
            f"({n_warm}, in split.warm_ids order), got {entity_table.shape}; train the "
            "collaborative model on split.warm_space()."
        )
    n_opposite = split.warm.n_users if split.side == "items" else split.warm.n_items
    if opposite_table.shape != (n_opposite, entity_table.shape[1]):
        raise ValueError(
            f"opposite_table must be [{n_opposite}, {entity_table.shape[1]}], "
            f"got {opposite_table.shape}."
        )
    return features, entity_table, opposite_table


def _mlp(widths: Sequence[int], output: int, seed: int, zero_output: bool, name: str):
    """``tanh`` layers of ``widths``, then a linear ``output`` (zero-initialised if asked);
    each layer's initialiser seeded by :func:`advrec.seeds.derive_seed` of ``seed`` and its name."""
    layers = [
        keras.layers.Dense(
            width,
            activation="tanh",
            kernel_initializer=keras.initializers.GlorotUniform(
                seed=derive_seed(seed, f"{name} layer {i}")
            ),
            name=f"{name}_hidden{i}",
        )
        for i, width in enumerate(widths)
    ]
    last_init = (
        "zeros"
        if zero_output
        else keras.initializers.GlorotUniform(seed=derive_seed(seed, f"{name} output"))
    )
    layers.append(keras.layers.Dense(output, kernel_initializer=last_init, name=f"{name}_out"))
    return keras.Sequential(layers, name=name)


class ColdStartModel(WeightsOnly, keras.Model):
    """Shared parts: the frozen tables, the id bookkeeping and scoring.

    Args:
        split: the cold-start split (fixes the side and which ids are warm).
        features: float ``[n_entities, n_features]`` side information of *every* entity of the
            cold side (items for ``split.side == "items"``), by full id.
        entity_table: float ``[n_warm, d]`` pre-trained embeddings of the warm entities, in the
            order of ``split.warm_ids`` (e.g. :func:`pretrained_tables` of a model trained on
            ``split.warm_space()``).
        opposite_table: float ``[n_opposite, d]`` pre-trained embeddings of the other side, by
            full id.
        seed: seeds initialisers and the step's random numbers.

    ``fit`` takes the batches of :func:`advrec.data.positive_pairs` over
    ``split.warm_space().train``, optionally with a float ``[B]`` sample weight (1 for a real
    pair, 0 for padding); ``score_all(users)`` scores the whole catalogue (full ids), with
    generated embeddings for the cold entities. Every subclass's step honours padded batches
    (:mod:`advrec.models.contract`): each loss is the weighted mean over the batch's pairs, so
    :func:`advrec.training.fit_model` trains it through the engine.
    """

    supports_padded_batches = True

    def __init__(self, split: ColdStartSplit, features, entity_table, opposite_table, seed=0):
        super().__init__()
        features, entity_table, opposite_table = check_cold_start_inputs(
            split, features, entity_table, opposite_table
        )
        warm_ids = split.warm_ids
        self.record_training_data(split.warm.train)
        self.side = split.side
        self.n_users, self.n_items = split.warm.n_users, split.warm.n_items  # full id spaces
        self.dim = entity_table.shape[1]
        self.n_entities, self.n_warm = split.n_entities, len(warm_ids)
        self.features = tf.constant(features)
        self.warm_features = tf.constant(features[warm_ids])
        self.warm_ids = tf.constant(warm_ids[:, None])
        self.entity_table = tf.constant(entity_table)
        self.opposite_table = tf.constant(opposite_table)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Every variable is created in ``__init__`` (here and by the subclass), so the model is
        # built now: under a ``tf.distribute`` strategy ``fit`` would otherwise build it by
        # calling it on a batch of (user, item) pairs, which are not its input.
        self.built = True

    def pair_ids(self, data) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None, tf.Tensor]:
        """``(entity, opposite, weights, count)`` from a batch of pairs: warm-space entity ids
        and full opposite ids, int32 ``[B]``; the sample weights, float32 ``[B]`` (``None``: all
        1); and the number of real pairs, a float32 scalar (the weights' sum)."""
        (users, items), _, weights = keras.utils.unpack_x_y_sample_weight(data)
        entity, opposite = (items, users) if self.side == "items" else (users, items)
        if weights is None:
            return entity, opposite, None, tf.cast(tf.size(entity), tf.float32)
        weights = tf.cast(weights, tf.float32)
        return entity, opposite, weights, tf.reduce_sum(weights)

    # -- what a subclass defines ----------------------------------------------------------
    def generate(self, features: tf.Tensor, training: bool = False) -> tf.Tensor:
        """float32 ``[B, d]`` generated embeddings from ``[B, n_features]`` side information."""
        raise NotImplementedError

    def warm_embeddings(self) -> tf.Tensor:
        """float32 ``[n_warm, d]``: the embeddings scoring uses for the warm entities."""
        return self.entity_table

    def entity_tower(self, embeddings: tf.Tensor) -> tf.Tensor:
        return embeddings

    def opposite_tower(self, embeddings: tf.Tensor) -> tf.Tensor:
        return embeddings

    # -- shared scoring -------------------------------------------------------------------
    def full_entity_table(self) -> tf.Tensor:
        """float32 ``[n_entities, d]``: generated rows everywhere, the warm rows kept."""
        generated = self.generate(self.features)
        return tf.tensor_scatter_nd_update(generated, self.warm_ids, self.warm_embeddings())

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores of every item for int32 ``[B]`` users (full ids)."""
        entities = self.entity_tower(self.full_entity_table())
        if self.side == "items":
            rows = self.opposite_tower(tf.gather(self.opposite_table, users))
            return tf.matmul(rows, entities, transpose_b=True)
        items = self.opposite_tower(self.opposite_table)
        return tf.matmul(tf.gather(entities, users), items, transpose_b=True)

    def call(self, features, training: bool = False):
        return self.generate(features, training=training)

    def build(self, input_shape=None) -> None:
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]


class RegressionGenerator(ColdStartModel):
    """``G(c) = MLP(c)`` fitted to the warm embeddings by mean squared error.

    Each training pair contributes its entity, so an item counts as often as it was interacted
    with (the same weighting the adversarial generator gets). The step honours padded batches:
    the loss is the weighted mean over the batch's pairs.

    Args:
        hidden: widths of the MLP's tanh layers.
        (others as :class:`ColdStartModel`)
    """

    def __init__(self, split, features, entity_table, opposite_table, hidden=(200,), seed=0):
        super().__init__(split, features, entity_table, opposite_table, seed=seed)
        self.generator = _mlp(hidden, self.dim, seed, False, "generator")
        self.generator.build((None, self.features.shape[1]))

    def generate(self, features, training=False):
        return self.generator(features, training=training)

    def train_step(self, data):
        entity, _, weights, count = self.pair_ids(data)
        target = tf.gather(self.entity_table, entity)
        with tf.GradientTape() as tape:
            generated = self.generate(tf.gather(self.warm_features, entity), training=True)
            squared = tf.reduce_sum(tf.square(generated - target), axis=-1)  # [B]
            loss = weighted_mean(squared, weights)
            scaled = scale_for_replicas(loss, count)
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss, sample_weight=count)
        return {"loss": self.loss_tracker.result()}


class DropoutNetRecommender(ColdStartModel):
    """DropoutNet-style towers (Volkovs, Yu & Poutanen, NeurIPS 2017).

    Entity tower ``f(e, c) = m * e + MLP([m * e, c])`` with ``m = 0`` for a dropped (or new)
    entity; opposite tower ``g(o) = o + MLP(o)``. Both MLPs end in a zero-initialised layer, so
    training starts from the pre-trained scores for warm entities. The loss is the squared error
    between ``f . g`` and the pre-trained score ``e . o`` over each training pair and over a
    pair with a random warm entity; the preference input is dropped with ``dropout_rate``. The
    step honours padded batches: a padding pair weighs 0 in both halves of the ``[2B]`` rows.

    Args:
        hidden: widths of each tower's tanh layers.
        dropout_rate: probability of zeroing an entity's preference input in training.
    """

    def __init__(
        self,
        split,
        features,
        entity_table,
        opposite_table,
        hidden=(200,),
        dropout_rate: float = 0.5,
        seed=0,
    ):
        super().__init__(split, features, entity_table, opposite_table, seed=seed)
        if not 0.0 < dropout_rate <= 1.0:
            raise ValueError(f"dropout_rate must lie in (0, 1], got {dropout_rate}.")
        self.dropout_rate = float(dropout_rate)
        self.entity_mlp = _mlp(hidden, self.dim, seed, True, "entity_tower")
        self.entity_mlp.build((None, self.dim + self.features.shape[1]))
        self.opposite_mlp = _mlp(hidden, self.dim, seed, True, "opposite_tower")
        self.opposite_mlp.build((None, self.dim))

    def tower(self, embeddings, features, keep, training=False):
        """float32 ``[B, d]`` entity representation; ``keep`` float ``[B, 1]`` is 0 or 1."""
        kept = embeddings * keep
        return kept + self.entity_mlp(tf.concat([kept, features], axis=1), training=training)

    def generate(self, features, training=False):
        zeros = tf.zeros([tf.shape(features)[0], self.dim])
        return self.tower(zeros, features, tf.zeros([tf.shape(features)[0], 1]), training)

    def warm_embeddings(self):
        return self.tower(self.entity_table, self.warm_features, tf.ones([self.n_warm, 1]))

    def opposite_tower(self, embeddings):
        return embeddings + self.opposite_mlp(embeddings)

    def train_step(self, data):
        entity, opposite, weights, count = self.pair_ids(data)
        batch = tf.shape(entity)[0]
        # Per-replica draws (each replica its slice of one global stream): [B, 2] columns keep
        # the layout of one device's draw whatever the number of replicas, and a real row's
        # draws whatever padding follows it.
        others = replica_randint((batch,), self.n_warm, self.seed_generator)
        entities = tf.concat([entity, others], axis=0)  # [2B]
        # Row b + B (a random warm entity for pair b's opposite) weighs what pair b weighs.
        rows_weights = None if weights is None else tf.concat([weights, weights], axis=0)
        opposite_rows = tf.gather(self.opposite_table, tf.concat([opposite, opposite], axis=0))
        real = tf.gather(self.entity_table, entities)
        target = tf.reduce_sum(real * opposite_rows, axis=-1)
        draw = replica_uniform((batch, 2), self.seed_generator)  # [B, 2]
        keep = tf.cast(
            tf.concat([draw[:, :1], draw[:, 1:]], axis=0) >= self.dropout_rate, tf.float32
        )
        with tf.GradientTape() as tape:
            left = self.tower(real, tf.gather(self.warm_features, entities), keep, training=True)
            right = self.opposite_tower(opposite_rows)
            errors = tf.square(tf.reduce_sum(left * right, axis=-1) - target)  # [2B]
            loss = weighted_mean(errors, rows_weights)
            scaled = scale_for_replicas(loss, count)
        variables = self.entity_mlp.trainable_variables + self.opposite_mlp.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss, sample_weight=count)
        return {"loss": self.loss_tracker.result()}


class AdversarialGenerator(TwoPlayerModel, ColdStartModel):
    """GAR-style adversarial generator (Chen et al., SIGIR 2022), for items or users.

    Players: the generator ``G(c)`` and the recommender ``R(o, e) = g(o) . f(e)``, two residual
    towers ``f(e) = e + MLP(e)`` over the frozen embeddings (zero-initialised output layers, so
    ``R`` starts as the pre-trained model). For a training pair (opposite ``o``, entity ``e`` with
    content ``c``) and a random warm entity ``e'``:

    - recommender: ``min -log sigmoid(R(o, e) - alpha R(o, e') - (1 - alpha) R(o, G(c)))``;
    - generator: ``min (1 - beta) (-log sigmoid(R(o, G(c)) - R(o, e))) + beta |G(c) - e|^2``.

    GAR pulls ``G(c)`` towards ``e`` with an L1 distance; the squared distance here makes
    ``beta = 1`` the :class:`RegressionGenerator`'s loss, so the regression generator is exactly
    the ablation without the adversarial term.

    The two players train with :class:`advrec.gan.TwoPlayerModel`'s pattern; the recommender is
    the player that judges, so ``compile(recommender_optimizer, generator_optimizer)`` gives it
    the discriminator's place. The step honours padded batches: both players' losses are
    weighted means over the batch's pairs.

    Args:
        alpha: weight of the random negative against the generated one in the recommender's loss.
        beta: weight of the squared pull towards the real embedding in the generator's loss.
        hidden: widths of the generator's tanh layers; ``tower_hidden`` those of each tower.
    """

    def __init__(
        self,
        split,
        features,
        entity_table,
        opposite_table,
        alpha: float = 0.9,
        beta: float = 0.5,
        hidden=(200,),
        tower_hidden=(200,),
        seed=0,
    ):
        super().__init__(split, features, entity_table, opposite_table, seed=seed)
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}.")
        self.alpha, self.beta = float(alpha), float(beta)
        self.generator = _mlp(hidden, self.dim, seed, False, "generator")
        self.generator.build((None, self.features.shape[1]))
        self.entity_mlp = _mlp(tower_hidden, self.dim, seed, True, "entity_tower")
        self.entity_mlp.build((None, self.dim))
        self.opposite_mlp = _mlp(tower_hidden, self.dim, seed, True, "opposite_tower")
        self.opposite_mlp.build((None, self.dim))
        self.track("loss", "generator_loss")

    def compile(self, recommender_optimizer, generator_optimizer, **kwargs):
        """One optimizer per player: the recommender's (the judging player) and the
        generator's (two distinct objects)."""
        super().compile(recommender_optimizer, generator_optimizer, **kwargs)

    @property
    def discriminator_variables(self) -> list:
        """The recommender's towers (the player that judges real and generated embeddings)."""
        return self.entity_mlp.trainable_variables + self.opposite_mlp.trainable_variables

    def generate(self, features, training=False):
        return self.generator(features, training=training)

    def entity_tower(self, embeddings):
        return embeddings + self.entity_mlp(embeddings)

    def opposite_tower(self, embeddings):
        return embeddings + self.opposite_mlp(embeddings)

    def train_step(self, data):
        entity, opposite, weights, count = self.pair_ids(data)
        batch = tf.shape(entity)[0]
        negative = replica_randint((batch,), self.n_warm, self.seed_generator)
        opposite_rows = tf.gather(self.opposite_table, opposite)
        real = tf.gather(self.entity_table, entity)
        negative_rows = tf.gather(self.entity_table, negative)
        content = tf.gather(self.warm_features, entity)

        generated = tf.stop_gradient(self.generate(content, training=True))
        with tf.GradientTape() as tape:
            o = self.opposite_tower(opposite_rows)
            items = self.entity_tower(tf.concat([real, negative_rows, generated], axis=0))
            s_real, s_negative, s_generated = tf.split(
                tf.reduce_sum(tf.tile(o, [3, 1]) * items, axis=-1), 3
            )
            margin = s_real - self.alpha * s_negative - (1.0 - self.alpha) * s_generated
            recommender_loss = weighted_mean(tf.math.softplus(-margin), weights)
            scaled = self.scaled_loss("discriminator", recommender_loss, count)
        self.apply_update("discriminator", tape, scaled)

        with tf.GradientTape() as tape:
            generated = self.generate(content, training=True)
            o = tf.stop_gradient(self.opposite_tower(opposite_rows))
            s_generated = tf.reduce_sum(o * self.entity_tower(generated), axis=-1)
            s_real = tf.reduce_sum(o * tf.stop_gradient(self.entity_tower(real)), axis=-1)
            adversarial = weighted_mean(tf.math.softplus(-(s_generated - s_real)), weights)
            pull = weighted_mean(tf.reduce_sum(tf.square(generated - real), axis=-1), weights)
            generator_loss = (1.0 - self.beta) * adversarial + self.beta * pull
            scaled = self.scaled_loss("generator", generator_loss, count)
        self.apply_update("generator", tape, scaled)
        return self.report(count=count, loss=recommender_loss, generator_loss=generator_loss)


GENERATORS = {
    "regression": RegressionGenerator,
    "dropoutnet": DropoutNetRecommender,
    "adversarial": AdversarialGenerator,
}
"""The learned cold-start models by name (what the cold-start recipe's ``generator`` picks)."""
