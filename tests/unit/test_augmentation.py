"""The augmentation experiment's pieces: sparse groups, sparsifying, and the three augmenters."""

import numpy as np
import pytest

from advrec.augmentation import augment, sparse_groups, sparsify


def test_groups_are_disjoint_eligible_and_sparsify_keeps_k_rows(synthetic_split):
    train, test = synthetic_split.train, synthetic_split.test
    groups = sparse_groups(train, test, (3, 5), group_size=10, seed=0)
    users = np.concatenate(list(groups.values()))
    assert len(np.unique(users)) == 20
    assert np.all(train.user_counts()[users] > 5) and np.all(test.user_counts()[users] > 0)
    kept, dropped = sparsify(train, groups, seed=0)
    assert len(kept) + len(dropped) == len(train)
    for k, members in groups.items():
        assert np.all(kept.user_counts()[members] == k)
    others = np.setdiff1d(np.arange(train.n_users), users)
    assert np.array_equal(kept.user_counts()[others], train.user_counts()[others])
    with pytest.raises(ValueError, match="lower group_size"):
        sparse_groups(train, test, (3,), group_size=10_000)


@pytest.mark.parametrize("method", ["generator", "popularity", "random"])
def test_augment_adds_the_same_number_of_new_pairs(synthetic_split, method):
    train = synthetic_split.train
    users = np.array([0, 1, 2], np.int32)
    scores = np.tile(np.arange(train.n_items, dtype=np.float32), (3, 1))  # favours high ids
    added = augment(
        train, users, 5, method, seed=0, generated_scores=scores, exclude=[synthetic_split.valid]
    )
    assert len(added) == 15 and np.array_equal(np.bincount(added.user, minlength=3)[:3], [5] * 3)
    known = set(train.keys()) | set(synthetic_split.valid.keys())
    assert not known & set(added.keys())
    assert len(set(added.keys())) == 15
    if method == "generator":  # the highest-scored free items
        for user in users:
            free = [i for i in range(train.n_items) if user * train.n_items + i not in known]
            assert set(added.item[added.user == user]) == set(free[-5:])


def test_popularity_augmentation_prefers_popular_items(synthetic_split):
    train = synthetic_split.train
    users = np.arange(60, dtype=np.int32)
    popular = augment(train, users, 5, "popularity", seed=0)
    uniform = augment(train, users, 5, "random", seed=0)
    counts = train.item_counts()
    assert counts[popular.item].mean() > counts[uniform.item].mean()


def test_augment_rejects_bad_input(synthetic_split):
    with pytest.raises(ValueError, match="method"):
        augment(synthetic_split.train, np.array([0]), 1, "gan")
    with pytest.raises(ValueError, match="generated_scores"):
        augment(synthetic_split.train, np.array([0]), 1, "generator")


def test_augment_refuses_nan_or_misshapen_generator_scores(synthetic_split):
    train, users = synthetic_split.train, np.array([0, 1])
    nan_scores = np.full((2, train.n_items), np.nan)  # used to add arbitrary items
    with pytest.raises(ValueError, match="generated_scores holds .* NaN"):
        augment(train, users, 2, "generator", generated_scores=nan_scores)
    with pytest.raises(ValueError, match=r"generated_scores must be \[2, 200\]"):  # IndexError
        augment(train, users, 2, "generator", generated_scores=np.zeros((1, train.n_items)))
    with pytest.raises(ValueError, match="per_user must be a whole number"):
        augment(train, users, 2.5, "random")
