"""Hiding a private attribute from the user factors: BPR-MF with an attribute adversary
(:class:`advrec.models.privacy.AdversarialBPRMF`), and the seed loop of the leakage experiment.

:func:`run_defence` trains one defended model on the labels the defence may read (the disclosed
users'; every other user is ``UNDISCLOSED``); :func:`run_leakage` runs the privacy chapter's
experiment on every seed: plain BPR-MF and each defence, attacked by fresh classifiers within each
user group (:mod:`advrec.attacks.leakage`). :func:`run_leakage_seed` is one seed of it as a
recipe (``run(data, config, seed) -> Run``, data from :func:`load_private_split`), which also
attacks the user vectors a GAN generates (CFGAN, one per user): the source article's idea of
generated data that "mask the real distribution".
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.gan_recommenders import CFGANConfig, run_cfgan
from advrec.recipes.ranking import BPRMFConfig, fit_bprmf, ranker_run, run_bprmf

__all__ = [
    "DefenceConfig",
    "LeakageConfig",
    "PrivateSplit",
    "load_private_split",
    "run_defence",
    "run_leakage",
    "run_leakage_seed",
]


@dataclass(frozen=True)
class DefenceConfig:
    """An attribute adversary on the user factors of a BPR-MF trained like ``ranker``."""

    ranker: BPRMFConfig = field(default_factory=lambda: BPRMFConfig(patience=3))
    objective: str = setting("confusion", "confusion or reversal", "our choice")
    adversary_weight: float = setting(1.0, "λ, weight of the adversary's term", "our choice", 0.0)
    adversary_hidden: tuple[int, ...] = setting(
        (), "hidden widths of the adversary (none: a linear softmax)", "our choice"
    )


def run_defence(split, labels: np.ndarray, config: DefenceConfig = DefenceConfig(), seed=0) -> Run:
    """One :class:`~advrec.models.privacy.AdversarialBPRMF` on ``split``, hiding ``labels``
    (int ``[n_users]``, ``UNDISCLOSED`` where the defence may not read the label), early-stopped
    on validation NDCG@10."""
    from advrec.experiment import set_seed
    from advrec.models.privacy import AdversarialBPRMF

    check_config(config)
    start = time.perf_counter()
    set_seed(seed)
    ranker = config.ranker
    model = AdversarialBPRMF(
        split.train,
        labels,
        adversary_weight=config.adversary_weight,
        objective=config.objective,
        adversary_hidden=config.adversary_hidden,
        dim=ranker.dim,
        l2=ranker.l2,
        init_std=ranker.init_std,
        seed=seed,
    )
    validation = fit_bprmf(model, split, ranker, seed)
    return ranker_run(model, split, {"train": (validation, model.history)}, start)


def run_leakage(
    splits: Mapping[int, object],
    labels: Mapping[str, np.ndarray],
    defences: Sequence,
    ranker: BPRMFConfig = BPRMFConfig(patience=3),
    shares: Sequence[float] = (0.5, 0.25),
    n_folds: int = 5,
    trained_plain: Mapping[int, Run] | None = None,
) -> list[dict]:
    """The privacy experiment's seed loop
    (:func:`advrec.attacks.leakage.run_leakage_experiment`):
    plain BPR-MF with ``ranker``'s settings and each :class:`~advrec.attacks.leakage.Defence`
    (the adversary with that objective and weight on the same ranker) on every split.

    ``trained_plain``: ``{seed: Run}`` of plain BPR-MF already trained on that split (e.g. while
    choosing its l2), not trained again.
    """
    from advrec.attacks.leakage import run_leakage_experiment

    def plain(split, seed):
        return run_bprmf(split, ranker, seed).model

    def defended(split, disclosed, defence, seed):
        config = DefenceConfig(ranker, defence.objective, float(defence.weight))
        return run_defence(split, disclosed, config, seed).model

    trained = {seed: run.model for seed, run in (trained_plain or {}).items()}
    return run_leakage_experiment(
        splits, labels, plain, defended, defences, shares, n_folds, trained
    )


DEFENCES: tuple[tuple[str, str, float], ...] = (
    ("gender", "confusion", 1.0),
    ("gender", "confusion", 10.0),
    ("age", "confusion", 1.0),
    ("gender", "reversal", 1.0),
)
"""The privacy chapter's defended models: ``(attribute, objective, weight)``."""


