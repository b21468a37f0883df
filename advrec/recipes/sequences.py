"""SASRec (Kang & McAuley, ICDM 2018) on a leave-last-out split, and its adversarially trained
variants (APR on the input embeddings; the item-mixture training of Yue et al., RecSys 2022).

:func:`run_sasrec` trains from scratch, early-stopped on validation NDCG@10 (scored from each
user's training history); :func:`run_adversarial_sasrec` continues a trained SASRec with an
adversarial term (a fresh optimizer), so the defence and its ``adversarial_weight = 0`` control
start from the same model. Validation scores from the training history, test from training plus
validation (:class:`advrec.data.sequences.SequenceSplit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from advrec.recipes.base import Run, check_config, setting, with_settings

__all__ = [
    "AdversarialSASRecConfig",
    "SASRecConfig",
    "SASRecStudyConfig",
    "load_study_sequences",
    "run_sasrec_study",
    "fit_sasrec",
    "load_sequences",
    "run_adversarial_sasrec",
    "run_sasrec",
]

SEQUENCE_KS = (10, 20)


@dataclass(frozen=True)
class SASRecConfig:
    """SASRec's architecture and schedule."""

    max_len: int = setting(50, "items of history the model reads", "paper: 50 on ML-1M's peers", 1)
    dim: int = setting(64, "embedding size d", "paper: 50, ours 64 (a multiple of the heads)", 1)
    n_blocks: int = setting(2, "self-attention blocks", "paper", 1)
    n_heads: int = setting(1, "attention heads", "paper", 1)
    dropout: float = setting(0.2, "dropout rate", "paper: 0.2 on ML-1M", 0.0)
    loss: str = setting("bce", "bce (one negative per position) or sampled_softmax", "paper")
    n_negatives: int = setting(256, "negatives per batch for sampled_softmax", "our choice", 1)
    learning_rate: float = setting(0.001, "Adam step size (beta_2 = 0.98)", "paper", positive=True)
    batch_size: int = setting(128, "training windows per step", "paper", 1)
    epochs: int = setting(200, "most epochs", "paper", 1)
    eval_every: int = setting(5, "epochs between validations", "our choice", 1)
    patience: int | None = setting(4, "validations without gain before stopping", "our choice")


@dataclass(frozen=True)
class AdversarialSASRecConfig:
    """The adversarial phase that continues a trained SASRec."""

    adversary: str = setting(
        "substitution", "apr (input embeddings) or substitution (item mixtures)", "our choice"
    )
    epsilon: float = setting(1.0, "size of the adversarial step", "our choice", 0.0)
    adversarial_weight: float = setting(1.0, "λ, weight of the adversarial loss", "paper", 0.0)
    substitution_rate: float = setting(
        0.2, "share of positions replaced by their mixture", "paper: Yue et al. 2022", 0.0
    )
    learning_rate: float = setting(
        0.001, "Adam step size (a fresh optimizer)", "our choice", positive=True
    )
    batch_size: int = setting(128, "training windows per step", "paper", 1)
    epochs: int = setting(10, "most epochs of the phase", "our choice", 1)
    eval_every: int = setting(2, "epochs between validations", "our choice", 1)
    patience: int | None = setting(2, "validations without gain before stopping", "our choice")


def sasrec_architecture(config: SASRecConfig) -> dict:
    names = ("dim", "n_blocks", "n_heads", "dropout", "loss", "n_negatives")
    return {name: getattr(config, name) for name in names}


def fit_sasrec(model, sequences, schedule, seed: int = 0, verbose=0, backup_dir=None, callbacks=()):
    """Trains a SASRec on ``sequences``' training windows with the schedule of ``schedule`` (a
    :class:`SASRecConfig` or :class:`AdversarialSASRecConfig`: learning rate, batch size, epochs,
    validation every ``eval_every`` epochs, ``patience``), through
    :func:`advrec.training.fit_ranker`: several devices or workers, ``backup_dir`` to resume.
    An uncompiled model gets Adam with ``beta_2 = 0.98``, as in the paper; a compiled one keeps
    its optimizer. Returns the validation callback; the model ends with its best weights."""
    import keras

    from advrec.data.sequences import sequence_examples
    from advrec.training import fit_ranker

    if getattr(model, "optimizer", None) is None:
        model.compile(
            optimizer=keras.optimizers.Adam(schedule.learning_rate, beta_2=0.98),
            jit_compile="auto",
        )
    examples = sequence_examples(sequences.train, model.max_len, schedule.batch_size, seed)
    return fit_ranker(
        model,
        sequences.split,
        epochs=schedule.epochs,
        eval_every=schedule.eval_every,
        patience=schedule.patience,
        seed=seed,
        verbose=verbose,
        callbacks=callbacks,
        examples=examples,
        backup_dir=backup_dir,
    )


