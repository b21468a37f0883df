"""The training pattern every pairwise ranking model shares: one Keras ``train_step``.

A subclass defines how it scores pairs and all items; it may override
:meth:`PairwiseRanker.pairwise_loss` (APR adds an adversarial term there) and nothing else of the
step, so BPR-MF, APR and the privacy model train through the same ``fit``. The step honours a
0/1 ``sample_weight`` per pair (the padding of :func:`advrec.training.fit_model`'s last batch), so
these models train on padded batches (``supports_padded_batches``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from advrec.checks import check_seed
from advrec.data.interactions import Interactions
from advrec.data.sampling import NegativeSampler
from advrec.distribute import dense_gradients
from advrec.losses import bpr_loss, scale_for_replicas
from advrec.models.saving import WeightsOnly


class PairwiseRanker(WeightsOnly, keras.Model):
    """Base class: a recommender trained on (user, positive, sampled negative) triples.

    ``fit`` takes batches ``(users, positives)`` (see :func:`advrec.data.positive_pairs`),
    optionally with a float ``[B]`` sample weight, 1 for a real pair and 0 for a padding row; the
    negatives are drawn in the step from the training pairs given here.

    Saved with ``save_weights`` and restored with ``load_weights`` on a model rebuilt from the
    same training data; ``save("m.keras")`` explains that, and weights of another data set are
    refused (:mod:`advrec.models.saving`).

    Args:
        train: training interactions (they fix the id spaces and the negatives to avoid).
        seed: seed of the negative sampler's :class:`keras.random.SeedGenerator`.
    """

    supports_padded_batches = True
    """The step's loss is the weighted mean over the batch's pairs (:mod:`advrec.models.contract`),
    so :func:`advrec.training.fit_model` may pad the last batch of an epoch with pairs of weight
    0 and trace the step once."""

    def __init__(self, train: Interactions, seed: int = 0, **kwargs) -> None:
        if not isinstance(train, Interactions):
            raise TypeError(
                f"train must be an Interactions table (e.g. split.train), got "
                f"{type(train).__name__}."
            )
        if len(train) == 0:
            raise ValueError("the training table is empty: a ranker needs pairs to learn from.")
        seed = check_seed(seed)
        super().__init__(**kwargs)
        self.n_users = train.n_users
        self.n_items = train.n_items
        self.record_training_data(train)
        self.negative_sampler = NegativeSampler(train)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The random stream's position is training state: saved with the weights (so a run
        # resumed from a checkpoint draws the negatives an uninterrupted run would draw).
        self._track_variable(self.seed_generator.state)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Every variable is created in ``__init__`` (by the subclass), never from the data, so the
        # model is built now: under a ``tf.distribute`` strategy ``fit`` would otherwise try to
        # build it by calling it on a batch, which it cannot (a batch is (users, positives)).
        self.built = True

    # -- what a subclass defines -----------------------------------------------------------
    def score_pairs(self, users: tf.Tensor, items: tf.Tensor, training: bool = False) -> tf.Tensor:
        """float32 ``[B]`` score of each (user, item), both int32 ``[B]``."""
        raise NotImplementedError

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores of every item for int32 ``[B]`` users."""
        raise NotImplementedError

    def pairwise_loss(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor,
        weights: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Scalar training loss of a batch, and extra scalars to report. Default: plain BPR.

        ``users``, ``positives``, ``negatives`` are int32 ``[B]``; ``weights`` float32 ``[B]``
        (``None``: all 1). The loss is the weighted mean over the batch's triples: a triple of
        weight 0 (padding) changes neither the loss nor its gradient.
        """
        margin = self.score_pairs(users, positives, training=True) - self.score_pairs(
            users, negatives, training=True
        )
        return bpr_loss(margin, weights), {}

    # -- the shared step -------------------------------------------------------------------
    def call(self, inputs, training: bool = False) -> tf.Tensor:
        """Scores ``inputs = (users, items)``: float32 ``[B]``."""
        users, items = inputs
        return self.score_pairs(users, items, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        (users, positives), _, weights = keras.utils.unpack_x_y_sample_weight(data)
        negatives = self.negative_sampler(users, self.seed_generator)
        count = tf.cast(tf.size(users), tf.float32) if weights is None else tf.reduce_sum(weights)
        with tf.GradientTape() as tape:
            loss, extras = self.pairwise_loss(users, positives, negatives, weights)
            scaled = scale_for_replicas(loss, count=count)
        gradients = tape.gradient(scaled, self.trainable_variables)
        if not getattr(self.optimizer, "updates_touched_rows", False):
            gradients = dense_gradients(gradients, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        # Weighted by the batch's real pairs: over replicas and batches, the mean over all pairs.
        self.loss_tracker.update_state(loss, sample_weight=count)
        return {"loss": self.loss_tracker.result(), **extras}


class AdversarialTerm:
    """For a :class:`PairwiseRanker` trained with a clean loss plus ``adversarial_weight`` times
    a loss at worst-case perturbations of norm ``epsilon`` (APR and its variants): whether the
    term is on, and the two losses as epoch means weighted by real pairs (reported by ``fit``
    only while the term is on). Call :meth:`track_adversarial_terms` in ``__init__`` after
    setting ``epsilon`` and ``adversarial_weight``."""

    def track_adversarial_terms(self) -> None:
        self.clean_loss_tracker = keras.metrics.Mean(name="clean_loss")
        self.adversarial_loss_tracker = keras.metrics.Mean(name="adversarial_loss")

    @property
    def adversarial(self) -> bool:
        """Whether the adversarial term is on (``epsilon > 0`` and ``adversarial_weight > 0``)."""
        return self.epsilon != 0.0 and self.adversarial_weight != 0.0

    @property
    def metrics(self):
        trackers = [self.clean_loss_tracker, self.adversarial_loss_tracker]
        return super().metrics + (trackers if self.adversarial else [])

    def report_terms(self, clean, adversarial, users, weights=None) -> dict:
        """Updates the two trackers with this batch's losses (weighted by its real pairs:
        ``weights`` float32 ``[B]``, or all of ``users``' ``[B]``); returns their epoch means."""
        count = tf.cast(tf.size(users), tf.float32) if weights is None else tf.reduce_sum(weights)
        self.clean_loss_tracker.update_state(clean, sample_weight=count)
        self.adversarial_loss_tracker.update_state(adversarial, sample_weight=count)
        return {
            "clean_loss": self.clean_loss_tracker.result(),
            "adversarial_loss": self.adversarial_loss_tracker.result(),
        }
