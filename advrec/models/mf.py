"""BPR-MF: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009)."""

from __future__ import annotations

import keras
import tensorflow as tf

from advrec.checks import check_int, check_real
from advrec.data.interactions import Interactions
from advrec.losses import bpr_loss, weighted_mean
from advrec.models.base import PairwiseRanker
from advrec.models.contract import checked_users

DEFAULT_L2 = 1e-2
"""BPR-MF's default ``l2``: the validation-best value on ML-100K with the library's other
defaults (64 factors, Adam 0.01, batch 8,192, early stopping on validation NDCG@10). Measured
2026-11-30, seeds 0/1: 0.2115/- at 1e-4, 0.225/0.210 at 3e-3, **0.240/0.233 at 1e-2**,
0.205/0.193 at 3e-2, 0.134/0.126 at 1e-1 -- an interior optimum (the foundations chapter chooses
it on validation itself). Other data sets need their own choice."""

BatchRows = tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
"""``(p, q_pos, q_neg, b_pos, b_neg)``: a batch's user and item rows and item biases."""


def _check_hyper_parameters(dim, l2, init_std) -> tuple[int, float, float]:
    """Refuses what would build a useless or broken model, with the fix in the message.

    ``init_std`` must be > 0: with all-zero factors every factor gradient is zero, and only the
    item biases would ever train (a popularity model).
    """
    if isinstance(dim, float):  # 64.0 is still refused: a factor size is a count
        raise ValueError(f"dim must be a positive integer (the factor size), got {dim!r}; e.g. 64.")
    dim = check_int(dim, "dim", low=1, hint="the factor size, e.g. 64")
    l2 = check_real(l2, "l2", low=0, hint="0 switches the penalty off; e.g. 1e-2")
    init_std = check_real(init_std, "init_std", low=0, low_open=True, hint="e.g. 0.1")
    return dim, l2, init_std


class BPRMF(PairwiseRanker):
    """Score ``x_ui = p_u · q_i + b_i`` with user factors ``P [n_users, dim]``, item factors
    ``Q [n_items, dim]`` and item biases ``b [n_items]``.

    Args:
        train: training interactions.
        dim: factor size.
        l2: weight of the squared norm of the embeddings a batch touches (per triple).
        init_std: standard deviation of the normal initialiser.
        seed: seeds the initialiser and the negative sampler.

    Raises:
        ValueError: ``dim < 1``, ``l2`` negative, ``init_std`` not positive, either not finite.
    """

    def __init__(
        self,
        train: Interactions,
        dim: int = 64,
        l2: float = DEFAULT_L2,
        init_std: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        dim, l2, init_std = _check_hyper_parameters(dim=dim, l2=l2, init_std=init_std)
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
        p = tf.gather(self.user_factors, checked_users(users, self.n_users))
        return tf.matmul(p, self.item_factors, transpose_b=True) + self.item_bias

    def gather_batch(
        self, users: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor
    ) -> BatchRows:
        """The batch's rows ``p, q_pos, q_neg`` (``[B, dim]``) and ``b_pos, b_neg`` (``[B]``).

        One gather per table: half the rows a gather per term would give the embedding
        gradients to carry (the main cost of a CPU step).
        """
        items = tf.concat([positives, negatives], axis=0)  # [2B]
        q_pos, q_neg = tf.split(tf.gather(self.item_factors, items), 2, axis=0)
        b_pos, b_neg = tf.split(tf.gather(self.item_bias, items), 2, axis=0)
        return tf.gather(self.user_factors, users), q_pos, q_neg, b_pos, b_neg

    @staticmethod
    def margin(p, q_pos, q_neg, b_pos, b_neg) -> tf.Tensor:
        """float32 ``[B]``: score of the positive minus score of the negative, from the rows."""
        return tf.reduce_sum(p * (q_pos - q_neg), axis=-1) + b_pos - b_neg

    def penalty(self, rows: BatchRows, weights: tf.Tensor | None = None) -> tf.Tensor:
        """Scalar ``l2 * mean(|p|^2 + |q_pos|^2 + |q_neg|^2)`` over the batch's rows (weighted by
        ``weights``, float32 ``[B]``, if given)."""
        p, q_pos, q_neg, _, _ = rows
        if not self.l2:
            return tf.constant(0.0)
        return self.l2 * weighted_mean(
            tf.reduce_sum(p * p + q_pos * q_pos + q_neg * q_neg, axis=-1), weights
        )

    def pairwise_loss(self, users, positives, negatives, weights=None):
        """BPR loss plus the l2 penalty of the batch's rows (both weighted means)."""
        rows = self.gather_batch(users, positives, negatives)
        return bpr_loss(self.margin(*rows), weights) + self.penalty(rows, weights), {}