def _sequence_run(model, sequences, phases: dict, start: float, **facts) -> Run:
    from advrec.metrics import evaluate_ranking

    split = sequences.split
    valid = evaluate_ranking(model.score_all, split.valid, exclude=[split.train], ks=SEQUENCE_KS)
    test = evaluate_ranking(
        model.scorer(sequences.test_context),
        split.test,
        exclude=[split.train, split.valid],
        ks=SEQUENCE_KS,
    )
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


def run_sasrec(
    sequences,
    config: SASRecConfig = SASRecConfig(),
    seed: int = 0,
    compiled=None,
    verbose=0,
    backup_dir=None,
) -> Run:
    """SASRec on ``sequences`` (:class:`~advrec.data.sequences.SequenceSplit`), early-stopped on
    validation NDCG@10 (best weights kept).

    ``compiled``: a SASRec of the same architecture already trained once (e.g. on another seed);
    it is restarted from this seed's fresh weights (:func:`advrec.training.restart_from`) instead
    of building and tracing a new model -- the same run, seconds faster.
    """
    from advrec.experiment import set_seed
    from advrec.models.sasrec import SASRec
    from advrec.training import restart_from

    check_config(config)
    start = time.perf_counter()
    set_seed(seed)
    fresh = SASRec(sequences, **sasrec_architecture(config), seed=seed)
    model = fresh if compiled is None else restart_from(compiled, fresh)
    validation = fit_sasrec(model, sequences, config, seed, verbose, backup_dir)
    return _sequence_run(model, sequences, {"train": (validation, model.history)}, start)


def run_adversarial_sasrec(
    plain: Run, sequences, config: AdversarialSASRecConfig, seed: int = 0, compiled=None
) -> Run:
    """``plain``'s SASRec continued with an adversarial term (``config.adversary``), a fresh Adam,
    early-stopped on validation. ``plain.model`` is left unchanged. ``compiled``: a model of this
    adversary already trained once, to restart instead of tracing a new one."""
    from advrec.experiment import set_seed
    from advrec.models.sasrec import SASRec
    from advrec.seeds import derive_seed
    from advrec.training import restart_from

    check_config(config)
    start = time.perf_counter()
    phase_seed = derive_seed(seed, f"{config.adversary} phase")
    set_seed(phase_seed)
    base = plain.model
    architecture = {
        "dim": base.dim,
        "n_blocks": base.n_blocks,
        "n_heads": base.n_heads,
        "dropout": base.dropout_rate,
        "loss": base.loss_name,
        "n_negatives": base.n_negatives,
    }
    fresh = SASRec(
        sequences,
        **architecture,
        adversary=config.adversary,
        epsilon=config.epsilon,
        adversarial_weight=config.adversarial_weight,
        substitution_rate=config.substitution_rate,
        seed=phase_seed,
    ).initialize_from(base)
    model = fresh if compiled is None else restart_from(compiled, fresh)
    validation = fit_sasrec(model, sequences, config, phase_seed)
    run = _sequence_run(model, sequences, {"adversarial": (validation, model.history)}, start)
    run.continued_from(plain)
    run.facts["plain"] = {"valid": plain.valid, "test": plain.test}
    return run


def load_sequences(
    dataset: str,
    data_dir: str | None,
    seed: int,
    protocol: str = "leave-last-out",
    config: SASRecConfig = SASRecConfig(),
):
    """Leave-last-out of ``dataset`` with windows of ``config.max_len`` items (the split has no
    randomness; ``seed`` only seeds a synthetic data set)."""
    from advrec.data import load_movielens
    from advrec.data.sequences import leave_last_out, synthetic_sequences

    if protocol != "leave-last-out":
        raise ValueError(f"SASRec trains on the leave-last-out protocol, got {protocol!r}.")
    max_len = config.max_len
    if dataset == "synthetic":
        return leave_last_out(synthetic_sequences(seed=seed), max_len)
    return leave_last_out(load_movielens(dataset, data_dir).interactions, max_len)


