"""Side information as matrices: item content and user demographics, one-hot encoded.

A cold-start model knows a new item (or user) only by its side information, so the features are
the model's whole input. MovieLens-100K gives little: for an item its 19 genre flags and its
release date (the video release date column is empty and the IMDb address is a link, not content);
for a user the age, gender, occupation and zip code. :func:`item_feature_matrix` and
:func:`user_feature_matrix` turn the loader's :class:`~advrec.data.ItemFeatures` and
:class:`~advrec.data.UserFeatures` into float32 matrices whose columns are named, with the
:class:`CategoryEncoder` that made each block, so the same encoding applies to new rows and an
unknown category is an error, not a silent zero row.

How an attribute is encoded matters as much as which attributes there are: ML-100K's films are
mostly from 1993-1998, so a release *decade* puts most of the catalogue in one column, while one
column per release *year* separates them. Both encoders take an ``encoding``
(:data:`ITEM_ENCODINGS`, :data:`USER_ENCODINGS`), and :func:`feature_encodings` gives every
encoding of a side, so that a cold-start model chooses its input on validation like any other
setting.
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

ITEM_ENCODINGS = ("genres", "genres+decade", "genres+year")
"""Item content encodings, richest last: genre flags only; plus the release decade (one-hot) and
the scaled release year (the book's first encoding); plus one column per release year."""

USER_ENCODINGS = ("groups", "groups+age", "groups+age+zip")
"""User encodings: one-hot age group, gender and occupation; plus one column per age in years;
plus the zip code's region (its first digit, ``other`` for a non-US code)."""


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


def item_feature_matrix(
    items: ItemFeatures, n_items: int | None = None, encoding: str = "genres+decade"
) -> FeatureMatrix:
    """ML-100K item content: genre flags, and the release date encoded as ``encoding`` says.

    Columns: ``genre=<name>`` (1 per genre of the film, 19 for ML-100K); with ``"genres+decade"``
    (the default) also ``decade=<label>`` (:data:`DECADES`) and ``year`` (``(year - 1900) / 100``,
    0 where unknown); with ``"genres+year"`` also ``year=<YYYY>``, one column per release year of
    ``items`` (a film of unknown year has none set). See :data:`ITEM_ENCODINGS`.

    Args:
        items: the loader's item side information.
        n_items: the number of items of the interactions, to check that every item has a row.
        encoding: one of :data:`ITEM_ENCODINGS`.
    """
    if encoding not in ITEM_ENCODINGS:
        raise ValueError(f"encoding must be one of {ITEM_ENCODINGS}, got {encoding!r}.")
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
    blocks = [genres.astype(np.float32)]
    columns: tuple[str, ...] = tuple(f"genre={g}" for g in items.genre_names)
    encoders: dict[str, CategoryEncoder] = {}
    if encoding != "genres":
        decade = encoders["decade"] = CategoryEncoder("decade", DECADES)
        blocks += [
            decade.one_hot(decades(year)),
            np.where(year == 0, 0.0, (year - 1900) / 100.0).astype(np.float32)[:, None],
        ]
        columns += (*decade.columns, "year")
    if encoding == "genres+year":
        blocks.append(_one_hot_known("year", year, year != 0, encoders))
        columns += encoders["year"].columns
    return FeatureMatrix(np.concatenate(blocks, axis=1), columns, encoders)


def _one_hot_known(name: str, values: np.ndarray, known: np.ndarray, encoders: dict) -> np.ndarray:
    """float32 ``[n, k]``: one column per distinct known value (rows not ``known`` all zero);
    the encoder is added to ``encoders``."""
    encoder = encoders[name] = CategoryEncoder(
        name, tuple(str(v) for v in np.unique(values[known]))
    )
    out = np.zeros((len(values), len(encoder.categories)), np.float32)
    out[known] = encoder.one_hot(values[known].astype(str))
    return out


def zip_regions(zip_code: Sequence[str]) -> np.ndarray:
    """The first digit of each US zip code (its region), ``"other"`` for anything else."""
    first = np.asarray([str(z)[:1] for z in zip_code])
    return np.where(np.char.isdigit(first), first, "other")


def user_feature_matrix(
    users: UserFeatures,
    n_users: int | None = None,
    occupations: Sequence[str] = OCCUPATIONS_100K,
    encoding: str = "groups",
) -> FeatureMatrix:
    """User demographics: one-hot age group, gender and occupation, and more as ``encoding`` says.

    Columns ``age=<group>`` (:data:`AGE_GROUPS`), ``gender=F``, ``gender=M`` and
    ``occupation=<name>`` (21 for ML-100K); with ``"groups+age"`` also ``age_years=<n>``, one
    column per age in the data; with ``"groups+age+zip"`` also ``zip_region=<digit>`` (the first
    digit of the zip code, :func:`zip_regions`). The full zip code is never used: it identifies
    users rather than describing them. See :data:`USER_ENCODINGS`.

    Args:
        users: the loader's user side information.
        n_users: the number of users of the interactions, to check that every user has a row.
        occupations: the known occupations (ML-1M codes them differently: pass its list).
        encoding: one of :data:`USER_ENCODINGS`.
    """
    if encoding not in USER_ENCODINGS:
        raise ValueError(f"encoding must be one of {USER_ENCODINGS}, got {encoding!r}.")
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
    age = np.asarray(users.age)
    if encoding != "groups":
        blocks.append(_one_hot_known("age_years", age, np.ones(n, bool), encoders))
    if encoding == "groups+age+zip":
        regions = zip_regions(users.zip_code)
        blocks.append(_one_hot_known("zip_region", regions, np.ones(n, bool), encoders))
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


def side_features(dataset, side: str, encoding: str | None = None) -> np.ndarray:
    """float32 side-information matrix of the cold side of ``dataset`` (items or users), in
    ``encoding`` (:data:`ITEM_ENCODINGS` or :data:`USER_ENCODINGS`; default: the first
    encoding the book used, ``"genres+decade"`` or ``"groups"``)."""
    if side == "items":
        if dataset.items is None:
            raise ValueError(f"{dataset.name} has no item side information for cold items.")
        encoding = encoding or "genres+decade"
        return item_feature_matrix(dataset.items, dataset.n_items, encoding=encoding).values
    if side != "users":
        raise ValueError(f"side must be items or users, got {side!r}.")
    if dataset.users is None:
        raise ValueError(f"{dataset.name} has no user side information for cold users.")
    encoding = encoding or "groups"
    return user_feature_matrix(dataset.users, dataset.n_users, encoding=encoding).values


def feature_encodings(dataset, side: str) -> dict[str, np.ndarray]:
    """Every encoding of the cold side's side information, by name (:data:`ITEM_ENCODINGS` or
    :data:`USER_ENCODINGS`), for choosing one on validation."""
    names = ITEM_ENCODINGS if side == "items" else USER_ENCODINGS
    return {name: side_features(dataset, side, name) for name in names}
