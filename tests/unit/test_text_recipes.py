"""The language-model chapter's recipes on the synthetic data set (whose items have texts too):
the data, TextBPR moved from the warm items to the whole catalogue, the attack experiment and
the cold-start comparison keep their promises."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from text_fixtures import pretrained_encoder_or_skip

from advrec.attacks.item_text import exposure_users
from advrec.models.text import TextBPR
from advrec.recipes import RECIPES
from advrec.recipes.base import with_settings
from advrec.recipes.coldstart import load_cold_start
from advrec.recipes.text import (
    CONTENTS,
    TextAttackConfig,
    TextBPRConfig,
    TextColdStartConfig,
    attack_targets,
    catalogue_split,
    content_matrix,
    load_text_data,
    on_full_catalogue,
    run_text_attack,
    run_text_cold_start,
    run_textbpr,
)

FAST = TextBPRConfig(dim=8, batch_size=1024, epochs=2, patience=None)


@pytest.fixture(scope="module")
def data():
    return load_text_data("synthetic", seed=0, encoder=pretrained_encoder_or_skip())


def test_the_data_is_the_cold_start_recipes_split_with_texts(data):
    same = load_cold_start("synthetic", None, 0, "items")
    np.testing.assert_array_equal(data.split.cold_test_ids, same.split.cold_test_ids)
    np.testing.assert_array_equal(data.features, same.features)
    n_items = data.split.n_entities
    assert len(data.texts) == n_items and data.embeddings.shape == (n_items, 384)
    assert data.texts[0].startswith("Synthetic Movie 1. ")
    np.testing.assert_allclose(np.linalg.norm(data.embeddings, axis=1), 1.0, atol=1e-5)
    assert data.genres.dtype == bool and data.genres.shape == (n_items, 19)
    with pytest.raises(ValueError, match="protocol 'items'"):
        load_text_data("synthetic", protocol="users", encoder=data.encoder)


def test_contents_are_genre_year_text_and_both(data):
    shapes = {c: content_matrix(data, c).shape[1] for c in CONTENTS}
    assert shapes == {"genre/year": 28, "text": 384, "genre/year + text": 412}
    with pytest.raises(ValueError, match="content must be one of"):
        content_matrix(data, "posters")


@pytest.mark.parametrize("hybrid", [False, True])
def test_the_catalogue_model_scores_warm_items_as_trained_and_new_ones_by_text(data, hybrid):
    split = data.split
    warm = split.warm_space()
    model = TextBPR(
        warm.train, data.embeddings[split.warm_ids], dim=4, item_ids=hybrid, seed=3
    )  # untrained: random weights are as good a test as trained ones
    if hybrid:
        model.item_bias.assign(np.random.default_rng(0).normal(size=model.item_bias.shape))
    full = on_full_catalogue(model, split, data.embeddings)
    users = tf.constant([0, 5, 9])
    scores = full.score_all(users).numpy()
    np.testing.assert_allclose(scores[:, split.warm_ids], model.score_all(users).numpy(), atol=1e-5)
    cold = split.cold_ids
    text_only = full.score_texts(users, data.embeddings[cold], tf.constant(cold)).numpy()
    p, w, b = full.user_factors.numpy()[[0, 5, 9]], full.projection.numpy(), full.text_bias.numpy()
    by_text = p @ (data.embeddings[cold] @ w).T + data.embeddings[cold] @ b
    np.testing.assert_allclose(text_only, by_text, atol=1e-5)  # a new item is its text alone
    np.testing.assert_allclose(scores[:, cold], by_text, atol=1e-5)


@pytest.mark.slow
def test_run_textbpr_trains_on_warm_items_and_reports_new_ones(data):
    plain = run_textbpr(data, FAST, seed=1)
    defended = run_textbpr(data, with_settings(FAST, epsilon=0.3), seed=1)
    assert type(plain.model) is TextBPR and plain.model.n_items == data.split.n_entities
    assert {"cold_ndcg@20", "warm_ndcg@10"} <= set(plain.facts["cold"])
    assert plain.facts["cold"]["warm_ndcg@10"] == pytest.approx(plain.test["ndcg@10"], abs=1e-6)
    assert plain.facts["text_sensitivity"] > 0
    assert "adversarial_loss" in defended.losses["train"]  # APR in the text space trained it
    assert "adversarial_loss" not in plain.losses["train"]
    with pytest.raises(ValueError, match="variant must be one of"):
        run_textbpr(data, with_settings(FAST, variant="image"))


def test_targets_are_obscure_warm_items_and_new_items_and_grow_by_prefix(data):
    split = data.split
    few, more = attack_targets(split, 2, seed=4), attack_targets(split, 5, seed=4)
    counts = split.warm.train.item_counts()
    median = np.median(counts[split.warm_ids])
    assert np.isin(more["warm"], split.warm_ids).all() and (counts[more["warm"]] <= median).all()
    assert np.isin(more["new"], split.cold_test_ids).all()
    for group in ("warm", "new"):
        np.testing.assert_array_equal(more[group][:2], few[group])
        assert len(set(more[group])) == 5


def test_the_catalogue_split_counts_a_new_items_future_users_as_its_own(data):
    split = data.split
    catalogue = catalogue_split(split)
    target = int(split.cold_test_ids[0])
    had_it = np.unique(split.cold_test.user[split.cold_test.item == target])
    assert len(had_it) and not np.isin(had_it, exposure_users(catalogue, target)).any()
    assert len(catalogue.train) == len(split.warm.train)


@pytest.mark.slow  # two small models, two targets, HotFlip and random edits of two pieces
def test_the_attack_experiment_records_every_budget_and_control(data):
    config = TextAttackConfig(
        text=FAST, hybrid=with_settings(FAST, variant="hybrid"), arms=("text", "hybrid + APR"),
        baselines=("ItemPop",), targets=1, budget=2, candidates=4,
    )  # fmt: skip
    run = run_text_attack(data, config, seed=0)
    facts = run.facts
    assert set(facts["arms"]) == {"text", "hybrid + APR"} and set(run.history) == set(config.arms)
    for arm in config.arms:
        for group in ("warm", "new"):
            rows = facts["arms"][arm]["attack"][group]
            for method in ("hotflip", "random"):
                assert np.asarray(rows[method]["hr@10"]).shape == (1, 3)
                assert np.asarray(rows[method]["shift"])[:, 0].tolist() == [0.0]
            objective = np.asarray(rows["hotflip"]["objective"])[0]
            assert np.all(np.diff(objective) >= 0)  # a kept edit never lowers the objective
            assert rows["random"]["n_edits"] == [2] and rows["hotflip"]["n_edits"][0] <= 2
            # The positive control: no edited text beats the best unit vector on the objective.
            assert len(rows["oracle"]["hr@10"]) == 1
            clean = np.asarray(rows["hotflip"]["hr@10"])[0, 0]
            assert clean == np.asarray(rows["random"]["hr@10"])[0, 0]
    assert (
        set(facts["baselines"]) == {"ItemPop"}
        and "ndcg@10" in facts["baselines"]["ItemPop"]["test"]
    )
    edits = facts["edits"]
    assert [e["group"] for e in edits] == ["warm", "new"]
    assert all(e["hotflip"] and e["random"] and e["original"] for e in edits)
    with pytest.raises(ValueError, match="unknown arms"):
        run_text_attack(data, with_settings(config, arms=("bert",)))


@pytest.mark.slow
def test_the_cold_start_comparison_runs_every_content_with_the_same_settings(data):
    config = with_settings(
        TextColdStartConfig(),
        coldstart__warm__epochs=2,
        coldstart__warm__batch_size=1024,
        coldstart__generator__epochs=1,
        generators=("regression",),
        knn_grid=(5, 20),
        textbpr=FAST,
    )
    run = run_text_cold_start(data, config, seed=0)
    models = run.facts["models"]
    assert set(models["regression"]) == set(CONTENTS) == set(models["content k-NN"])
    assert set(models) == {"regression", "content k-NN", "ItemPop-by-genre", "TextBPR (text)"}
    assert models["content k-NN"]["text"]["k"] in (5, 20)
    for content in CONTENTS:
        assert "cold_ndcg@20" in models["regression"][content]["test"]
        assert f"regression on {content}" in run.history
    assert set(run.history) >= {"warm", "TextBPR (text)"}


def test_the_recipes_are_registered_for_the_command_line():
    for name in ("textbpr", "text-attack", "text-coldstart"):
        assert RECIPES[name].protocols == ("items",)
        assert RECIPES[name].load is load_text_data
