"""The cold-start recipes: the tuned and refit warm model, the closed-form baselines, and the
chapter's comparison (every model, each chosen on validation)."""

from __future__ import annotations

import numpy as np
import pytest

from advrec.recipes.base import with_settings
from advrec.recipes.coldstart import (
    CLOSED_FORM,
    ColdStartData,
    ComparisonConfig,
    _grown,
    load_cold_start,
    run_closed_form,
    run_comparison,
    run_warm_bprmf,
)
from advrec.recipes.ranking import BPRMFConfig

TINY_WARM = BPRMFConfig(dim=8, batch_size=1024, epochs=3)


def test_a_grid_grows_past_a_winning_edge_and_stops_inside():
    tried = []

    def score(value):
        tried.append(value)
        return -abs(np.log10(value) - 3)  # best at 1000

    assert _grown((1.0, 10.0), score, 5) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert tried == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert _grown((10.0, 1.0), score, 1) == [1.0, 10.0, 100.0]  # one extension only
    assert _grown((5.0,), score, 3) == [5.0]  # a single value is a fixed setting
    widths = _grown((64, 256), lambda w: w, 1)  # whole numbers stay whole
    assert widths == [64.0, 256.0, 1024.0]


def test_every_encoding_reaches_the_data_and_any_matrix_is_features(synthetic_dataset):
    data = load_cold_start("synthetic", None, 0, "items")
    assert set(data.options()) == {"genres", "genres+decade", "genres+year"}
    plain = ColdStartData(data.split, np.random.default_rng(0).random((data.split.n_entities, 5)))
    assert set(plain.options()) == {"features"}  # e.g. text embeddings: one matrix
    with pytest.raises(ValueError, match="kind must be one of"):
        run_closed_form("svd", data, None)
    assert set(CLOSED_FORM) == {"ridge", "contentpop", "knn", "pop-by-genre", "itempop"}


@pytest.mark.slow
def test_the_warm_model_is_chosen_on_validation_then_refit(synthetic_dataset):
    data = load_cold_start("synthetic", None, 0, "items")
    run = run_warm_bprmf(data, TINY_WARM, 0, l2_grid=(1e-3, 1e-2, 1e-1))
    warm = run.facts["warm"]
    assert warm["refit"] and f"{warm['l2']:g}" in warm["l2_scores"]
    assert warm["l2_scores"][f"{warm['l2']:g}"] == max(warm["l2_scores"].values())
    assert 1 <= warm["epochs"] <= 3 and set(run.history) == {"warm"}
    entity, opposite = run.facts["tables"]
    assert entity.shape == (len(data.split.warm_ids), 9) and opposite.shape[1] == 9
    assert run.valid and run.test  # the selection's validation, the refit model's test
    fixed = run_warm_bprmf(data, TINY_WARM, 0)
    assert not fixed.facts["warm"]["refit"] and fixed.facts["warm"]["l2"] == TINY_WARM.l2


@pytest.mark.slow
@pytest.mark.parametrize("side", ["items", "users"])
def test_the_comparison_runs_every_model_and_isolates_the_adversarial_term(side):
    data = load_cold_start("synthetic", None, 0, side)
    config = with_settings(
        ComparisonConfig(),
        warm=TINY_WARM, warm_l2_grid=(0.01,), ridge_grid=(1.0, 10.0), knn_grid=(5, 20),
        hidden_grid=(16,), beta_grid=(0.5, 0.8), recommender_lr_grid=(1e-4,), tower_grid=(16,),
        generator__epochs=2, generator__batch_size=1024, max_extensions=1,
    )  # fmt: skip
    run = run_comparison(data, config, 0)
    models = run.facts["models"]
    learned = {"ridge", "ContentPop", "regression MLP", "DropoutNet", "adversarial"}
    assert learned | {"adversarial, β = 1"} <= set(models)
    if side == "items":
        assert {"ItemPop-by-genre", "content k-NN"} <= set(models)
    else:
        assert "ItemPop" in models
    assert models["adversarial, β = 1"]["choice"] == {}
    assert models["adversarial"]["choice"]["beta"] in (0.5, 0.8)
    assert set(run.history) == {"warm", "regression", "dropoutnet", "adversarial"}
    assert run.facts["encoding"] in data.options()
    assert set(run.facts["encoding_lift"]) == {"ridge", "regression MLP", "adversarial"}
    for model in models.values():
        assert 0.0 <= model["test"]["cold_ndcg@20"] <= 1.0
    # The ridge generator leaves BPR-MF's warm scores alone.
    ridge_warm = models["ridge"]["test"]["warm_ndcg@10"]
    assert ridge_warm == pytest.approx(run.facts["warm"]["test"]["ndcg@10"], abs=1e-5)
    assert run.record()["facts"]["tuning"]["ridge"]
