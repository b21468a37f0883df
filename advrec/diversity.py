"""What a recommender's top-K lists look like beyond accuracy: popularity and catalogue coverage.

For every user with training data, the top-``k`` list is taken over the items the user has not
interacted with in the excluded tables (training and validation by default, as when testing).

- *mean popularity*: the training popularity (number of training interactions) of the
  recommended items, averaged over each list and then over users; higher means a list leans
  towards blockbusters.
- *coverage*: the share of the catalogue recommended to at least one user.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from advrec.checks import check_int
from advrec.data.interactions import Interactions
from advrec.data.splits import Split
from advrec.metrics import ScoreFn, batch_mask, checked_scores, items_by_user


def top_k_lists(
    score_fn: ScoreFn,
    users: np.ndarray,
    exclude: Interactions | Iterable[Interactions],
    k: int = 10,
    batch_size: int = 1024,
) -> np.ndarray:
    """int32 ``[len(users), k]``: each user's ``k`` best-scored items outside ``exclude``.

    Ties go to the lower item index (as in :mod:`advrec.metrics`).
    """
    tables = [exclude] if isinstance(exclude, Interactions) else list(exclude)
    if not tables:
        raise ValueError("give at least one table to exclude (normally the training pairs).")
    n_users, n_items = tables[0].n_users, tables[0].n_items
    k = check_int(k, "k", low=1, high=n_items, hint="at most the number of items")
    batch_size = check_int(batch_size, "batch_size", low=1)
    excluded_items = items_by_user(tables, n_users)
    lists = []
    for start in range(0, len(users), batch_size):
        batch = tf.constant(users[start : start + batch_size], tf.int32)
        scores = checked_scores(score_fn, batch, n_items)
        excluded = batch_mask(excluded_items, batch, n_items)
        scores = tf.where(excluded, tf.constant(-np.inf, scores.dtype), scores)
        lists.append(tf.math.top_k(scores, k=k).indices.numpy())
    return np.concatenate(lists).astype(np.int32) if lists else np.zeros((0, k), np.int32)


def recommendation_popularity_and_coverage(
    score_fn: ScoreFn,
    split: Split,
    k: int = 10,
    exclude: Interactions | Iterable[Interactions] | None = None,
) -> dict[str, float]:
    """``{"mean_popularity": ..., "coverage": ...}`` of the top-``k`` lists of every user with
    training pairs.

    Args:
        score_fn: int32 ``[B]`` users -> float ``[B, n_items]`` scores.
        split: its training pairs define popularity and the users to serve.
        k: list length.
        exclude: items not to recommend; default ``[split.train, split.valid]``.
    """
    exclude = [split.train, split.valid] if exclude is None else exclude
    popularity = split.train.item_counts().astype(np.float64)
    users = np.flatnonzero(split.train.user_counts() > 0)
    lists = top_k_lists(score_fn, users, exclude, k)
    return {
        "mean_popularity": float(popularity[lists].mean()),
        "coverage": float(len(np.unique(lists)) / split.n_items),
    }
