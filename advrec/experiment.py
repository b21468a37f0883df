"""Repeated runs over seeds and their summaries: mean ± std, paired comparisons, result tables.

How one run is evaluated and selected (the split, the exclusions, the validation grid) is in
:mod:`advrec.protocol`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from scipy import stats

from advrec.checks import check_seed


def set_seed(seed: int) -> None:
    """Seeds Python, numpy, TensorFlow and Keras (for code that draws from global generators)."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def run_seeds(
    run: Callable[[int], Mapping[str, float]], seeds: Iterable[int]
) -> dict[str, np.ndarray]:
    """Calls ``run(seed)`` for each seed and stacks the returned metrics.

    Returns ``{metric: float64 [n_seeds]}``.
    """
    results: dict[str, list[float]] = {}
    seeds = [check_seed(seed) for seed in seeds]
    if not seeds:
        raise ValueError("give at least one seed.")
    for seed in seeds:
        set_seed(seed)
        metrics = run(seed)
        if results and set(metrics) != set(results):
            raise ValueError(
                f"seed {seed} reported {sorted(metrics)} but seed {seeds[0]} reported "
                f"{sorted(results)}; every run must report the same metrics, so that the i-th "
                "value of each is the same seed's (report NaN for a metric a run could not "
                "compute)."
            )
        for name, value in metrics.items():
            results.setdefault(name, []).append(float(value))
    return {name: np.asarray(values) for name, values in results.items()}


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values to summarise: give at least one result.")
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def format_mean_std(values: np.ndarray, digits: int = 4) -> str:
    """``"0.1234 ± 0.0056"``."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


@dataclass(frozen=True)
class PairedComparison:
    """Model ``a`` against model ``b`` over the same seeds (same split and seed per pair).

    Attributes:
        n: number of paired runs.
        mean_difference: mean of ``a - b``; ``std_difference`` its sample std (ddof=1).
        t_statistic, p_value: two-sided paired t-test of ``mean(a - b) = 0``.
        sign_p_value: two-sided exact sign test (binomial) on the non-zero differences.
        wins, losses: runs where ``a`` is above / below ``b``.
        correction: how ``p_value`` was adjusted for several comparisons (``""``: it was not;
            e.g. ``"Holm over 5"``, :func:`holm_comparisons`).
    """

    n: int
    mean_difference: float
    std_difference: float
    t_statistic: float
    p_value: float
    sign_p_value: float
    wins: int
    losses: int
    correction: str = ""

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the paired t-test rejects "no difference" at level ``alpha``."""
        return self.p_value < alpha

    def verdict(self, a: str, b: str, higher: str = "higher", alpha: float = 0.05) -> str:
        """One sentence a chapter can print: what the paired evidence supports, and no more.

        E.g. ``"AMF is higher than BPR-MF on 4 of 5 seeds, a significant difference (paired
        t-test p = 0.012)"`` or ``"no significant difference between AMF and BPR-MF (AMF
        higher on 3 of 5 seeds, paired t-test p = 0.41)"``.
        """
        test = f"paired t-test p = {self.p_value:.2g}"
        if self.correction:
            test += f", {self.correction}"
        if not self.significant(alpha):
            return (
                f"no significant difference between {a} and {b} ({a} {higher} on {self.wins} "
                f"of {self.n} seeds, {test})"
            )
        first, second, count = (
            (a, b, self.wins) if self.mean_difference > 0 else (b, a, self.losses)
        )
        return (
            f"{first} is {higher} than {second} on {count} of {self.n} seeds, a significant "
            f"difference ({test})"
        )

    def __str__(self) -> str:
        return (
            f"{self.mean_difference:+.4f} ± {self.std_difference:.4f} over {self.n} paired runs "
            f"({self.wins} wins, {self.losses} losses; paired t-test p = {self.p_value:.3g}, "
            f"sign test p = {self.sign_p_value:.3g})"
        )


