"""Repeated runs over seeds and their summaries (mean ± std)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping

import keras
import numpy as np


def set_seed(seed: int) -> None:
    """Seeds Python, numpy, TensorFlow and Keras (for code that draws from global generators)."""
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
    seeds = list(seeds)
    if not seeds:
        raise ValueError("give at least one seed.")
    for seed in seeds:
        set_seed(seed)
        for name, value in run(seed).items():
            results.setdefault(name, []).append(float(value))
    return {name: np.asarray(values) for name, values in results.items()}


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def format_mean_std(values: np.ndarray, digits: int = 4) -> str:
    """``"0.1234 ± 0.0056"``."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def results_table(
    runs: Mapping[str, Mapping[str, np.ndarray]], metrics: Iterable[str], digits: int = 4
) -> str:
    """A Markdown table, one row per model, one column per metric, cells ``mean ± std``."""
    metrics = list(metrics)
    lines = ["| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for model, result in runs.items():
        cells = [format_mean_std(result[m], digits) for m in metrics]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
