"""The cold-start evaluation protocol: what new items (or users) are ranked against, the
validation callback that selects a cold-start model's epoch, and the test report.

- :func:`cold_targets` / :func:`warm_targets` -- :func:`advrec.metrics.evaluate_ranking`
  arguments for the cold entities of a part, and for the warm test pairs.
- :class:`ColdValidation` -- early stopping on the cold *validation* entities.
- :func:`cold_start_report` -- the test metrics every cold-start table shows, and
  :func:`share_in_top_k` (how often new items reach the top of the lists).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from advrec.data.coldstart import ColdStartSplit
from advrec.data.interactions import Interactions
from advrec.metrics import evaluate_ranking
from advrec.training import RankingValidation

__all__ = [
    "ColdValidation",
    "cold_start_report",
    "cold_targets",
    "share_in_top_k",
    "warm_targets",
]


def cold_targets(split: ColdStartSplit, part: str = "valid") -> dict:
    """``evaluate_ranking`` keyword arguments for the cold ``part`` (``"valid"``/``"test"``).

    New items are ranked among the cold items of that part only; new users over the whole
    catalogue (they have no history to exclude).
    """
    target = split.cold_valid if part == "valid" else split.cold_test
    ids = split.cold_valid_ids if part == "valid" else split.cold_test_ids
    if split.side == "items":
        return {"target": target, "candidates": ids}
    return {"target": target, "candidates": None}


class ColdValidation(RankingValidation):
    """Early stopping on the cold validation entities (see :func:`cold_targets`)."""

    def __init__(self, split: ColdStartSplit, monitor="ndcg@20", patience=5, every=1):
        super().__init__(split.warm, monitor=monitor, ks=(10, 20), every=every, patience=patience)
        self.cold_split = split

    def evaluate(self) -> dict[str, float]:
        return evaluate_ranking(
            self.model.score_all, ks=self.ks, **cold_targets(self.cold_split, "valid")
        )


def warm_targets(split: ColdStartSplit) -> dict:
    """``evaluate_ranking`` keyword arguments for warm test pairs ranked among warm items."""
    warm = split.warm
    candidates = split.mask(split.warm_ids) if split.side == "items" else None
    return {"target": warm.test, "exclude": [warm.train, warm.valid], "candidates": candidates}


def share_in_top_k(
    score_fn,
    users,
    is_cold,
    exclude: Sequence[Interactions] = (),
    k: int = 20,
    candidates=None,
) -> float:
    """Mean share of cold items in each user's top-``k``.

    Args:
        score_fn: int32 ``[B]`` -> ``[B, n_items]``; users: int ``[n]`` user ids.
        is_cold: bool ``[n_items]``; exclude: tables whose pairs are not ranked.
        candidates: bool ``[n_items]`` items that may be ranked (default all).
    """
    users = np.asarray(users, np.int32)
    scores = np.array(score_fn(tf.constant(users)), dtype=np.float32)
    if candidates is not None:
        scores[:, ~np.asarray(candidates, bool)] = -np.inf
    row = {u: i for i, u in enumerate(users.tolist())}
    for table in exclude:
        keep = np.isin(table.user, users)
        scores[[row[u] for u in table.user[keep].tolist()], table.item[keep]] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.asarray(is_cold)[top]))


def cold_start_report(score_fn, split: ColdStartSplit) -> dict[str, float]:
    """Test metrics of a scorer on a cold-start split (each a float in [0, 1]).

    New items: ``cold_recall@20``/``cold_ndcg@20`` ranked among the cold test items only;
    ``all_recall@20``/``all_ndcg@20`` ranked among the whole catalogue (warm items the user never
    interacted with, plus the cold test items), the targets still the cold pairs;
    ``cold_share@20``, the share of cold items in those top-20 lists; ``warm_ndcg@10``, warm
    test pairs ranked among warm items. New users: ``cold_*`` over the whole catalogue, and
    ``warm_ndcg@10`` for the warm users.
    """
    out = {}
    cold = evaluate_ranking(score_fn, ks=(20,), **cold_targets(split, "test"))
    out["cold_recall@20"], out["cold_ndcg@20"] = cold["recall@20"], cold["ndcg@20"]
    if split.side == "items":
        warm = split.warm
        seen = [warm.train, warm.valid, warm.test]
        catalogue = ~split.mask(split.cold_valid_ids)
        hybrid = evaluate_ranking(
            score_fn, split.cold_test, exclude=seen, ks=(20,), candidates=catalogue
        )
        out["all_recall@20"], out["all_ndcg@20"] = hybrid["recall@20"], hybrid["ndcg@20"]
        out["cold_share@20"] = share_in_top_k(
            score_fn,
            np.unique(split.cold_test.user),
            split.mask(split.cold_test_ids),
            seen,
            20,
            catalogue,
        )
    out["warm_ndcg@10"] = evaluate_ranking(score_fn, ks=(10,), **warm_targets(split))["ndcg@10"]
    return out