CONTROLS = ("weight 0", "none")


@dataclass(frozen=True)
class SASRecStudyConfig:
    """SASRec trained until validation stops improving, its adversarially trained variants and
    their control, each attacked by the label-free substitution attack and its random control
    (:func:`advrec.attacks.substitution.label_free_attack_report`)."""

    sasrec: SASRecConfig = field(default_factory=SASRecConfig)
    adversarial: AdversarialSASRecConfig = field(default_factory=AdversarialSASRecConfig)
    defences: tuple[str, ...] = setting(
        ("apr", "substitution"), "adversaries trained from the plain model", "our choice"
    )
    control: str = setting(
        "weight 0",
        "the arm that isolates the adversarial term: the same phase with weight 0 ('none': no)",
        "our choice",
    )
    attack_budgets: tuple[int, ...] = setting(
        (1, 2, 3, 4, 5), "items substituted per history (empty: no attack)", "our choice"
    )
    attack_candidates: int = setting(
        10, "substitutes tried per position", "released code: repeated_search=10", 1
    )
    min_similarity: float = setting(
        0.5, "least cosine similarity of a substitute to the item it replaces",
        "released code: min_cos_sim=0.5", -1.0,
    )  # fmt: skip


def run_sasrec_study(sequences, config: SASRecStudyConfig = SASRecStudyConfig(), seed: int = 0):
    """Plain SASRec (:func:`run_sasrec`), then each of ``config.defences`` and the control
    continued from it (:func:`run_adversarial_sasrec`), each attacked at ``attack_budgets``.

    The run's model, ``valid`` and ``test`` are the plain SASRec's; ``history`` has the plain
    ``"train"`` phase and one phase per arm (named after it); ``facts["arms"][name]`` has each
    arm's ``valid``, ``test``, ``test_untied`` (the users whose targets are ordered by time,
    :func:`advrec.data.sequences.untied_users`) and ``attack`` report.
    """
    import time

    from advrec.attacks.substitution import label_free_attack_report
    from advrec.metrics import evaluate_ranking
    from advrec.seeds import derive_seed

    check_config(config)
    if config.control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, got {config.control!r}.")
    start = time.perf_counter()
    plain = run_sasrec(sequences, config.sasrec, seed)
    arms = {"SASRec": plain}
    variants = {name: {"adversary": name} for name in config.defences}
    if config.control == "weight 0":
        variants["control"] = {"adversary": "apr", "adversarial_weight": 0.0}
    for name, changes in variants.items():
        arms[name] = run_adversarial_sasrec(
            plain, sequences, with_settings(config.adversarial, **changes), seed
        )
    split = sequences.split
    untied = _untied(sequences)
    facts = {"arms": {}}
    run = Run(plain.model, plain.valid, plain.test, {}, {}, {}, 0.0, facts)
    for name, arm in arms.items():
        phase = "train" if name == "SASRec" else "adversarial"
        key = "train" if name == "SASRec" else name
        run.history[key] = arm.history[phase]
        run.best_epoch[key] = arm.best_epoch[phase]
        run.losses[key] = arm.losses[phase]
        scorer = arm.model.scorer(sequences.test_context)
        record = {"valid": arm.valid, "test": arm.test}
        record["test_untied"] = evaluate_ranking(
            scorer, untied, exclude=[split.train, split.valid], ks=SEQUENCE_KS
        )
        if config.attack_budgets:
            record["attack"] = label_free_attack_report(
                arm.model,
                sequences,
                config.attack_budgets,
                config.attack_candidates,
                config.min_similarity,
                seed=derive_seed(seed, f"random substitution {name}"),
            )
        facts["arms"][name] = record
    run.seconds = time.perf_counter() - start
    return run


def _untied(sequences):
    """The test pairs of the users whose targets are ordered by time, not by file order."""
    import numpy as np

    from advrec.data.sequences import untied_users

    split = sequences.split
    everything = split.train.concat(split.valid).concat(split.test)
    return split.test.select(np.isin(split.test.user, untied_users(everything)))


def load_study_sequences(
    dataset: str,
    data_dir: str | None,
    seed: int,
    protocol: str = "leave-last-out",
    config: SASRecStudyConfig = SASRecStudyConfig(),
):
    """:func:`load_sequences` with the study's SASRec window."""
    return load_sequences(dataset, data_dir, seed, protocol, config.sasrec)
