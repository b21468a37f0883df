"""Growing the user space: fake (injected) users appended after the real ones.

A shilling attack injects user profiles into the training data. :func:`inject_users` gives the
fake users the ids ``n_real, ..., n_real + m - 1`` -- after every real user, so the real users'
ids, rows, validation and test pairs stay exactly as they were -- and puts their rows in the
training table only. Evaluation (:func:`advrec.metrics.evaluate_ranking`) only ranks users that
have a held-out row, so a fake user is never evaluated. :func:`drop_users` is the defender's
side: it removes the training rows of flagged users and keeps the id spaces.
"""

from __future__ import annotations

import numpy as np

from advrec.data.interactions import Interactions
from advrec.data.splits import Split


def _grow(table: Interactions, n_users: int) -> Interactions:
    """The same rows over a user space of ``n_users`` ids."""
    return Interactions(
        table.user, table.item, table.rating, table.timestamp, n_users, table.n_items
    )


def profiles_to_interactions(profiles: np.ndarray, first_user: int = 0) -> Interactions:
    """One row per nonzero cell of ``profiles`` (0/1 ``[m, n_items]``), users from ``first_user``.

    The id space is ``first_user + m`` users by ``n_items`` items.
    """
    profiles = np.asarray(profiles)
    if profiles.ndim != 2:
        raise ValueError(
            f"profiles must be a 0/1 matrix [n_fake_users, n_items], got shape {profiles.shape}."
        )
    rows, cols = np.nonzero(profiles)
    return Interactions.from_arrays(
        rows + first_user,
        cols,
        n_users=first_user + profiles.shape[0],
        n_items=profiles.shape[1],
    )


def inject_users(split: Split, profiles: np.ndarray) -> Split:
    """``split`` with one fake user per row of ``profiles`` appended to its training table.

    Args:
        split: the real users' train/valid/test split (left unchanged).
        profiles: 0/1 (or bool) ``[m, n_items]``: fake user ``k`` interacted with the items where
            row ``k`` is nonzero; it gets id ``split.n_users + k``.

    Returns:
        A new split over ``split.n_users + m`` users: train = the real rows, then the fake rows;
        valid and test hold the real users' rows only (so no fake user is ever evaluated).
    """
    profiles = np.asarray(profiles)
    if profiles.ndim != 2 or profiles.shape[1] != split.n_items:
        raise ValueError(
            f"profiles must be [n_fake_users, n_items] = [m, {split.n_items}], got shape "
            f"{profiles.shape}; build one row per fake user over the split's item space."
        )
    if profiles.shape[0] == 0:
        raise ValueError(
            "no profiles to inject (0 rows): an attack with no fake user would measure the "
            "clean model; build at least one profile (e.g. n_fake_users(n_real, size))."
        )
    if not np.isin(profiles, (0, 1)).all():
        raise ValueError("profiles must be 0/1 (implicit feedback): got other values.")
    if (profiles.sum(axis=1) == 0).any():
        raise ValueError(
            "every fake profile needs at least one item; drop the empty rows before injecting."
        )
    n_users = split.n_users + profiles.shape[0]
    fake = profiles_to_interactions(profiles, first_user=split.n_users)
    return Split(
        train=_grow(split.train, n_users).concat(fake),
        valid=_grow(split.valid, n_users),
        test=_grow(split.test, n_users),
        protocol=f"{split.protocol}+{profiles.shape[0]} injected users",
        seed=split.seed,
    )


def drop_users(split: Split, users: np.ndarray) -> Split:
    """``split`` without the training rows of ``users`` (int ids); id spaces and held-out rows stay.

    The defender's response to a detector: flagged users no longer shape the model. A flagged
    real user keeps its validation and test rows, so what a false alarm costs shows up in the
    evaluation.
    """
    users = np.asarray(users).reshape(-1)
    if users.dtype.kind == "f" and not np.array_equal(users, np.round(users)):
        raise ValueError(
            f"user ids must be whole numbers, got {users[users != np.round(users)][:3]}."
        )
    if users.dtype.kind not in "iuf" and len(users):
        raise TypeError(f"user ids must be integers, got dtype {users.dtype}.")
    users = users.astype(np.int64)
    if len(users) and (users.min() < 0 or users.max() >= split.n_users):
        raise ValueError(
            f"user ids must lie in [0, {split.n_users}); got {users.min()}..{users.max()}."
        )
    keep = ~np.isin(split.train.user, users)
    return Split(
        train=split.train.select(keep),
        valid=split.valid,
        test=split.test,
        protocol=f"{split.protocol}-{len(np.unique(users))} dropped users",
        seed=split.seed,
    )
