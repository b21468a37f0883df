"""ItemPop: recommend the items most users interacted with in training (the baseline to beat)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions


class ItemPop:
    """Scores every item by its training popularity, the same for every user."""

    def __init__(self, train: Interactions) -> None:
        self.n_users, self.n_items = train.n_users, train.n_items
        self.popularity = tf.constant(train.item_counts().astype(np.float32))

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: the popularity row repeated for each of ``users`` ``[B]``."""
        return tf.tile(self.popularity[tf.newaxis, :], [tf.shape(users)[0], 1])