def paired_comparison(a: Sequence[float], b: Sequence[float]) -> PairedComparison:
    """Paired per-seed comparison of two models' results ``a[i]``, ``b[i]`` (run ``i`` of both
    on the same split and seed).

    The main test is the paired t-test on the differences: with the few seeds a chapter can
    afford (3-10), it uses their size as well as their sign, so it has more power than the sign
    test, and each per-seed metric is a mean over hundreds of users, so the differences are close
    to normal. The exact sign test, which assumes nothing about their distribution, is reported
    beside it; with ``n`` runs its smallest possible p-value is ``2 / 2**n`` (0.25 for 3 seeds).

    Raises:
        ValueError: different lengths, fewer than 2 pairs, or non-finite values.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"a and b must be 1-D with one result per seed, in the same seed order; got shapes "
            f"{a.shape} and {b.shape}."
        )
    if len(a) < 2:
        raise ValueError(f"a paired comparison needs at least 2 seeds, got {len(a)}.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite; drop the seeds that did not run from both.")
    diff = a - b
    n = len(diff)
    mean, std = float(diff.mean()), float(diff.std(ddof=1))
    if std == 0.0:
        t_statistic = 0.0 if mean == 0.0 else float(np.sign(mean) * np.inf)
        p_value = 1.0 if mean == 0.0 else 0.0
    else:
        t_statistic = mean / (std / np.sqrt(n))
        p_value = float(2.0 * stats.t.sf(abs(t_statistic), df=n - 1))
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    decided = wins + losses
    sign_p = 1.0 if decided == 0 else float(stats.binomtest(wins, decided, 0.5).pvalue)
    return PairedComparison(n, mean, std, float(t_statistic), p_value, sign_p, wins, losses)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """float64 ``[n]``: Holm's step-down adjusted p-values of ``n`` tests (Holm, 1979).

    Rejecting every hypothesis whose adjusted p-value is below ``alpha`` keeps the chance of any
    false rejection among the ``n`` at most ``alpha``, whatever their dependence; a chapter that
    makes several comparisons reports these instead of the raw p-values.
    """
    p = np.asarray(p_values, np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values must be a 1-D list of probabilities in [0, 1], got {p}.")
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def holm_comparisons(
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]],
) -> dict[str, PairedComparison]:
    """:func:`paired_comparison` of every ``label: (a, b)`` pair, their t-test p-values adjusted
    together by :func:`holm` (each comparison's ``correction`` says so): the family of claims a
    chapter makes about one table, with a chance of any false "significant" of at most alpha."""
    import dataclasses

    raw = {label: paired_comparison(a, b) for label, (a, b) in pairs.items()}
    if not raw:
        raise ValueError("give at least one pair to compare.")
    adjusted = holm([c.p_value for c in raw.values()])
    note = f"Holm-adjusted over {len(raw)}" if len(raw) > 1 else ""
    return {
        label: dataclasses.replace(c, p_value=float(p), correction=note)
        for (label, c), p in zip(raw.items(), adjusted, strict=True)
    }


MISSING = "—"
"""How :func:`results_table` shows a result that is missing (not run, or no value)."""


def format_cell(values, digits: int = 4) -> str:
    """``"mean ± std"`` over the finite values; one value alone without a std; ``(n=k)`` when
    some runs are missing; :data:`MISSING` when there is no value."""
    if values is None:
        return MISSING
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return MISSING
    text = f"{finite[0]:.{digits}f}" if len(finite) == 1 else format_mean_std(finite, digits)
    if len(finite) < len(values):
        text += f" (n={len(finite)})"
    return text


def results_table(
    runs: Mapping[str, Mapping[str, np.ndarray]], metrics: Iterable[str], digits: int = 4
) -> str:
    """A Markdown table, one row per model, one column per metric, cells ``mean ± std`` over
    seeds (see :func:`format_cell`: a metric a model lacks, or NaN results, show as ``—``)."""
    metrics = list(metrics)
    lines = ["| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for model, result in runs.items():
        cells = [format_cell(result.get(m), digits) for m in metrics]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
