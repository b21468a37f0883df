"""The synthetic generator: MovieLens schema, determinism, speed, and the planted structure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from advrec.data.interactions import Interactions
from advrec.data.movielens import GENRES_100K
from advrec.data.synthetic import OCCUPATIONS_100K, synthetic_movielens


def test_schema_matches_movielens():
    dataset = synthetic_movielens(n_users=50, n_items=40, seed=3)
    x = dataset.interactions
    assert (x.n_users, x.n_items) == (50, 40)
    assert x.user.dtype == np.int32 and x.item.dtype == np.int32
    assert x.rating.dtype == np.float32 and x.timestamp.dtype == np.int64
    assert set(np.unique(x.rating)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(x.keys())) == len(x), "duplicate (user, item) pairs"
    assert x.user_counts().min() >= 5
    assert np.all(np.diff(x.user) >= 0), "rows are grouped by user"
    same_user = np.diff(x.user) == 0
    assert np.all(np.diff(x.timestamp)[same_user] >= 0), "time increases within a user"
    np.testing.assert_array_equal(dataset.user_ids, np.arange(1, 51))
    np.testing.assert_array_equal(dataset.item_ids, np.arange(1, 41))
    users, items = dataset.users, dataset.items
    assert set(users.gender) <= {"M", "F"} and len(users.gender) == 50
    assert set(users.occupation) <= set(OCCUPATIONS_100K)
    assert users.age.dtype == np.int32 and all(len(z) == 5 for z in users.zip_code)
    assert items.genre_names == GENRES_100K and items.genres.shape == (40, 19)
    assert items.genres[:, 1:].any(axis=1).all(), "every item has a genre"
    assert items.year.dtype == np.int32 and len(items.title) == 40
    assert dataset.name == "synthetic" and "seed=3" in dataset.source


def test_deterministic_in_the_seed():
    a, b = synthetic_movielens(seed=7), synthetic_movielens(seed=7)
    c = synthetic_movielens(seed=8)
    for name in ("user", "item", "rating", "timestamp"):
        np.testing.assert_array_equal(getattr(a.interactions, name), getattr(b.interactions, name))
    np.testing.assert_array_equal(a.users.gender, b.users.gender)
    assert not np.array_equal(a.interactions.keys(), c.interactions.keys())


def test_bad_arguments():
    with pytest.raises(ValueError, match="density must lie in"):
        synthetic_movielens(density=0.9)
    with pytest.raises(ValueError, match="n_items >= 2 \\* min_per_user"):
        synthetic_movielens(n_items=6)


def _holdout(x: Interactions, seed: int = 0) -> tuple[Interactions, Interactions]:
    """A fifth of each user's rows for test."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(x), bool)
    for user in range(x.n_users):
        rows = np.flatnonzero(x.user == user)
        test[rng.choice(rows, max(1, len(rows) // 5), replace=False)] = True
    return x.select(~test), x.select(test)


def _recall_at_10(scores: np.ndarray, train: Interactions, test: Interactions) -> float:
    scores = scores.copy()
    scores[train.user, train.item] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :10]
    relevant = test.dense().astype(bool)
    hits = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
    return float(np.mean(hits / np.minimum(10, relevant.sum(axis=1))))


def _low_rank_minus_popularity(**kwargs) -> float:
    train, test = _holdout(synthetic_movielens(**kwargs).interactions)
    matrix = train.dense()
    popularity = np.tile(matrix.sum(axis=0), (train.n_users, 1))
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    low_rank = (u[:, :8] * s[:8]) @ vt[:8]
    return _recall_at_10(low_rank, train, test) - _recall_at_10(popularity, train, test)


def test_low_rank_model_beats_popularity():
    assert _low_rank_minus_popularity() > 0.08
    # The margin comes from the planted preference: without it popularity wins.
    assert _low_rank_minus_popularity(preference_strength=0.0) < 0.0


def _gender_auc(**kwargs) -> float:
    dataset = synthetic_movielens(**kwargs)
    classifier = LogisticRegression(C=0.1, max_iter=1000)
    is_female = dataset.users.gender == "F"
    features = dataset.interactions.dense()
    return float(cross_val_score(classifier, features, is_female, cv=5, scoring="roc_auc").mean())


def test_gender_can_be_inferred_from_behaviour_only_when_planted():
    assert _gender_auc() > 0.8
    assert _gender_auc(gender_signal=0.0) < 0.65


def test_synthetic_at_scale_has_the_asked_shape_and_no_repeated_pair():
    from advrec.data import synthetic_at_scale

    table = synthetic_at_scale(500, 300, 20_000, seed=1)
    assert (table.n_users, table.n_items) == (500, 300)
    assert 15_000 < len(table) <= 20_000
    assert len(np.unique(table.keys())) == len(table)
    counts = np.sort(table.item_counts())[::-1]
    assert counts[:30].sum() > 3 * counts[-30:].sum()  # popularity is skewed
    with pytest.raises(ValueError, match="at most half"):
        synthetic_at_scale(10, 10, 60)
