"""An honest attribute-inference attacker, separate from training.

Threat model: the adversary holds a frozen representation of every user (a leaked embedding
table, or the raw interaction vectors) and the true attribute of *some* users, and trains a fresh
classifier to infer the attribute of the others. :func:`attack_attribute` plays that adversary
with k-fold cross-validation over users: each fold's users are predicted by classifiers
(logistic regression and a small MLP, scikit-learn) trained only on the other folds' users, with
the feature scaling fitted on those users too.

Scores are threshold-free and blind to class imbalance: ROC-AUC for two classes, macro
one-vs-rest ROC-AUC for more; 0.5 is guessing. Balanced accuracy is reported as well.

:func:`partition_users` splits the users, stratified by the attribute, into the *disclosed* users
(whose labels a defence may train on), a *selection* group (attacked to choose the defence's
settings) and an *evaluation* group (attacked to report the leak), so that neither the defence nor
its tuning ever sees the labels the reported leak is measured on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from advrec.checks import check_seed
from advrec.data.interactions import UserFeatures

AGE_GROUP_EDGES: tuple[int, ...] = (25, 35, 45)
"""Lower edges of the age groups after the first: <25, 25-34, 35-44, >=45."""

AGE_GROUP_NAMES: tuple[str, ...] = ("<25", "25-34", "35-44", ">=45")

ATTACKERS: tuple[str, ...] = ("logistic", "mlp")

UNDISCLOSED = -1
"""The label of a user whose attribute the defence may not use (as in advrec.models.privacy)."""

GROUPS: tuple[str, ...] = ("disclosed", "selection", "evaluation")


def gender_labels(users: UserFeatures) -> np.ndarray:
    """int32 ``[n_users]``: 1 for "F", 0 for "M"."""
    gender = np.asarray(users.gender)
    unknown = sorted(set(gender.tolist()) - {"M", "F"})
    if unknown:
        raise ValueError(f"gender must be 'M' or 'F'; found {unknown}. Map or drop those users.")
    return (gender == "F").astype(np.int32)


def age_group_labels(users: UserFeatures, edges: Sequence[int] = AGE_GROUP_EDGES) -> np.ndarray:
    """int32 ``[n_users]`` age group: 0 below ``edges[0]``, ``i`` from ``edges[i-1]`` on."""
    edges = np.asarray(edges)
    if len(edges) == 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be increasing ages such as (25, 35, 45); got {edges}.")
    return np.searchsorted(edges, np.asarray(users.age), side="right").astype(np.int32)


def make_attacker(name: str, seed: int = 0) -> ClassifierMixin:
    """A fresh, unfitted attacker: ``"logistic"`` or ``"mlp"``, each after standard scaling.

    Logistic regression: L2 penalty, ``C = 0.1``, balanced class weights. MLP: one hidden layer of
    64 ReLU units, weight decay ``1e-2``, 100 epochs of Adam.
    """
    if name == "logistic":
        model = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
    elif name == "mlp":
        model = MLPClassifier(
            hidden_layer_sizes=(64,),
            alpha=1e-2,
            learning_rate_init=1e-3,
            max_iter=100,
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown attacker {name!r}; choose one of {ATTACKERS}.")
    return make_pipeline(StandardScaler(), model)


def _auc(labels: np.ndarray, probabilities: np.ndarray, n_classes: int) -> float:
    if n_classes == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(
        roc_auc_score(
            labels, probabilities, multi_class="ovr", average="macro", labels=range(n_classes)
        )
    )


def attack_attribute(
    features: np.ndarray,
    labels: np.ndarray,
    attackers: Sequence[str] = ATTACKERS,
    n_folds: int = 5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Cross-validated attribute inference from frozen per-user features.

    Args:
        features: float ``[n_users, d]`` representation of each user (user factors, or the 0/1
            interaction matrix).
        labels: int ``[n_users]`` attribute class of each user, 0..n_classes-1.
        attackers: names accepted by :func:`make_attacker`.
        n_folds: folds of :class:`~sklearn.model_selection.StratifiedKFold` over users.
        seed: seeds the fold assignment and the attackers.

    Returns:
        ``{f"{attacker}_auc": float [n_folds], f"{attacker}_balanced_accuracy": float [n_folds]}``,
        one score per held-out fold.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(
            f"features must be [n_users, d] and labels [n_users]; got {features.shape} and "
            f"{labels.shape}."
        )
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values; check the trained model.")
    classes, counts = np.unique(labels, return_counts=True)
    n_classes = len(classes)
    if n_classes < 2 or not np.array_equal(classes, np.arange(n_classes)):
        raise ValueError(
            f"labels must be class ids 0..n_classes-1 with n_classes >= 2, each present; got "
            f"classes {classes.tolist()}."
        )
    if counts.min() < n_folds:
        raise ValueError(
            f"the rarest class has {counts.min()} users, fewer than n_folds={n_folds}; "
            "lower n_folds or merge classes."
        )
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    scores: dict[str, list[float]] = {}
    for train_users, test_users in folds.split(features, labels):
        for name in attackers:
            attacker = clone(make_attacker(name, seed))
            # One BLAS thread: these matrices are small, and threads fighting for a few shared
            # cores made the MLP several times slower.
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore", ConvergenceWarning)
                attacker.fit(features[train_users], labels[train_users])
            probabilities = attacker.predict_proba(features[test_users])
            truth = labels[test_users]
            scores.setdefault(f"{name}_auc", []).append(_auc(truth, probabilities, n_classes))
            scores.setdefault(f"{name}_balanced_accuracy", []).append(
                float(balanced_accuracy_score(truth, probabilities.argmax(axis=1)))
            )
    return {name: np.asarray(values) for name, values in scores.items()}


def mean_over_folds(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """``{name: mean over folds}`` of :func:`attack_attribute`'s result."""
    return {name: float(np.mean(values)) for name, values in scores.items()}


