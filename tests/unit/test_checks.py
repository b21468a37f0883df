"""advrec.checks: the shared argument checks refuse what Python's conversions would let through."""

import math

import numpy as np
import pytest

from advrec.checks import check_finite, check_id, check_int, check_real, check_seed


def test_check_int_takes_whole_numbers_of_any_type_and_refuses_fractions():
    assert check_int(3, "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_int(3.0, "n") == 3 and check_int(np.array(4), "n") == 4
    with pytest.raises(ValueError, match=r"epochs must be a whole number, got 2\.9 \(it is not"):
        check_int(2.9, "epochs")
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="whole number"):
            check_int(bad, "n")
    for bad in (True, np.bool_(False), "3", None):
        with pytest.raises(TypeError, match="n must be an integer"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match=r"budget must be between 1 and 12, got 13; give fewer"):
        check_int(13, "budget", low=1, high=12, hint="give fewer")
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        check_int(0, "k", low=1)


def test_check_real_accepts_numpy_scalars_and_refuses_nan_inf_and_bools():
    assert check_real(np.float32(500), "l2", low=0, low_open=True) == 500.0
    assert check_real(np.int64(2), "x") == 2.0
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
            check_real(bad, "epsilon", low=0)
    with pytest.raises(ValueError, match=r"rate must be a finite number in \(0, 1\], got 0"):
        check_real(0, "rate", low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        check_real(1.0, "p", low=0, high=1, high_open=True)
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="must be a number"):
            check_real(bad, "x")


def test_check_seed_refuses_none_and_negative_seeds():
    assert check_seed(np.int64(7)) == 7
    with pytest.raises(TypeError, match="got None; None would draw a new random seed"):
        check_seed(None)
    with pytest.raises(ValueError, match="seed must be between 0 and"):
        check_seed(-1)
    with pytest.raises(ValueError, match="whole number"):
        check_seed(1.5)


def test_check_id_does_not_let_minus_one_mean_the_last_item():
    assert check_id(np.int32(4), 5, "target") == 4
    with pytest.raises(ValueError, match=r"-1 is outside \[0, 5\): item ids are 0..4 \(-1 does"):
        check_id(-1, 5, "target")
    with pytest.raises(ValueError, match=r"target 5 is outside \[0, 5\)"):
        check_id(5, 5, "target")
    for bad in (2.0, 2.5, True, "2"):
        with pytest.raises(TypeError, match="target must be an integer item id"):
            check_id(bad, 5, "target")


def test_check_finite_names_the_first_bad_value():
    np.testing.assert_array_equal(check_finite([1, 2], "v"), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"item_value holds 2 NaN or infinite values \(first at"):
        check_finite([1.0, np.nan, np.inf], "item_value")
    with pytest.raises(TypeError, match="must be an array of numbers"):
        check_finite(["a"], "v")
