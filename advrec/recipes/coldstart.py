"""Cold start: a BPR-MF on the warm part, then a generator from side information to embeddings,
early-stopped on the cold *validation* entities (:mod:`advrec.coldstart_protocol`).

:func:`run_warm_bprmf` trains the collaborative model on the warm entities only (so a cold entity
is never sampled as a negative); :func:`run_generator` fits one cold-start model
(:data:`advrec.models.coldstart.GENERATORS`) on top of it; :func:`run_cold_start` does both.
The data is a :class:`ColdStartData`: the split and the side information of the cold side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, fit_bprmf

__all__ = [
    "ColdStartConfig",
    "ColdStartData",
    "GeneratorConfig",
    "load_cold_start",
    "run_cold_start",
    "run_generator",
    "run_warm_bprmf",
]


@dataclass(frozen=True)
class ColdStartData:
    """A cold-start split and the side information of its cold side.

    Attributes:
        split: :class:`advrec.data.coldstart.ColdStartSplit`.
        features: float32 ``[n_entities, n_features]`` by full id (items for cold items).
    """

    split: Any
    features: np.ndarray


@dataclass(frozen=True)
class GeneratorConfig:
    """One cold-start model on top of frozen warm embeddings."""

    kind: str = setting(
        "adversarial", "regression, dropoutnet or adversarial (GAR-style)", "library"
    )
    hidden: tuple[int, ...] = setting((200,), "widths of the generator's tanh layers", "our choice")
    tower_hidden: tuple[int, ...] = setting(
        (200,), "widths of the recommender's towers (adversarial)", "our choice"
    )
    alpha: float = setting(
        0.9, "adversarial: weight of the random negative against the generated one", "our choice"
    )
    beta: float = setting(
        0.5, "adversarial: weight of the squared pull towards the real embedding", "our choice", 0
    )
    dropout_rate: float = setting(0.5, "dropoutnet: chance of dropping the preference", "paper")
    learning_rate: float = setting(
        1e-3, "Adam step size of the generator", "our choice", positive=True
    )
    recommender_learning_rate: float = setting(
        1e-4, "adversarial: Adam step size of the recommender", "our choice", positive=True
    )
    batch_size: int = setting(4096, "warm training pairs per step", "our choice", 1)
    epochs: int = setting(50, "most epochs", "our choice", 1)
    patience: int = setting(5, "validations without gain before stopping", "library", 1)


@dataclass(frozen=True)
class ColdStartConfig:
    """The warm model and the generator."""

    warm: BPRMFConfig = field(default_factory=lambda: BPRMFConfig(patience=3))
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)


def run_warm_bprmf(data: ColdStartData, config: BPRMFConfig = BPRMFConfig(), seed: int = 0) -> Run:
    """BPR-MF on the warm part re-indexed to warm ids (:meth:`ColdStartSplit.warm_space`),
    early-stopped on warm validation NDCG@10. ``run.facts["tables"]`` holds
    ``(entity_table, opposite_table)`` (:func:`advrec.models.coldstart.pretrained_tables`) for
    the cold side."""
    from advrec.experiment import set_seed
    from advrec.models import BPRMF
    from advrec.models.coldstart import pretrained_tables
    from advrec.recipes.ranking import ranker_run

    check_config(config)
    start = time.perf_counter()
    set_seed(seed)
    warm = data.split.warm_space()
    model = BPRMF(warm.train, dim=config.dim, l2=config.l2, init_std=config.init_std, seed=seed)
    validation = fit_bprmf(model, warm, config, seed)
    run = ranker_run(model, warm, {"warm": (validation, model.history)}, start)
    users, items = pretrained_tables(model)
    run.facts["tables"] = (items, users) if data.split.side == "items" else (users, items)
    return run


def run_generator(
    data: ColdStartData, warm: Run, config: GeneratorConfig = GeneratorConfig(), seed: int = 0
) -> Run:
    """One cold-start model on the frozen tables of ``warm`` (:func:`run_warm_bprmf`), trained on
    the warm pairs and early-stopped on the cold validation NDCG@20. ``valid``/``test`` are the
    cold validation metrics and :func:`advrec.coldstart_protocol.cold_start_report`."""
    import keras

    from advrec.coldstart_protocol import ColdValidation, cold_start_report, cold_targets
    from advrec.data.sampling import pair_examples
    from advrec.experiment import set_seed
    from advrec.metrics import evaluate_ranking
    from advrec.models.coldstart import GENERATORS
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    check_config(config)
    if config.kind not in GENERATORS:
        raise ValueError(f"kind must be one of {sorted(GENERATORS)}, got {config.kind!r}.")
    start = time.perf_counter()
    seed = derive_seed(seed, f"{config.kind} generator")
    set_seed(seed)
    split = data.split
    entity, opposite = warm.facts["tables"]
    options = {"hidden": config.hidden}
    if config.kind == "adversarial":
        options |= {"alpha": config.alpha, "beta": config.beta, "tower_hidden": config.tower_hidden}
    if config.kind == "dropoutnet":
        options["dropout_rate"] = config.dropout_rate
    model = GENERATORS[config.kind](split, data.features, entity, opposite, seed=seed, **options)
    if config.kind == "adversarial":
        model.compile(
            keras.optimizers.Adam(config.recommender_learning_rate),
            keras.optimizers.Adam(config.learning_rate),
        )
    else:
        model.compile(keras.optimizers.Adam(config.learning_rate))
    validation = ColdValidation(split, patience=config.patience)
    examples = pair_examples(split.warm_space().train, config.batch_size, seed=seed)
    fit_model(model, examples, config.epochs, validation)
    valid = evaluate_ranking(model.score_all, ks=(10, 20), **cold_targets(split, "valid"))
    return Run(
        model,
        valid,
        cold_start_report(model.score_all, split),
        history={"generator": dict(validation.history)},
        best_epoch={"generator": int(validation.best_epoch)},
        losses={"generator": dict(model.history.history)},
        seconds=time.perf_counter() - start,
    )


def run_cold_start(data: ColdStartData, config=ColdStartConfig(), seed: int = 0) -> Run:
    """The warm BPR-MF, then the generator; the run's history has a ``"warm"`` and a
    ``"generator"`` phase and ``facts["warm"]`` the warm model's metrics."""
    check_config(config)
    warm = run_warm_bprmf(data, config.warm, seed)
    run = run_generator(data, warm, config.generator, seed).continued_from(warm)
    run.facts["warm"] = {"valid": warm.valid, "test": warm.test}
    return run


def load_cold_start(
    dataset: str, data_dir: str | None, seed: int, protocol: str = "items", config=None
) -> ColdStartData:
    """A cold-item (``protocol="items"``) or cold-user (``"users"``) split of ``dataset`` with
    the cold side's side information (:func:`advrec.data.features.side_features`)."""
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.coldstart import cold_start_split
    from advrec.data.features import side_features

    if protocol not in ("items", "users"):
        raise ValueError(f"protocol must be items or users (the cold side), got {protocol!r}.")
    if dataset == "synthetic":
        source = synthetic_movielens(seed=seed)
    else:
        source = load_movielens(dataset, data_dir)
    split = cold_start_split(source.interactions, protocol, seed=seed)
    return ColdStartData(split, side_features(source, protocol))
