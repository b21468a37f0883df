"""Cold-start baselines that learn no generator: they score new items (or serve new users) from
side information and popularity alone, with the ``score_all`` of every model.

- :class:`ItemPopByGenre` -- a new item scores the mean popularity of the warm items of its genres.
- :class:`ContentKNN` -- a new item scores its content similarity to the user's items.
- :class:`PopularityByDemographic` -- a new user gets the items popular in their demographic group.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advrec.data.coldstart import ColdStartSplit
from advrec.data.interactions import Interactions

__all__ = ["ContentKNN", "ItemPopByGenre", "PopularityByDemographic"]


class ItemPopByGenre:
    """Warm items by their training popularity; a new item by the mean popularity of the warm
    items that share its genres (averaged over its genres).

    Args:
        split: a cold-item split (its warm training pairs give the popularity).
        genres: bool ``[n_items, n_genres]`` genre flags by full item id.
    """

    def __init__(self, split: ColdStartSplit, genres) -> None:
        if split.side != "items":
            raise ValueError("ItemPopByGenre scores new items: give a cold-item split.")
        genres = np.asarray(genres, np.float32)
        if genres.shape[0] != split.n_entities:
            raise ValueError(f"genres must have one row per item ({split.n_entities}).")
        self.n_users, self.n_items = split.warm.n_users, split.warm.n_items
        popularity = split.warm.train.item_counts().astype(np.float32)
        warm = split.mask(split.warm_ids).astype(np.float32)
        per_genre = (
            (genres * warm[:, None]).T
            @ popularity
            / np.maximum((genres * warm[:, None]).sum(axis=0), 1.0)
        )
        estimate = genres @ per_genre / np.maximum(genres.sum(axis=1), 1.0)
        self.scores = tf.constant(np.where(warm > 0, popularity, estimate).astype(np.float32))

    def score_all(self, users):
        return tf.tile(self.scores[tf.newaxis], [tf.shape(users)[0], 1])


class ContentKNN:
    """Item k-NN on content: ``score(u, i) = sum over u's training items j of s_k(i, j)``, where
    ``s_k`` is the cosine similarity of the feature rows kept for the ``k`` most similar warm
    items of ``i`` (its own row excluded).

    Args:
        split: a cold-item split; features: float ``[n_items, n_features]``; k: neighbours.
    """

    def __init__(self, split: ColdStartSplit, features, k: int = 50) -> None:
        if split.side != "items":
            raise ValueError("ContentKNN scores new items: give a cold-item split.")
        if k < 1:
            raise ValueError(f"k must be a positive number of neighbours, got {k}.")
        self.n_users, self.n_items = split.warm.n_users, split.warm.n_items
        x = np.asarray(features, np.float32)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        similarity = x @ x.T
        np.fill_diagonal(similarity, -np.inf)
        similarity[:, ~split.mask(split.warm_ids)] = -np.inf
        k = min(k, len(split.warm_ids) - 1)
        threshold = -np.partition(-similarity, k - 1, axis=1)[:, k - 1 : k]
        kept = np.where(similarity >= threshold, similarity, 0.0)  # [n_items, n_items]
        self.history = tf.constant(split.warm.train.dense())
        self.similarity = tf.constant(np.maximum(kept, 0.0).T.astype(np.float32))

    def score_all(self, users):
        return tf.matmul(tf.gather(self.history, users), self.similarity)


class PopularityByDemographic:
    """A user's score for an item: its training popularity among warm users of the same
    demographic group, plus a thousandth of its overall popularity to break ties.

    Args:
        train: training interactions (full id spaces; cold users have no rows).
        groups: int ``[n_users]`` demographic group of each user by full id
            (:func:`advrec.data.features.demographic_groups`).
    """

    def __init__(self, train: Interactions, groups) -> None:
        groups = np.asarray(groups)
        if groups.shape != (train.n_users,):
            raise ValueError(f"groups must hold one group per user ({train.n_users},).")
        self.n_users, self.n_items = train.n_users, train.n_items
        n_groups = int(groups.max()) + 1
        counts = np.zeros((n_groups, train.n_items), np.float32)
        np.add.at(counts, (groups[train.user], train.item), 1.0)
        counts += 1e-3 * train.item_counts()[None, :]
        self.counts = tf.constant(counts)
        self.groups = tf.constant(groups.astype(np.int32))

    def score_all(self, users):
        return tf.gather(self.counts, tf.gather(self.groups, users))
