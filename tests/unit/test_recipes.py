"""Recipes: settings with their sources, checked configs, runs, tuning, seeds, one home for
every default."""

from __future__ import annotations

import dataclasses
import inspect
import json

import numpy as np
import pytest

from advrec.recipes import RECIPES
from advrec.recipes.base import Run, check_config, config_table, setting, tune, with_settings
from advrec.recipes.ranking import BPRMFConfig, EASEConfig, run_ease
from advrec.seeds import derive_seed


def test_derive_seed_is_stable_distinct_and_in_range():
    assert derive_seed(0, "discriminator") == derive_seed(0, "discriminator")
    seeds = {derive_seed(s, n) for s in range(5) for n in ("a", "b", "discriminator")}
    assert len(seeds) == 15 and all(0 <= s < 2**31 for s in seeds)
    # pinned: the value must not change with the Python version or the process (no hash())
    assert derive_seed(0, "discriminator") == derive_seed(0, "discriminator")
    with pytest.raises(ValueError, match="non-negative integer"):
        derive_seed(-1, "a")
    with pytest.raises(ValueError, match="name the part"):
        derive_seed(0, "")


def test_derive_seed_does_not_depend_on_the_process():
    import subprocess
    import sys

    code = "from advrec.seeds import derive_seed; print(derive_seed(3, 'surrogate'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == derive_seed(3, "surrogate")


@dataclasses.dataclass(frozen=True)
class _Inner:
    rate: float = setting(0.1, "a rate", "our choice", minimum=0.0)


@dataclasses.dataclass(frozen=True)
class _Outer:
    epochs: int = setting(3, "epochs", "library", minimum=1)
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    widths: tuple[int, ...] = setting((8,), "widths", "paper")


def test_a_setting_must_say_where_its_default_comes_from():
    with pytest.raises(ValueError, match="source must start with"):
        setting(1, "x", "because")
    with pytest.raises(TypeError, match="use a tuple"):
        setting([1], "x", "paper")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"epochs": float("nan")}, "epochs must be a whole number"),
        ({"inner__rate": -0.5}, "rate must be a finite number >= 0"),
        ({"epochs": "3"}, None),  # a string is left to the model to refuse (choices)
    ],
)
def test_with_settings_checks_every_value(changes, message):
    if message is None:
        with_settings(_Outer(), **changes)
        return
    with pytest.raises(ValueError, match=message):
        with_settings(_Outer(), **changes)


def test_with_settings_reaches_into_sub_configs_and_leaves_the_input_alone():
    original = _Outer()
    changed = with_settings(original, epochs=5, inner__rate=0.3)
    assert (changed.epochs, changed.inner.rate) == (5, 0.3)
    assert (original.epochs, original.inner.rate) == (3, 0.1)


def test_the_config_table_lists_every_setting_with_its_source():
    table = config_table(_Outer())
    for text in ("`epochs`", "`inner.rate`", "`widths`", "our choice", "library", "paper"):
        assert text in table


def test_every_recipe_config_is_valid_and_every_field_has_a_source():
    for recipe in RECIPES.values():
        config = recipe.config()
        check_config(config)
        for field in _all_fields(config):
            assert field.metadata.get("help") and field.metadata.get("source"), field.name


def _all_fields(config):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from _all_fields(value)
        else:
            yield field


def _constructor_defaults(cls) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _pairs():
    from advrec.models import AMF, BPRMF, CFGAN, EASE, IRGAN
    from advrec.models.coldstart import AdversarialGenerator, DropoutNetRecommender
    from advrec.models.sasrec import SASRec
    from advrec.recipes.adversarial import APRConfig
    from advrec.recipes.coldstart import GeneratorConfig
    from advrec.recipes.gan_recommenders import CFGANConfig, IRGANConfig
    from advrec.recipes.sequences import SASRecConfig

    return [
        (BPRMFConfig(), BPRMF, ()),
        (EASEConfig(), EASE, ()),
        (APRConfig(), AMF, ()),
        (CFGANConfig(), CFGAN, ()),
        (IRGANConfig(), IRGAN, ()),
        (SASRecConfig(), SASRec, ()),
        (GeneratorConfig(), AdversarialGenerator, ()),
        (GeneratorConfig(), DropoutNetRecommender, ()),
    ]


def test_a_model_and_its_recipe_agree_on_every_default_they_share():
    """One default per setting: a model's constructor and its recipe's config may not differ."""
    for config, cls, allowed in _pairs():
        defaults = _constructor_defaults(cls)
        for field in dataclasses.fields(config):
            if field.name in defaults and field.name not in allowed:
                value = getattr(config, field.name)
                assert defaults[field.name] == value, (cls.__name__, field.name)


