"""Detecting fake profiles: per-user features and a supervised detector trained on simulations.

The defender does not know which users are fake. It can, however, simulate the textbook attacks
on data it trusts (here: the real users' training interactions before the attack), learn what
separates simulated fakes from genuine users, and apply that to the data it is about to train
on -- the classic supervised shilling detector (Chirita et al., 2005; Williams et al., 2007),
with features that survive implicit feedback:

- ``log_length``: log of the profile size;
- ``mean_log_pop``, ``std_log_pop``: mean and spread of the log popularity of the profile's
  items (fillers drawn uniformly are unusually obscure; bandwagon ones unusually popular);
- ``top_share``: share of the profile among the 5 % most popular items;
- ``deg_sim``: mean cosine similarity to the ``k`` most similar other users (Chirita et al.'s
  DegSim: a group of fakes built from one recipe resembles each other more than real users do).

The decision threshold is chosen on held-out *simulated* data (a false-positive rate on genuine
users), never on the attack being measured.

A detector trained on simulations points one way: it flags profiles that look *like the
simulations*. Fakes that look unlike them in the other direction -- more ordinary than any
genuine user -- get scores below every genuine user's (a ROC AUC near 0, which is perfect
separation with the sign flipped, not blindness). :func:`detection_report` therefore gives
``|AUC - 0.5|`` beside the AUC, and the recall of a *two-sided* screen (flag scores beyond
either tail of the held-out genuine users', at the same total false-positive rate) and of an
anomaly screen (:class:`AnomalyScreen`: distance from the genuine users' feature distribution)
beside the one-sided detector's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from advrec.checks import check_int
from advrec.data.interactions import Interactions

FEATURES = ("log_length", "mean_log_pop", "std_log_pop", "top_share", "deg_sim")


def profile_features(train: Interactions, k: int = 10) -> np.ndarray:
    """float64 ``[n_users, len(FEATURES)]`` detection features of every user in ``train``.

    Popularity is measured in ``train`` itself (what the defender sees). Users without rows get
    zeros.
    """
    k = check_int(k, "k", low=1, hint="neighbours for deg_sim")
    if train.n_users < 2:
        raise ValueError(
            f"profile features compare each user with the others: need at least 2 users, got "
            f"{train.n_users}."
        )
    x = train.dense().astype(np.float64)  # [n_users, n_items]
    length = x.sum(axis=1)
    safe = np.maximum(length, 1.0)
    log_pop = np.log1p(x.sum(axis=0))
    mean = x @ log_pop / safe
    std = np.sqrt(np.maximum(x @ log_pop**2 / safe - mean**2, 0.0))
    top = x.sum(axis=0) >= np.quantile(x.sum(axis=0), 0.95)
    top_share = x @ top / safe
    unit = x / np.sqrt(safe)[:, None]
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(k, len(x) - 1)
    deg_sim = -np.partition(-similarity, k - 1, axis=1)[:, :k].mean(axis=1)
    return np.stack([np.log(safe), mean, std, top_share, deg_sim], axis=1)


@dataclass
class ShillingDetector:
    """A logistic-regression detector over :func:`profile_features` and its threshold.

    Attributes:
        model: the fitted scikit-learn pipeline (standardisation, logistic regression).
        threshold: users scoring at least this are flagged.
        k: neighbours of the ``deg_sim`` feature.
    """

    model: Pipeline
    threshold: float
    k: int = 10
    low_threshold: float = -np.inf
    high_threshold: float = np.inf

    def scores(self, train: Interactions) -> np.ndarray:
        """float64 ``[n_users]``: probability of being fake, for every user of ``train``."""
        return self.model.predict_proba(profile_features(train, self.k))[:, 1]

    def flag(self, train: Interactions, two_sided: bool = False) -> np.ndarray:
        """int64 ids of the users of ``train`` whose score reaches the threshold; with
        ``two_sided``, those at or beyond ``low_threshold``/``high_threshold`` (each tail holding
        half the false-positive rate)."""
        return np.flatnonzero(self.flagged(self.scores(train), two_sided))

    def flagged(self, scores: np.ndarray, two_sided: bool = False) -> np.ndarray:
        """bool ``[n]``: which of ``scores`` the one-sided (or two-sided) screen flags."""
        scores = np.asarray(scores)
        if two_sided:
            return (scores <= self.low_threshold) | (scores >= self.high_threshold)
        return scores >= self.threshold


@dataclass
class AnomalyScreen:
    """Flags users whose profile features lie far from the genuine users': the squared
    Mahalanobis distance of :func:`profile_features` to the genuine users' mean under their
    covariance, thresholded on held-out genuine users. It learns nothing about attacks, so it
    cannot be pointed the wrong way -- only be too coarse.

    Attributes:
        mean: float64 ``[n_features]``; precision: ``[n_features, n_features]`` inverse
            covariance; threshold: distances at or above it are flagged; k: as the features.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    k: int = 10

    def scores(self, train: Interactions) -> np.ndarray:
        """float64 ``[n_users]``: squared Mahalanobis distance of every user of ``train``."""
        centred = profile_features(train, self.k) - self.mean
        return np.einsum("ij,jk,ik->i", centred, self.precision, centred)

    def flagged(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) >= self.threshold

    def flag(self, train: Interactions) -> np.ndarray:
        return np.flatnonzero(self.flagged(self.scores(train)))


