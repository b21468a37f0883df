"""The plain rankers and the baselines every comparison stands next to: ItemPop, EASE^R, BPR-MF.

- :func:`run_itempop`, :func:`run_ease`, :func:`run_bprmf` -- one model on a
  :class:`~advrec.data.splits.Split` (BPR-MF early-stopped on validation NDCG@10).
- :func:`tune_baselines` -- EASE^R's ridge weight and BPR-MF's l2 chosen on one split's
  validation (grids that grow past a winning edge), then :func:`run_baselines` on every split.
- :func:`refit_on_train_and_valid` -- for comparisons with a paper's numbers: the chosen setting
  (and number of epochs) trained again on training plus validation pairs.
- :func:`optimizer` -- the optimizers recipes name (``"adam"``, ``"adagrad"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from advrec.recipes.base import Run, Tuned, check_config, setting, tune, with_settings

__all__ = [
    "BPRMFConfig",
    "BaselinesConfig",
    "EASEConfig",
    "OPTIMIZERS",
    "evaluate_run",
    "fit_bprmf",
    "load_ranking_split",
    "optimizer",
    "refit_on_train_and_valid",
    "TunedBaselinesConfig",
    "run_baselines",
    "run_tuned_baselines",
    "ranker_run",
    "run_bprmf",
    "run_bprmf_fixed",
    "run_ease",
    "run_itempop",
    "train_and_valid",
    "tune_baselines",
]

OPTIMIZERS = ("adam", "adagrad")
REFITS = ("train+valid", "none")
REPORTED_KS = (5, 10, 20)
"""Cut-offs every ranking run reports (validation and test)."""


@dataclass(frozen=True)
class EASEConfig:
    """EASE^R (Steck, WWW 2019): one closed-form fit."""

    l2: float = setting(
        300.0,
        "ridge weight λ of the item-item regression",
        "our validation: ML-100K 80/10/10, valid NDCG@10 0.2706/0.2535 (seeds 0/1) at 300, "
        "0.2689/0.2543 at 500, 0.2657/0.2488 at 1000",
        positive=True,
    )


@dataclass(frozen=True)
class BPRMFConfig:
    """BPR-MF (Rendle et al., UAI 2009), trained by :func:`advrec.training.fit_ranker`."""

    dim: int = setting(64, "factor size", "library", minimum=1)
    l2: float = setting(
        1e-2,
        "weight of the squared norm of the rows a batch touches",
        "our validation: ML-100K valid NDCG@10 0.240/0.233 (seeds 0/1) at 1e-2, an interior "
        "optimum of 1e-4..1e-1 (advrec.models.mf.DEFAULT_L2)",
        minimum=0.0,
    )
    optimizer: str = setting("adam", "optimizer: adam or adagrad", "library")
    learning_rate: float = setting(0.01, "step size", "library: Adam 0.01", positive=True)
    batch_size: int = setting(8192, "training pairs per step", "library", minimum=1)
    epochs: int = setting(100, "most epochs", "library", minimum=1)
    eval_every: int = setting(1, "epochs between validations", "library", minimum=1)
    patience: int | None = setting(
        5, "validations without gain before stopping (None: never)", "library"
    )
    init_std: float = setting(0.1, "standard deviation of the initial factors", "library", 0.0)


@dataclass(frozen=True)
class BaselinesConfig:
    """The simple baselines, each tuned on validation as carefully as the method they face."""

    bpr: BPRMFConfig = field(default_factory=BPRMFConfig)
    ease_grid: tuple[float, ...] = setting(
        (100.0, 300.0, 1000.0), "EASE^R ridge weights tried", "our choice: around 300"
    )
    bpr_l2_grid: tuple[float, ...] = setting(
        (3e-3, 1e-2, 3e-2), "BPR-MF l2 weights tried", "our choice: around 1e-2"
    )
    monitor: str = setting("ndcg@10", "validation metric that chooses", "library")
    max_extensions: int = setting(3, "times a grid grows past a winning edge", "library", 0)


EDGES = ("refuse", "allow")


@dataclass(frozen=True)
class TunedBaselinesConfig:
    """ItemPop, EASE^R and BPR-MF tuned on one split's validation, then refit on training plus
    validation: the baselines a comparison on a paper's protocol stands next to."""

    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    ks: tuple[int, ...] = setting((3, 5, 10, 20), "cut-offs reported", "our choice")
    refit: str = setting(
        "train+valid",
        "after choosing on validation, train again on train + valid (BPR-MF for its chosen "
        "epochs) and test that model ('none': test the validation-selected one)",
        "our choice: as the methods they face",
    )
    edge: str = setting(
        "refuse", "a choice at a grid's edge: refuse or allow (only for a short prefix)", "library"
    )


