"""The training pattern every pairwise ranking model shares: one Keras ``train_step``.

A subclass defines how it scores pairs and all items; it may override
:meth:`PairwiseRanker.pairwise_loss` (APR adds an adversarial term there) and nothing else of the
step, so BPR-MF, APR and the privacy model train through the same ``fit``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.data.sampling import NegativeSampler
from advrec.losses import bpr_loss


def scale_for_replicas(loss: tf.Tensor) -> tf.Tensor:
    """Divides a per-replica mean loss by the replica count, so summed gradients average."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def dense_gradients(gradients: list) -> list:
    """Turns embedding gradients (``tf.IndexedSlices``) into dense tensors with one scatter.

    Keras optimizers densify ``IndexedSlices`` through ``unsorted_segment_sum``, which on the
    CPU costs several times more than ``scatter_nd`` followed by a dense update.
    """
    dense = []
    for gradient in gradients:
        if isinstance(gradient, tf.IndexedSlices):
            shape = tf.cast(gradient.dense_shape, tf.int64)
            indices = tf.cast(gradient.indices, tf.int64)[:, tf.newaxis]
            gradient = tf.scatter_nd(indices, gradient.values, shape)
        dense.append(gradient)
    return dense


class PairwiseRanker(keras.Model):
    """Base class: a recommender trained on (user, positive, sampled negative) triples.

    ``fit`` takes batches ``(users, positives)`` (see :func:`advrec.data.positive_pairs`); the
    negatives are drawn in the step from the training pairs given here.

    Args:
        train: training interactions (they fix the id spaces and the negatives to avoid).
        seed: seed of the negative sampler's :class:`keras.random.SeedGenerator`.
    """

    def __init__(self, train: Interactions, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_users = train.n_users
        self.n_items = train.n_items
        self.negative_sampler = NegativeSampler(train)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    # -- what a subclass defines -----------------------------------------------------------
    def score_pairs(self, users: tf.Tensor, items: tf.Tensor, training: bool = False) -> tf.Tensor:
        """float32 ``[B]`` score of each (user, item), both int32 ``[B]``."""
        raise NotImplementedError

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores of every item for int32 ``[B]`` users."""
        raise NotImplementedError

    def regularization(self, users: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor):
        """Scalar penalty on the parameters the batch touched (0 by default)."""
        return tf.constant(0.0)

    def pairwise_loss(
        self, users: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Scalar training loss of a batch, and extra scalars to report. Default: BPR + penalty."""
        margin = self.score_pairs(users, positives, training=True) - self.score_pairs(
            users, negatives, training=True
        )
        return bpr_loss(margin) + self.regularization(users, positives, negatives), {}

    # -- the shared step -------------------------------------------------------------------
    def call(self, inputs, training: bool = False) -> tf.Tensor:
        """Scores ``inputs = (users, items)``: float32 ``[B]``."""
        users, items = inputs
        return self.score_pairs(users, items, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        users, positives = data
        negatives = self.negative_sampler(users, self.seed_generator)
        with tf.GradientTape() as tape:
            loss, extras = self.pairwise_loss(users, positives, negatives)
            scaled = scale_for_replicas(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(dense_gradients(gradients), self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result(), **extras}

    def build_for_training(self) -> None:
        """Creates the variables by scoring one pair (Keras builds lazily otherwise)."""
        self.score_pairs(tf.zeros([1], tf.int32), tf.zeros([1], tf.int32))
