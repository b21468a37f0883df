"""Side information as matrices: item content and user demographics, one-hot encoded.

A cold-start model knows a new item (or user) only by its side information, so the features are
the model's whole input. MovieLens-100K gives little: for an item its 19 genre flags and its
release date (the video release date column is empty and the IMDb address is a link, not content);
for a user the age, gender, occupation and zip code. :func:`item_feature_matrix` and
:func:`user_feature_matrix` turn the loader's :class:`~advrec.data.ItemFeatures` and
:class:`~advrec.data.UserFeatures` into float32 matrices whose columns are named, with the
:class:`CategoryEncoder` that made each block, so the same encoding applies to new rows and an
unknown category is an error, not a silent zero row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from advrec.data.interactions import ItemFeatures, UserFeatures

AGE_GROUP_EDGES = (18, 25, 35, 45, 50, 56)
"""Upper bounds (exclusive) of the age groups MovieLens-1M uses: under 18, 18-24, 25-34, 35-44,
45-49, 50-55, 56 and over."""

AGE_GROUPS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
GENDERS = ("F", "M")
OCCUPATIONS_100K = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)
"""The 21 occupations of ML-100K's ``u.occupation``."""

DECADES = ("unknown", "<1940", "1940s", "1950s", "1960s", "1970s", "1980s", "1990s")
"""Release-decade categories of ML-100K (its films run from 1922 to 1998)."""


@dataclass(frozen=True)
class CategoryEncoder:
    """Maps the values of one categorical attribute to column indices ``0..len(categories)-1``.

    Args:
        name: the attribute's name (used in column names and errors).
        categories: the known values, in column order.
    """

    name: str
    categories: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.categories)) != len(self.categories) or not self.categories:
            raise ValueError(f"{self.name}: categories must be distinct and non-empty.")

    def encode(self, values: Iterable[str]) -> np.ndarray:
        """int32 ``[n]`` index of each value; an unknown value raises ``ValueError``."""
        values = np.asarray(list(values), dtype=str)
        lookup = {c: i for i, c in enumerate(self.categories)}
        unknown = sorted({v for v in values.tolist() if v not in lookup})
        if unknown:
            raise ValueError(
                f"unknown {self.name} value(s) {unknown[:5]}; the encoder knows "
                f"{list(self.categories)}. Map them to a known category (e.g. 'other') or build "
                "a CategoryEncoder that includes them."
            )
        return np.asarray([lookup[v] for v in values.tolist()], np.int32)

    def one_hot(self, values: Iterable[str]) -> np.ndarray:
        """float32 ``[n, len(categories)]`` one-hot rows."""
        return np.eye(len(self.categories), dtype=np.float32)[self.encode(values)]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.name}={c}" for c in self.categories)