def run_tuned_baselines(split, config: TunedBaselinesConfig = TunedBaselinesConfig(), seed=0):
    """Tunes EASE^R's and BPR-MF's ``l2`` on ``split``'s validation (grids that grow past a
    winning edge), refits them and ItemPop on train + valid, and tests.

    Returns a :class:`Run` whose ``facts[name]`` has, per baseline, the chosen ``l2`` (and
    ``epochs`` for BPR-MF), every grid value's validation score (``grid``), the chosen model's
    ``valid`` and ``test`` and the refit's ``refit_test`` (and ``refit_test_untied`` on a
    leave-last-out split: the users whose targets are ordered by time); ``history`` has every
    BPR-MF grid run's validation curve (phases ``"BPR-MF l2=..."``). ``test`` is EASE^R's
    refit test.
    """
    check_config(config)
    if config.refit not in REFITS or config.edge not in EDGES:
        raise ValueError(
            f"refit must be one of {REFITS} and edge one of {EDGES}; got {config.refit!r}, "
            f"{config.edge!r}."
        )
    start = time.perf_counter()
    options = {
        "monitor": config.baselines.monitor,
        "max_extensions": config.baselines.max_extensions,
        "allow_edge": config.edge == "allow",
    }
    base = config.baselines
    tuned = {
        "EASE^R": tune(run_ease, split, EASEConfig(), "l2", base.ease_grid, seed, **options),
        "BPR-MF": tune(run_bprmf, split, base.bpr, "l2", base.bpr_l2_grid, seed, **options),
    }
    untied = _untied_test(split)
    run = Run(None, {}, {}, seconds=0.0)
    chosen = {"ItemPop": (run_itempop(split), None), **{n: (t.run, t) for n, t in tuned.items()}}
    for name, (fitted, choice) in chosen.items():
        valid, test = evaluate_run(fitted.model, split, config.ks)
        record = {"valid": valid, "test": test}
        if choice is not None:
            record["l2"] = choice.value
            record["grid"] = {
                f"{v:g}": float(score)
                for v, score in zip(choice.selection.grid, choice.selection.scores, strict=True)
            }
        epochs = fitted.best_epoch.get("train")
        if epochs:
            record["epochs"] = int(epochs)
        model = fitted.model
        if config.refit == "train+valid":
            setting_ = None if choice is None else choice.config
            model = refit_on_train_and_valid(name, split, setting_, seed, epochs).model
            record["refit_test"] = evaluate_run(model, train_and_valid(split), config.ks)[1]
        if untied is not None:
            from advrec.metrics import evaluate_ranking

            record["refit_test_untied"] = evaluate_ranking(
                model.score_all, untied, exclude=[split.train, split.valid], ks=config.ks
            )
        run.facts[name] = record
    for value, grid_run in tuned["BPR-MF"].runs.items():
        run.history[f"BPR-MF l2={value:g}"] = grid_run.history["train"]
        run.best_epoch[f"BPR-MF l2={value:g}"] = grid_run.best_epoch["train"]
    ease = run.facts["EASE^R"]
    run.model, run.valid = tuned["EASE^R"].run.model, ease["valid"]
    run.test = ease.get("refit_test", ease["test"])
    run.seconds = time.perf_counter() - start
    return run


def _untied_test(split):
    """On a leave-last-out split, its test pairs of the users whose targets are ordered by
    time (:func:`advrec.data.sequences.untied_users`); otherwise ``None``."""
    import numpy as np

    if split.protocol != "leave_one_out":
        return None
    from advrec.data.sequences import untied_users

    everything = split.train.concat(split.valid).concat(split.test)
    return split.test.select(np.isin(split.test.user, untied_users(everything)))


def optimizer(name: str, learning_rate: float, batch_size: int):
    """A fresh Keras optimizer: ``"adam"`` or ``"adagrad"`` (with the tiny initial accumulator
    ``0.1 / batch_size**2`` that a mean loss needs: Keras' 0.1 would dwarf the squared gradients
    and freeze training, ``benchmarks/README.md``)."""
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adagrad":
        return keras.optimizers.Adagrad(
            learning_rate, initial_accumulator_value=0.1 / batch_size**2
        )
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")


