"""An honest attribute-inference attacker, separate from training.

Threat model: the adversary holds a frozen representation of every user (a leaked embedding
table, or the raw interaction vectors) and the true attribute of *some* users, and trains a fresh
classifier to infer the attribute of the others. :func:`attack_attribute` plays that adversary
with k-fold cross-validation over users: each fold's users are predicted by classifiers
(logistic regression and a small MLP, scikit-learn) trained only on the other folds' users, with
the feature scaling fitted on those users too.

Scores are threshold-free and blind to class imbalance: ROC-AUC for two classes, macro
one-vs-rest ROC-AUC for more; 0.5 is guessing. Balanced accuracy is reported as well.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

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

from advrec.data.interactions import UserFeatures

AGE_GROUP_EDGES: tuple[int, ...] = (25, 35, 45)
"""Lower edges of the age groups after the first: <25, 25-34, 35-44, >=45."""

AGE_GROUP_NAMES: tuple[str, ...] = ("<25", "25-34", "35-44", ">=45")

ATTACKERS: tuple[str, ...] = ("logistic", "mlp")


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
