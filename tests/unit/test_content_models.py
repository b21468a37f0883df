"""Closed-form cold-start baselines (the ridge generator, ContentPop) and the content encodings
they are chosen among."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from helpers import cold_start_inputs

from advrec.data.coldstart import cold_start_split
from advrec.data.features import (
    ITEM_ENCODINGS,
    USER_ENCODINGS,
    feature_encodings,
    item_feature_matrix,
    side_features,
    user_feature_matrix,
    zip_regions,
)
from advrec.models.content import ContentPop, RidgeGenerator, ridge_fit

# -- encodings --------------------------------------------------------------------------------


def test_a_per_year_encoding_adds_one_column_per_release_year(synthetic_dataset):
    items = synthetic_dataset.items
    genres = item_feature_matrix(items, encoding="genres")
    decade = item_feature_matrix(items, encoding="genres+decade")
    year = item_feature_matrix(items, encoding="genres+year")
    n_years = len(np.unique(items.year))
    assert genres.values.shape[1] == len(items.genre_names)
    assert year.values.shape[1] == decade.values.shape[1] + n_years
    assert np.array_equal(year.values[:, : decade.values.shape[1]], decade.values)  # nested
    one_hot = year.block("year")
    assert np.all(one_hot.sum(axis=1) == 1.0)
    columns = [c for c in year.columns if c.startswith("year=")]
    assert np.array_equal(np.asarray(columns)[one_hot.argmax(1)], [f"year={y}" for y in items.year])


def test_an_unknown_year_sets_no_year_column(synthetic_dataset):
    from dataclasses import replace

    items = synthetic_dataset.items
    year = np.asarray(items.year).copy()
    year[3] = 0
    matrix = item_feature_matrix(replace(items, year=year), encoding="genres+year")
    assert matrix.block("year")[3].sum() == 0.0 and matrix.block("year")[4].sum() == 1.0


def test_user_encodings_add_age_in_years_and_the_zip_region(synthetic_dataset):
    users = synthetic_dataset.users
    groups = user_feature_matrix(users, encoding="groups")
    ages = user_feature_matrix(users, encoding="groups+age")
    full = user_feature_matrix(users, encoding="groups+age+zip")
    assert ages.values.shape[1] == groups.values.shape[1] + len(np.unique(users.age))
    assert np.all(ages.block("age_years").sum(axis=1) == 1.0)
    assert np.all(full.block("zip_region").sum(axis=1) == 1.0)
    assert list(zip_regions(["02139", "T8H1N", "94043"])) == ["0", "other", "9"]


def test_every_encoding_is_offered_and_bad_names_are_refused(synthetic_dataset):
    assert tuple(feature_encodings(synthetic_dataset, "items")) == ITEM_ENCODINGS
    assert tuple(feature_encodings(synthetic_dataset, "users")) == USER_ENCODINGS
    default = side_features(synthetic_dataset, "items")
    assert np.array_equal(default, item_feature_matrix(synthetic_dataset.items).values)
    with pytest.raises(ValueError, match="encoding must be one of"):
        item_feature_matrix(synthetic_dataset.items, encoding="year")
    with pytest.raises(ValueError, match="encoding must be one of"):
        user_feature_matrix(synthetic_dataset.users, encoding="zip")
    with pytest.raises(ValueError, match="side must be items or users"):
        side_features(synthetic_dataset, "both")


# -- ridge -------------------------------------------------------------------------------------


def test_ridge_fit_solves_the_normal_equations_with_a_free_intercept():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    weights = ridge_fit(x, y, 2.0)
    design = np.concatenate([x, np.ones((50, 1))], axis=1)
    gradient = design.T @ (design @ weights - y) + 2.0 * np.vstack([weights[:3], 0 * weights[3:]])
    np.testing.assert_allclose(gradient, 0.0, atol=1e-9)
    shifted = ridge_fit(x, y + 5.0, 2.0)  # the intercept is not shrunk: a shift moves it alone
    np.testing.assert_allclose(shifted[:3], weights[:3], atol=1e-9)
    np.testing.assert_allclose(shifted[3], weights[3] + 5.0, atol=1e-9)
    with pytest.raises(ValueError, match="l2"):
        ridge_fit(x, y, 0.0)


@pytest.mark.parametrize("side", ["items", "users"])
def test_the_ridge_generator_keeps_warm_rows_and_generates_cold_ones(synthetic_dataset, side):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset, side)
    model = RidgeGenerator(split, features, entity, opposite, l2=1.0)
    table = model.full_entity_table().numpy()
    np.testing.assert_allclose(table[split.warm_ids], entity, rtol=1e-6)
    weights = ridge_fit(features[split.warm_ids], entity, 1.0)
    cold = split.cold_ids
    want = np.concatenate([features[cold], np.ones((len(cold), 1))], axis=1) @ weights
    np.testing.assert_allclose(table[cold], want, rtol=1e-4, atol=1e-5)
    scores = model.score_all(tf.constant([0, 3], tf.int32)).numpy()
    rows = opposite[[0, 3]] @ table.T if side == "items" else table[[0, 3]] @ opposite.T
    np.testing.assert_allclose(scores, rows, rtol=1e-4, atol=1e-4)


def test_a_stronger_ridge_shrinks_the_generated_rows_to_the_warm_mean(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    cold = split.cold_ids
    spread = [
        np.abs(RidgeGenerator(split, features, entity, opposite, l2=l2).generate(features[cold])
               - entity.mean(axis=0)).mean()
        for l2 in (0.1, 1e6)
    ]  # fmt: skip
    assert spread[1] < 0.01 * spread[0]


def test_content_pop_predicts_an_items_popularity_from_its_content():
    from advrec.data import Interactions

    # Items 0-3 warm: the "popular" content (column 0) has 3 training users, the other 1;
    # items 4 and 5 (one of each content) are cold.
    users = np.array([0, 1, 2, 0, 1, 2, 3, 3, 0, 1])
    items = np.array([0, 0, 0, 1, 1, 1, 2, 3, 4, 5])
    table = Interactions.from_arrays(users, items, n_users=4, n_items=6)
    features = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1]], np.float32)
    for seed in range(200):
        split = cold_start_split(table, "items", 1 / 3, seed=seed, warm_fractions=(1, 0, 0))
        if set(split.cold_ids) == {4, 5}:
            break
    scores = ContentPop(split, features, l2=1e-6).score_all(tf.constant([0])).numpy()[0]
    np.testing.assert_allclose(scores[:4], [3, 3, 1, 1])
    np.testing.assert_allclose(scores[4:], [3, 1], rtol=1e-4)


def test_content_pop_for_new_users_is_the_popularity_among_similar_users(synthetic_dataset):
    split = cold_start_split(synthetic_dataset.interactions, "users", seed=0)
    gender = user_feature_matrix(synthetic_dataset.users).block("gender")[:, :1]  # 1 = female
    model = ContentPop(split, gender, l2=1e-6)
    train, warm = split.warm.train.dense(), split.warm_ids
    female = gender[warm, 0] == 1
    user = int(split.cold_test_ids[0])
    want = train[warm][female if gender[user, 0] == 1 else ~female].mean(axis=0)
    got = model.score_all(tf.constant([user])).numpy()[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
    with pytest.raises(ValueError, match="features must be"):
        ContentPop(split, gender[:-1])
