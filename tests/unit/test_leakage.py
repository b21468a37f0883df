"""The privacy protocol: disclosed/selection/evaluation partition, experiment cells, the choice."""

from __future__ import annotations

import numpy as np
import pytest

from advrec.attacks.inference import UNDISCLOSED, partition_users
from advrec.attacks.leakage import cell, choose_weight, leak_table, strongest_auc


def _labels(n=400, seed=0):
    return (np.random.default_rng(seed).random(n) < 0.3).astype(np.int32)


def test_partition_is_disjoint_complete_stratified_and_seeded():
    labels = _labels()
    partition = partition_users(labels, (0.5, 0.25), seed=3)
    groups = [partition.disclosed, partition.selection, partition.evaluation]
    np.testing.assert_array_equal(np.sort(np.concatenate(groups)), np.arange(len(labels)))
    for group, share in zip(groups, (0.5, 0.25, 0.25), strict=True):
        for label in (0, 1):
            in_class = (labels == label).sum()
            assert abs((labels[group] == label).sum() - share * in_class) <= 1
    again = partition_users(labels, (0.5, 0.25), seed=3)
    other = partition_users(labels, (0.5, 0.25), seed=4)
    np.testing.assert_array_equal(again.evaluation, partition.evaluation)
    assert not np.array_equal(other.evaluation, partition.evaluation)


def test_disclosed_labels_hide_everyone_else():
    labels = _labels(40)
    partition = partition_users(labels, (0.5, 0.25), seed=0)
    masked = partition.disclosed_labels(labels)
    np.testing.assert_array_equal(masked[partition.disclosed], labels[partition.disclosed])
    hidden = np.concatenate([partition.selection, partition.evaluation])
    assert np.all(masked[hidden] == UNDISCLOSED)
    with pytest.raises(ValueError, match="one label per user"):
        partition.disclosed_labels(labels[:-1])


def test_bad_partitions_say_what_to_fix():
    labels = _labels(40)
    with pytest.raises(ValueError, match="summing below 1"):
        partition_users(labels, (0.75, 0.25))
    with pytest.raises(ValueError, match="summing below 1"):
        partition_users(labels, (0.5,))
    with pytest.raises(ValueError, match="integer"):
        partition_users(labels.astype(float))
    with pytest.raises(ValueError, match=">= 0"):
        partition_users(np.where(labels == 1, UNDISCLOSED, labels))
    with pytest.raises(ValueError, match="too few"):
        partition_users(np.array([0, 0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="unknown group"):
        partition_users(labels).group("test")


def _records():
    records = []
    for seed in (0, 1, 2):
        records.append(
            {"seed": seed, "attribute": "gender", "model": "BPR-MF", "weight": 0.0}
            | {"valid_ndcg": 0.20, "evaluation_logistic_auc": 0.70, "evaluation_mlp_auc": 0.6}
        )
        for weight, auc, ndcg in ((1.0, 0.60, 0.195), (10.0, 0.52, 0.193), (30.0, 0.5, 0.15)):
            records.append(
                {"seed": seed, "attribute": "gender", "model": "confusion", "weight": weight}
                | {"valid_ndcg": ndcg + 0.001 * seed, "selection_logistic_auc": auc}
                | {"selection_mlp_auc": auc - 0.01 * seed}
            )
    return records


def test_cell_strongest_and_table():
    records = _records()
    plain = cell(records, attribute="gender", model="BPR-MF")
    np.testing.assert_array_equal(plain["seed"], [0, 1, 2])
    np.testing.assert_allclose(strongest_auc(plain), 0.7)
    defence = cell(records, model="confusion", weight=10.0)
    np.testing.assert_allclose(strongest_auc(defence, "selection"), 0.52)
    with pytest.raises(ValueError, match="several records per seed"):
        cell(records, model="confusion")
    with pytest.raises(ValueError, match="no record"):
        cell(records, model="reversal")
    with pytest.raises(ValueError, match="no evaluation AUC"):
        strongest_auc(defence)
    table = leak_table({"BPR-MF": plain, "λ = 10": defence}, ["valid_ndcg", "evaluation_mlp_auc"])
    assert "| BPR-MF | 0.200 ± 0.000 | 0.600 ± 0.000 |" in table
    assert "| λ = 10 | 0.194 ± 0.001 | — |" in table


def test_choose_weight_takes_the_weakest_defence_meeting_the_goal():
    records = _records()
    choice = choose_weight(records, "gender", (30.0, 10.0, 1.0), 0.55, 0.05)
    assert choice.weight == 10.0 and choice.meets_goal  # 1: leaks; 30: costs too much
    strict = choose_weight(records, "gender", (1.0, 10.0, 30.0), 0.45, 0.05)
    assert strict.weight == 30.0 and not strict.meets_goal  # none meets it: the lowest AUC


@pytest.mark.slow
def test_the_experiment_attacks_undisclosed_groups_and_hides_labels_from_the_defence():
    import keras

    from advrec.attacks.inference import gender_labels
    from advrec.attacks.leakage import Defence, run_leakage_experiment
    from advrec.data import positive_pairs, random_holdout, synthetic_movielens
    from advrec.models.mf import BPRMF
    from advrec.models.privacy import AdversarialBPRMF

    dataset = synthetic_movielens(n_users=120, n_items=60, gender_signal=1.0, seed=1)
    labels = {"gender": gender_labels(dataset.users)}
    splits = {seed: random_holdout(dataset.interactions, (0.8, 0.1, 0.1), seed) for seed in (0, 1)}
    seen = []

    def fit(model, split):
        model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=True)
        model.fit(positive_pairs(split.train, 512, seed=0), epochs=1, verbose=0)
        return model

    def train_defence(split, disclosed, defence, seed):
        seen.append(disclosed)
        model = AdversarialBPRMF(split.train, disclosed, defence.weight, dim=4, seed=seed)
        return fit(model, split)

    records = run_leakage_experiment(
        splits,
        labels,
        lambda split, seed: fit(BPRMF(split.train, dim=4, seed=seed), split),
        train_defence,
        [Defence("gender", "confusion", 1.0)],
        n_folds=2,
    )
    assert [(r["seed"], r["model"]) for r in records] == [
        (s, m) for s in (0, 1) for m in ("raw interactions", "BPR-MF", "confusion")
    ]
    assert len(seen) == 2
    for disclosed in seen:  # half the users disclosed; the others' labels never reach the model
        assert abs((disclosed != UNDISCLOSED).mean() - 0.5) < 0.02
    defence = cell(records, model="confusion")
    assert set(defence) >= {"valid_ndcg", "ndcg", "inside", "evaluation_mlp_auc"}
    assert np.all(np.isfinite(strongest_auc(defence))) and np.all(defence["inside"] > 0)
