"""Train/validation/test splits: per-user random holdout and leave-one-out by time.

A split is a deterministic function of (data, protocol, seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advrec.data.interactions import Interactions


@dataclass(frozen=True)
class Split:
    """Disjoint train/valid/test tables over the same id spaces."""

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str
    seed: int | None = None

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items


def _rank_within_user(user: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row among its user's rows, sorted by ``keys`` (last key primary)."""
    order = np.lexsort((*keys, user))
    counts = np.bincount(user, minlength=user.max() + 1 if len(user) else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(user), np.int64)
    rank[order] = np.arange(len(user)) - starts[user[order]]
    return rank, counts[user]


def random_holdout(
    interactions: Interactions,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> Split:
    """Per-user random holdout: each user's rows are shuffled and cut by ``fractions``.

    A user with ``n`` rows gets ``round(n * valid)`` validation and ``round(n * test)`` test rows,
    and always keeps at least one training row; users with fewer than 3 rows stay wholly in train.

    Args:
        interactions: the full table.
        fractions: (train, valid, test), non-negative, summing to 1.
        seed: the shuffle's seed.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(
            f"fractions must be three non-negative numbers (train, valid, test) summing to 1, "
            f"got {fractions}; e.g. (0.8, 0.1, 0.1)."
        )
    if len(interactions) == 0:
        raise ValueError("cannot split an empty Interactions table.")
    rng = np.random.default_rng(seed)
    rank, count = _rank_within_user(interactions.user, rng.random(len(interactions)))
    n_test = np.where(count >= 3, np.rint(count * fractions[2]), 0).astype(np.int64)
    n_valid = np.where(count >= 3, np.rint(count * fractions[1]), 0).astype(np.int64)
    overflow = np.maximum(n_test + n_valid - (count - 1), 0)  # keep one training row
    n_valid = n_valid - overflow
    is_test = rank < n_test
    is_valid = ~is_test & (rank < n_test + n_valid)
    is_train = ~is_test & ~is_valid
    return Split(
        train=interactions.select(is_train),
        valid=interactions.select(is_valid),
        test=interactions.select(is_test),
        protocol=f"random_holdout{fractions}",
        seed=seed,
    )


def leave_one_out(interactions: Interactions) -> Split:
    """Leave-one-out by time: each user's latest row is test, the one before is validation.

    Ties in timestamp are broken by the row's position in the table, so the split is
    deterministic. Users with fewer than 3 rows stay wholly in train.
    """
    if len(interactions) == 0:
        raise ValueError("cannot split an empty Interactions table.")
    newest_first = -interactions.timestamp
    later_row_first = -np.arange(len(interactions))
    rank, count = _rank_within_user(interactions.user, later_row_first, newest_first)
    enough = count >= 3
    is_test = enough & (rank == 0)
    is_valid = enough & (rank == 1)
    return Split(
        train=interactions.select(~is_test & ~is_valid),
        valid=interactions.select(is_valid),
        test=interactions.select(is_test),
        protocol="leave_one_out",
        seed=None,
    )
