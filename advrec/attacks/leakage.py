"""What a recommender's user factors leak, measured without letting the defence see the answers.

The protocol behind the privacy chapter, per seed: the users are split by
:func:`~advrec.attacks.inference.partition_users` into *disclosed* users (the only labels the
defence trains on), a *selection* group and an *evaluation* group. Every model (the raw
interactions, plain BPR-MF, each defence) is attacked by fresh classifiers cross-validated
*within* each group: the selection group's scores choose the defence's weight
(:func:`choose_weight`), the evaluation group's are the reported leak, and the disclosed group's
show how differently the defence treats the users whose labels it trained on.

- :func:`run_leakage_experiment` -- the seed loop; one record (a flat ``dict``) per seed,
  attribute and model.
- :func:`cell` -- one cell of the experiment: ``{metric: float64 [n_seeds]}``.
- :func:`strongest_auc` -- per seed, the AUC of the attacker that does better on average.
- :func:`leak_table` -- a Markdown table of cells with readable column names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from advrec.attacks.inference import (
    ATTACKERS,
    UserPartition,
    attack_attribute,
    mean_over_folds,
    partition_users,
)
from advrec.data.splits import Split
from advrec.experiment import results_table, set_seed
from advrec.protocol import evaluate_split

ATTACKED_GROUPS: tuple[str, ...] = ("disclosed", "selection", "evaluation")

COLUMNS: dict[str, str] = {
    "valid_ndcg": "validation NDCG@10",
    "ndcg": "test NDCG@10",
    "evaluation_logistic_auc": "logistic AUC",
    "evaluation_mlp_auc": "MLP AUC",
    "selection_logistic_auc": "logistic AUC (selection)",
    "selection_mlp_auc": "MLP AUC (selection)",
    "disclosed_logistic_auc": "logistic AUC (disclosed)",
    "disclosed_mlp_auc": "MLP AUC (disclosed)",
}
"""Readable column names of :func:`leak_table` for the records' keys."""


@dataclass(frozen=True)
class Defence:
    """One defended model: hide ``attribute`` with ``objective`` at adversary weight ``weight``."""

    attribute: str
    objective: str
    weight: float


