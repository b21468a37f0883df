"""EASE^R: a closed-form item-item linear model (Steck, "Embarrassingly Shallow Autoencoders for
Sparse Data", WWW 2019) -- the strong simple baseline every comparison in the book includes.

With the binary user-item matrix ``X [n_users, n_items]`` of the training pairs, EASE^R solves

    min_B ||X - X B||_F^2 + l2 ||B||_F^2   subject to   diag(B) = 0,

whose solution is ``B_ij = -P_ij / P_jj`` (and ``B_jj = 0``) with ``P = (X^T X + l2 I)^-1``. A
user's scores are ``x_u B``: one matrix product, no training loop, one hyper-parameter.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advrec.checks import check_real
from advrec.data.interactions import Interactions
from advrec.models.contract import checked_users

MAX_DENSE_CELLS = 1 << 28
"""Largest ``n_users * n_items`` (and ``n_items ** 2``) held densely: 1 GiB of float32."""


class EASE:
    """EASE^R fitted in closed form on construction.

    Args:
        train: training interactions (a pair seen several times counts once).
        l2: the ridge weight ``lambda`` (> 0); Steck reports 200-1000 for ML-20M-sized data, and
            it must be tuned on validation like every other model's hyper-parameters. The
            default, 300, is the validation-best on ML-100K (:class:`advrec.recipes.ranking.
            EASEConfig` says with which scores).

    Attributes:
        weights: float32 ``[n_items, n_items]`` item-item matrix ``B`` with a zero diagonal.
    """

    def __init__(self, train: Interactions, l2: float = 300.0) -> None:
        l2 = check_real(
            l2,
            "l2",
            low=0,
            low_open=True,
            hint="EASE^R inverts X^T X + l2 I; try values between 10 and 2000 and choose on "
            "validation",
        )
        if len(train) == 0:
            raise ValueError("the training table is empty: EASE^R has nothing to fit.")
        for cells, what in (
            (train.n_users * train.n_items, "n_users * n_items"),
            (train.n_items * train.n_items, "n_items ** 2"),
        ):
            if cells > MAX_DENSE_CELLS:
                raise ValueError(
                    f"EASE^R holds dense matrices here and {what} = {cells:,} cells exceeds "
                    f"{MAX_DENSE_CELLS:,}; restrict the catalogue to the most popular items first."
                )
        self.n_users, self.n_items, self.l2 = train.n_users, train.n_items, float(l2)
        history = np.zeros((train.n_users, train.n_items), np.float32)
        history[train.user, train.item] = 1.0
        gram = history.T.astype(np.float64) @ history  # [n_items, n_items]
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = -precision / np.diag(precision)[np.newaxis, :]
        np.fill_diagonal(weights, 0.0)
        self.history = tf.constant(history)
        self.weights = tf.constant(weights.astype(np.float32))

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores ``x_u B`` for int32 ``[B]`` users."""
        users = checked_users(users, self.n_users)
        return tf.matmul(tf.gather(self.history, users), self.weights)
