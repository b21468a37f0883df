"""Repeated runs over seeds and their summaries: mean ± std, paired comparisons, result tables.

How one run is evaluated and selected (the split, the exclusions, the validation grid) is in
:mod:`advrec.protocol`.
"""

from __future__ import annotations

import dataclasses
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
        adjusted_p_value: the t-test's p-value corrected for the other comparisons of its
            family (:func:`paired_family`, Holm's method); ``None`` for a lone comparison.
        family_size: the number of comparisons in that family (0 for a lone comparison).
    """

    n: int
    mean_difference: float
    std_difference: float
    t_statistic: float
    p_value: float
    sign_p_value: float
    wins: int
    losses: int
    adjusted_p_value: float | None = None
    family_size: int = 0

    @property
    def decisive_p_value(self) -> float:
        """The p-value a verdict rests on: Holm-adjusted in a family, the t-test's otherwise."""
        return self.p_value if self.adjusted_p_value is None else self.adjusted_p_value

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the paired t-test rejects "no difference" at level ``alpha`` (after Holm's
        correction when the comparison belongs to a family)."""
        return self.decisive_p_value < alpha

    def verdict(self, a: str, b: str, higher: str = "higher", alpha: float = 0.05) -> str:
        """One sentence a chapter can print: what the paired evidence supports, and no more.

        E.g. ``"AMF is higher than BPR-MF on 4 of 5 seeds, a significant difference (paired
        t-test p = 0.012)"`` or ``"no significant difference between AMF and BPR-MF (AMF
        higher on 3 of 5 seeds, paired t-test p = 0.41)"``.
        """
        test = f"paired t-test p = {self.p_value:.2g}"
        if self.adjusted_p_value is not None:
            test += f", Holm-adjusted over {self.family_size} tests p = {self.adjusted_p_value:.2g}"
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
        adjusted = (
            ""
            if self.adjusted_p_value is None
            else f", Holm-adjusted p = {self.adjusted_p_value:.3g}"
        )
        return (
            f"{self.mean_difference:+.4f} ± {self.std_difference:.4f} over {self.n} paired runs "
            f"({self.wins} wins, {self.losses} losses; paired t-test p = {self.p_value:.3g}"
            f"{adjusted}, sign test p = {self.sign_p_value:.3g})"
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
    """Holm's step-down adjustment of ``m`` p-values (Holm, 1979): sorted increasingly, the
    ``i``-th (1-based) becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``. Rejecting where the
    adjusted value is below ``alpha`` keeps the chance of any false rejection in the family at
    most ``alpha``, whatever the dependence between the tests.

    Returns float64 ``[m]`` in the input's order.
    """
    p = np.asarray(p_values, np.float64)
    if p.ndim != 1 or p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"give a 1-D list of p-values in [0, 1]; got {p_values!r}.")
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def paired_family(
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]],
) -> dict[str, PairedComparison]:
    """Every comparison a chapter makes, tested together: ``{name: (a, b)}`` ->
    ``{name: PairedComparison}`` (:func:`paired_comparison` of each), with the t-tests'
    p-values adjusted by :func:`holm` over the whole family, so that
    :meth:`PairedComparison.significant` and :meth:`PairedComparison.verdict` account for the
    number of comparisons."""
    if not pairs:
        raise ValueError("give at least one comparison, {name: (a, b)}.")
    tests = {name: paired_comparison(a, b) for name, (a, b) in pairs.items()}
    adjusted = holm([t.p_value for t in tests.values()])
    return {
        name: dataclasses.replace(test, adjusted_p_value=float(q), family_size=len(tests))
        for (name, test), q in zip(tests.items(), adjusted, strict=True)
    }


def verdict_stability(
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]], alpha: float = 0.05
) -> dict[str, float]:
    """How much a family's verdicts hang on single seeds: for each comparison of
    :func:`paired_family`, the share of the leave-one-seed-out families (the whole family
    recomputed without seed ``i``, for every ``i``) whose verdict equals the full family's --
    the same decision at level ``alpha`` after Holm's correction and, when significant, the same
    sign. 1.0 means no single seed decides it."""
    full = paired_family(pairs)
    n = len(next(iter(pairs.values()))[0])
    if n < 3:
        raise ValueError(f"leaving a seed out needs at least 3 seeds, got {n}.")

    def decision(test: PairedComparison) -> tuple[bool, float]:
        significant = test.significant(alpha)
        return significant, float(np.sign(test.mean_difference)) if significant else 0.0

    agree = dict.fromkeys(pairs, 0)
    for left_out in range(n):
        keep = [i for i in range(n) if i != left_out]
        reduced = paired_family(
            {k: (np.asarray(a)[keep], np.asarray(b)[keep]) for k, (a, b) in pairs.items()}
        )
        for name in pairs:
            agree[name] += decision(reduced[name]) == decision(full[name])
    return {name: count / n for name, count in agree.items()}


def family_table(family: Mapping[str, PairedComparison], digits: int = 4) -> str:
    """A Markdown table of a :func:`paired_family`: per comparison the mean difference ± std,
    wins and losses, the t-test's p-value, Holm's adjusted p-value and the sign test's."""
    lines = [
        "| comparison (a − b) | mean ± std | a higher / lower | t-test p | Holm p | sign p |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in family.items():
        adjusted = MISSING if t.adjusted_p_value is None else f"{t.adjusted_p_value:.2g}"
        lines.append(
            f"| {name} | {t.mean_difference:+.{digits}f} ± {t.std_difference:.{digits}f} "
            f"| {t.wins} / {t.losses} of {t.n} | {t.p_value:.2g} | {adjusted} "
            f"| {t.sign_p_value:.2g} |"
        )
    return "\n".join(lines)


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
    runs: Mapping[str, Mapping[str, np.ndarray]],
    metrics: Iterable[str],
    digits: int = 4,
    first_column: str = "model",
) -> str:
    """A Markdown table, one row per model, one column per metric, cells ``mean ± std`` over
    seeds (see :func:`format_cell`: a metric a model lacks, or NaN results, show as ``—``).
    ``first_column`` heads the column of row names (a model, a group, a budget)."""
    metrics = list(metrics)
    lines = [f"| {first_column} | " + " | ".join(metrics) + " |"]
    lines.append("|---" * (len(metrics) + 1) + "|")
    for model, result in runs.items():
        cells = [format_cell(result.get(m), digits) for m in metrics]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
