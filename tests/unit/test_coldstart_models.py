"""Cold-start models: generators, DropoutNet-style towers, the adversarial game and baselines."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import cold_start_inputs

from advrec.coldstart_protocol import ColdValidation, cold_targets, share_in_top_k
from advrec.data import Interactions
from advrec.data.coldstart import cold_start_split
from advrec.data.features import demographic_groups
from advrec.data.sampling import pair_examples, positive_pairs
from advrec.models.coldstart import (
    AdversarialGenerator,
    DropoutNetRecommender,
    RegressionGenerator,
)
from advrec.models.content import ContentKNN, ItemPopByGenre, PopularityByDemographic
from advrec.training import fit_model

MODELS = (RegressionGenerator, DropoutNetRecommender, AdversarialGenerator)


def _compiled(cls, split, features, entity, opposite, **kwargs):
    model = cls(split, features, entity, opposite, hidden=(16,), seed=0)
    if cls is AdversarialGenerator:
        model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), **kwargs)
    else:
        model.compile(keras.optimizers.Adam(1e-2), **kwargs)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("side", ["items", "users"])
def test_models_train_through_fit_and_score_the_whole_catalogue(synthetic_dataset, cls, side):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset, side)
    model = _compiled(cls, split, features, entity, opposite)
    before = [w.numpy().copy() for w in model.trainable_weights]
    validation = ColdValidation(split, patience=2)
    fit_model(model, pair_examples(split.warm_space().train, 512), 2, validation)
    assert validation.history["epoch"] == [1, 2]
    after = model.trainable_weights
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, after, strict=True))
    users = tf.constant([0, 5, 7], tf.int32)
    scores = model.score_all(users).numpy()
    assert scores.shape == (3, synthetic_dataset.n_items) and np.isfinite(scores).all()
    result = evaluate_cold(model, split)
    assert 0.0 <= result["ndcg@20"] <= 1.0


def evaluate_cold(model, split):
    from advrec.metrics import evaluate_ranking

    return evaluate_ranking(model.score_all, ks=(20,), **cold_targets(split, "test"))


def test_untrained_towers_reproduce_the_pretrained_scores(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    warm = split.warm_ids
    for cls in MODELS:
        model = _compiled(cls, split, features, entity, opposite)
        scores = model.score_all(tf.range(synthetic_dataset.n_users)).numpy()
        np.testing.assert_allclose(scores[:, warm], opposite @ entity.T, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_regression_generator_keeps_warm_scores_and_fits_the_warm_rows(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    model = _compiled(RegressionGenerator, split, features, entity, opposite)
    generated = model.generate(tf.constant(features[split.warm_ids])).numpy()
    error_before = np.mean((generated - entity) ** 2)
    model.fit(positive_pairs(split.warm_space().train, 256), epochs=5, verbose=0)
    generated = model.generate(tf.constant(features[split.warm_ids])).numpy()
    assert np.mean((generated - entity) ** 2) < error_before
    scores = model.score_all(tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(scores[:, split.warm_ids], opposite[[1, 2]] @ entity.T, atol=1e-5)


def _moved(before, variables) -> bool:
    return any(not np.allclose(a, w.numpy()) for a, w in zip(before, variables, strict=True))


@pytest.mark.slow
def test_adversarial_players_update_only_their_own_variables(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    data = positive_pairs(split.warm_space().train, 256)
    for frozen in ("generator", "recommender"):
        model = AdversarialGenerator(split, features, entity, opposite, beta=0.0, seed=0)
        rates = {"generator": 0.0, "recommender": 0.0}
        rates[{"generator": "recommender", "recommender": "generator"}[frozen]] = 1e-2
        model.compile(
            keras.optimizers.SGD(rates["recommender"]), keras.optimizers.SGD(rates["generator"])
        )
        generator = [w.numpy().copy() for w in model.generator.trainable_weights]
        towers = [w.numpy().copy() for w in model.discriminator_variables]
        model.fit(data, epochs=1, verbose=0)
        moved_generator = _moved(generator, model.generator.weights)
        moved_towers = _moved(towers, model.discriminator_variables)
        # With beta = 0 the generator learns only through the recommender (the adversarial term).
        assert moved_generator == (frozen == "recommender")
        assert moved_towers == (frozen == "generator")


def test_adversarial_game_needs_two_optimizers(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    model = AdversarialGenerator(split, features, entity, opposite)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="separate optimizer"):
        model.compile(shared, shared)
    with pytest.raises(ValueError, match="alpha"):
        AdversarialGenerator(split, features, entity, opposite, alpha=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("cls", MODELS)
def test_steps_compile_with_xla(synthetic_dataset, cls):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    model = _compiled(cls, split, features, entity, opposite, jit_compile=True)
    history = model.fit(positive_pairs(split.warm_space().train, 512), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_bad_tables_are_rejected(synthetic_dataset):
    split, features, entity, opposite = cold_start_inputs(synthetic_dataset)
    with pytest.raises(ValueError, match="one row per warm item"):
        RegressionGenerator(split, features, entity[:-1], opposite)
    with pytest.raises(ValueError, match="features must be"):
        RegressionGenerator(split, features[:-1], entity, opposite)
    with pytest.raises(ValueError, match="opposite_table"):
        RegressionGenerator(split, features, entity, opposite[:, :-1])
    with pytest.raises(ValueError, match="compile the RegressionGenerator"):
        examples = pair_examples(split.warm_space().train, 512)
        fit_model(RegressionGenerator(split, features, entity, opposite), examples, 1)


# -- baselines --------------------------------------------------------------------------------


def _tiny_item_split():
    """6 items, items 4 and 5 cold; user u has items u and u + 1 (u < 4)."""
    users = np.array([0, 0, 1, 1, 2, 2, 3, 0, 1, 2, 3, 3])
    items = np.array([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0])
    data = Interactions.from_arrays(users, items, n_users=4, n_items=6)
    for seed in range(200):
        split = cold_start_split(data, cold_fraction=1 / 3, warm_fractions=(1, 0, 0), seed=seed)
        if set(split.cold_ids) == {4, 5}:
            return split
    raise AssertionError("no seed makes items 4 and 5 cold")


def test_item_pop_by_genre_averages_the_warm_items_of_each_genre():
    split = _tiny_item_split()
    genres = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [1, 1]], bool)
    scores = ItemPopByGenre(split, genres).score_all(tf.constant([0])).numpy()[0]
    popularity = split.warm.train.item_counts()
    np.testing.assert_allclose(scores[:4], popularity[:4])
    genre_a, genre_b = popularity[[0, 1]].mean(), popularity[[2, 3]].mean()
    np.testing.assert_allclose(scores[4], genre_a)
    np.testing.assert_allclose(scores[5], (genre_a + genre_b) / 2)


def test_content_knn_sums_the_similarity_to_the_history():
    split = _tiny_item_split()
    rng = np.random.default_rng(0)
    features = rng.random((6, 3)).astype(np.float32)
    model = ContentKNN(split, features, k=2)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    history = split.warm.train.dense()
    for item in range(6):
        similarity = unit[:4] @ unit[item]
        similarity[item if item < 4 else 0 : item + 1 if item < 4 else 0] = -np.inf
        keep = np.argsort(-similarity)[:2]
        for user in range(4):
            want = sum(similarity[j] for j in keep if history[user, j])
            got = model.score_all(tf.constant([user])).numpy()[0, item]
            assert got == pytest.approx(want, abs=1e-5)


def test_popularity_by_demographic_counts_within_the_group(synthetic_dataset):
    split = cold_start_split(synthetic_dataset.interactions, "users", seed=0)
    groups = demographic_groups(synthetic_dataset.users, ("gender",))
    model = PopularityByDemographic(split.warm.train, groups)
    user = int(split.cold_test_ids[0])
    train = split.warm.train
    same = groups[train.user] == groups[user]
    want = np.bincount(train.item[same], minlength=train.n_items)
    got = model.score_all(tf.constant([user])).numpy()[0]
    np.testing.assert_allclose(got, want + 1e-3 * train.item_counts(), rtol=1e-5)


def test_share_in_top_k_counts_cold_items():
    scores = np.array([[5.0, 4.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
    is_cold = np.array([True, False, False, True])
    exclude = [Interactions.from_arrays([0], [0], n_users=2, n_items=4)]

    def score_fn(users):
        return tf.gather(tf.constant(scores), users)

    # user 0 (item 0 excluded): top-2 = {1, 2}, no cold; user 1: top-2 = {3, 2}, one cold.
    assert share_in_top_k(score_fn, [0, 1], is_cold, exclude, k=2) == pytest.approx(0.25)


@pytest.mark.slow
@pytest.mark.parametrize("cold", ["items", "users"])
def test_command_line_trains_a_cold_start_generator(capsys, cold):
    import json

    from advrec.__main__ import main

    argv = ["train", "coldstart", "--dataset", "synthetic", "--protocol", cold]
    argv += ["--warm-epochs", "2", "--warm-dim", "8", "--generator-epochs", "2"]
    code = main([*argv, "--generator-batch-size", "1024", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["protocol"] == cold and report["best_epoch"]["generator"] in (1, 2)
    assert 0.0 <= report["valid"]["ndcg@20"] <= 1.0
    assert 0.0 <= report["test"]["cold_ndcg@20"] <= 1.0
    assert 0.0 < report["test"]["warm_ndcg@10"] <= 1.0


def test_report_shows_a_model_that_lifts_every_cold_item(synthetic_dataset):
    from advrec.coldstart_protocol import cold_start_report

    split = cold_start_split(synthetic_dataset.interactions, "items", seed=0)
    lift = split.mask(split.cold_ids).astype(np.float32)

    def score_fn(users):
        return tf.tile(tf.constant(lift)[tf.newaxis], [tf.shape(users)[0], 1])

    report = cold_start_report(score_fn, split)
    assert set(report) == {
        "cold_recall@20",
        "cold_ndcg@20",
        "all_recall@20",
        "all_ndcg@20",
        "cold_share@20",
        "warm_ndcg@10",
    }
    n_test = len(split.cold_test_ids)
    assert report["cold_share@20"] == pytest.approx(min(n_test, 20) / 20)
    # lifting all cold items equally is the same as ranking among cold items by index
    assert report["all_ndcg@20"] == pytest.approx(report["cold_ndcg@20"], abs=1e-6)
    users = cold_start_report(score_fn, cold_start_split(synthetic_dataset.interactions, "users"))
    assert set(users) == {"cold_recall@20", "cold_ndcg@20", "warm_ndcg@10"}
