"""Interactions.from_arrays refuses ids it would silently change, duplicates and empty input."""

import numpy as np
import pytest

from advrec.data import Interactions


def test_ids_above_int32_are_refused_not_wrapped():
    with pytest.raises(ValueError, match=r"user ids must lie in \[0, 2147483647\].*Re-index"):
        Interactions.from_arrays([0, 2**31], [0, 1])
    with pytest.raises(ValueError, match="item ids must lie in"):
        Interactions.from_arrays([0, 1], [0, 2**40])


def test_non_integral_float_ids_are_refused_not_truncated():
    with pytest.raises(ValueError, match=r"user ids must be whole numbers; row 1 is 1\.7"):
        Interactions.from_arrays([0.0, 1.7], [0, 1])
    with pytest.raises(ValueError, match="item ids must be whole numbers"):
        Interactions.from_arrays([0, 1], [0.0, np.nan])
    with pytest.raises(ValueError, match="must be integers, got dtype <U1"):
        Interactions.from_arrays(["a", "b"], [0, 1])
    # Integral floats are exact, so they are accepted.
    table = Interactions.from_arrays([0.0, 2.0], [1.0, 0.0])
    assert table.user.tolist() == [0, 2] and table.n_users == 3


def test_duplicate_pairs_are_refused_by_default():
    with pytest.raises(ValueError, match=r"1 rows repeat .* row 2: user 0, item 1"):
        Interactions.from_arrays([0, 1, 0], [1, 1, 1])


def test_duplicates_latest_keeps_the_newest_row_of_each_pair():
    table = Interactions.from_arrays(
        [0, 1, 0, 0, 1],
        [1, 1, 1, 1, 2],
        rating=[1, 2, 3, 4, 5],
        timestamp=[10, 5, 30, 20, 7],
        duplicates="latest",
    )
    # (0, 1) appears at rows 0, 2, 3 with timestamps 10, 30, 20: row 2 (rating 3) is kept.
    assert table.user.tolist() == [1, 0, 1] and table.item.tolist() == [1, 1, 2]
    assert table.rating.tolist() == [2, 3, 5]
    # Equal timestamps: the last row wins.
    tied = Interactions.from_arrays([0, 0], [0, 0], rating=[1, 2], duplicates="latest")
    assert tied.rating.tolist() == [2]
    with pytest.raises(ValueError, match='duplicates must be "raise" or "latest"'):
        Interactions.from_arrays([0], [0], duplicates="first")


def test_empty_input_needs_explicit_sizes():
    with pytest.raises(ValueError, match="n_users and n_items cannot be inferred"):
        Interactions.from_arrays([], [])
    empty = Interactions.from_arrays([], [], n_users=2, n_items=3)
    assert len(empty) == 0 and (empty.n_users, empty.n_items) == (2, 3)


def test_ratings_and_timestamps_that_would_change_silently_are_refused():
    for bad in (np.nan, np.inf):  # NaN ratings used to be kept as they were
        with pytest.raises(ValueError, match=r"rating must be finite; row 1 is (nan|inf)"):
            Interactions.from_arrays([0, 1], [0, 1], rating=[1.0, bad])
    with pytest.raises(ValueError, match=r"timestamp must be whole seconds; row 1 is 2\.7"):
        Interactions.from_arrays([0, 1], [0, 1], timestamp=[1.0, 2.7])  # was truncated to 2
    with pytest.raises(ValueError, match="rating must be numbers"):
        Interactions.from_arrays([0, 1], [0, 1], rating=["a", "b"])


def test_sizes_must_be_counts():
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match="n_users must be"):
            Interactions.from_arrays([], [], n_users=bad, n_items=3)
    with pytest.raises(
        TypeError, match=r"Interactions\.user must be a 1-D numpy array.*from_arrays"
    ):
        Interactions([0, 1], [0, 1], [1, 1], [0, 0], 2, 2)  # used to fail on list.min()
