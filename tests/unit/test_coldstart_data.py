"""Cold-start data: side-information matrices, cold splits and candidate-restricted ranking."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions
from advrec.data.coldstart import cold_start_split
from advrec.data.features import (
    AGE_GROUPS,
    CategoryEncoder,
    age_groups,
    demographic_groups,
    item_feature_matrix,
    user_feature_matrix,
)
from advrec.metrics import evaluate_ranking

# -- features ---------------------------------------------------------------------------------


def test_item_features_have_genres_decade_and_year(synthetic_dataset):
    items = synthetic_dataset.items
    matrix = item_feature_matrix(items, synthetic_dataset.n_items)
    n_genres = len(items.genre_names)
    assert matrix.values.shape == (synthetic_dataset.n_items, n_genres + 8 + 1)
    assert np.array_equal(matrix.block("genre"), items.genres.astype(np.float32))
    assert np.all(matrix.block("decade").sum(axis=1) == 1.0)  # exactly one decade each
    year = matrix.values[:, matrix.columns.index("year")]
    assert np.allclose(year, (items.year - 1900) / 100.0)


def test_user_features_are_one_hot_blocks(synthetic_dataset):
    users = synthetic_dataset.users
    matrix = user_feature_matrix(users, synthetic_dataset.n_users)
    assert matrix.values.shape == (synthetic_dataset.n_users, 7 + 2 + 21)
    for block in ("age", "gender", "occupation"):
        assert np.all(matrix.block(block).sum(axis=1) == 1.0)
    genders = matrix.encoders["gender"].categories
    assert np.array_equal(np.asarray(genders)[matrix.block("gender").argmax(1)], users.gender)


def test_age_groups_follow_movielens_bounds():
    assert list(age_groups([1, 17, 18, 24, 25, 49, 50, 55, 56, 90])) == [
        "<18",
        "<18",
        "18-24",
        "18-24",
        "25-34",
        "45-49",
        "50-55",
        "50-55",
        "56+",
        "56+",
    ]
    assert len(AGE_GROUPS) == 7


def test_unknown_category_and_missing_rows_are_errors(synthetic_dataset):
    users = synthetic_dataset.users
    occupation = np.where(np.arange(len(users.age)) == 3, "astronaut", users.occupation)
    odd = replace(users, occupation=occupation)
    with pytest.raises(ValueError, match="unknown occupation value.*astronaut"):
        user_feature_matrix(odd)
    with pytest.raises(ValueError, match="needs a row"):
        user_feature_matrix(users, n_users=synthetic_dataset.n_users + 1)
    with pytest.raises(ValueError, match="needs a row"):
        item_feature_matrix(synthetic_dataset.items, n_items=synthetic_dataset.n_items - 1)
    with pytest.raises(ValueError, match="distinct"):
        CategoryEncoder("x", ("a", "a"))


def test_demographic_groups_combine_attributes(synthetic_dataset):
    users = synthetic_dataset.users
    groups = demographic_groups(users, ("gender",))
    assert len(np.unique(groups)) == len(np.unique(users.gender))
    both = demographic_groups(users, ("age", "gender"))
    same = both[:, None] == both[None, :]
    assert np.all(same <= (users.gender[:, None] == users.gender[None, :]))
    with pytest.raises(ValueError, match="subset"):
        demographic_groups(users, ("zip",))


# -- cold-start splits ----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["items", "users"])
def test_no_cold_entity_leaks_into_the_warm_tables(synthetic_dataset, side):
    data = synthetic_dataset.interactions
    split = cold_start_split(data, side, cold_fraction=0.3, seed=3)
    column = "item" if side == "items" else "user"
    cold = split.cold_ids
    for table in (split.warm.train, split.warm.valid, split.warm.test):
        assert not np.isin(getattr(table, column), cold).any()
    assert set(np.unique(getattr(split.cold_valid, column))) == set(split.cold_valid_ids)
    assert set(np.unique(getattr(split.cold_test, column))) == set(split.cold_test_ids)
    assert not np.intersect1d(split.cold_valid_ids, split.cold_test_ids).size
    # every interaction is in exactly one table
    parts = [split.warm.train, split.warm.valid, split.warm.test, split.cold_valid, split.cold_test]
    keys = np.concatenate([t.keys() for t in parts])
    assert len(keys) == len(data) and set(keys) == set(data.keys())
    entity = getattr(data, column)
    assert len(cold) == round(0.3 * len(np.unique(entity)))  # among entities with interactions


@pytest.mark.parametrize("side", ["items", "users"])
def test_warm_space_drops_cold_ids_from_the_catalogue(synthetic_dataset, side):
    split = cold_start_split(synthetic_dataset.interactions, side, seed=1)
    warm = split.warm_space()
    n = warm.n_items if side == "items" else warm.n_users
    assert n == len(split.warm_ids) == split.n_entities - len(split.cold_ids)
    column = "item" if side == "items" else "user"
    for remapped, original in ((warm.train, split.warm.train), (warm.test, split.warm.test)):
        assert np.array_equal(split.warm_ids[getattr(remapped, column)], getattr(original, column))


def test_split_is_deterministic_and_validated(synthetic_dataset):
    data = synthetic_dataset.interactions
    a, b = cold_start_split(data, seed=5), cold_start_split(data, seed=5)
    assert np.array_equal(a.cold_test_ids, b.cold_test_ids)
    assert not np.array_equal(a.cold_test_ids, cold_start_split(data, seed=6).cold_test_ids)
    with pytest.raises(ValueError, match="side must be"):
        cold_start_split(data, "movies")
    with pytest.raises(ValueError, match="strictly between"):
        cold_start_split(data, cold_fraction=1.0)
    with pytest.raises(ValueError, match="empty validation or test"):
        cold_start_split(data, cold_fraction=0.001)


# -- candidate-restricted ranking -------------------------------------------------------------


def _brute_force(scores, excluded, target, candidates, k):
    """Plain numpy: stable sort by descending score over the candidates not excluded."""
    ndcg, recall = [], []
    for u in sorted(target):
        order = [
            i
            for i in np.argsort(-scores[u], kind="stable")
            if candidates[i] and i not in excluded.get(u, set())
        ]
        hits = [1.0 if i in target[u] else 0.0 for i in order[:k]]
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(target[u]), k)))
        ndcg.append(sum(h / np.log2(r + 2) for r, h in enumerate(hits)) / idcg)
        recall.append(sum(hits) / len(target[u]))
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"recall@{k}": float(np.mean(recall))}


def test_candidate_restricted_metrics_agree_with_brute_force():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 40
    scores = rng.integers(0, 6, size=(n_users, n_items)).astype(np.float32)  # many ties
    candidates = rng.random(n_items) < 0.5
    cells = rng.random((n_users, n_items))
    train_mask = (cells < 0.2) & ~candidates
    target_mask = (cells > 0.8) & candidates
    train = Interactions.from_arrays(*np.nonzero(train_mask), n_users=n_users, n_items=n_items)
    target = Interactions.from_arrays(*np.nonzero(target_mask), n_users=n_users, n_items=n_items)
    excluded = {u: set(np.flatnonzero(train_mask[u])) for u in range(n_users)}
    relevant = {u: set(np.flatnonzero(target_mask[u])) for u in range(n_users)}
    relevant = {u: s for u, s in relevant.items() if s}

    def score_fn(users):
        return tf.gather(tf.constant(scores), users)

    for k in (1, 5, 10):
        want = _brute_force(scores, excluded, relevant, candidates, k)
        by_mask = evaluate_ranking(score_fn, target, train, ks=(k,), candidates=candidates)
        by_ids = evaluate_ranking(
            score_fn, target, train, ks=(k,), candidates=np.flatnonzero(candidates), batch_size=7
        )
        for name, value in want.items():
            assert by_mask[name] == pytest.approx(value, abs=1e-6)
            assert by_ids[name] == pytest.approx(value, abs=1e-6)
    everything = evaluate_ranking(score_fn, target, train, ks=(5,))
    assert everything["ndcg@5"] == pytest.approx(
        _brute_force(scores, excluded, relevant, np.ones(n_items, bool), 5)["ndcg@5"], abs=1e-6
    )


def test_candidates_are_validated():
    target = Interactions.from_arrays([0, 1], [2, 3], n_users=2, n_items=6)

    def score_fn(users):
        return tf.zeros([tf.shape(users)[0], 6])

    with pytest.raises(ValueError, match="outside the candidates"):
        evaluate_ranking(score_fn, target, ks=(1,), candidates=np.array([2, 4]))
    with pytest.raises(ValueError, match=r"must be \[6\]"):
        evaluate_ranking(score_fn, target, ks=(1,), candidates=np.ones(5, bool))
    with pytest.raises(ValueError, match="lie in"):
        evaluate_ranking(score_fn, target, ks=(1,), candidates=np.array([2, 3, 9]))
