"""Train/validation/test splits: per-user random holdout and leave-one-out by time.

A split is a deterministic function of (data, protocol, seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advrec.checks import check_seed
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

    def users_without(self, part: str = "test") -> np.ndarray:
        """int32 ``[m]``: users with training rows but none in ``part`` (``"valid"`` or
        ``"test"``). Full-ranking evaluation skips them, so they are never measured."""
        if part not in ("valid", "test"):
            raise ValueError(f'part must be "valid" or "test", got {part!r}.')
        has_train = self.train.user_counts() > 0
        has_part = getattr(self, part).user_counts() > 0
        return np.flatnonzero(has_train & ~has_part).astype(np.int32)


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

    A user with ``n >= 3`` rows gets ``round(n * valid)`` validation and ``round(n * test)`` test
    rows, but at least one of each when that fraction is positive (so a user with 3-5 rows is
    not silently left out of evaluation by rounding down), and always keeps at least one
    training row. Users with fewer than 3 rows stay wholly in train and are never evaluated;
    :meth:`Split.users_without` lists them.

    Args:
        interactions: the full table (each (user, item) pair once).
        fractions: (train, valid, test), finite, non-negative, summing to 1.
        seed: the shuffle's seed, an integer >= 0 (``None`` is refused: the split must be the
            same on every call).
    """
    fractions = tuple(float(f) for f in fractions)
    if (
        len(fractions) != 3
        or not all(math.isfinite(f) and f >= 0 for f in fractions)
        or abs(sum(fractions) - 1.0) > 1e-9
    ):
        raise ValueError(
            f"fractions must be three finite non-negative numbers (train, valid, test) summing "
            f"to 1, got {fractions}; e.g. (0.8, 0.1, 0.1)."
        )
    seed = check_seed(seed)
    if len(interactions) == 0:
        raise ValueError("cannot split an empty Interactions table.")
    repeated = interactions.duplicate_rows()
    if len(repeated):
        row = repeated[0]
        raise ValueError(
            f"{len(repeated)} rows repeat a (user, item) pair (e.g. user "
            f"{interactions.user[row]}, item {interactions.item[row]}); a copy could land in "
            "training while the other is tested. Build the table with "
            'Interactions.from_arrays(..., duplicates="latest") to keep one row per pair.'
        )
    rng = np.random.default_rng(seed)
    rank, count = _rank_within_user(interactions.user, rng.random(len(interactions)))
    enough = count >= 3
    n_test = np.where(enough, np.rint(count * fractions[2]), 0).astype(np.int64)
    n_valid = np.where(enough, np.rint(count * fractions[1]), 0).astype(np.int64)
    n_test = np.where(enough & (fractions[2] > 0), np.maximum(n_test, 1), n_test)
    n_valid = np.where(enough & (fractions[1] > 0), np.maximum(n_valid, 1), n_valid)
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