PRIVACY_GENERATOR = CFGANConfig(
    mode="user",
    epochs=20,
    discriminator_steps=2,
    generator_steps=4,
    generator_chunks=1,
    learning_rate=1e-3,
    eval_every=5,
    refit="none",
)
"""The user-based CFGAN whose generated vectors the privacy study attacks: a generator good
enough to test the article's claim (validation-selected within 20 epochs), not CFGAN's released
ranking schedule (:data:`advrec.recipes.gan_recommenders.CFGANConfig`'s defaults)."""


@dataclass(frozen=True)
class LeakageConfig:
    """One seed of the privacy chapter's experiment (:func:`run_leakage_seed`)."""

    ranker: BPRMFConfig = field(default_factory=lambda: BPRMFConfig(patience=3))
    defences: tuple[tuple[str, str, float], ...] = setting(
        DEFENCES,
        "(attribute, objective, weight) of every defended model",
        "our choice: confusion at two weights for gender, one for age; reversal for contrast",
    )
    shares: tuple[float, float] = setting(
        (0.5, 0.25),
        "shares of disclosed and selection users per class; the rest is the evaluation group",
        "our choice",
    )
    n_folds: int = setting(5, "cross-validation folds of every attack", "library", 2)
    generator: CFGANConfig = field(default_factory=lambda: PRIVACY_GENERATOR)


@dataclass(frozen=True)
class PrivateSplit:
    """A split and every user's private attributes: ``labels`` ``{name: int [n_users]}``."""

    split: object
    labels: dict


def load_private_split(
    dataset: str, data_dir: str | None, seed: int, protocol: str = "holdout", config=None
) -> PrivateSplit:
    """The 80/10/10 holdout of ``seed`` with every user's gender and age group
    (:func:`advrec.attacks.inference.gender_labels`, ``age_group_labels``)."""
    from advrec.attacks.inference import age_group_labels, gender_labels
    from advrec.data import load_movielens, random_holdout, synthetic_movielens

    if protocol != "holdout":
        raise ValueError(f"the privacy experiment runs on the holdout split, not {protocol!r}.")
    if dataset == "synthetic":
        data = synthetic_movielens(seed=seed)
    else:
        data = load_movielens(dataset, data_dir)
    labels = {"gender": gender_labels(data.users), "age": age_group_labels(data.users)}
    return PrivateSplit(random_holdout(data.interactions, (0.8, 0.1, 0.1), seed=seed), labels)


def run_leakage_seed(data: PrivateSplit, config: LeakageConfig = LeakageConfig(), seed=0) -> Run:
    """One seed of the privacy experiment on ``data`` (:func:`load_private_split`).

    Plain BPR-MF (``config.ranker``) and every defence of ``config.defences`` are attacked within
    each user group (:func:`run_leakage`); so are the raw training interactions and the user
    vectors a CFGAN (``config.generator``, one generated vector per user, ``G(c_u)``) makes from
    them. Returns plain BPR-MF's :class:`Run`; ``facts["records"]`` holds the experiment's records
    (:func:`advrec.attacks.leakage.run_leakage_experiment`), those of the generated vectors
    (model ``"generated (CFGAN)"``) included.
    """
    from advrec.attacks.inference import partition_users
    from advrec.attacks.leakage import Defence, attack_groups

    check_config(config)
    start = time.perf_counter()
    split, labels = data.split, data.labels
    plain = run_bprmf(split, config.ranker, seed)
    defences = [Defence(a, o, float(w)) for a, o, w in config.defences]
    records = run_leakage(
        {seed: split}, labels, defences, config.ranker, config.shares, config.n_folds,
        trained_plain={seed: plain},
    )  # fmt: skip
    generator = run_cfgan(split, config.generator, seed)
    users = np.arange(split.n_users, dtype=np.int32)
    generated = np.asarray(generator.model.generate(users))
    for attribute, attribute_labels in labels.items():
        partition = partition_users(attribute_labels, config.shares, seed)
        records.append(
            {"seed": seed, "attribute": attribute, "model": "generated (CFGAN)"}
            | {"valid_ndcg": generator.valid["ndcg@10"], "ndcg": generator.test["ndcg@10"]}
            | attack_groups(
                generated, attribute_labels, partition, ("logistic",), config.n_folds, seed
            )
        )
    plain.facts["records"] = records
    plain.seconds = time.perf_counter() - start
    return plain
