"""The chapters' experiments as recipes: the APR study (one pre-training, four arms, attacks and
their random control) and one seed of the privacy experiment; and reading them back from a
stored run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advrec.recipes import RECIPES
from advrec.recipes.adversarial import (
    STUDY_ARMS,
    APRConfig,
    APRStudyConfig,
    run_adversarial_phase,
    run_apr_study,
    tune_adversarial,
)
from advrec.recipes.base import with_settings
from advrec.recipes.privacy import LeakageConfig
from advrec.recipes.ranking import BPRMFConfig, run_bprmf
from advrec.recipes.stored import StoredResult

SMALL = BPRMFConfig(dim=8, batch_size=1024, epochs=4, patience=2)


@pytest.fixture(scope="module")
def study(synthetic_split):
    config = APRStudyConfig(
        pretrain=SMALL,
        tuned=APRConfig(batch_size=1024, epochs=3, patience=2),
        released=with_settings(APRStudyConfig().released, batch_size=1024, epochs=2, eval_every=2),
        budgets=(0.0, 1.0),
    )
    return run_apr_study(synthetic_split, config, seed=0), config


@pytest.mark.slow
def test_every_arm_continues_one_pretraining_and_only_epsilon_separates_its_pair(study):
    run, config = study
    arms = run.facts["arms"]
    assert tuple(arms) == STUDY_ARMS
    assert set(run.history) == {
        "pretrain",
        "adversarial",
        "control",
        "released",
        "released control",
    }
    assert run.test == arms["AMF"]["test"]
    # the controls are the same phase with the adversarial term off
    assert arms["BPR-MF (released)"]["phase_epochs"] == arms["AMF (released)"]["phase_epochs"] == 2
    assert run.history["released"]["epoch"] == run.history["released control"]["epoch"] == [2]
    for arm in STUDY_ARMS:
        curves = arms[arm]["curves"]
        assert set(curves) == {"fgsm", "iterative", "random"}
        for method in curves:  # budget 0 is the clean model
            assert curves[method]["ndcg@10"][0] == pytest.approx(arms[arm]["test"]["ndcg@10"])
        assert curves["fgsm"]["ndcg@10"][1] < curves["fgsm"]["ndcg@10"][0]
        assert set(arms[arm]["relative"]) == {"fgsm", "random"}
    assert set(run.facts["baselines"]) == {"ItemPop", "EASE^R"}
    json.dumps(run.record())  # storable


@pytest.mark.slow
def test_the_study_with_no_arms_is_its_pretraining(synthetic_split, study):
    _, config = study
    run = run_apr_study(synthetic_split, with_settings(config, arms=()), seed=0)
    assert set(run.history) == {"pretrain"} and run.facts["arms"] == {}
    with pytest.raises(ValueError, match="unknown arms"):
        run_apr_study(synthetic_split, with_settings(config, arms=("AMF", "VAE")), seed=0)


@pytest.mark.slow
def test_tune_adversarial_continues_the_same_pretrained_run(synthetic_split):
    pretrained = run_bprmf(synthetic_split, SMALL, seed=0)
    config = APRConfig(batch_size=1024, epochs=2, patience=2)
    tuned = tune_adversarial(pretrained, synthetic_split, config, "epsilon", (0.1, 1.0), 0,
                             allow_edge=True)  # fmt: skip
    again = run_adversarial_phase(pretrained, synthetic_split, tuned.config, 0)
    assert tuned.run.valid == again.valid
    assert tuned.run.history["pretrain"] == pretrained.history["train"]


@pytest.mark.slow
def test_one_privacy_seed_attacks_every_model_within_the_groups():
    recipe = RECIPES["privacy"]
    data = recipe.load("synthetic", None, 0, "holdout", None)
    config = with_settings(
        LeakageConfig(ranker=SMALL),
        defences=(("gender", "confusion", 1.0),),
        generator__epochs=1,
        generator__eval_every=1,
        n_folds=3,
    )
    run = recipe.run(data, config, 0)
    records = run.facts["records"]
    models = {(r["attribute"], r["model"]) for r in records}
    for attribute in ("gender", "age"):
        for model in ("raw interactions", "BPR-MF", "generated (CFGAN)"):
            assert (attribute, model) in models
    assert ("gender", "confusion") in models and ("age", "confusion") not in models
    generated = [r for r in records if r["model"] == "generated (CFGAN)"]
    assert all(0.0 <= r["evaluation_logistic_auc"] <= 1.0 for r in generated)
    assert set(run.history) == {"train"}
    with pytest.raises(ValueError, match="holdout"):
        recipe.load("synthetic", None, 0, "u1", None)


def test_stored_facts_read_back_per_seed():
    document = {
        "runs": [
            {"seed": s, "facts": {"arms": {"AMF": {"test": {"ndcg@10": 0.1 * s}}}}}
            for s in (0, 1, 2)
        ]
    }
    result = StoredResult(document)
    np.testing.assert_allclose(result.facts("arms", "AMF", "test", "ndcg@10"), [0.0, 0.1, 0.2])
    assert result.facts_of(1)["arms"]["AMF"]["test"]["ndcg@10"] == 0.1
    with pytest.raises(KeyError, match="no 'VAE'"):
        result.facts("arms", "VAE")
