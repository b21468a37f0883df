"""Shilling attacks and the models they poison, as procedures: the attacker's surrogates, the
profile GAN's training, the fake profiles of every attack, the victims retrained on poisoned data
for a fixed number of epochs (chosen once on clean validation: a platform retraining its model
does not re-tune it for every batch of new accounts), and the chapter's two experiments.

- :func:`make_profiles` -- the fake profiles of any attack (:data:`ALL_ATTACKS`).
- :func:`tune_victims` -- EASE^R's ridge weight and BPR-MF's l2 and epochs on clean validation.
- :func:`run_attack_experiment` -- every attack on every victim, for an unpopular and a
  mid-popular target at several sizes, with a positive control (the ``shilling-attacks``
  recipe and stored run).
- :func:`run_defence_experiment` -- detection (one- and two-sided, anomaly) and the defences
  (screening and retraining; APR against plain BPR-MF trained as long) on the tuned victim
  (the ``shilling-defences`` recipe and stored run).

The attacks themselves (profile models, exposure of the target, the GAN's step, the optimised
attack) are in :mod:`advrec.attacks.shilling`; detection in
:mod:`advrec.attacks.shilling_detection`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig, EASEConfig, run_bprmf_fixed

__all__ = [
    "AttackExperimentConfig",
    "DefenceExperimentConfig",
    "OptimisedAttackConfig",
    "ProfileGANConfig",
    "ShillingConfig",
    "fit_surrogate",
    "make_profiles",
    "run_attack_experiment",
    "run_defence_experiment",
    "run_profile_gan",
    "run_victim",
    "tune_victims",
]

ALL_ATTACKS = ("random", "average", "bandwagon", "segment", "surrogate", "gan")
"""Every attack by name (as :data:`advrec.attacks.shilling.ALL_ATTACKS`; kept here so that a
config needs no TensorFlow)."""


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
class OptimisedAttackConfig:
    """The optimised attack (:func:`advrec.attacks.shilling.optimised_profiles`): projected
    gradient steps on the fake profiles through an item-item ridge surrogate."""

    l2: float = setting(
        300.0, "ridge weight of the attacker's EASE^R surrogate", "our choice: EASE^R's default", 0
    )
    steps: int = setting(16, "projected gradient steps", "our choice: the objective flattens", 0)
    step_size: float = setting(
        0.1, "step on the running item scores (gradient scaled to mean |g| = 1)", "our choice",
        positive=True,
    )  # fmt: skip
    k: int = setting(10, "the top-k the surrogate objective rewards", "our choice: HR@10", 1)


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
    optimised: OptimisedAttackConfig = field(default_factory=OptimisedAttackConfig)


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


def compiled_profile_gan(
    n_items: int, target: int, item_value, config=ShillingConfig(), seed: int = 0, **compile_options
):
    """The :class:`~advrec.attacks.shilling.ProfileGAN` :func:`run_profile_gan` trains, with
    Adam for both players (``compile_options`` go to ``compile``)."""
    import keras

    from advrec.attacks.shilling import ProfileGAN

    gan = ProfileGAN(
        n_items,
        target,
        item_value,
        filler_size=config.filler_size,
        attack_weight=config.gan.attack_weight,
        reconstruction_weight=config.gan.reconstruction_weight,
        seed=seed,
    )
    gan.compile(
        keras.optimizers.Adam(config.gan.learning_rate),
        keras.optimizers.Adam(config.gan.learning_rate),
        **compile_options,
    )
    return gan


def run_profile_gan(train, target: int, item_value, config=ShillingConfig(), seed: int = 0):
    """Trains a :class:`~advrec.attacks.shilling.ProfileGAN` on the attacker's templates
    (real profiles with ``filler_size`` items besides the target); returns the GAN, whose
    ``history`` has the losses of every epoch."""
    from advrec.attacks.shilling import gan_templates
    from advrec.data.sampling import Examples
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    check_config(config)
    templates = gan_templates(train, target, config.filler_size)
    gan_seed = derive_seed(seed, "profile gan")
    gan = compiled_profile_gan(train.n_items, target, item_value, config, gan_seed)
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

    ``"surrogate"`` is the optimised attack (:func:`advrec.attacks.shilling.optimised_profiles`
    with ``config.optimised``); ``"gan"`` needs ``item_value``
    (:func:`advrec.attacks.shilling.surrogate_value` of the attacker's BPR-MF surrogate,
    :func:`fit_surrogate`).
    """
    return make_profiles_with_history(kind, train, target, n_fake, config, item_value, seed)[0]