def evaluate_run(model, split, ks=REPORTED_KS) -> tuple[dict, dict]:
    """``(valid, test)`` full-ranking metrics of ``model`` on ``split``
    (:func:`advrec.protocol.evaluate_split`); a part the split does not have is ``{}``."""
    from advrec.protocol import evaluate_split

    valid = evaluate_split(model, split, "valid", ks=ks) if len(split.valid) else {}
    test = evaluate_split(model, split, "test", ks=ks) if len(split.test) else {}
    return valid, test


def _closed_form(model, split, start: float, **facts) -> Run:
    valid, test = evaluate_run(model, split)
    return Run(model, valid, test, seconds=time.perf_counter() - start, facts=facts)


def run_itempop(split, config: Any = None, seed: int = 0) -> Run:
    """ItemPop: items by training popularity (no settings, no randomness)."""
    from advrec.models import ItemPop

    start = time.perf_counter()
    return _closed_form(ItemPop(split.train), split, start)


def run_ease(split, config: EASEConfig = EASEConfig(), seed: int = 0) -> Run:
    """EASE^R fitted in closed form on ``split.train`` (deterministic: ``seed`` is unused)."""
    from advrec.models import EASE

    check_config(config)
    start = time.perf_counter()
    return _closed_form(EASE(split.train, float(config.l2)), split, start)


def run_bprmf(
    split,
    config: BPRMFConfig = BPRMFConfig(),
    seed: int = 0,
    verbose: int | str = 0,
    backup_dir=None,
    callbacks=(),
) -> Run:
    """BPR-MF on ``split.train``, early-stopped on validation NDCG@10 (best weights kept).

    ``seed`` fixes the initialisation, the order of the pairs and the negatives.
    """
    from advrec.experiment import set_seed
    from advrec.models import BPRMF

    check_config(config)
    start = time.perf_counter()
    set_seed(seed)
    model = BPRMF(split.train, dim=config.dim, l2=config.l2, init_std=config.init_std, seed=seed)
    validation = fit_bprmf(model, split, config, seed, verbose, backup_dir, callbacks)
    return ranker_run(model, split, {"train": (validation, model.history)}, start)


def fit_bprmf(model, split, config, seed, verbose=0, backup_dir=None, callbacks=()):
    """Trains a pairwise ranker with the schedule of a :class:`BPRMFConfig` (or any config with
    its ``optimizer``, ``learning_rate``, ``batch_size``, ``epochs``, ``eval_every`` and
    ``patience``); returns the validation callback."""
    from advrec.training import fit_ranker

    return fit_ranker(
        model,
        split,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=optimizer(config.optimizer, config.learning_rate, config.batch_size),
        eval_every=config.eval_every,
        patience=config.patience,
        seed=seed,
        verbose=verbose,
        callbacks=callbacks,
        backup_dir=backup_dir,
    )


def ranker_run(model, split, phases: dict, start: float, **facts) -> Run:
    """The :class:`Run` of ``model`` trained in ``phases``: ``{name: (validation callback,
    Keras History)}`` in training order (e.g. pre-training, then an adversarial phase)."""
    valid, test = evaluate_run(model, split)
    return Run(
        model,
        valid,
        test,
        history={name: dict(v.history) for name, (v, _) in phases.items()},
        best_epoch={name: int(v.best_epoch) for name, (v, _) in phases.items()},
        losses={name: dict(h.history) for name, (_, h) in phases.items()},
        seconds=time.perf_counter() - start,
        facts=facts,
    )


def tune_baselines(split, config: BaselinesConfig = BaselinesConfig(), seed: int = 0):
    """EASE^R's ``l2`` and BPR-MF's ``l2`` chosen on ``split``'s validation.

    Returns ``{"EASE^R": Tuned, "BPR-MF": Tuned}`` (:class:`~advrec.recipes.base.Tuned`: the
    chosen config, its run on this split, every value tried).
    """
    check_config(config)
    options = {"monitor": config.monitor, "max_extensions": config.max_extensions}
    return {
        "EASE^R": tune(run_ease, split, EASEConfig(), "l2", config.ease_grid, seed, **options),
        "BPR-MF": tune(run_bprmf, split, config.bpr, "l2", config.bpr_l2_grid, seed, **options),
    }


