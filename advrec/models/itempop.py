"""ItemPop: recommend the items most users interacted with in training (the baseline to beat)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.models.contract import checked_users


class ItemPop:
    """Scores every item by its training popularity, the same for every user."""

    def __init__(self, train: Interactions) -> None:
        if len(train) == 0:
            raise ValueError("the training table is empty: ItemPop has no popularity to count.")
        self.n_users, self.n_items = train.n_users, train.n_items
        self.popularity = tf.constant(train.item_counts().astype(np.float32))

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: the popularity row repeated for each of ``users`` ``[B]``."""
        users = checked_users(users, self.n_users)
        return tf.tile(self.popularity[tf.newaxis, :], [tf.shape(users)[0], 1])