@dataclass(frozen=True)
class UserPartition:
    """Disjoint groups of user ids (sorted int64 arrays) that together hold every user.

    Attributes:
        disclosed: users whose attribute the defence may train on.
        selection: users attacked to choose the defence's settings (e.g. its weight).
        evaluation: users attacked to report the leak.
    """

    disclosed: np.ndarray
    selection: np.ndarray
    evaluation: np.ndarray

    def group(self, name: str) -> np.ndarray:
        """The user ids of group ``name``, one of :data:`GROUPS`."""
        if name not in GROUPS:
            raise ValueError(f"unknown group {name!r}; choose one of {GROUPS}.")
        return getattr(self, name)

    def disclosed_labels(self, labels: np.ndarray) -> np.ndarray:
        """int32 ``[n_users]``: ``labels`` for the disclosed users, :data:`UNDISCLOSED` elsewhere
        (what :class:`advrec.models.privacy.AdversarialBPRMF` takes as ``user_labels``)."""
        labels = np.asarray(labels)
        n_users = len(self.disclosed) + len(self.selection) + len(self.evaluation)
        if labels.shape != (n_users,):
            raise ValueError(
                f"labels must hold one label per user of the partition, shape ({n_users},); "
                f"got {labels.shape}."
            )
        masked = np.full(n_users, UNDISCLOSED, np.int32)
        masked[self.disclosed] = labels[self.disclosed]
        return masked


def partition_users(
    labels: np.ndarray, shares: Sequence[float] = (0.5, 0.25), seed: int = 0
) -> UserPartition:
    """Seeded split of the users into disclosed, selection and evaluation groups.

    Stratified by the attribute: within each class, a random ``shares[0]`` of its users (rounded)
    are disclosed, ``shares[1]`` go to the selection group and the rest to the evaluation group,
    so each group has about the attribute's class shares.

    Args:
        labels: int ``[n_users]`` attribute class of each user, 0..n_classes-1.
        shares: the disclosed and selection shares, each in (0, 1), summing below 1; the
            evaluation group gets the rest.
        seed: seeds the shuffle within each class.

    Raises:
        ValueError: labels not 1-D non-negative integers, bad shares, or a class too small to
            put at least one user in every group.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D integer array of class ids, one per user; got "
            f"shape {labels.shape} and dtype {labels.dtype}."
        )
    if labels.min() < 0:
        raise ValueError(
            f"labels must be class ids >= 0 for every user (the partition needs every user's "
            f"attribute); got {labels.min()}."
        )
    seed = check_seed(seed)
    shares = tuple(float(share) for share in shares)
    if len(shares) != 2 or not all(0 < share < 1 for share in shares) or sum(shares) >= 1:
        raise ValueError(
            "shares must be (disclosed, selection), each > 0 and summing below 1 (the evaluation "
            f"group gets the rest), e.g. (0.5, 0.25); got {shares}."
        )
    rng = np.random.default_rng(seed)
    groups: tuple[list[np.ndarray], ...] = ([], [], [])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_disclosed = round(shares[0] * len(members))
        n_selection = round(shares[1] * len(members))
        if min(n_disclosed, n_selection, len(members) - n_disclosed - n_selection) < 1:
            raise ValueError(
                f"class {label} has {len(members)} users, too few to put at least one in each of "
                f"the groups {GROUPS} with shares {shares}; merge classes or change the shares."
            )
        bounds = (n_disclosed, n_disclosed + n_selection)
        for group, part in zip(groups, np.split(members, bounds), strict=True):
            group.append(part)
    return UserPartition(*(np.sort(np.concatenate(group)).astype(np.int64) for group in groups))
