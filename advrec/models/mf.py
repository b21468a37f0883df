"""BPR-MF: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009)."""

from __future__ import annotations

import keras
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.losses import bpr_loss
from advrec.models.base import PairwiseRanker


class BPRMF(PairwiseRanker):
    """Score ``x_ui = p_u · q_i + b_i`` with user factors ``P [n_users, dim]``, item factors
    ``Q [n_items, dim]`` and item biases ``b [n_items]``.

    Args:
        train: training interactions.
        dim: factor size.
        l2: weight of the squared norm of the embeddings a batch touches (per triple).
        init_std: standard deviation of the normal initialiser.
        seed: seeds the initialiser and the negative sampler.
    """

    def __init__(
        self,
        train: Interactions,
        dim: int = 64,
        l2: float = 1e-4,
        init_std: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(train, seed=seed, **kwargs)
        self.dim = dim
        self.l2 = l2
        init = keras.initializers.RandomNormal(stddev=init_std, seed=seed)
        self.user_factors = self.add_weight(
            shape=(self.n_users, dim), initializer=init, name="user_factors"
        )
        self.item_factors = self.add_weight(
            shape=(self.n_items, dim), initializer=init, name="item_factors"
        )
        self.item_bias = self.add_weight(
            shape=(self.n_items,), initializer="zeros", name="item_bias"
        )

    def embed(self, users: tf.Tensor, items: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """User factors ``[B, dim]``, item factors ``[B, dim]`` and item biases ``[B]``."""
        return (
            tf.gather(self.user_factors, users),
            tf.gather(self.item_factors, items),
            tf.gather(self.item_bias, items),
        )

    def score_pairs(self, users, items, training=False):
        p, q, b = self.embed(users, items)
        return tf.reduce_sum(p * q, axis=-1) + b

    def score_all(self, users):
        p = tf.gather(self.user_factors, users)
        return tf.matmul(p, self.item_factors, transpose_b=True) + self.item_bias

    def pairwise_loss(self, users, positives, negatives):
        """BPR loss + L2 penalty of the batch, gathering each embedding row once.

        Equal to :meth:`PairwiseRanker.pairwise_loss`, but one gather per table instead of
        one per term halves the rows the embedding gradients carry (the main cost of a CPU
        step). A subclass that redefines ``score_pairs`` or ``regularization`` gets the generic
        loss built from them.
        """
        if (
            type(self).score_pairs is not BPRMF.score_pairs
            or type(self).regularization is not BPRMF.regularization
        ):
            return super().pairwise_loss(users, positives, negatives)
        p = tf.gather(self.user_factors, users)  # [B, dim]
        items = tf.concat([positives, negatives], axis=0)  # [2B]
        qi, qj = tf.split(tf.gather(self.item_factors, items), 2, axis=0)  # [B, dim] each
        bi, bj = tf.split(tf.gather(self.item_bias, items), 2, axis=0)  # [B] each
        margin = tf.reduce_sum(p * (qi - qj), axis=-1) + bi - bj
        loss = bpr_loss(margin)
        if self.l2:
            squared = tf.reduce_sum(p * p + qi * qi + qj * qj, axis=-1)
            loss = loss + self.l2 * tf.reduce_mean(squared)
        return loss, {}

    def regularization(self, users, positives, negatives):
        if not self.l2:
            return tf.constant(0.0)
        p = tf.gather(self.user_factors, users)
        qi = tf.gather(self.item_factors, positives)
        qj = tf.gather(self.item_factors, negatives)
        squared = tf.reduce_sum(p * p + qi * qi + qj * qj, axis=-1)
        return self.l2 * tf.reduce_mean(squared)