def run_baselines(split, tuned: dict[str, Tuned], seed: int = 0) -> dict[str, Run]:
    """ItemPop, and EASE^R and BPR-MF with the settings :func:`tune_baselines` chose, on
    ``split`` and ``seed``: ``{name: Run}``."""
    return {
        "ItemPop": run_itempop(split),
        "EASE^R": run_ease(split, tuned["EASE^R"].config, seed),
        "BPR-MF": run_bprmf(split, tuned["BPR-MF"].config, seed),
    }


def refit_on_train_and_valid(name: str, split, config, seed: int = 0, epochs: int | None = None):
    """A baseline trained again on training plus validation pairs, for comparing with a paper
    that trains on both (after every setting was chosen on validation).

    ``name`` is ``"ItemPop"``, ``"EASE^R"`` or ``"BPR-MF"``; BPR-MF then trains for exactly
    ``epochs`` (e.g. the best epoch validation chose), with no early stopping. Test excludes
    training and validation pairs as before. Returns a :class:`Run` with empty ``valid``.
    """
    merged = train_and_valid(split)
    if name == "ItemPop":
        return run_itempop(merged)
    if name == "EASE^R":
        return run_ease(merged, config, seed)
    if name != "BPR-MF":
        raise ValueError(f"name must be ItemPop, EASE^R or BPR-MF, got {name!r}.")
    if epochs is None:
        raise ValueError("give BPR-MF's number of epochs (e.g. the best validation epoch).")
    return run_bprmf_fixed(merged, with_settings(config, epochs=int(epochs)), seed)


def train_and_valid(split):
    """``split`` with its validation pairs moved into training (validation left empty): what a
    refit trains on once every setting was chosen on validation. Test is unchanged."""
    import numpy as np

    from advrec.data.splits import Split

    nothing = split.valid.select(np.zeros(len(split.valid), bool))
    return Split(
        split.train.concat(split.valid), nothing, split.test, f"{split.protocol}+valid", split.seed
    )


def run_bprmf_fixed(split, config: BPRMFConfig, seed: int = 0) -> Run:
    """BPR-MF for exactly ``config.epochs`` epochs with no validation (the last weights kept):
    for a refit, a victim retrained many times, or an attacker's surrogate."""
    from advrec.data.sampling import pair_examples
    from advrec.experiment import set_seed
    from advrec.models import BPRMF
    from advrec.training import fit_model

    check_config(config)
    start = time.perf_counter()
    set_seed(seed)
    model = BPRMF(split.train, dim=config.dim, l2=config.l2, init_std=config.init_std, seed=seed)
    examples = pair_examples(split.train, config.batch_size, seed=seed)
    model.compile(
        optimizer=optimizer(config.optimizer, config.learning_rate, config.batch_size),
        steps_per_execution=examples.batches_per_epoch,
    )
    fit_model(model, examples, config.epochs)
    valid, test = evaluate_run(model, split)
    return Run(
        model,
        valid,
        test,
        losses={"train": dict(model.history.history)},
        seconds=time.perf_counter() - start,
    )


def load_ranking_split(
    dataset: str, data_dir: str | None, seed: int, protocol: str = "holdout", config=None
):
    """The split a ranking recipe trains on: the book's 80/10/10 holdout, GroupLens' ``u1``
    (ratings >= 4, IRGAN's; ML-100K only), CFGAN's 80/20 with validation cut from training, or
    leave-last-out by time (SASRec's).
    (``config`` is unused: the splits do not depend on a ranker's settings.)"""
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.paper_splits import cfgan_split, u1_split
    from advrec.protocol import load_split

    if protocol == "holdout":
        return load_split(dataset, data_dir, seed)
    if protocol == "leave-last-out":
        from advrec.recipes.sequences import load_sequences

        return load_sequences(dataset, data_dir, seed).split
    if protocol not in ("u1", "cfgan"):
        raise ValueError(
            f"protocol must be holdout, u1, cfgan or leave-last-out, got {protocol!r}."
        )
    if protocol == "u1" and dataset != "ml-100k":
        raise ValueError("protocol u1 is GroupLens' ML-100K split; use dataset ml-100k.")
    if dataset == "synthetic":
        interactions = synthetic_movielens(seed=seed).interactions
    else:
        interactions = load_movielens(dataset, data_dir).interactions
    return (u1_split if protocol == "u1" else cfgan_split)(interactions, seed=seed)
