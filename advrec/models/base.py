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
from advrec.losses import bpr_loss, scale_for_replicas


def dense_gradients(gradients: list) -> list:
    """Turns embedding gradients (``tf.IndexedSlices``) into dense tensors.

    The rows are sorted by index and summed with the sorted ``segment_sum``: on the CPU this
    costs about half of ``scatter_nd`` or ``unsorted_segment_sum`` (which Keras optimizers use to
    densify ``IndexedSlices``), and it is a plain kernel on a GPU too.
    """
    return [
        _densify(gradient) if isinstance(gradient, tf.IndexedSlices) else gradient
        for gradient in gradients
    ]


def _densify(gradient: tf.IndexedSlices) -> tf.Tensor:
    """Dense ``[n, ...]`` sum of the rows ``values [m, ...]`` at ``indices [m]``."""
    order = tf.argsort(gradient.indices, stable=True)
    indices = tf.gather(gradient.indices, order)
    summed = tf.math.segment_sum(tf.gather(gradient.values, order), indices)  # [max + 1, ...]
    n_rows = tf.cast(gradient.dense_shape[0], tf.int32)
    missing = n_rows - tf.shape(summed)[0]
    padding = tf.concat([[[0, missing]], tf.zeros([tf.rank(summed) - 1, 2], tf.int32)], axis=0)
    return tf.pad(summed, padding)


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

    def pairwise_loss(
        self, users: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Scalar training loss of a batch, and extra scalars to report. Default: plain BPR."""
        margin = self.score_pairs(users, positives, training=True) - self.score_pairs(
            users, negatives, training=True
        )
        return bpr_loss(margin), {}

    # -- the shared step -------------------------------------------------------------------
    def call(self, inputs, training: bool = False) -> tf.Tensor:
        """Scores ``inputs = (users, items)``: float32 ``[B]``."""
        users, items = inputs
        return self.score_pairs(users, items, training=training)

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit``, keeping one dataset iterator for all epochs.

        Given a finite ``tf.data.Dataset`` (such as :func:`advrec.data.positive_pairs`) and no
        ``steps_per_epoch``, trains on ``x.repeat()`` with ``steps_per_epoch`` set to its
        cardinality: each epoch still sees exactly one pass, in the order a fresh iteration
        would give, but Keras no longer builds a new iterator every epoch, which on a CPU costs
        more than an epoch of ML-100K. Everything else goes to ``keras.Model.fit`` unchanged.
        """
        if isinstance(x, tf.data.Dataset) and y is None and not args:
            n_batches = int(x.cardinality())
            per_execution = max(1, int(getattr(self, "steps_per_execution", 1) or 1))
            if (
                kwargs.get("steps_per_epoch") is None
                and n_batches > 0
                and n_batches % per_execution == 0
            ):
                x, kwargs["steps_per_epoch"] = x.repeat(), n_batches
        return super().fit(x, y, *args, **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        (users, positives), _, _ = keras.utils.unpack_x_y_sample_weight(data)
        negatives = self.negative_sampler(users, self.seed_generator)
        with tf.GradientTape() as tape:
            loss, extras = self.pairwise_loss(users, positives, negatives)
            scaled = scale_for_replicas(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(dense_gradients(gradients), self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result(), **extras}

    def build(self, input_shape=None) -> None:
        """Nothing to do: subclasses create all their variables in ``__init__``.

        (``fit`` would otherwise try to build the model by calling it on the first batch's
        users alone, since Keras reads a ``(users, items)`` batch as ``(x, y)``.)
        """
        self.built = True
