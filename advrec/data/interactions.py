"""The in-memory dataset types every part of advrec shares.

An :class:`Interactions` table holds one row per (user, item) event with contiguous 0-based
ids; a :class:`Dataset` adds the maps back to raw ids and optional side information.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from advrec.checks import check_int


@dataclass(frozen=True)
class Interactions:
    """User-item events with contiguous 0-based ids.

    Attributes:
        user: int32 ``[n]`` user index in ``[0, n_users)``.
        item: int32 ``[n]`` item index in ``[0, n_items)``.
        rating: float32 ``[n]`` explicit rating (1.0 where the data is implicit).
        timestamp: int64 ``[n]`` seconds since the epoch (0 where unknown).
        n_users, n_items: sizes of the id spaces (users or items may have no row here,
            e.g. in a test split).
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    n_users: int
    n_items: int

    def __post_init__(self) -> None:
        for name in ("user", "item", "rating", "timestamp"):
            column = getattr(self, name)
            if not isinstance(column, np.ndarray) or column.ndim != 1:
                raise TypeError(
                    f"Interactions.{name} must be a 1-D numpy array, got "
                    f"{type(column).__name__}; build tables with Interactions.from_arrays(user, "
                    "item, ...), which converts and checks the columns."
                )
        for name in ("n_users", "n_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"Interactions.{name} must be an integer >= 0, got {value!r}.")
        n = len(self.user)
        for name in ("item", "rating", "timestamp"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Interactions.{name} has {len(getattr(self, name))} rows but user has {n}; "
                    "all columns must have one entry per interaction."
                )
        if n and (self.user.min() < 0 or self.user.max() >= self.n_users):
            raise ValueError(
                f"user ids must lie in [0, {self.n_users}); got [{self.user.min()}, "
                f"{self.user.max()}]. Re-index users contiguously or raise n_users."
            )
        if n and (self.item.min() < 0 or self.item.max() >= self.n_items):
            raise ValueError(
                f"item ids must lie in [0, {self.n_items}); got [{self.item.min()}, "
                f"{self.item.max()}]. Re-index items contiguously or raise n_items."
            )

    @classmethod
    def from_arrays(
        cls,
        user,
        item,
        rating=None,
        timestamp=None,
        n_users: int | None = None,
        n_items: int | None = None,
        duplicates: str = "raise",
    ) -> Interactions:
        """Builds a table with the canonical dtypes; sizes default to ``max id + 1``.

        Ids must be whole numbers in ``[0, 2**31 - 1]`` (int32); float ids are accepted only if
        they are integral (``1.0``, not ``1.7``). Each (user, item) pair may appear once: a
        repeated pair would be counted twice by the models and could land in training and test
        at once. ``duplicates="latest"`` keeps, of each repeated pair, the row with the largest
        timestamp (the last such row when timestamps tie) and drops the others; the default
        ``"raise"`` refuses them. An empty table needs explicit ``n_users`` and ``n_items``.

        Raises:
            ValueError: ids that are negative, too large, non-integral or not numbers;
                duplicate pairs (with ``duplicates="raise"``); empty input without sizes.
        """
        if duplicates not in ("raise", "latest"):
            raise ValueError(f'duplicates must be "raise" or "latest", got {duplicates!r}.')
        user, item = _ids(user, "user"), _ids(item, "item")
        n = len(user)
        if n == 0 and (n_users is None or n_items is None):
            raise ValueError(
                "no interactions given, so n_users and n_items cannot be inferred; pass them "
                "(e.g. Interactions.from_arrays([], [], n_users=10, n_items=20)) or check the "
                "data that produced the empty arrays."
            )
        rating = np.ones(n, np.float32) if rating is None else _ratings(rating)
        timestamp = np.zeros(n, np.int64) if timestamp is None else _timestamps(timestamp)
        n_users = int(user.max()) + 1 if n_users is None else check_int(n_users, "n_users", low=0)
        n_items = int(item.max()) + 1 if n_items is None else check_int(n_items, "n_items", low=0)
        table = cls(user, item, rating, timestamp, n_users, n_items)
        repeated = table.duplicate_rows()
        if len(repeated) and duplicates == "raise":
            first = repeated[0]
            raise ValueError(
                f"{len(repeated)} rows repeat an earlier (user, item) pair, e.g. row {first}: "
                f"user {user[first]}, item {item[first]}. Each pair must appear once (a repeat "
                "would be weighted twice and could fall in both training and test). Remove "
                'them, or pass duplicates="latest" to keep the latest row of each pair.'
            )
        if len(repeated):
            order = np.lexsort((np.arange(n), timestamp, table.keys()))  # last = latest
            keys = table.keys()[order]
            is_last = np.append(keys[1:] != keys[:-1], True)
            table = table.select(np.sort(order[is_last]))
        return table

    def duplicate_rows(self) -> np.ndarray:
        """int64 indices of the rows whose (user, item) pair already appeared in an earlier
        row (empty if every pair is unique)."""
        _, first = np.unique(self.keys(), return_index=True)
        repeated = np.ones(len(self), bool)
        repeated[first] = False
        return np.flatnonzero(repeated)

    def __len__(self) -> int:
        return len(self.user)

    def select(self, index: np.ndarray) -> Interactions:
        """Rows picked by a boolean mask or an integer index array; the id spaces are kept."""
        return Interactions(
            self.user[index],
            self.item[index],
            self.rating[index],
            self.timestamp[index],
            self.n_users,
            self.n_items,
        )

    def keys(self) -> np.ndarray:
        """int64 ``[n]`` unique key ``user * n_items + item`` of each row."""
        return self.user.astype(np.int64) * self.n_items + self.item

    def dense(self) -> np.ndarray:
        """float32 ``[n_users, n_items]`` 0/1 matrix of the observed pairs (small data only)."""
        matrix = np.zeros((self.n_users, self.n_items), np.float32)
        matrix[self.user, self.item] = 1.0
        return matrix

    def user_counts(self) -> np.ndarray:
        """int64 ``[n_users]`` number of rows per user."""
        return np.bincount(self.user, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """int64 ``[n_items]`` number of rows per item (its popularity)."""
        return np.bincount(self.item, minlength=self.n_items)

    def concat(self, other: Interactions) -> Interactions:
        """Rows of both tables (same id spaces)."""
        if (self.n_users, self.n_items) != (other.n_users, other.n_items):
            raise ValueError("cannot concatenate Interactions over different id spaces")
        return Interactions(
            np.concatenate([self.user, other.user]),
            np.concatenate([self.item, other.item]),
            np.concatenate([self.rating, other.rating]),
            np.concatenate([self.timestamp, other.timestamp]),
            self.n_users,
            self.n_items,
        )


_MAX_ID = np.iinfo(np.int32).max


def _ids(values, what: str) -> np.ndarray:
    """int32 ``[n]`` ids from any array-like of whole numbers; refuses what would wrap or round."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} ids must be a 1-D array, got shape {array.shape}.")
    if array.size == 0:
        return np.zeros(0, np.int32)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{what} ids must be whole numbers; row {row} is {array[row].item()!r}. Float "
                "ids are not rounded (that would merge different ids): map raw ids to 0..n-1 "
                "first, "
                "e.g. with np.unique(raw, return_inverse=True)."
            )
    elif array.dtype.kind not in "iub":
        raise ValueError(
            f"{what} ids must be integers, got dtype {array.dtype}; map raw ids to 0..n-1 "
            "first, e.g. with np.unique(raw, return_inverse=True)."
        )
    low, high = array.min(), array.max()
    if low < 0 or high > _MAX_ID:
        raise ValueError(
            f"{what} ids must lie in [0, {_MAX_ID}] to fit int32; got [{int(low)}, {int(high)}]. "
            "Re-index them contiguously, e.g. with np.unique(raw, return_inverse=True)."
        )
    return array.astype(np.int32)


def _ratings(values) -> np.ndarray:
    """float32 ``[n]`` ratings, refusing NaN and infinity (they would train and rank as numbers)."""
    try:
        array = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        raise ValueError("rating must be numbers (one per interaction), e.g. 1..5.") from None
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"rating must be finite; row {row} is {array[row]}. Drop or fill the rows without a "
            "rating first (or pass rating=None for implicit feedback)."
        )
    return array.astype(np.float32)


def _timestamps(values) -> np.ndarray:
    """int64 ``[n]`` timestamps from whole numbers; a fraction would be truncated, so refused."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"timestamp must be whole seconds; row {row} is {array[row].item()!r}. Round "
                "them yourself if that is meant, e.g. np.floor(timestamp)."
            )
    elif array.dtype.kind not in "iub":
        raise ValueError(f"timestamp must be integer seconds, got dtype {array.dtype}.")
    return array.astype(np.int64)


@dataclass(frozen=True)
class UserFeatures:
    """Side information per user, indexed by the contiguous user id.

    Attributes:
        age: int32 ``[n_users]`` age in years.
        gender: ``[n_users]`` str, ``"M"`` or ``"F"``.
        occupation: ``[n_users]`` str.
        zip_code: ``[n_users]`` str (kept as text: some are not numeric).
    """

    age: np.ndarray
    gender: np.ndarray
    occupation: np.ndarray
    zip_code: np.ndarray


@dataclass(frozen=True)
class ItemFeatures:
    """Side information per item, indexed by the contiguous item id.

    Attributes:
        title: ``[n_items]`` str, the title without the year.
        year: int32 ``[n_items]`` release year, 0 where unknown.
        genres: bool ``[n_items, len(genre_names)]`` genre flags.
        genre_names: the genre of each column.
    """

    title: np.ndarray
    year: np.ndarray
    genres: np.ndarray
    genre_names: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: interactions plus maps back to raw ids and side information.

    ``user_ids[u]`` is the raw id of contiguous user ``u`` (likewise ``item_ids``).
    """

    name: str
    interactions: Interactions
    user_ids: np.ndarray
    item_ids: np.ndarray
    users: UserFeatures | None = None
    items: ItemFeatures | None = None
    source: str = field(default="", compare=False)

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items
