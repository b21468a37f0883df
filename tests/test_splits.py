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
    assert np.array_equal(split.test.user_counts(), np.rint(counts * 0.1).astype(int))
    assert (split.train.user_counts() >= 1).all()
    assert abs(len(split.train) / len(full) - 0.8) < 0.02


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


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (-0.1, 0.6, 0.5)])
def test_bad_fractions_are_rejected(synthetic_dataset, fractions):
    with pytest.raises(ValueError, match="fractions"):
        random_holdout(synthetic_dataset.interactions, fractions)