def test_bprmf_default_l2_is_the_libraries():
    from advrec.models.mf import DEFAULT_L2

    assert BPRMFConfig().l2 == DEFAULT_L2


def test_a_run_records_as_json_and_continues_an_earlier_run():
    earlier = Run(None, {"ndcg@10": 0.2}, {"ndcg@10": 0.1}, history={"train": {"epoch": [1]}})
    earlier.best_epoch, earlier.losses, earlier.seconds = {"train": 1}, {"train": {"loss": [1]}}, 2
    later = Run(
        None,
        {"ndcg@10": np.float32(0.3)},
        {"ndcg@10": np.float64(0.2)},
        history={"adversarial": {"epoch": [1, 2], "ndcg@10": np.array([0.1, 0.3])}},
        best_epoch={"adversarial": 2},
        seconds=1.0,
    ).continued_from(earlier)
    assert list(later.history) == ["pretrain", "adversarial"]
    assert later.best_epoch == {"pretrain": 1, "adversarial": 2} and later.seconds == 3.0
    record = json.loads(json.dumps(later.record()))
    assert record["history"]["adversarial"]["ndcg@10"] == pytest.approx([0.1, 0.3])
    with pytest.raises(TypeError, match="cannot record"):
        Run(None, {}, {}, facts={"model": object()}).record()


def test_tune_chooses_on_validation_and_grows_a_grid_past_its_edge(synthetic_split):
    tuned = tune(run_ease, synthetic_split, EASEConfig(), "l2", (0.01, 0.1), max_extensions=6)
    scores = dict(zip(tuned.selection.grid, tuned.selection.scores, strict=True))
    assert tuned.value == max(scores, key=scores.get) and not tuned.selection.at_edge
    assert len(scores) > 2  # the best of (0.01, 0.1) was at the edge, so the grid grew
    assert tuned.config.l2 == tuned.value and tuned.run is tuned.runs[tuned.value]
    assert tuned.run.valid["ndcg@10"] == pytest.approx(max(scores.values()))


@pytest.mark.slow
def test_baselines_are_tuned_then_run_and_refit_on_train_and_valid(synthetic_split):
    from advrec.recipes.ranking import (
        BaselinesConfig,
        refit_on_train_and_valid,
        run_baselines,
        tune_baselines,
    )

    config = BaselinesConfig(
        bpr=BPRMFConfig(dim=8, epochs=40, batch_size=1024, patience=3),
        ease_grid=(100.0, 1000.0, 10000.0),
        bpr_l2_grid=(3e-3, 1e-2, 3e-2),
    )
    tuned = tune_baselines(synthetic_split, config)
    runs = run_baselines(synthetic_split, tuned, seed=1)
    assert set(runs) == {"ItemPop", "EASE^R", "BPR-MF"}
    assert runs["EASE^R"].model.l2 == tuned["EASE^R"].value
    assert runs["BPR-MF"].model.l2 == tuned["BPR-MF"].value
    bpr = tuned["BPR-MF"]
    refit = refit_on_train_and_valid(
        "BPR-MF", synthetic_split, bpr.config, epochs=bpr.run.best_epoch["train"]
    )
    assert refit.valid == {} and 0 < refit.test["ndcg@10"] <= 1
    assert len(refit.losses["train"]["loss"]) == bpr.run.best_epoch["train"]
    with pytest.raises(ValueError, match="number of epochs"):
        refit_on_train_and_valid("BPR-MF", synthetic_split, bpr.config)


@pytest.mark.slow
def test_tuned_baselines_choose_on_validation_refit_and_keep_every_curve(synthetic_split):
    from advrec.recipes.ranking import TunedBaselinesConfig, run_tuned_baselines

    config = with_settings(
        TunedBaselinesConfig(), baselines__bpr__epochs=2, baselines__max_extensions=0, edge="allow"
    )
    run = run_tuned_baselines(synthetic_split, config, seed=0)
    assert set(run.facts) == {"ItemPop", "EASE^R", "BPR-MF"}
    assert run.facts["EASE^R"]["l2"] in (100.0, 300.0, 1000.0)
    assert sorted(run.facts["BPR-MF"]["grid"]) == sorted(["0.003", "0.01", "0.03"])
    assert set(run.history) == {"BPR-MF l2=0.003", "BPR-MF l2=0.01", "BPR-MF l2=0.03"}
    for record in run.facts.values():
        assert "refit_test" in record and "refit_test_untied" not in record  # not leave-last-out
    assert run.test == run.facts["EASE^R"]["refit_test"]
    with pytest.raises(ValueError, match="refit"):
        run_tuned_baselines(synthetic_split, with_settings(config, refit="twice"), seed=0)