def attack_groups(
    features: np.ndarray,
    labels: np.ndarray,
    partition: UserPartition,
    attackers: Sequence[str] = ATTACKERS,
    n_folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Fresh attackers cross-validated within each group of users (:data:`ATTACKED_GROUPS`).

    ``features`` float ``[n_users, d]``, ``labels`` int ``[n_users]``. Returns
    ``{f"{group}_{attacker}_auc": mean over folds, ...}`` (and the balanced accuracies).
    """
    scores = {}
    for group in ATTACKED_GROUPS:
        users = partition.group(group)
        result = attack_attribute(features[users], labels[users], attackers, n_folds, seed)
        scores.update({f"{group}_{name}": v for name, v in mean_over_folds(result).items()})
    return scores


def run_leakage_experiment(
    splits: Mapping[int, Split],
    labels: Mapping[str, np.ndarray],
    train_plain,
    train_defence,
    defences: Sequence[Defence],
    shares: Sequence[float] = (0.5, 0.25),
    n_folds: int = 5,
    trained_plain: Mapping[int, object] | None = None,
) -> list[dict]:
    """The seed loop of the privacy experiment.

    For each ``seed, split`` of ``splits`` and each attribute of ``labels`` (int ``[n_users]``):
    partition the users with :func:`partition_users` (``shares``, ``seed``), attack the raw
    training interactions (logistic attacker only) and the user factors of plain BPR-MF and of
    each defence of that attribute, within each group (:func:`attack_groups`).

    Args:
        splits: ``{seed: split}``.
        labels: ``{attribute: int [n_users]}``, every user's true class.
        train_plain: ``train_plain(split, seed)`` returns a trained BPR-MF.
        train_defence: ``train_defence(split, disclosed_labels, defence, seed)`` returns a trained
            :class:`~advrec.models.privacy.AdversarialBPRMF`; ``disclosed_labels`` hold
            ``UNDISCLOSED`` for every user but the disclosed ones.
        defences: the defended models to train on every seed.
        trained_plain: ``{seed: model}`` already trained by ``train_plain`` on that seed's split
            (e.g. while choosing its L2 weight on validation); not trained again.

    Returns:
        One record per seed, attribute and model, with ``seed``, ``attribute``, ``model``
        (``"raw interactions"``, ``"BPR-MF"`` or the objective), ``weight``, the attack scores of
        :func:`attack_groups`, and for the trained models ``valid_ndcg`` and ``ndcg`` (NDCG@10 on
        validation and test) and, for the defences, ``inside``: the in-training adversary's
        cross-entropy on its own (disclosed) users.
    """
    unknown = sorted({d.attribute for d in defences} - set(labels))
    if unknown:
        raise ValueError(f"defences hide {unknown}, which are not among labels {sorted(labels)}.")
    trained_plain = dict(trained_plain or {})
    records = []
    for seed, split in splits.items():
        records += _leakage_seed(
            seed, split, labels, train_plain, train_defence, defences, shares, n_folds,
            trained_plain.get(seed),
        )  # fmt: skip
    return records


def _leakage_seed(
    seed, split, labels, train_plain, train_defence, defences, shares, n_folds, plain
) -> list[dict]:
    """:func:`run_leakage_experiment` on one seed (``plain``: BPR-MF already trained, or None)."""
    partitions = {a: partition_users(labels[a], shares, seed) for a in labels}

    def attack(features, attribute, attackers=ATTACKERS):
        return attack_groups(
            features, labels[attribute], partitions[attribute], attackers, n_folds, seed
        )

    def quality(model) -> dict[str, float]:
        return {
            "valid_ndcg": evaluate_split(model, split, "valid")["ndcg@10"],
            "ndcg": evaluate_split(model, split, "test")["ndcg@10"],
        }

    records = []
    raw = split.train.dense()
    for attribute in labels:
        scores = attack(raw, attribute, ("logistic",))
        records.append({"seed": seed, "attribute": attribute, "model": "raw interactions"} | scores)
    if plain is None:
        set_seed(seed)
        plain = train_plain(split, seed)
    plain_quality = quality(plain)
    for attribute in labels:
        scores = attack(plain.user_factors.numpy(), attribute)
        records.append(
            {"seed": seed, "attribute": attribute, "model": "BPR-MF", "weight": 0.0}
            | plain_quality
            | scores
        )
    for defence in defences:
        disclosed = partitions[defence.attribute].disclosed_labels(labels[defence.attribute])
        set_seed(seed)
        model = train_defence(split, disclosed, defence, seed)
        adversary_loss, _ = model.privacy_losses(np.arange(model.n_users, dtype=np.int32))
        records.append(
            {
                "seed": seed,
                "attribute": defence.attribute,
                "model": defence.objective,
                "weight": float(defence.weight),
                "inside": float(adversary_loss),
            }
            | quality(model)
            | attack(model.user_factors.numpy(), defence.attribute)
        )
    return records


def cell(records: Sequence[Mapping], **where) -> dict[str, np.ndarray]:
    """``{key: float64 [n_seeds]}`` of the records matching every ``key=value`` of ``where``,
    in increasing seed order (``seed`` included), e.g. ``cell(records, attribute="gender",
    model="BPR-MF")``. Keys missing from some matching record are left out.

    Raises:
        ValueError: no record matches, or two match on the same seed (``where`` too loose).
    """
    rows = sorted(
        (r for r in records if all(r.get(k) == v for k, v in where.items())),
        key=lambda r: r["seed"],
    )
    if not rows:
        raise ValueError(f"no record matches {where}.")
    seeds = [r["seed"] for r in rows]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{where} matches several records per seed; add a key, e.g. weight=.")
    keys = [k for k in rows[0] if k not in where and all(k in r for r in rows)]
    numeric = [k for k in keys if isinstance(rows[0][k], int | float | np.number)]
    return {k: np.asarray([r[k] for r in rows], np.float64) for k in numeric}


def strongest_auc(result: Mapping[str, np.ndarray], group: str = "evaluation") -> np.ndarray:
    """float64 ``[n_seeds]``: per seed, the ``group``'s AUC of the attacker whose mean over
    seeds is highest (so its mean is the best attacker's mean AUC)."""
    if group not in ATTACKED_GROUPS:
        raise ValueError(f"group must be one of {ATTACKED_GROUPS}, got {group!r}.")
    aucs = [result[k] for k in (f"{group}_{a}_auc" for a in ATTACKERS) if k in result]
    if not aucs:
        raise ValueError(f"no {group} AUC in this result; its keys are {sorted(result)}.")
    return max(aucs, key=np.mean)


@dataclass(frozen=True)
class WeightChoice:
    """What :func:`choose_weight` chose and why.

    Attributes:
        weight: the chosen adversary weight.
        meets_goal: whether it met both conditions on the selection users and validation.
        selection_auc: ``{weight: mean strongest AUC on the selection group}``.
        valid_ndcg: ``{weight: mean validation NDCG@10}``; ``plain_valid_ndcg`` that of BPR-MF.
    """

    weight: float
    meets_goal: bool
    selection_auc: dict[float, float]
    valid_ndcg: dict[float, float]
    plain_valid_ndcg: float


def choose_weight(
    records: Sequence[Mapping],
    attribute: str,
    weights: Sequence[float],
    target_auc: float,
    max_ndcg_drop: float,
    objective: str = "confusion",
) -> WeightChoice:
    """The weakest defence that meets the goal, judged without the evaluation users or the test.

    A weight meets the goal when the strongest attacker's mean AUC on the *selection* group is at
    most ``target_auc`` and the mean *validation* NDCG@10 is at least ``1 - max_ndcg_drop`` times
    plain BPR-MF's. The smallest such weight is chosen; if none meets it, the weight with the
    lowest selection AUC.
    """
    if not weights:
        raise ValueError("give at least one weight to choose from.")
    plain = float(cell(records, attribute=attribute, model="BPR-MF")["valid_ndcg"].mean())
    auc, ndcg = {}, {}
    for weight in sorted(weights):
        result = cell(records, attribute=attribute, model=objective, weight=float(weight))
        auc[weight] = float(strongest_auc(result, "selection").mean())
        ndcg[weight] = float(result["valid_ndcg"].mean())
    meeting = [w for w in auc if auc[w] <= target_auc and ndcg[w] >= (1 - max_ndcg_drop) * plain]
    chosen = meeting[0] if meeting else min(auc, key=auc.get)
    return WeightChoice(chosen, bool(meeting), auc, ndcg, plain)


def leak_table(
    runs: Mapping[str, Mapping[str, np.ndarray]], columns: Sequence[str], digits: int = 3
) -> str:
    """:func:`advrec.experiment.results_table` of ``runs`` (``{row name: cell}``) with the
    ``columns`` (record keys) under their :data:`COLUMNS` names; ``—`` where a row lacks one."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown columns {unknown}; choose from {list(COLUMNS)}.")
    renamed = {
        name: {COLUMNS[c]: result[c] for c in columns if c in result}
        for name, result in runs.items()
    }
    return results_table(renamed, [COLUMNS[c] for c in columns], digits=digits)