def fit_anomaly_screen(
    genuine: Interactions, max_false_positive_rate: float = 0.02, k: int = 10, seed: int = 0
) -> AnomalyScreen:
    """The genuine users' feature mean and covariance from half of them; the threshold flags at
    most ``max_false_positive_rate`` of the other half."""
    if not 0 <= max_false_positive_rate < 1:
        raise ValueError(
            f"max_false_positive_rate must be in [0, 1), got {max_false_positive_rate}."
        )
    features = profile_features(genuine, k)
    held_out = np.random.default_rng(seed).random(len(features)) < 0.5
    fitted = features[~held_out]
    mean = fitted.mean(axis=0)
    precision = np.linalg.pinv(np.cov(fitted, rowvar=False))
    screen = AnomalyScreen(mean, precision, np.inf, k)
    distance = np.einsum(
        "ij,jk,ik->i", features[held_out] - mean, precision, features[held_out] - mean
    )
    threshold = np.quantile(distance, 1.0 - max_false_positive_rate, method="higher")
    screen.threshold = float(np.nextafter(threshold, np.inf))
    return screen


def detection_report(
    scores: np.ndarray, is_fake: np.ndarray, detector: ShillingDetector, anomaly=None
) -> dict[str, float]:
    """How a screen separates fake from genuine users of one poisoned training table.

    Args:
        scores: float ``[n_users]`` detector scores (:meth:`ShillingDetector.scores`).
        is_fake: bool ``[n_users]``.
        detector: gives the one- and two-sided thresholds.
        anomaly: optional float ``[n_users]`` anomaly distances with their screen, as a pair
            ``(distances, AnomalyScreen)``.

    Returns:
        ``auc`` (ROC AUC of the scores for "fake"), ``auc_distance`` (``|auc - 0.5|``: how far
        from chance either way), ``recall``/``fpr`` of the one-sided screen, ``recall_two_sided``
        /``fpr_two_sided``, and with ``anomaly`` ``recall_anomaly``/``fpr_anomaly``.
    """
    from sklearn.metrics import roc_auc_score

    scores, is_fake = np.asarray(scores, np.float64), np.asarray(is_fake, bool)
    if scores.shape != is_fake.shape or not is_fake.any() or is_fake.all():
        raise ValueError("need one score per user and both fake and genuine users.")
    auc = float(roc_auc_score(is_fake, scores))
    out = {"auc": auc, "auc_distance": abs(auc - 0.5)}
    screens = {"": detector.flagged(scores), "_two_sided": detector.flagged(scores, True)}
    if anomaly is not None:
        distances, screen = anomaly
        screens["_anomaly"] = screen.flagged(distances)
    for suffix, flagged in screens.items():
        out[f"recall{suffix}"] = float(flagged[is_fake].mean())
        out[f"fpr{suffix}"] = float(flagged[~is_fake].mean())
    return out


def fit_detector(
    genuine: Interactions,
    simulated_groups: Sequence[np.ndarray],
    max_false_positive_rate: float = 0.02,
    k: int = 10,
    seed: int = 0,
) -> ShillingDetector:
    """Trains a detector on genuine users plus simulated attack groups; thresholds it on held out.

    Each group is injected on its own into ``genuine`` and its users' features are computed in
    that table, as the deployed detector will see one attack among the genuine users (features
    such as popularity depend on the table); the genuine users' features come from ``genuine``.

    Args:
        genuine: the trusted interactions (every user in it is taken as genuine).
        simulated_groups: bool ``[m_g, n_items]`` fake profiles per group that the defender
            generated itself (e.g. :func:`advrec.attacks.shilling.classic_profiles` on targets
            of its own choosing).
        max_false_positive_rate: the threshold is the lowest score that flags at most this share
            of the held-out genuine users.
        k: neighbours of the ``deg_sim`` feature.
        seed: the train/held-out split of the users.
    """
    from advrec.data.fake_users import profiles_to_interactions

    if not 0 <= max_false_positive_rate < 1:
        raise ValueError(
            f"max_false_positive_rate must be in [0, 1), got {max_false_positive_rate}."
        )
    if isinstance(simulated_groups, np.ndarray) or not len(simulated_groups):
        raise ValueError("simulated_groups must be a non-empty list of [m, n_items] arrays.")
    features, labels = [profile_features(genuine, k)], [np.zeros(genuine.n_users, int)]
    for group in simulated_groups:
        group = np.asarray(group, bool)
        if group.ndim != 2 or group.shape[1] != genuine.n_items or len(group) < 2:
            raise ValueError(
                f"each simulated group must be bool [m >= 2, {genuine.n_items}] fake profiles, "
                f"got shape {group.shape}."
            )
        fake = profiles_to_interactions(group, first_user=genuine.n_users)
        table = Interactions(
            genuine.user,
            genuine.item,
            genuine.rating,
            genuine.timestamp,
            fake.n_users,
            genuine.n_items,
        ).concat(fake)
        features.append(profile_features(table, k)[genuine.n_users :])
        labels.append(np.ones(len(group), int))
    features, labels = np.concatenate(features), np.concatenate(labels)
    held_out = np.random.default_rng(seed).random(len(labels)) < 0.5
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    model.fit(features[~held_out], labels[~held_out])
    genuine_scores = model.predict_proba(features[held_out & (labels == 0)])[:, 1]
    threshold = float(np.quantile(genuine_scores, 1.0 - max_false_positive_rate, method="higher"))
    threshold = float(np.nextafter(threshold, np.inf))  # strictly above that genuine score
    half = max_false_positive_rate / 2
    low = float(np.nextafter(np.quantile(genuine_scores, half, method="lower"), -np.inf))
    high = float(np.quantile(genuine_scores, 1.0 - half, method="higher"))
    return ShillingDetector(model, threshold, k, low, float(np.nextafter(high, np.inf)))
