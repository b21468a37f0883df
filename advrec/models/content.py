"""Cold-start baselines fitted in closed form: they score new items (or serve new users) from
side information and popularity, with the ``score_all`` of every model.

- :class:`RidgeGenerator` -- the closed-form regression generator: a ridge regression from side
  information to the warm embeddings of a trained BPR-MF, applied to the cold rows.
- :class:`ContentPop` -- popularity predicted from side information (a new item's popularity
  from its content; a new user's items from their demographics), by ridge regression.
- :class:`ItemPopByGenre` -- a new item scores the mean popularity of the warm items of its genres.
- :class:`ContentKNN` -- a new item scores its content similarity to the user's items.
- :class:`PopularityByDemographic` -- a new user gets the items popular in their demographic group.

Side information is any float matrix with one row per entity (one-hot attributes, or the text
embeddings of a language model).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advrec.checks import check_real
from advrec.data.coldstart import ColdStartSplit
from advrec.data.interactions import Interactions
from advrec.models.contract import checked_users

__all__ = [
    "ContentKNN",
    "ContentPop",
    "ItemPopByGenre",
    "PopularityByDemographic",
    "RidgeGenerator",
    "ridge_fit",
]


def ridge_fit(x, y, l2: float, weights=None) -> np.ndarray:
    """float64 ``[n_features + 1, n_outputs]``: the ridge regression of ``y`` on ``x`` with an
    unpenalised intercept (its last row), in closed form.

    Minimises ``sum_r w_r |[x_r, 1] W - y_r|^2 + l2 |W[:-1]|^2``.

    Args:
        x: float ``[n, n_features]``; y: float ``[n, n_outputs]`` (or ``[n]``).
        l2: the ridge weight (> 0).
        weights: float ``[n]`` row weights (default 1).
    """
    l2 = check_real(l2, "l2", low=0, low_open=True, hint="the ridge weight, e.g. 10")
    x = np.concatenate([np.asarray(x, np.float64), np.ones((len(x), 1))], axis=1)
    y = np.asarray(y, np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}.")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    penalty = l2 * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(x.T @ (x * w[:, None]) + penalty, x.T @ (y * w[:, None]))


def _with_intercept(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


class RidgeGenerator:
    """The regression generator in closed form: ``G(c) = [c, 1] W``, ``W`` the ridge regression
    (:func:`ridge_fit`) of the warm embeddings on the warm entities' side information.

    Warm entities keep their pre-trained rows, so warm recommendations are exactly the
    pre-trained model's; a cold entity gets ``G(c)``. Each warm entity counts once.

    Args:
        split, features, entity_table, opposite_table: as
            :class:`advrec.models.coldstart.ColdStartModel` (``features`` any float matrix with
            one row per entity of the cold side, by full id).
        l2: the ridge weight.
    """

    def __init__(self, split: ColdStartSplit, features, entity_table, opposite_table, l2=10.0):
        from advrec.models.coldstart import check_cold_start_inputs

        features, entity_table, opposite_table = check_cold_start_inputs(
            split, features, entity_table, opposite_table
        )
        self.side, self.l2 = split.side, float(l2)
        self.n_users, self.n_items = split.warm.n_users, split.warm.n_items
        self.weights = ridge_fit(features[split.warm_ids], entity_table, l2)
        table = self.generate(features)
        table[split.warm_ids] = entity_table
        self.entity_table = tf.constant(table)
        self.opposite_table = tf.constant(opposite_table)

    def generate(self, features) -> np.ndarray:
        """float32 ``[n, d]`` generated embeddings of ``[n, n_features]`` side information."""
        return (_with_intercept(features) @ self.weights).astype(np.float32)

    def full_entity_table(self) -> tf.Tensor:
        """float32 ``[n_entities, d]``: warm rows pre-trained, cold rows generated."""
        return self.entity_table

    def score_all(self, users):
        users = checked_users(users, self.n_users)
        if self.side == "items":
            rows = tf.gather(self.opposite_table, users)
            return tf.matmul(rows, self.entity_table, transpose_b=True)
        rows = tf.gather(self.entity_table, users)
        return tf.matmul(rows, self.opposite_table, transpose_b=True)


class ContentPop:
    """Popularity predicted from side information by ridge regression (:func:`ridge_fit`).

    New items: a warm item scores its training popularity (its number of training users); a
    new item scores ``exp(p) - 1``, ``p`` the ridge prediction of ``log(1 + popularity)`` from
    its content (genres *and* release year: the popularity a film of that kind and age has).
    New users: every user scores the items by ``[a_u, 1] W``, ``W`` the ridge regression of the
    warm users' training rows (0/1 over the catalogue) on their demographics -- the popularity of
    each item among users like them, a linear generalisation of
    :class:`PopularityByDemographic`.

    Args:
        split: a cold-start split (its warm training pairs give the popularity).
        features: float ``[n_entities, n_features]`` side information of the cold side.
        l2: the ridge weight.
    """

    def __init__(self, split: ColdStartSplit, features, l2: float = 10.0) -> None:
        features = np.asarray(features, np.float32)
        if features.ndim != 2 or len(features) != split.n_entities:
            raise ValueError(
                f"features must be [{split.n_entities}, n_features] (one row per entity of the "
                f"cold side), got {features.shape}."
            )
        self.side, self.l2 = split.side, float(l2)
        self.n_users, self.n_items = split.warm.n_users, split.warm.n_items
        train, warm = split.warm.train, split.warm_ids
        if split.side == "items":
            popularity = train.item_counts().astype(np.float64)
            weights = ridge_fit(features[warm], np.log1p(popularity[warm]), l2)
            estimate = np.maximum(np.expm1(_with_intercept(features) @ weights)[:, 0], 0.0)
            scores = np.where(split.mask(warm), popularity, estimate)
            self.item_scores = tf.constant(scores.astype(np.float32)[np.newaxis])
        else:
            rows = train.dense()[warm]  # [n_warm_users, n_items]
            weights = ridge_fit(features[warm], rows, l2)
            self.features = tf.constant(_with_intercept(features).astype(np.float32))
            self.weights = tf.constant(weights.astype(np.float32))

    def score_all(self, users):
        users = checked_users(users, self.n_users)
        if self.side == "items":
            return tf.tile(self.item_scores, [tf.shape(users)[0], 1])
        return tf.matmul(tf.gather(self.features, users), self.weights)


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
