"""Adversarial Personalized Ranking (He et al., SIGIR 2018): BPR-MF pre-training, then AMF.

:func:`run_apr` runs both phases; :func:`run_adversarial_phase` runs the second from a given
pre-trained run (so several adversarial settings can share one pre-training, and the ``epsilon
= 0`` control trains exactly like APR with the adversarial term off); :func:`tune_adversarial`
chooses a setting of that phase on validation. :data:`APR_RELEASED` is the released code's own
recipe for the adversarial phase: Adagrad, a fixed-length phase whose last weights are kept.

:func:`run_apr_study` is the APR chapter's experiment on one split: one pre-training, then four
arms -- the tuned phase and the released recipe, each with its ``epsilon = 0`` control (same
optimizer, same epochs, the adversarial term off) -- each measured clean, under FGSM, under the
multi-step attack and under random perturbations of the same size, beside ItemPop and EASE^R.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from advrec.recipes.base import Run, Tuned, check_config, setting, tune, with_settings
from advrec.recipes.ranking import (
    BPRMFConfig,
    EASEConfig,
    fit_bprmf,
    ranker_run,
    run_bprmf,
    run_ease,
    run_itempop,
)

__all__ = [
    "APRConfig",
    "APRStudyConfig",
    "APR_RELEASED",
    "STUDY_ARMS",
    "run_adversarial_phase",
    "run_apr",
    "run_apr_study",
    "tune_adversarial",
]


@dataclass(frozen=True)
class APRConfig:
    """APR: BPR-MF pre-training, then the adversarial phase (a fresh optimizer)."""

    pretrain: BPRMFConfig = field(default_factory=BPRMFConfig)
    epsilon: float = setting(
        0.5, "l2 norm of the worst-case perturbation of each embedding row", "paper: ε = 0.5", 0.0
    )
    adversarial_weight: float = setting(
        1.0, "λ, weight of the BPR loss at the perturbed embeddings", "paper: λ = 1", 0.0
    )
    optimizer: str = setting("adam", "optimizer of the adversarial phase", "our choice")
    learning_rate: float = setting(
        0.001,
        "step size of the adversarial phase",
        "our choice: a tenth of pre-training's, so the phase refines rather than restarts",
        positive=True,
    )
    batch_size: int = setting(8192, "training pairs per step", "library", 1)
    epochs: int = setting(100, "most epochs of the adversarial phase", "library", 1)
    eval_every: int = setting(1, "epochs between validations", "library", 1)
    patience: int | None = setting(
        5, "validations without gain before stopping (None: a fixed-length phase)", "library"
    )


APR_RELEASED = APRConfig(
    optimizer="adagrad",
    learning_rate=0.05,
    epsilon=0.5,
    epochs=40,
    eval_every=40,
    patience=None,
)
"""The adversarial phase of APR's released code (Adagrad, lr 0.05, ε = 0.5, λ = 1), run for a
fixed 40 epochs whose last weights are kept (one evaluation, after the last epoch)."""


def run_apr(split, config: APRConfig = APRConfig(), seed: int = 0, verbose: int | str = 0) -> Run:
    """Both phases on ``split``; the run's history has a ``"pretrain"`` and an
    ``"adversarial"`` phase."""
    check_config(config)
    pretrained = run_bprmf(split, config.pretrain, seed, verbose=verbose)
    return run_adversarial_phase(pretrained, split, config, seed, verbose=verbose)


def run_adversarial_phase(
    pretrained: Run, split, config: APRConfig = APRConfig(), seed: int = 0, verbose=0
) -> Run:
    """AMF initialised from ``pretrained.model`` (a BPR-MF, left unchanged), trained with the
    adversarial phase of ``config`` and early-stopped on validation (or for a fixed length when
    ``patience`` is None). ``epsilon = 0`` is the control: the same phase without the
    adversarial term."""
    from advrec.experiment import set_seed
    from advrec.models.apr import AMF
    from advrec.seeds import derive_seed

    check_config(config)
    start = time.perf_counter()
    set_seed(derive_seed(seed, "adversarial phase"))
    base = pretrained.model
    model = AMF(
        split.train,
        epsilon=config.epsilon,
        adversarial_weight=config.adversarial_weight,
        dim=base.dim,
        l2=base.l2,
        seed=derive_seed(seed, "adversarial phase"),
    ).initialize_from(base)
    validation = fit_bprmf(model, split, config, derive_seed(seed, "adversarial phase"), verbose)
    run = ranker_run(model, split, {"adversarial": (validation, model.history)}, start)
    run.continued_from(pretrained)
    run.facts["pretrained"] = {"valid": pretrained.valid, "test": pretrained.test}
    return run


def tune_adversarial(
    pretrained: Run, split, config: APRConfig, name: str, grid, seed: int = 0, **options
) -> Tuned:
    """Chooses setting ``name`` of the adversarial phase (e.g. ``"epsilon"``) on ``split``'s
    validation, every value continuing the same ``pretrained`` run
    (:func:`advrec.recipes.base.tune`; ``options`` go to it)."""

    def phase(data, chosen, phase_seed):
        return run_adversarial_phase(pretrained, data, chosen, phase_seed)

    return tune(phase, split, config, name, grid, seed, **options)


STUDY_ARMS = ("BPR-MF", "AMF", "BPR-MF (released)", "AMF (released)")
"""The arms of :func:`run_apr_study`: the tuned adversarial phase (``"AMF"``) and the released
recipe (``"AMF (released)"``), each beside its control with ``epsilon = 0``."""

_ARM_PHASE = {
    "AMF": "adversarial",
    "BPR-MF": "control",
    "AMF (released)": "released",
    "BPR-MF (released)": "released control",
}


@dataclass(frozen=True)
class APRStudyConfig:
    """The APR chapter's experiment on one split (:func:`run_apr_study`).

    Every arm continues the same pre-training (``pretrain``); the ``pretrain`` field of
    ``tuned`` and ``released`` is not used. ``pretrain.l2`` (1e-2) and ``tuned.epsilon`` (0.5)
    are the values the APR chapter chooses on seed 0's validation pairs.
    """

    pretrain: BPRMFConfig = field(default_factory=BPRMFConfig)
    tuned: APRConfig = field(default_factory=APRConfig)
    released: APRConfig = field(default_factory=lambda: APR_RELEASED)
    ease: EASEConfig = field(default_factory=EASEConfig)
    budgets: tuple[float, ...] = setting(
        (0.0, 0.25, 0.5, 1.0),
        "attack budgets ε (l2 norm per embedding row) of the robustness curves",
        "our choice: around the paper's ε = 0.5",
    )
    relative_budget: float = setting(
        0.25,
        "the attack with every row moved by this share of its own norm",
        "our choice: about what ε = 0.5 is for BPR-MF's rows",
        positive=True,
    )
    iterative_steps: int = setting(5, "steps of the multi-step attack", "our choice", 1)
    top_k: int = setting(10, "length of the lists whose popularity is measured", "library", 1)
    arms: tuple[str, ...] = setting(STUDY_ARMS, "arms to train (of STUDY_ARMS)", "library")


def run_apr_study(split, config: APRStudyConfig = APRStudyConfig(), seed: int = 0) -> Run:
    """One seed of the APR study on ``split``.

    Pre-trains BPR-MF (``config.pretrain``), then continues it in every arm of ``config.arms``
    (:data:`STUDY_ARMS`): ``"AMF"`` is ``config.tuned``, ``"AMF (released)"`` is
    ``config.released``, and each ``"BPR-MF ..."`` arm is the same phase with ``epsilon = 0``
    (same optimizer, epochs and early stopping: only the adversarial term differs). Every arm's
    test NDCG@10 and Recall@10 are measured clean and under each method of
    :data:`advrec.attacks.embedding.METHODS` (FGSM, the multi-step attack, and the random
    control of the same norm) at every budget, and under FGSM and random perturbations whose
    norm is ``relative_budget`` of each row's; with its row norms and the popularity and coverage
    of its top-``top_k`` lists. ItemPop and EASE^R are measured beside them.

    Returns the ``"AMF"`` arm's :class:`Run` (or the pre-trained one when it is not among the
    arms), whose history holds the pre-training (``"pretrain"``) and each arm's phase
    (``"adversarial"``, ``"control"``, ``"released"``, ``"released control"``); ``facts`` holds
    ``{"arms": {arm: measurements}, "baselines": {...}, "pretrained": {...}, "budgets": [...]}``.
    """
    check_config(config)
    unknown = sorted(set(config.arms) - set(STUDY_ARMS))
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {STUDY_ARMS}.")
    start = time.perf_counter()
    pretrained = run_bprmf(split, config.pretrain, seed)
    phases = {
        "AMF": config.tuned,
        "BPR-MF": with_settings(config.tuned, epsilon=0.0),
        "AMF (released)": config.released,
        "BPR-MF (released)": with_settings(config.released, epsilon=0.0),
    }
    arms = {arm: run_adversarial_phase(pretrained, split, phases[arm], seed) for arm in config.arms}
    main = arms.get("AMF", pretrained)
    run = Run(
        main.model,
        main.valid,
        main.test,
        history={"pretrain": pretrained.history["train"]},
        best_epoch={"pretrain": pretrained.best_epoch["train"]},
        losses={"pretrain": pretrained.losses["train"]},
    )
    for arm, arm_run in arms.items():
        phase = _ARM_PHASE[arm]
        run.history[phase] = arm_run.history["adversarial"]
        run.best_epoch[phase] = arm_run.best_epoch["adversarial"]
        run.losses[phase] = arm_run.losses["adversarial"]
    run.facts = {
        "budgets": list(config.budgets),
        "pretrained": {"valid": pretrained.valid, "test": pretrained.test},
        "arms": {arm: _measure_arm(r, split, config) for arm, r in arms.items()},
        "baselines": {
            "ItemPop": _measure_lists(run_itempop(split), split, config),
            "EASE^R": _measure_lists(run_ease(split, config.ease, seed), split, config),
        },
    }
    run.seconds = time.perf_counter() - start
    return run


def _measure_lists(run: Run, split, config: APRStudyConfig) -> dict[str, Any]:
    from advrec.diversity import recommendation_popularity_and_coverage

    lists = recommendation_popularity_and_coverage(run.model.score_all, split, k=config.top_k)
    return {"valid": run.valid, "test": run.test, **lists}


def _measure_arm(run: Run, split, config: APRStudyConfig) -> dict[str, Any]:
    """Clean and attacked test metrics, row norms and list statistics of one arm's model."""
    from advrec.attacks import embedding

    model = run.model
    keep = ("ndcg@10", "recall@10")
    curves = {
        method: embedding.robustness_curve(
            model, split, config.budgets, method=method, steps=config.iterative_steps, seed=0
        )
        for method in embedding.METHODS
    }
    relative = {
        method: embedding.robustness_curve(
            model, split, (config.relative_budget,), method=method, seed=0, relative=True
        )
        for method in ("fgsm", "random")
    }
    return {
        **_measure_lists(run, split, config),
        "phase_epochs": len(run.losses["adversarial"].get("loss", [])),
        "curves": {m: {k: c[k] for k in keep} for m, c in curves.items()},
        "relative": {m: {k: float(c[k][0]) for k in keep} for m, c in relative.items()},
        "norms": embedding.embedding_norms(model),
    }
