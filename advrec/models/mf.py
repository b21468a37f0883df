"""BPR-MF: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009)."""

from __future__ import annotations

import keras
import tensorflow as tf

from advrec.data.interactions import Interactions
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

    def regularization(self, users, positives, negatives):
        if not self.l2:
            return tf.constant(0.0)
        p = tf.gather(self.user_factors, users)
        qi = tf.gather(self.item_factors, positives)
        qj = tf.gather(self.item_factors, negatives)
        squared = tf.reduce_sum(p * p + qi * qi + qj * qj, axis=-1)
        return self.l2 * tf.reduce_mean(squared)
