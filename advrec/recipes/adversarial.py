"""Adversarial Personalized Ranking (He et al., SIGIR 2018): BPR-MF pre-training, then AMF.

:func:`run_apr` runs both phases; :func:`run_adversarial_phase` runs the second from a given
pre-trained run (so several adversarial settings can share one pre-training, and the ``epsilon
= 0`` control trains exactly like APR with the adversarial term off). :data:`APR_RELEASED` is the
released code's own recipe for the adversarial phase: Adagrad, a fixed-length phase whose last
weights are kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, fit_bprmf, ranker_run, run_bprmf

__all__ = ["APRConfig", "APR_RELEASED", "run_adversarial_phase", "run_apr"]


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
