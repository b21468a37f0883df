"""The honest attacker: labels, cross-validation over users, known-answer leaks and non-leaks."""

from __future__ import annotations

import numpy as np
import pytest

from advrec.attacks.inference import (
    AGE_GROUP_NAMES,
    age_group_labels,
    attack_attribute,
    gender_labels,
    make_attacker,
    mean_over_folds,
)
from advrec.data import synthetic_movielens
from advrec.data.interactions import UserFeatures


def _users(age, gender) -> UserFeatures:
    n = len(age)
    return UserFeatures(np.asarray(age), np.asarray(gender), np.full(n, "x"), np.full(n, "0"))


def test_labels_encode_gender_and_age_groups():
    users = _users([10, 24, 25, 34, 35, 44, 45, 70], list("MFFMMFMF"))
    np.testing.assert_array_equal(gender_labels(users), [0, 1, 1, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(age_group_labels(users), [0, 0, 1, 1, 2, 2, 3, 3])
    assert len(AGE_GROUP_NAMES) == 4
    with pytest.raises(ValueError, match="'M' or 'F'"):
        gender_labels(_users([20], ["X"]))
    with pytest.raises(ValueError, match="increasing"):
        age_group_labels(users, edges=(30, 20))


@pytest.mark.parametrize("attacker", ["logistic", "mlp"])
def test_a_planted_signal_is_found_and_noise_is_not(attacker):
    rng = np.random.default_rng(0)
    # Imbalanced like gender in ML-100K.
    labels = (rng.random(500) < 0.3).astype(np.int32)  # imbalanced, as gender in ML-100K
    noise = rng.normal(size=(500, 8))
    leaky = noise + 2.0 * labels[:, None] * np.eye(8)[0]
    found = attack_attribute(leaky, labels, attackers=(attacker,), seed=0)
    assert found[f"{attacker}_auc"].shape == (5,)
    assert found[f"{attacker}_auc"].mean() > 0.8
    chance = mean_over_folds(attack_attribute(noise, labels, attackers=(attacker,), seed=0))
    assert abs(chance[f"{attacker}_auc"] - 0.5) < 0.1
    assert abs(chance[f"{attacker}_balanced_accuracy"] - 0.5) < 0.1


def test_multiclass_uses_macro_auc():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=400).astype(np.int32)
    features = np.eye(4)[labels] * 3.0 + rng.normal(size=(400, 4))
    scores = mean_over_folds(attack_attribute(features, labels, attackers=("logistic",)))
    assert scores["logistic_auc"] > 0.9 and scores["logistic_balanced_accuracy"] > 0.7
    noise = mean_over_folds(attack_attribute(rng.normal(size=(400, 4)), labels, ("logistic",)))
    assert abs(noise["logistic_auc"] - 0.5) < 0.1


def test_held_out_users_cannot_be_memorised():
    """One random feature vector per user: a classifier can memorise its training users, but the
    score is computed on held-out users, so it must stay at chance."""
    rng = np.random.default_rng(2)
    labels = (rng.random(200) < 0.5).astype(np.int32)
    features = rng.normal(size=(200, 400))  # more dimensions than users: perfect memorisation
    scores = mean_over_folds(attack_attribute(features, labels, attackers=("logistic",)))
    assert abs(scores["logistic_auc"] - 0.5) < 0.12


def test_raw_interactions_of_synthetic_users_leak_gender_only_when_planted():
    def raw_auc(signal: float) -> float:
        dataset = synthetic_movielens(n_users=300, n_items=100, gender_signal=signal, seed=0)
        scores = attack_attribute(
            dataset.interactions.dense(), gender_labels(dataset.users), attackers=("logistic",)
        )
        return float(scores["logistic_auc"].mean())

    assert raw_auc(1.5) > 0.75
    assert abs(raw_auc(0.0) - 0.5) < 0.1


def test_bad_input_says_what_to_fix():
    labels = np.array([0, 1] * 10, np.int32)
    with pytest.raises(ValueError, match=r"\[n_users, d\]"):
        attack_attribute(np.zeros((19, 2)), labels)
    with pytest.raises(ValueError, match="NaN"):
        attack_attribute(np.full((20, 2), np.nan), labels)
    with pytest.raises(ValueError, match="n_folds"):
        attack_attribute(np.zeros((20, 2)), np.array([1] + [0] * 19, np.int32))
    with pytest.raises(ValueError, match="0..n_classes-1"):
        attack_attribute(np.zeros((20, 2)), labels + 1)
    with pytest.raises(ValueError, match="unknown attacker"):
        make_attacker("forest")


def test_a_user_partition_needs_a_seed_and_finite_shares():
    from advrec.attacks.inference import partition_users

    labels = np.arange(60) % 2
    with pytest.raises(TypeError, match="got None"):  # None gave other groups on every call
        partition_users(labels, seed=None)
    with pytest.raises(ValueError, match="shares must be"):  # was "cannot convert float NaN"
        partition_users(labels, shares=(np.nan, 0.2))
