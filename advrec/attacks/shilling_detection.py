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

    def scores(self, train: Interactions) -> np.ndarray:
        """float64 ``[n_users]``: probability of being fake, for every user of ``train``."""
        return self.model.predict_proba(profile_features(train, self.k))[:, 1]

    def flag(self, train: Interactions) -> np.ndarray:
        """int64 ids of the users of ``train`` whose score reaches the threshold."""
        return np.flatnonzero(self.scores(train) >= self.threshold)


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
    return ShillingDetector(model, threshold, k)
