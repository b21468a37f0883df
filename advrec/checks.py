"""Argument checks the library shares: each returns the value in its canonical type or raises a
``ValueError``/``TypeError`` that names the argument, says what it got and what to give.

Python's own conversions are too lenient for a recommender's arguments: ``int(2.9)`` is 2 (an
``epochs=2.9`` would run two epochs), ``True`` is an integer, a NaN passes every ``<``/``>``
check, ``-1`` indexes the last item and ``np.random.default_rng(None)`` draws a new seed from
the operating system on every call. These helpers refuse all of that, with one rule each:

- :func:`check_int` -- a whole number (``3``, ``np.int64(3)``, ``3.0``), not a bool, not ``2.9``.
- :func:`check_real` -- a finite real number (``np.float32`` included), not a bool.
- :func:`check_seed` -- an integer >= 0; ``None`` is refused, since results must be repeatable.
- :func:`check_id` -- an id in ``[0, n)`` (negative ids do not count from the end).
- :func:`check_finite` -- a float array without NaN or infinity.

NumPy only (no TensorFlow), so the data modules can use them without starting TensorFlow.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _suffix(hint: str) -> str:
    return f"; {hint}" if hint else "."


def check_int(
    value,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    hint: str = "",
) -> int:
    """``value`` as an ``int``, checked to be a whole number in ``[low, high]`` (bounds optional).

    Accepts Python and NumPy integers and integral floats (``3.0``); refuses bools, fractions
    (``2.9`` is not silently 2), NaN, infinities and anything that is not a number.
    """
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r}{_suffix(hint)}")
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != math.floor(value):
            raise ValueError(
                f"{name} must be a whole number, got {value!r} (it is not rounded){_suffix(hint)}"
            )
    result = int(value)
    if (low is not None and result < low) or (high is not None and result > high):
        raise ValueError(f"{name} must be {_range(low, high)}, got {result}{_suffix(hint)}")
    return result


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a finite ``float`` in the interval given (``low_open``: ``> low``, else
    ``>= low``; likewise ``high``). NumPy scalars are accepted; bools, NaN and infinities are
    not."""
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}{_suffix(hint)}")
    result = float(value)
    below = low is not None and (result <= low if low_open else result < low)
    above = high is not None and (result >= high if high_open else result > high)
    if not math.isfinite(result) or below or above:
        interval = _interval(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number {interval}, got {value!r}{_suffix(hint)}")
    return result


def check_seed(value, name: str = "seed") -> int:
    """``value`` as an ``int`` >= 0. ``None`` is refused: a seeded function must give the same
    result on every call, and ``None`` would draw a new seed each time."""
    if value is None:
        raise TypeError(
            f"{name} must be an integer >= 0, got None; None would draw a new random seed on "
            "every call, so the result could not be repeated. Pass e.g. 0, and several seeds "
            "to measure the spread (advrec.experiment.run_seeds)."
        )
    return check_int(value, name, low=0, high=2**32 - 1)


def check_id(value, n: int, name: str, what: str = "item") -> int:
    """``value`` as an ``int`` id in ``[0, n)``: ``-1`` is not the last one, ``n`` is outside."""
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer {what} id in [0, {n}), got {value!r} "
            f"({type(value).__name__})."
        )
    result = int(value)
    if not 0 <= result < n:
        raise ValueError(
            f"{name} {result} is outside [0, {n}): {what} ids are 0..{n - 1} (-1 does not mean "
            "the last one)."
        )
    return result


def check_finite(array, name: str, hint: str = "") -> np.ndarray:
    """``array`` as a float64 ndarray, checked to hold no NaN or infinite value."""
    try:
        values = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers{_suffix(hint)}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN or infinite values (first at index "
            f"{where[0] if len(where) == 1 else where}: {values[where]}){_suffix(hint)}"
        )
    return values


def _scalar(value):
    """A 0-d array's element (``np.array(3)`` -> ``3``); anything else unchanged."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