def make_profiles_with_history(
    kind: str,
    train,
    target: int,
    n_fake: int,
    config: ShillingConfig = ShillingConfig(),
    item_value: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """:func:`make_profiles` and what its making recorded: the optimised attack's objective per
    step (``{"epoch", "objective", "hit_rate"}``) or the GAN's losses per epoch (``{}`` for the
    classic attacks)."""
    from advrec.attacks import shilling
    from advrec.checks import check_int

    check_config(config)
    n_fake = check_int(n_fake, "n_fake", low=1, hint="the number of fake users")
    if kind in shilling.CLASSIC_ATTACKS:
        profiles = shilling.classic_profiles(
            train, target, kind, n_fake, config.filler_size, seed=seed
        )
        return profiles, {}
    if kind not in shilling.ALL_ATTACKS:
        raise ValueError(f"unknown attack {kind!r}; choose one of {shilling.ALL_ATTACKS}.")
    if kind == "surrogate":
        o = config.optimised
        return shilling.optimised_profiles(
            train, target, n_fake, config.filler_size, o.l2, o.steps, o.step_size, o.k, seed
        )
    if item_value is None:
        raise ValueError(f"the {kind} attack needs item_value; compute it with surrogate_value.")
    gan = run_profile_gan(train, target, item_value, config, seed)
    templates = shilling.gan_templates(train, target, config.filler_size)
    rng = np.random.default_rng(seed)
    chosen = templates[rng.choice(len(templates), n_fake, replace=n_fake > len(templates))]
    return gan.fake_profiles(chosen), dict(gan.history.history)


# -- the chapter's experiments ---------------------------------------------------------------


def tune_victims(split, victim: BPRMFConfig, bpr_l2_grid, ease_l2_grid=(), seed=0, extensions=2):
    """EASE^R's ridge weight (if ``ease_l2_grid``) and BPR-MF's l2 chosen on the clean validation
    split, and BPR-MF's number of epochs (its early-stopped best). Grids grow past a winning
    edge ``extensions`` times. Returns ``(configs, history, facts)``: the victims' configs
    (``"EASE^R"``: :class:`EASEConfig`; ``"BPR-MF"``: a fixed-length :class:`BPRMFConfig`), the
    validation history of BPR-MF at every l2 tried (phase ``"BPR-MF l2=<value>"``) and the
    choices with their validation scores."""
    from advrec.recipes.base import tune, with_settings
    from advrec.recipes.ranking import run_bprmf, run_ease

    def choose(run, base, grid):
        grid = tuple(sorted(float(v) for v in grid))
        grow = extensions if len(grid) > 1 else 0
        return tune(run, split, base, "l2", grid, seed, max_extensions=grow, allow_edge=True)

    tuned = {"BPR-MF": choose(run_bprmf, victim, bpr_l2_grid)}
    if ease_l2_grid:
        tuned["EASE^R"] = choose(run_ease, EASEConfig(), ease_l2_grid)
    bpr = tuned["BPR-MF"]
    epochs = bpr.run.best_epoch["train"]
    configs = {name: t.config for name, t in tuned.items()}
    configs["BPR-MF"] = with_settings(bpr.config, epochs=epochs, patience=None)
    history = {f"BPR-MF l2={value:g}": r.history["train"] for value, r in bpr.runs.items()}
    facts = {
        name: {
            "l2": t.value,
            "valid_ndcg@10": t.run.valid["ndcg@10"],
            "at_edge": bool(t.selection.at_edge and len(t.selection.grid) > 1),
            "scores": {
                f"{v:g}": float(x)
                for v, x in zip(t.selection.grid, t.selection.scores, strict=True)
            },
        }
        for name, t in tuned.items()
    }
    facts["BPR-MF"] |= {"epochs": epochs, "last_epoch": bpr.run.history["train"]["epoch"][-1]}
    return configs, history, facts


def _measure(model, split, target: int, n_real: int) -> dict[str, float]:
    """Target exposure among the real users (:func:`target_exposure`) and the real users' test
    NDCG@10."""
    from advrec.attacks.shilling import target_exposure
    from advrec.protocol import evaluate_split

    out = target_exposure(model.score_all, split, target, n_real)
    out["ndcg@10"] = evaluate_split(model, split, "test", ks=(10,))["ndcg@10"]
    return out


def _victim_model(name: str, split, configs: dict, seed: int):
    from advrec.models import EASE, ItemPop

    if name == "ItemPop":
        return ItemPop(split.train)
    if name == "EASE^R":
        return EASE(split.train, float(configs["EASE^R"].l2))
    return run_bprmf_fixed(split, configs["BPR-MF"], seed).model


VICTIMS = ("ItemPop", "EASE^R", "BPR-MF")


@dataclass(frozen=True)
class AttackExperimentConfig:
    """Every attack on every victim, for an unpopular and a mid-popular target, at several
    sizes; the victims tuned on clean validation, then retrained on each poisoned training set
    for the same number of epochs."""

    victim: BPRMFConfig = field(default_factory=BPRMFConfig)
    bpr_l2_grid: tuple[float, ...] = setting(
        (1e-2, 3e-3, 3e-2), "BPR-MF's l2 weights (clean validation)", "our choice: around 1e-2"
    )
    ease_l2_grid: tuple[float, ...] = setting(
        (300.0, 100.0, 1000.0), "EASE^R's ridge weights (clean validation)", "our choice"
    )
    attacker: ShillingConfig = field(default_factory=ShillingConfig)
    attacks: tuple[str, ...] = setting(ALL_ATTACKS, "the attacks run", "library")
    sizes: tuple[float, ...] = setting(
        (0.01, 0.03, 0.05), "attack sizes (fake users per real user)", "our choice: 1 to 5 per cent"
    )
    control_size: float = setting(
        1.0,
        "positive control: clones of this share of the real users, each with the target",
        "our choice: one clone per real user",
        positive=True,
    )
    max_extensions: int = setting(2, "times a grid grows past a winning edge", "library", 0)


def run_attack_experiment(split, config=AttackExperimentConfig(), seed: int = 0) -> Run:
    """One seed of the attack experiment (see :class:`AttackExperimentConfig`).

    Targets: one unpopular and one mid-popular item drawn with ``seed``
    (:func:`advrec.attacks.shilling.choose_targets`). Profiles of each attack are drawn once for
    the largest size; a smaller attack is the first rows of a larger one. Every victim is
    retrained on every poisoned training set and measured by :func:`_measure` (target HR@10,
    HR@50, mean rank among the real users who never had it; the real users' test NDCG@10).

    Returns the clean BPR-MF's run; ``history``: BPR-MF's validation at every l2 tried and the
    optimised attack's objective per step (``"surrogate <band>"``); ``facts["exposure"][band]
    [victim][attack][size]`` (attack ``"none"``, size ``"0"``: the clean model; attack
    ``"clone"``: the positive control), ``facts["targets"]``, ``facts["victims"]``.
    """
    from advrec.attacks import shilling
    from advrec.data.fake_users import inject_users

    check_config(config)
    unknown = sorted(set(config.attacks) - set(ALL_ATTACKS))
    if unknown:
        raise ValueError(f"unknown attacks {unknown}; choose among {ALL_ATTACKS}.")
    start = time.perf_counter()
    configs, history, victims = tune_victims(
        split, config.victim, config.bpr_l2_grid, config.ease_l2_grid, seed, config.max_extensions
    )
    n_real = split.n_users
    targets = shilling.choose_targets(split.train, 1, 1, seed=seed)
    bands = {"unpopular": int(targets[0]), "mid": int(targets[1])}
    clean = {name: _victim_model(name, split, configs, seed) for name in VICTIMS}
    n_max = shilling.n_fake_users(n_real, max(config.sizes))
    item_value = None
    if "gan" in config.attacks:
        surrogate = fit_surrogate(split.train, config.attacker, seed)
    exposure: dict = {}
    losses: dict = {}
    for band, target in bands.items():
        table = exposure[band] = {v: {"none": {"0": _measure(clean[v], split, target, n_real)}}
                                  for v in VICTIMS}  # fmt: skip
        if "gan" in config.attacks:
            item_value = shilling.surrogate_value(surrogate, split.train, target)
        for attack in config.attacks:
            profiles, record = make_profiles_with_history(
                attack, split.train, target, n_max, config.attacker, item_value, seed
            )
            if attack == "surrogate":
                history[f"surrogate {band}"] = record
            elif record:
                losses[f"{attack} {band}"] = record
            for size in config.sizes:
                poisoned = inject_users(split, profiles[: shilling.n_fake_users(n_real, size)])
                for victim in VICTIMS:
                    model = _victim_model(victim, poisoned, configs, seed)
                    cell = _measure(model, poisoned, target, n_real)
                    table[victim].setdefault(attack, {})[f"{size:g}"] = cell
        clones = shilling.clone_profiles(
            split.train, target, shilling.n_fake_users(n_real, config.control_size)
        )
        poisoned = inject_users(split, clones)
        for victim in VICTIMS:
            model = _victim_model(victim, poisoned, configs, seed)
            cell = _measure(model, poisoned, target, n_real)
            table[victim]["clone"] = {f"{config.control_size:g}": cell}
    bpr = run_bprmf_fixed(split, configs["BPR-MF"], seed)
    return Run(
        bpr.model,
        bpr.valid,
        bpr.test,
        history=history,
        losses=losses,
        seconds=time.perf_counter() - start,
        facts={
            "targets": bands,
            "target_counts": {b: int(split.train.item_counts()[t]) for b, t in bands.items()},
            "n_fake": {f"{z:g}": shilling.n_fake_users(n_real, z) for z in config.sizes},
            "victims": victims,
            "exposure": exposure,
        },
    )


@dataclass(frozen=True)
class DefenceExperimentConfig:
    """Detection and defences against every attack on one target at one size, on the tuned
    BPR-MF: screening the training data (one- and two-sided) and retraining, and APR's
    adversarial training against plain BPR-MF trained as long (the same phase with epsilon 0)."""

    victim: BPRMFConfig = field(default_factory=BPRMFConfig)
    bpr_l2_grid: tuple[float, ...] = setting(
        (1e-2, 3e-3, 3e-2), "BPR-MF's l2 weights (clean validation)", "our choice: around 1e-2"
    )
    apr_epsilon_grid: tuple[float, ...] = setting(
        (0.5, 0.1, 1.0),
        "APR's perturbation norms (clean validation)",
        "our choice: around the paper's 0.5",
    )
    apr_learning_rate: float = setting(
        1e-3,
        "Adam step of APR's phase (and of its control)",
        "our choice: the APR recipe's, a tenth of pre-training's",
        positive=True,
    )
    apr_epochs: int = setting(
        100, "most epochs of APR's phase on clean validation (early-stopped)", "library", 1
    )
    attacker: ShillingConfig = field(default_factory=ShillingConfig)
    attacks: tuple[str, ...] = setting(ALL_ATTACKS, "the attacks run", "library")
    size: float = setting(0.03, "fake users per real user", "our choice", positive=True)
    band: str = setting("mid", "the target: unpopular or mid", "our choice")
    max_false_positive_rate: float = setting(
        0.02, "share of held-out genuine users a screen may flag", "our choice", 0.0
    )
    detector_filler_sizes: tuple[int, ...] = setting(
        (30, 50, 100), "filler sizes of the defender's simulated attacks", "our choice"
    )
    max_extensions: int = setting(2, "times a grid grows past a winning edge", "library", 0)


DEFENCES = ("BPR-MF", "screen", "two-sided screen", "APR", "BPR-MF, trained as long")
"""What the defence experiment trains on each (clean or poisoned) training set."""


def run_defence_experiment(split, config=DefenceExperimentConfig(), seed: int = 0) -> Run:
    """One seed of the defence experiment (see :class:`DefenceExperimentConfig`).

    The victim BPR-MF is tuned on clean validation (:func:`tune_victims`); APR's epsilon and the
    length of its phase are chosen on clean validation, from the clean victim. On the clean data
    and on each attack's poisoned data: the victim retrained; a detector trained on the
    defender's own simulations of the classic attacks
    (:func:`~advrec.attacks.shilling_detection.fit_detector`) screens the training users
    one-sided and two-sided, and the victim is retrained without the flagged users; APR's phase
    runs from the (poisoned) victim for the chosen number of epochs, and so does its control,
    the same phase with epsilon 0 (plain BPR-MF trained as long).

    Returns the clean victim's run; ``facts["cells"][setting][defence]`` (setting ``"none"``
    or an attack; defence in :data:`DEFENCES`) the target's exposure and the real users' test
    NDCG@10, ``facts["detection"][attack]`` (:func:`detection_report`, with the anomaly
    screen), ``facts["flagged"]``, ``facts["apr"]``, ``facts["victims"]``, ``facts["target"]``.
    """
    from advrec.attacks import shilling
    from advrec.attacks.shilling_detection import (
        detection_report,
        fit_anomaly_screen,
        fit_detector,
    )
    from advrec.data.fake_users import drop_users, inject_users
    from advrec.recipes.adversarial import APRConfig, run_adversarial_phase
    from advrec.recipes.base import with_settings
    from advrec.seeds import derive_seed

    check_config(config)
    if config.band not in ("unpopular", "mid"):
        raise ValueError(f"band must be unpopular or mid, got {config.band!r}.")
    start = time.perf_counter()
    configs, history, victims = tune_victims(
        split, config.victim, config.bpr_l2_grid, (), seed, config.max_extensions
    )
    n_real = split.n_users
    targets = shilling.choose_targets(split.train, 1, 1, seed=seed)
    target = int(targets[1] if config.band == "mid" else targets[0])
    clean = run_bprmf_fixed(split, configs["BPR-MF"], seed)
    apr_base = APRConfig(
        learning_rate=config.apr_learning_rate, epochs=config.apr_epochs, patience=5
    )
    tuned = {}
    for epsilon in sorted(config.apr_epsilon_grid):
        run = run_adversarial_phase(clean, split, with_settings(apr_base, epsilon=epsilon), seed)
        tuned[epsilon] = run
        history[f"APR epsilon={epsilon:g}"] = run.history["adversarial"]
    epsilon = max(tuned, key=lambda e: tuned[e].valid["ndcg@10"])
    length = tuned[epsilon].best_epoch["adversarial"]
    fixed = with_settings(apr_base, epsilon=epsilon, epochs=length, eval_every=length)
    fixed = with_settings(fixed, patience=None)
    rng = np.random.default_rng(derive_seed(seed, "defender's simulations"))
    eligible = np.flatnonzero(
        (split.train.item_counts() >= 5) & (np.arange(split.n_items) != target)
    )
    n_fake = shilling.n_fake_users(n_real, config.size)
    simulations = [
        shilling.classic_profiles(
            split.train, int(rng.choice(eligible)), kind, n_fake, filler,
            seed=derive_seed(seed, f"simulated {kind} {filler}"),
        )
        for kind in shilling.CLASSIC_ATTACKS
        for filler in config.detector_filler_sizes
    ]  # fmt: skip
    detector = fit_detector(
        split.train, simulations, config.max_false_positive_rate, seed=derive_seed(seed, "detector")
    )
    anomaly = fit_anomaly_screen(
        split.train, config.max_false_positive_rate, seed=derive_seed(seed, "anomaly screen")
    )
    item_value = None
    if "gan" in config.attacks:
        surrogate = fit_surrogate(split.train, config.attacker, seed)
        item_value = shilling.surrogate_value(surrogate, split.train, target)
    cells, detection, flagged = {}, {}, {}
    for attack in ("none", *config.attacks):
        if attack == "none":
            data, victim = split, clean
        else:
            profiles, record = make_profiles_with_history(
                attack, split.train, target, n_fake, config.attacker, item_value, seed
            )
            if attack == "surrogate":
                history["surrogate"] = record
            data = inject_users(split, profiles)
            victim = run_bprmf_fixed(data, configs["BPR-MF"], seed)
            is_fake = np.arange(data.n_users) >= n_real
            distances = anomaly.scores(data.train)
            scores = detector.scores(data.train)
            detection[attack] = detection_report(scores, is_fake, detector, (distances, anomaly))
        cell = cells[attack] = {"BPR-MF": _measure(victim.model, data, target, n_real)}
        flagged[attack] = {}
        for name, two_sided in (("screen", False), ("two-sided screen", True)):
            users = detector.flag(data.train, two_sided)
            flagged[attack][name] = {
                "fake": int((users >= n_real).sum()),
                "genuine": int((users < n_real).sum()),
            }
            screened = drop_users(data, users)
            model = run_bprmf_fixed(screened, configs["BPR-MF"], seed).model
            cell[name] = _measure(model, screened, target, n_real)
        for name, phase in (("APR", fixed), ("BPR-MF, trained as long", fixed)):
            phase = phase if name == "APR" else with_settings(phase, epsilon=0.0)
            model = run_adversarial_phase(victim, data, phase, seed).model
            cell[name] = _measure(model, data, target, n_real)
    return Run(
        clean.model,
        clean.valid,
        clean.test,
        history=history,
        seconds=time.perf_counter() - start,
        facts={
            "target": target,
            "target_count": int(split.train.item_counts()[target]),
            "n_fake": n_fake,
            "victims": victims,
            "apr": {
                "epsilon": epsilon,
                "epochs": length,
                "scores": {f"{e:g}": r.valid["ndcg@10"] for e, r in tuned.items()},
                "last_epoch": {
                    f"{e:g}": r.history["adversarial"]["epoch"][-1] for e, r in tuned.items()
                },
            },  # fmt: skip
            "cells": cells,
            "detection": detection,
            "flagged": flagged,
        },
    )
