"""The evaluation protocol, written once: the standard split, evaluating a model on its
validation or test part, and choosing a setting on validation.

- :func:`load_split` -- a dataset's seeded 80/10/10 per-user random holdout.
- :func:`evaluate_split` -- full-ranking metrics on ``split.valid`` (training pairs excluded) or
  ``split.test`` (training and validation pairs excluded). Validation ranking therefore keeps
  each user's test items among the candidates and test ranking does not, so the two are not
  directly comparable: validation numbers are for choosing, test numbers for reporting.
- :func:`select_on_validation` -- trains one model per grid value, scores each on validation
  and picks the best; a best value at the edge of the grid is refused unless allowed, because
  the optimum may lie beyond it.

Runs over seeds, paired comparisons and result tables are in :mod:`advrec.experiment`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advrec.checks import check_int, check_seed
from advrec.data.splits import Split
from advrec.metrics import NonFiniteScoresError, ScoreFn, evaluate_ranking

DATASETS = ("ml-100k", "ml-1m", "synthetic")
PARTS = ("valid", "test")
VALIDATION_NOTE = "validation: training pairs excluded; each user's test items stay candidates"
TEST_NOTE = "test: training and validation pairs excluded"


def load_split(dataset: str, data_dir: str | None = None, seed: int = 0) -> Split:
    """The 80/10/10 per-user random holdout of ``dataset`` (one of :data:`DATASETS`).

    ``"synthetic"`` is :func:`advrec.data.synthetic_movielens` with ``seed``; the MovieLens
    releases are read with :func:`advrec.data.load_movielens` (``data_dir`` optional).
    """
    from advrec.data import load_movielens, random_holdout, synthetic_movielens

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}.")
    seed = check_seed(seed)
    if dataset == "synthetic":
        interactions = synthetic_movielens(seed=seed).interactions
    else:
        interactions = load_movielens(dataset, data_dir).interactions
    return random_holdout(interactions, (0.8, 0.1, 0.1), seed=seed)


def score_fn_of(model_or_score_fn: Any) -> ScoreFn:
    """``model.score_all`` for a model, the function itself for a score function."""
    score_all = getattr(model_or_score_fn, "score_all", None)
    if callable(score_all):
        return score_all
    if callable(model_or_score_fn):
        return model_or_score_fn
    raise TypeError(
        f"expected a model with score_all(users) or a score function, got "
        f"{type(model_or_score_fn).__name__}."
    )


def evaluate_split(
    model_or_score_fn: Any,
    split: Split,
    part: str = "test",
    ks: Sequence[int] = (10, 20),
    **options,
) -> dict[str, float] | dict[str, np.ndarray]:
    """Full-ranking metrics of a model (or score function) on one part of ``split``.

    ``part="valid"`` ranks all items but the user's training items; ``part="test"`` all but
    the training and validation items (see the module note). ``options`` go to
    :func:`advrec.metrics.evaluate_ranking` (``batch_size``, ``with_auc``, ``per_user``).
    """
    if part not in PARTS:
        raise ValueError(f'part must be "valid" or "test", got {part!r}.')
    exclude = [split.train] if part == "valid" else [split.train, split.valid]
    target = split.valid if part == "valid" else split.test
    return evaluate_ranking(score_fn_of(model_or_score_fn), target, exclude, ks=ks, **options)


@dataclass
class Selection:
    """What :func:`select_on_validation` found.

    Attributes:
        value: the chosen grid value; ``index`` its position in the grid.
        grid: the values tried, in order; ``scores`` the monitored validation metric of each.
        at_edge: the choice is the first or last grid value (so the optimum may lie outside).
        model: what ``train_fn`` returned for the chosen value.
        metrics: all validation metrics of each grid value.
    """

    value: Any
    index: int
    grid: list
    scores: np.ndarray
    at_edge: bool
    model: Any = None
    metrics: list[dict[str, float]] = field(default_factory=list)


class EdgeOfGridError(ValueError):
    """The best validation score is at the edge of the grid; ``selection`` holds the results."""

    def __init__(self, message: str, selection: Selection) -> None:
        super().__init__(message)
        self.selection = selection


def select_on_validation(
    grid: Sequence,
    train_fn: Callable[[Any], Any],
    split: Split,
    monitor: str = "ndcg@10",
    ks: Sequence[int] = (10, 20),
    allow_edge: bool = False,
    max_extensions: int = 0,
) -> Selection:
    """Trains ``train_fn(value)`` for each grid value and keeps the best on validation.

    ``train_fn`` returns a trained model (or score function), which is evaluated with
    :func:`evaluate_split` on ``split.valid``, or directly a mapping of validation metrics
    (e.g. when training already selected an epoch on validation). Ties go to the earlier grid
    value, so order the grid from the simplest setting (e.g. the strongest regularisation).

    A value whose monitored score is NaN or infinite (a run that diverged) is never chosen, and
    a warning names it; if no value has a finite score, a ``ValueError`` says so.

    ``max_extensions`` grows a numeric grid (increasing, positive values, read as geometric):
    while the best value is the smallest or the largest, one more value is tried beyond that
    edge at the ratio of the two values there, at most ``max_extensions`` times. The grid of
    the returned selection holds every value tried, in increasing order.

    Raises:
        EdgeOfGridError: the best value is the first or last of the grid (or the grid has one
            value) and ``allow_edge`` is False; its ``selection`` attribute keeps every result,
            so nothing is lost. Extend the grid past that value, or pass ``allow_edge=True``
            where the edge is a real bound (e.g. a weight of 0).
    """
    grid = list(grid)
    if not grid:
        raise ValueError("the grid is empty; give the values to choose from.")
    max_extensions = check_int(max_extensions, "max_extensions", low=0)
    if max_extensions and (
        len(grid) < 2
        or not all(isinstance(v, numbers.Real) and math.isfinite(v) and v > 0 for v in grid)
        or grid != sorted(set(grid))
    ):
        raise ValueError(
            f"to be extended, a grid must hold >= 2 increasing positive values, got {grid}."
        )
    metrics: list[dict[str, float]] = []  # of each grid value, in grid order
    trained: list[Any] = []  # what train_fn returned for each (kept until the choice is made)

    def evaluate(value, position: int) -> None:
        model = train_fn(value)
        if isinstance(model, Mapping):
            result = {name: float(v) for name, v in model.items()}
        else:
            try:
                result = evaluate_split(model, split, "valid", ks=ks)
            except NonFiniteScoresError:  # a diverged run: recorded, never chosen
                result = {monitor: math.nan}
        if monitor not in result:
            raise ValueError(f"monitor {monitor!r} is not one of {sorted(result)}.")
        metrics.insert(position, result)
        trained.insert(position, model)

    def best_index() -> int:
        """The first of the best finite scores: a NaN (a diverged run) never wins."""
        scores = np.array([result[monitor] for result in metrics], np.float64)
        finite = np.isfinite(scores)
        if not finite.any():
            raise ValueError(
                f"no grid value has a finite validation {monitor} (got {scores.tolist()} for "
                f"{grid}): every run diverged or failed. Check the training (e.g. a smaller "
                "learning rate) before choosing."
            )
        return int(np.argmax(np.where(finite, scores, -np.inf)))  # first of equal maxima

    for position, value in enumerate(grid):
        evaluate(value, position)
    for _ in range(max_extensions):
        index = best_index()
        if index == 0:
            grid.insert(0, grid[0] * grid[0] / grid[1])
            evaluate(grid[0], 0)
        elif index == len(grid) - 1:
            grid.append(grid[-1] * grid[-1] / grid[-2])
            evaluate(grid[-1], len(grid) - 1)
        else:
            break
    index = best_index()
    scores = [result[monitor] for result in metrics]
    diverged = [(v, s) for v, s in zip(grid, scores, strict=True) if not math.isfinite(s)]
    if diverged:
        listing = ", ".join(f"{v!r} ({s})" for v, s in diverged)
        warnings.warn(
            f"validation {monitor} is not finite for {listing}: those runs diverged or failed "
            "and were not chosen. Their scores stay NaN in Selection.scores.",
            stacklevel=2,
        )
    at_edge = index in (0, len(grid) - 1)
    selection = Selection(
        grid[index], index, grid, np.asarray(scores), at_edge, trained[index], metrics
    )
    if at_edge and not allow_edge:
        where = "only value" if len(grid) == 1 else ("first" if index == 0 else "last")
        raise EdgeOfGridError(
            f"validation {monitor} is best at {grid[index]!r}, the {where} grid value "
            f"(scores {np.round(scores, 4).tolist()}); the optimum may lie beyond it. Extend the "
            "grid past it (max_extensions), or pass allow_edge=True if the edge is a real bound.",
            selection,
        )
    return selection
