"""Choosing one hyper-parameter on validation, extending a geometric grid until the choice is
not at its edge (a choice at the edge says the grid was too narrow)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from advrec.data.splits import Split
from advrec.metrics import evaluate_ranking


def select_on_validation(
    build: Callable[[float], object],
    grid: Sequence[float],
    split: Split,
    monitor: str = "ndcg@10",
    ks: Sequence[int] = (10,),
    max_extensions: int = 2,
) -> tuple[float, object, dict[float, float]]:
    """Builds one model per grid value and keeps the one with the best validation ``monitor``.

    While the best value is the grid's smallest or largest (and at most ``max_extensions``
    times), the grid is extended by one more value beyond that edge, at the ratio of the two
    values there (the grid is read as geometric).

    Args:
        build: ``value -> model`` with ``score_all`` (it trains the model, if needed).
        grid: at least two positive candidate values, in increasing order.
        split: its ``valid`` pairs score the candidates, its ``train`` pairs are excluded.
        monitor: metric to maximise.
        ks: cut-offs to compute.
        max_extensions: most values added beyond the grid's edges.

    Returns:
        ``(best value, its model, {value: validation score})`` over every value tried.
    """
    grid = [float(v) for v in grid]
    if len(grid) < 2 or min(grid) <= 0 or grid != sorted(set(grid)):
        raise ValueError(f"grid must hold >= 2 increasing positive values, got {grid}.")
    scores: dict[float, float] = {}
    models: dict[float, object] = {}

    def score(value: float) -> None:
        model = build(value)
        result = evaluate_ranking(model.score_all, split.valid, exclude=split.train, ks=ks)
        scores[value], models[value] = float(result[monitor]), model

    for value in grid:
        score(value)
    for _ in range(max_extensions):
        best, tried = max(scores, key=scores.get), sorted(scores)
        if best == tried[0]:
            score(tried[0] * tried[0] / tried[1])
        elif best == tried[-1]:
            score(tried[-1] * tried[-1] / tried[-2])
        else:
            break
    best = max(scores, key=scores.get)
    # keep only the chosen model alive
    return best, models[best], dict(sorted(scores.items()))


def is_interior(values: Sequence[float], value: float) -> bool:
    """Whether ``value`` lies strictly inside ``values`` (not the smallest or the largest)."""
    return min(values) < value < max(values)
