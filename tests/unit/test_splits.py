"""Splits are disjoint, complete and a deterministic function of (data, protocol, seed)."""

import numpy as np
import pytest

from advrec.data import Interactions, leave_one_out, random_holdout


def _keys(table):
    return set(table.keys().tolist())


@pytest.mark.parametrize("make", [lambda t: random_holdout(t, seed=3), leave_one_out])
def test_split_is_disjoint_and_complete(synthetic_dataset, make):
    full = synthetic_dataset.interactions
    split = make(full)
    train, valid, test = _keys(split.train), _keys(split.valid), _keys(split.test)
    assert not (train & valid) and not (train & test) and not (valid & test)
    assert train | valid | test == _keys(full)
    assert len(split.train) + len(split.valid) + len(split.test) == len(full)


def test_random_holdout_is_deterministic_in_the_seed(synthetic_dataset):
    full = synthetic_dataset.interactions
    a, b, c = (random_holdout(full, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.test.keys(), b.test.keys())
    assert not np.array_equal(a.test.keys(), c.test.keys())


def test_random_holdout_fractions_per_user(synthetic_dataset):
    full = synthetic_dataset.interactions
    split = random_holdout(full, (0.8, 0.1, 0.1), seed=0)
    counts = full.user_counts()
    expected = np.maximum(np.rint(counts * 0.1), 1).astype(int)  # every user has >= 5 rows
    assert np.array_equal(split.test.user_counts(), expected)
    assert np.array_equal(split.valid.user_counts(), expected)
    assert np.array_equal(split.train.user_counts(), counts - 2 * expected)
    assert (split.train.user_counts() >= 1).all()


def test_leave_one_out_holds_out_the_latest(tiny_interactions):
    t = tiny_interactions
    stamped = Interactions.from_arrays(
        t.user, t.item, timestamp=np.tile([30, 10, 20], 4), n_users=4, n_items=6
    )
    split = leave_one_out(stamped)
    # Each user's items are (u, u+1, u+2) stamped (30, 10, 20): test = u, valid = u+2.
    assert np.array_equal(split.test.item, np.arange(4))
    assert np.array_equal(split.valid.item, np.arange(4) + 2)
    assert np.array_equal(split.train.item, np.arange(4) + 1)


def test_users_with_few_rows_stay_in_train():
    t = Interactions.from_arrays([0, 0, 1, 1, 1], [0, 1, 0, 1, 2])
    assert len(leave_one_out(t).train.select(leave_one_out(t).train.user == 0)) == 2
    assert (random_holdout(t, seed=0).train.user == 0).sum() == 2


def test_users_with_three_to_five_rows_are_evaluated():
    # Users 0..3 have 3, 4, 5 and 6 rows: round(n * 0.1) is 0 for all of them.
    counts = [3, 4, 5, 6, 2]
    users = np.repeat(np.arange(5), counts)
    items = np.concatenate([np.arange(c) for c in counts])
    split = random_holdout(Interactions.from_arrays(users, items), (0.8, 0.1, 0.1), seed=0)
    assert split.test.user_counts().tolist() == [1, 1, 1, 1, 0]
    assert split.valid.user_counts().tolist() == [1, 1, 1, 1, 0]
    assert split.train.user_counts().tolist() == [1, 2, 3, 4, 2]
    # The user with 2 rows stays in train and is reported as never tested.
    assert split.users_without("test").tolist() == [4]
    assert split.users_without("valid").tolist() == [4]
    # A zero fraction still means no rows of that part.
    no_valid = random_holdout(Interactions.from_arrays(users, items), (0.9, 0.0, 0.1), seed=0)
    assert len(no_valid.valid) == 0 and no_valid.test.user_counts().tolist() == [1, 1, 1, 1, 0]


def test_duplicate_pairs_are_refused_before_they_leak_into_test(tiny_interactions):
    t = tiny_interactions
    doubled = Interactions(
        np.concatenate([t.user, t.user]),
        np.concatenate([t.item, t.item]),
        np.ones(2 * len(t), np.float32),
        np.zeros(2 * len(t), np.int64),
        t.n_users,
        t.n_items,
    )
    with pytest.raises(ValueError, match='repeat a .* duplicates="latest"'):
        random_holdout(doubled, seed=0)


@pytest.mark.parametrize(
    "fractions",
    [(0.5, 0.5), (0.8, 0.3, 0.1), (-0.1, 0.6, 0.5), (float("nan"), 0.1, 0.1), (0.8, np.inf, 0.1)],
)
def test_bad_fractions_are_rejected(synthetic_dataset, fractions):
    with pytest.raises(ValueError, match="fractions"):
        random_holdout(synthetic_dataset.interactions, fractions)


def test_a_split_needs_a_seed_not_none(tiny_interactions):
    # seed=None used to give a different split on every call, with no word.
    from advrec.data import synthetic_movielens
    from advrec.data.coldstart import cold_start_split
    from advrec.protocol import load_split

    table = synthetic_movielens(n_users=30, n_items=20, seed=0).interactions
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got None"):
        random_holdout(table, seed=None)
    with pytest.raises(ValueError, match="seed must be between 0"):
        random_holdout(table, seed=-1)
    with pytest.raises(TypeError, match="got None"):
        load_split("synthetic", seed=None)
    with pytest.raises(TypeError, match="got None"):
        synthetic_movielens(n_users=30, n_items=20, seed=None)
    with pytest.raises(TypeError, match="got None"):
        cold_start_split(table, "items", seed=None)
    assert type(random_holdout(table, seed=np.int64(3)).seed) is int
