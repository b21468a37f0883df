"""Cold-start splits: items (or users) held out entirely, for validation and for test.

A cold item has no interaction in training at all: a random share of the items is drawn, split
by item into validation and test items, and *every* interaction with them leaves the training
data. The remaining (warm) interactions get the usual per-user random holdout, so warm
recommendation is measured as everywhere else in the book. Users are handled the same way.

Every table keeps the full id spaces, so a model that scores the whole catalogue can be
evaluated directly; :meth:`ColdStartSplit.warm_space` gives the warm part re-indexed onto the warm
ids only, which is what a collaborative model trains on: a cold item is then simply absent from
the catalogue, so no negative sampler can ever draw it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advrec.checks import check_seed
from advrec.data.interactions import Interactions
from advrec.data.splits import Split, random_holdout

SIDES = ("items", "users")


@dataclass(frozen=True)
class ColdStartSplit:
    """A warm split plus the interactions of the held-out cold items (or users).

    Attributes:
        side: ``"items"`` or ``"users"``: which entities are cold.
        warm: train/valid/test of the warm interactions (full id spaces; no cold entity in it).
        cold_valid: every interaction of the validation cold entities (full id spaces).
        cold_test: every interaction of the test cold entities (full id spaces).
        cold_valid_ids, cold_test_ids: int32 sorted ids of the cold entities of each part.
        seed: the seed that drew the cold entities and the warm holdout.
    """

    side: str
    warm: Split
    cold_valid: Interactions
    cold_test: Interactions
    cold_valid_ids: np.ndarray
    cold_test_ids: np.ndarray
    seed: int

    @property
    def n_entities(self) -> int:
        """Size of the cold side's full id space (``n_items`` or ``n_users``)."""
        return self.warm.n_items if self.side == "items" else self.warm.n_users

    @property
    def cold_ids(self) -> np.ndarray:
        """int32 sorted ids of all cold entities (validation and test)."""
        return np.union1d(self.cold_valid_ids, self.cold_test_ids).astype(np.int32)

    @property
    def warm_ids(self) -> np.ndarray:
        """int32 sorted ids of the warm entities (position in it = the warm-space id)."""
        return np.setdiff1d(np.arange(self.n_entities), self.cold_ids).astype(np.int32)

    def mask(self, ids: np.ndarray) -> np.ndarray:
        """bool ``[n_entities]``: True at ``ids`` (e.g. a candidate set for evaluation)."""
        out = np.zeros(self.n_entities, bool)
        out[ids] = True
        return out

    def warm_space(self) -> Split:
        """The warm split re-indexed onto the warm entities only (ids ``0..len(warm_ids)-1``).

        The other side keeps its full id space. ``warm_ids[k]`` is the full id of warm-space
        entity ``k``.
        """
        warm_ids = self.warm_ids
        position = np.full(self.n_entities, -1, np.int64)
        position[warm_ids] = np.arange(len(warm_ids))

        def remap(table: Interactions) -> Interactions:
            if self.side == "items":
                return Interactions(
                    table.user,
                    position[table.item].astype(np.int32),
                    table.rating,
                    table.timestamp,
                    table.n_users,
                    len(warm_ids),
                )
            return Interactions(
                position[table.user].astype(np.int32),
                table.item,
                table.rating,
                table.timestamp,
                len(warm_ids),
                table.n_items,
            )

        warm = self.warm
        return Split(
            remap(warm.train),
            remap(warm.valid),
            remap(warm.test),
            protocol=f"{warm.protocol} on warm {self.side}",
            seed=warm.seed,
        )


def cold_start_split(
    interactions: Interactions,
    side: str = "items",
    cold_fraction: float = 0.2,
    valid_share: float = 0.5,
    warm_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    min_interactions: int = 1,
    seed: int = 0,
) -> ColdStartSplit:
    """Holds out a random ``cold_fraction`` of the items (or users) with all their interactions.

    Args:
        interactions: the full table.
        side: ``"items"`` (new items) or ``"users"`` (new users).
        cold_fraction: share of the eligible entities made cold, in (0, 1).
        valid_share: share of the cold entities used for validation (the rest is test), in (0, 1).
        warm_fractions: the per-user random holdout of the warm interactions.
        min_interactions: only entities with at least this many interactions can be drawn as
            cold (a cold entity without interactions could never be a target).
        seed: draws the cold entities and the warm holdout.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES} (which entities are new), got {side!r}.")
    seed = check_seed(seed)
    for name, value in (("cold_fraction", cold_fraction), ("valid_share", valid_share)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}.")
    if len(interactions) == 0:
        raise ValueError("cannot split an empty Interactions table.")
    entity = interactions.item if side == "items" else interactions.user
    n_entities = interactions.n_items if side == "items" else interactions.n_users
    counts = np.bincount(entity, minlength=n_entities)
    eligible = np.flatnonzero(counts >= max(1, min_interactions))
    n_cold = int(round(cold_fraction * len(eligible)))
    n_valid = int(round(valid_share * n_cold))
    if n_valid < 1 or n_cold - n_valid < 1:
        raise ValueError(
            f"{len(eligible)} eligible {side} with cold_fraction={cold_fraction} and "
            f"valid_share={valid_share} leave an empty validation or test set; raise them."
        )
    rng = np.random.default_rng(seed)
    cold = rng.permutation(eligible)[:n_cold]
    cold_valid_ids = np.sort(cold[:n_valid]).astype(np.int32)
    cold_test_ids = np.sort(cold[n_valid:]).astype(np.int32)
    is_cold_valid = np.isin(entity, cold_valid_ids)
    is_cold_test = np.isin(entity, cold_test_ids)
    warm = interactions.select(~is_cold_valid & ~is_cold_test)
    if len(warm) == 0:
        raise ValueError("no warm interaction is left; lower cold_fraction.")
    return ColdStartSplit(
        side=side,
        warm=random_holdout(warm, warm_fractions, seed=seed),
        cold_valid=interactions.select(is_cold_valid),
        cold_test=interactions.select(is_cold_test),
        cold_valid_ids=cold_valid_ids,
        cold_test_ids=cold_test_ids,
        seed=seed,
    )