@dataclass(frozen=True)
class FeatureMatrix:
    """Side information of ``n`` rows (items or users, by contiguous id) as a float32 matrix.

    Attributes:
        values: float32 ``[n, n_features]``.
        columns: the name of each column, e.g. ``"genre=Action"`` or ``"age=25-34"``.
        encoders: the categorical encoders behind the one-hot blocks, by attribute name.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    encoders: dict[str, CategoryEncoder]

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(
                f"values must be [n, {len(self.columns)}] (one column per name), "
                f"got {self.values.shape}."
            )

    @property
    def n_rows(self) -> int:
        return self.values.shape[0]

    def block(self, prefix: str) -> np.ndarray:
        """float32 ``[n, k]``: the columns whose name starts with ``prefix + "="``."""
        picked = [i for i, c in enumerate(self.columns) if c.startswith(prefix + "=")]
        if not picked:
            raise KeyError(f"no column named {prefix}=...; the columns are {self.columns}.")
        return self.values[:, picked]


def _check_rows(what: str, n_found: int, n_expected: int | None) -> None:
    if n_expected is not None and n_found != n_expected:
        raise ValueError(
            f"the {what} side information has {n_found} rows but the interactions have "
            f"{n_expected} {what}s: every {what} needs a row (indexed by its contiguous id). "
            "Load both from the same Dataset."
        )


def age_groups(age: Sequence[int]) -> np.ndarray:
    """The age group label (one of :data:`AGE_GROUPS`) of each age in years."""
    age = np.asarray(age)
    if len(age) and (age.min() < 1 or age.max() > 120):
        raise ValueError(f"ages must lie in 1..120 years, got [{age.min()}, {age.max()}].")
    return np.asarray(AGE_GROUPS)[np.searchsorted(AGE_GROUP_EDGES, age, side="right")]


def decades(year: Sequence[int]) -> np.ndarray:
    """The release-decade label (one of :data:`DECADES`) of each year; 0 means unknown."""
    year = np.asarray(year)
    labels = np.where(year < 1940, "<1940", np.char.add((year // 10 * 10).astype(str), "s"))
    return np.where(year == 0, "unknown", labels)


def item_feature_matrix(items: ItemFeatures, n_items: int | None = None) -> FeatureMatrix:
    """ML-100K item content: genre flags, release decade (one-hot) and the scaled release year.

    Columns: ``genre=<name>`` (1 per genre of the film, 19 for ML-100K), ``decade=<label>``
    (:data:`DECADES`) and ``year`` (``(year - 1900) / 100``, 0 where unknown).

    Args:
        items: the loader's item side information.
        n_items: the number of items of the interactions, to check that every item has a row.
    """
    genres = np.asarray(items.genres, dtype=bool)
    year = np.asarray(items.year, dtype=np.int64)
    if genres.ndim != 2 or genres.shape[1] != len(items.genre_names):
        raise ValueError(
            f"genres must be [n_items, {len(items.genre_names)}] flags, got {genres.shape}."
        )
    if len(year) != len(genres):
        raise ValueError(f"year has {len(year)} rows but genres has {len(genres)}.")
    _check_rows("item", len(genres), n_items)
    known = year[year != 0]
    if len(known) and (known.min() < 1800 or known.max() > 2100):
        raise ValueError(f"release years must lie in 1800..2100 (or 0 for unknown); got {known}.")
    decade = CategoryEncoder("decade", DECADES)
    values = np.concatenate(
        [
            genres.astype(np.float32),
            decade.one_hot(decades(year)),
            np.where(year == 0, 0.0, (year - 1900) / 100.0).astype(np.float32)[:, None],
        ],
        axis=1,
    )
    columns = (*(f"genre={g}" for g in items.genre_names), *decade.columns, "year")
    return FeatureMatrix(values, columns, {"decade": decade})


def user_feature_matrix(
    users: UserFeatures, n_users: int | None = None, occupations: Sequence[str] = OCCUPATIONS_100K
) -> FeatureMatrix:
    """User demographics: one-hot age group, gender and occupation.

    Columns ``age=<group>`` (:data:`AGE_GROUPS`), ``gender=F``, ``gender=M`` and
    ``occupation=<name>`` (21 for ML-100K). The zip code is left out: as a region it adds
    ten sparse columns that did not help on validation in our runs, and as text it identifies
    users rather than describing them.

    Args:
        users: the loader's user side information.
        n_users: the number of users of the interactions, to check that every user has a row.
        occupations: the known occupations (ML-1M codes them differently: pass its list).
    """
    n = len(users.age)
    for name in ("gender", "occupation"):
        if len(getattr(users, name)) != n:
            raise ValueError(f"users.{name} has {len(getattr(users, name))} rows, age has {n}.")
    _check_rows("user", n, n_users)
    encoders = {
        "age": CategoryEncoder("age", AGE_GROUPS),
        "gender": CategoryEncoder("gender", GENDERS),
        "occupation": CategoryEncoder("occupation", tuple(occupations)),
    }
    raw = {
        "age": age_groups(users.age),
        "gender": users.gender,
        "occupation": np.char.lower(np.asarray(users.occupation, dtype=str)),
    }
    blocks = [encoders[name].one_hot(raw[name]) for name in encoders]
    columns = tuple(c for encoder in encoders.values() for c in encoder.columns)
    return FeatureMatrix(np.concatenate(blocks, axis=1), columns, encoders)


def demographic_groups(users: UserFeatures, keys: Sequence[str] = ("age", "gender")) -> np.ndarray:
    """int32 ``[n_users]``: one group id per distinct combination of the ``keys`` attributes.

    ``keys`` are among ``"age"`` (the age group), ``"gender"`` and ``"occupation"``.
    """
    labels = {
        "age": age_groups(users.age),
        "gender": np.asarray(users.gender, dtype=str),
        "occupation": np.char.lower(np.asarray(users.occupation, dtype=str)),
    }
    unknown = [k for k in keys if k not in labels]
    if unknown or not keys:
        raise ValueError(f"keys must be a non-empty subset of {sorted(labels)}, got {keys}.")
    combined = ["|".join(parts) for parts in zip(*(labels[k].tolist() for k in keys), strict=True)]
    _, groups = np.unique(combined, return_inverse=True)
    return groups.astype(np.int32)


def side_features(dataset, side: str) -> np.ndarray:
    """float32 side-information matrix of the cold side of ``dataset`` (items or users)."""
    if side == "items":
        if dataset.items is None:
            raise ValueError(f"{dataset.name} has no item side information for cold items.")
        return item_feature_matrix(dataset.items, dataset.n_items).values
    if dataset.users is None:
        raise ValueError(f"{dataset.name} has no user side information for cold users.")
    return user_feature_matrix(dataset.users, dataset.n_users).values
