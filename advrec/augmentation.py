"""Data augmentation for sparse users: make users sparse, add interactions, measure.

The experiment the source article's first use case calls for: a group of users keeps only
``k`` of its training interactions (:func:`sparsify`); interactions are then added for them
(:func:`augment`) by a trained generator (CFGAN's top generated items, after Chae et al.,
SIGIR 2020), by popularity sampling or uniformly at random, the same number per user, and a
recommender is retrained on real + added data. Popularity and random augmentation are the
controls that say whether the generator matters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advrec.checks import check_finite, check_int, check_seed
from advrec.data.interactions import Interactions

METHODS = ("generator", "popularity", "random")


def sparse_groups(
    train: Interactions, test: Interactions, ks: Sequence[int], group_size: int, seed: int = 0
) -> dict[int, np.ndarray]:
    """Disjoint random groups of ``group_size`` users, one per ``k``, among the users with more
    than ``max(ks)`` training rows and at least one test row: ``{k: int32 users}``."""
    counts, in_test = train.user_counts(), test.user_counts() > 0
    eligible = np.flatnonzero((counts > max(ks)) & in_test)
    if len(eligible) < group_size * len(ks):
        raise ValueError(
            f"only {len(eligible)} users have more than {max(ks)} training rows and a test row; "
            f"{len(ks)} groups of {group_size} need {group_size * len(ks)}: lower group_size."
        )
    chosen = np.random.default_rng(seed).permutation(eligible)[: group_size * len(ks)]
    return {int(k): np.sort(chosen[i :: len(ks)]).astype(np.int32) for i, k in enumerate(ks)}


def sparsify(
    train: Interactions, groups: dict[int, np.ndarray], seed: int = 0
) -> tuple[Interactions, Interactions]:
    """Keeps ``k`` random training rows of each user in ``groups[k]``.

    Returns:
        ``(kept, dropped)``: the sparse training table and the rows taken away (evaluation
        excludes them: they are the user's history, not test targets).
    """
    rng = np.random.default_rng(seed)
    keep = np.ones(len(train), bool)
    for k, users in groups.items():
        for user in users:
            rows = np.flatnonzero(train.user == user)
            keep[rng.permutation(rows)[k:]] = False
    return train.select(keep), train.select(~keep)


def augment(
    train: Interactions,
    users: np.ndarray,
    per_user: int,
    method: str,
    seed: int = 0,
    generated_scores: np.ndarray | None = None,
    exclude: Sequence[Interactions] = (),
) -> Interactions:
    """``per_user`` new interactions for each of ``users``, never a pair already known.

    Args:
        train: the (sparse) training table; its pairs and those in ``exclude`` are never added.
        users: int ``[U]`` users to augment.
        per_user: interactions added per user.
        method: ``"generator"`` (the ``per_user`` highest ``generated_scores``),
            ``"popularity"`` (sampled without replacement in proportion to training
            popularity) or ``"random"`` (uniform).
        seed: seed of the sampling methods.
        generated_scores: float ``[U, n_items]`` the generator's scores (for ``"generator"``).
        exclude: more known pairs to avoid (e.g. the rows :func:`sparsify` dropped).

    Returns:
        The added rows only (rating 1, timestamp 0).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if method == "generator" and generated_scores is None:
        raise ValueError("method='generator' needs generated_scores [len(users), n_items].")
    per_user = check_int(per_user, "per_user", low=1)
    seed = check_seed(seed)
    if method == "generator":
        generated_scores = check_finite(generated_scores, "generated_scores")
        if generated_scores.shape != (len(users), train.n_items):
            raise ValueError(
                f"generated_scores must be [{len(users)}, {train.n_items}] (one row per user), "
                f"got shape {generated_scores.shape}."
            )
    users = np.asarray(users, np.int32)
    known = np.zeros((len(users), train.n_items), bool)
    position = {int(u): i for i, u in enumerate(users)}
    for table in (train, *exclude):
        rows = np.isin(table.user, users)
        known[[position[int(u)] for u in table.user[rows]], table.item[rows]] = True
    rng = np.random.default_rng(seed)
    popularity = train.item_counts().astype(np.float64) + 1e-12
    added = np.empty((len(users), per_user), np.int32)
    for i in range(len(users)):
        free = np.flatnonzero(~known[i])
        if method == "generator":
            order = np.argsort(-np.asarray(generated_scores[i])[free], kind="stable")
            added[i] = free[order[:per_user]]
        else:
            weights = popularity[free] if method == "popularity" else np.ones(len(free))
            added[i] = rng.choice(free, per_user, replace=False, p=weights / weights.sum())
    return Interactions.from_arrays(
        np.repeat(users, per_user), added.ravel(), n_users=train.n_users, n_items=train.n_items
    )
