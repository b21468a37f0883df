"""Shilling attacks and the models they poison, as procedures: the attacker's surrogate, the
profile GAN's training, the fake profiles of every attack, and the victim retrained on poisoned
data for a fixed number of epochs (chosen once on clean validation: a platform retraining its
model does not re-tune it for every batch of new accounts).

The attacks themselves (profile models, exposure of the target, the GAN's step) are in
:mod:`advrec.attacks.shilling`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, run_bprmf_fixed

__all__ = [
    "ProfileGANConfig",
    "ShillingConfig",
    "fit_surrogate",
    "make_profiles",
    "run_profile_gan",
    "run_victim",
]


@dataclass(frozen=True)
class ProfileGANConfig:
    """The AUSH-style profile GAN (Lin et al., 2020) the attacker trains."""

    epochs: int = setting(30, "passes over the attacker's templates", "our choice", 1)
    batch_size: int = setting(64, "templates per step", "our choice", 1)
    learning_rate: float = setting(
        1e-3, "Adam step size of both players", "our choice", positive=True
    )
    attack_weight: float = setting(1.0, "weight of the attack loss", "our choice", 0.0)
    reconstruction_weight: float = setting(
        1.0, "weight of the reconstruction loss", "our choice", 0.0
    )


@dataclass(frozen=True)
class ShillingConfig:
    """The attacker's choices (not the victim's: the attacker knows neither its model nor its
    settings)."""

    filler_size: int = setting(
        50, "items per fake profile besides the target", "our choice: ML-100K users hold ~106", 1
    )
    surrogate: BPRMFConfig = field(
        default_factory=lambda: BPRMFConfig(dim=32, epochs=15, patience=None)
    )
    gan: ProfileGANConfig = field(default_factory=ProfileGANConfig)


def run_victim(split, config: BPRMFConfig, seed: int = 0) -> Run:
    """The victim BPR-MF trained on ``split.train`` (perhaps poisoned) for exactly
    ``config.epochs`` epochs (:func:`advrec.recipes.ranking.run_bprmf_fixed`)."""
    return run_bprmf_fixed(split, config, seed)


def fit_surrogate(train, config: ShillingConfig = ShillingConfig(), seed: int = 0):
    """The attacker's BPR-MF surrogate on the interactions it sees (``train``), for
    ``config.surrogate.epochs`` epochs: its own model, seeded apart from the victim."""
    from advrec.data.splits import Split
    from advrec.seeds import derive_seed

    empty = train.select(np.zeros(len(train), bool))
    view = Split(train, empty, empty, "attacker's view")
    return run_bprmf_fixed(view, config.surrogate, derive_seed(seed, "surrogate")).model


def run_profile_gan(train, target: int, item_value, config=ShillingConfig(), seed: int = 0):
    """Trains a :class:`~advrec.attacks.shilling.ProfileGAN` on the attacker's templates
    (real profiles with ``filler_size`` items besides the target); returns the GAN, whose
    ``history`` has the losses of every epoch."""
    import keras

    from advrec.attacks.shilling import ProfileGAN, gan_templates
    from advrec.data.sampling import Examples
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    check_config(config)
    templates = gan_templates(train, target, config.filler_size)
    gan_seed = derive_seed(seed, "profile gan")
    gan = ProfileGAN(
        train.n_items,
        target,
        item_value,
        filler_size=config.filler_size,
        attack_weight=config.gan.attack_weight,
        reconstruction_weight=config.gan.reconstruction_weight,
        seed=gan_seed,
    )
    gan.compile(
        keras.optimizers.Adam(config.gan.learning_rate),
        keras.optimizers.Adam(config.gan.learning_rate),
    )
    fit_model(gan, Examples((templates,), config.gan.batch_size, gan_seed), config.gan.epochs)
    return gan


def make_profiles(
    kind: str,
    train,
    target: int,
    n_fake: int,
    config: ShillingConfig = ShillingConfig(),
    item_value: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """bool ``[n_fake, n_items]`` push profiles of any attack in
    :data:`advrec.attacks.shilling.ALL_ATTACKS`.

    ``item_value`` (:func:`advrec.attacks.shilling.surrogate_value` of the attacker's
    surrogate, :func:`fit_surrogate`) is needed by ``"surrogate"`` and ``"gan"``.
    """
    from advrec.attacks import shilling
    from advrec.checks import check_int

    n_fake = check_int(n_fake, "n_fake", low=1, hint="the number of fake users")
    if kind in shilling.CLASSIC_ATTACKS:
        return shilling.classic_profiles(train, target, kind, n_fake, config.filler_size, seed=seed)
    if kind not in shilling.ALL_ATTACKS:
        raise ValueError(f"unknown attack {kind!r}; choose one of {shilling.ALL_ATTACKS}.")
    if item_value is None:
        raise ValueError(f"the {kind} attack needs item_value; compute it with surrogate_value.")
    if kind == "surrogate":
        return shilling.surrogate_profiles(
            item_value, target, n_fake, config.filler_size, seed=seed
        )
    gan = run_profile_gan(train, target, item_value, config, seed)
    templates = shilling.gan_templates(train, target, config.filler_size)
    rng = np.random.default_rng(seed)
    chosen = templates[rng.choice(len(templates), n_fake, replace=n_fake > len(templates))]
    return gan.fake_profiles(chosen)
