"""A synthetic MovieLens-like dataset with planted structure, for fast tests and examples.

Each user picks items by a planted score ``u·v + popularity + gender_signal * s_u * g_i``:
a rank-``rank`` preference (so matrix factorisation beats popularity), an item popularity
(so popularity is a fair baseline) and a gender term (so a classifier can infer gender from
behaviour, as the privacy chapter needs). Same schema as :func:`load_movielens` ("ml-100k").
"""

from __future__ import annotations

import numpy as np

from advrec.checks import check_seed
from advrec.data.interactions import Dataset, Interactions, ItemFeatures, UserFeatures
from advrec.data.movielens import GENRES_100K

OCCUPATIONS_100K: tuple[str, ...] = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip
"""The 21 occupations of ML-100K's ``u.occupation``."""

_FIRST_TIMESTAMP, _LAST_TIMESTAMP = 874_724_710, 893_286_638  # ML-100K's time span
_RATING_SHARES = (0.06, 0.11, 0.27, 0.34, 0.22)  # ML-100K's share of ratings 1..5


def synthetic_movielens(
    n_users: int = 300,
    n_items: int = 200,
    *,
    density: float = 0.06,
    rank: int = 4,
    preference_strength: float = 1.0,
    popularity_strength: float = 1.0,
    gender_signal: float = 0.5,
    min_per_user: int = 5,
    seed: int = 0,
) -> Dataset:
    """A :class:`Dataset` with the ML-100K schema and planted preferences.

    Args:
        n_users, n_items: sizes of the id spaces.
        density: mean fraction of the items each user interacts with.
        rank: rank of the planted preference.
        preference_strength: scale of the low-rank term (0: users differ only by gender).
        popularity_strength: scale of the item popularity term.
        gender_signal: scale of the gender term (0: behaviour says nothing about gender).
        min_per_user: fewest interactions a user has (5 leaves one for valid and test each).
        seed: the result is a deterministic function of all the arguments.

    Returns:
        ``Dataset`` named "synthetic"; raw ids are ``1..n`` as in MovieLens.
    """
    seed = check_seed(seed)
    if n_users < 2 or n_items < 2 * min_per_user:
        raise ValueError(
            f"synthetic_movielens needs n_users >= 2 and n_items >= 2 * min_per_user; got "
            f"n_users={n_users}, n_items={n_items}, min_per_user={min_per_user}."
        )
    if not 0 < density <= 0.5:
        raise ValueError(f"density must lie in (0, 0.5]; got {density}.")
    rng = np.random.default_rng(seed)

    female = rng.random(n_users) < 0.29  # ML-100K has 29% women
    user_factors = rng.normal(size=(n_users, rank))
    item_factors = rng.normal(size=(n_items, rank))
    popularity = rng.normal(size=n_items)
    gender_loading = rng.normal(size=n_items)
    score = (
        preference_strength * 1.5 * (user_factors @ item_factors.T) / np.sqrt(rank)
        + popularity_strength * popularity
        + gender_signal * np.where(female, 1.0, -1.0)[:, None] * gender_loading
    )

    # Per-user counts: long-tailed around density * n_items, as in real data.
    mean_count = density * n_items
    counts = rng.lognormal(np.log(mean_count) - 0.32, 0.8, size=n_users)
    counts = np.clip(np.rint(counts), min_per_user, n_items // 2).astype(np.int64)

    # Sampling without replacement, proportional to exp(score): Gumbel top-k.
    noisy = score + rng.gumbel(size=score.shape)
    ranked = np.argsort(-noisy, axis=1)
    chosen = np.arange(n_items)[None, :] < counts[:, None]
    user = np.repeat(np.arange(n_users), counts)
    item = ranked[chosen]
    # Within a user, a random order: the time order carries no preference information.
    item = item[np.lexsort((rng.random(len(user)), user))]

    # Ratings follow the score (plus noise), with ML-100K's rating shares.
    taste = score[user, item] + rng.normal(scale=0.5, size=len(user))
    cuts = np.quantile(taste, np.cumsum(_RATING_SHARES)[:-1])
    rating = 1 + np.searchsorted(cuts, taste)

    # Timestamps increase within each user; users start at different times.
    start = rng.uniform(_FIRST_TIMESTAMP, _LAST_TIMESTAMP - 30 * 86_400, size=n_users)
    gaps = rng.exponential(3_600.0, size=len(user))
    total = np.cumsum(gaps)
    first = np.cumsum(counts) - counts
    offsets = total - np.repeat(total[first] - gaps[first], counts)
    timestamp = (start[user] + offsets).astype(np.int64)

    interactions = Interactions.from_arrays(user, item, rating, timestamp, n_users, n_items)
    users = UserFeatures(
        age=np.clip(rng.normal(33, 12, size=n_users), 7, 73).astype(np.int32),
        gender=np.where(female, "F", "M"),
        occupation=np.asarray(OCCUPATIONS_100K)[rng.integers(len(OCCUPATIONS_100K), size=n_users)],
        zip_code=np.char.zfill(rng.integers(0, 100_000, size=n_users).astype(str), 5),
    )
    items = ItemFeatures(
        title=np.char.add("Synthetic Movie ", np.arange(1, n_items + 1).astype(str)),
        year=rng.integers(1930, 1999, size=n_items).astype(np.int32),
        genres=_genres(item_factors, rng),
        genre_names=GENRES_100K,
    )
    return Dataset(
        name="synthetic",
        interactions=interactions,
        user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1),
        users=users,
        items=items,
        source=f"synthetic_movielens(n_users={n_users}, n_items={n_items}, seed={seed})",
    )


def _genres(item_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """bool ``[n_items, 19]``: genres tied to the item factors, at least one real genre each."""
    n_items, rank = item_factors.shape
    projection = item_factors @ rng.normal(size=(rank, len(GENRES_100K) - 1))
    flags = projection > 1.2 * np.sqrt(rank)
    flags[np.arange(n_items), projection.argmax(axis=1)] = True
    return np.concatenate([np.zeros((n_items, 1), bool), flags], axis=1)


def synthetic_at_scale(
    n_users: int, n_items: int, n_interactions: int, seed: int = 0, zipf: float = 1.0
) -> Interactions:
    """Interactions of a given size for speed and memory runs (e.g. ML-20M's 138k x 27k x 20M).

    No dense matrix is formed, so any size that fits as three arrays works. Items are drawn with
    Zipf-like popularity ``p(i) ~ 1 / (rank_i + 10) ** zipf`` and users with log-normal activity;
    repeated pairs are dropped, so the result holds slightly fewer than ``n_interactions`` rows.
    There is no planted preference: use :func:`synthetic_movielens` when quality matters.
    """
    seed = check_seed(seed)
    if min(n_users, n_items, n_interactions) < 1:
        raise ValueError(
            f"sizes must be positive, got n_users={n_users}, n_items={n_items}, "
            f"n_interactions={n_interactions}."
        )
    if n_interactions > n_users * n_items // 2:
        raise ValueError("n_interactions must be at most half of n_users * n_items.")
    rng = np.random.default_rng(seed)
    item_weight = 1.0 / (rng.permutation(n_items) + 10.0) ** zipf
    user_weight = rng.lognormal(0.0, 1.0, size=n_users)
    user = rng.choice(n_users, size=n_interactions, p=user_weight / user_weight.sum())
    item = rng.choice(n_items, size=n_interactions, p=item_weight / item_weight.sum())
    keys = np.unique(user.astype(np.int64) * n_items + item)
    return Interactions.from_arrays(
        keys // n_items, keys % n_items, n_users=n_users, n_items=n_items
    )
