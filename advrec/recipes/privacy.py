"""Hiding a private attribute from the user factors: BPR-MF with an attribute adversary
(:class:`advrec.models.privacy.AdversarialBPRMF`), and the seed loop of the leakage experiment.

:func:`run_defence` trains one defended model on the labels the defence may read (the disclosed
users'; every other user is ``UNDISCLOSED``); :func:`run_leakage` runs the privacy chapter's
experiment on every seed: plain BPR-MF and each defence, attacked by fresh classifiers within each
user group (:mod:`advrec.attacks.leakage`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, fit_bprmf, ranker_run, run_bprmf

__all__ = ["DefenceConfig", "run_defence", "run_leakage"]


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
