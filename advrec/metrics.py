"""Full-ranking top-K evaluation, batched over users, in TensorFlow (runs on a GPU too).

Every item a user did not interact with in the excluded tables (training, and validation when
testing) is a candidate; the model scores all of them, and Precision, Recall, HR, NDCG and MRR
at several K (and optionally AUC) are computed from one top-K pass.

Ties: items with equal scores are ordered by item index, lower first (the order of
``tf.math.top_k``), so a model that scores everything equally ranks items by index. The
brute-force reference in the tests uses the same rule.

AUC is the fraction of (relevant, non-relevant candidate) pairs that this ranking puts in the
right order. It follows the same tie rule (a tie counts as won by the lower item index, not as
one half), so a constant scorer gets the AUC of the index order rather than 0.5. A user with no
non-relevant candidate (every candidate is a target) has no AUC: their per-user value is NaN
and the mean is over the other users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from advrec.checks import check_int, check_seed
from advrec.data.interactions import Interactions

RANKING_METRICS = ("precision", "recall", "hr", "ndcg", "mrr")


class NonFiniteScoresError(ValueError):
    """A score function returned NaN or infinite scores (typically a model that diverged)."""


ScoreFn = Callable[[tf.Tensor], tf.Tensor]
"""Maps int32 ``[B]`` user ids to float ``[B, n_items]`` scores."""


def _as_list(tables: Interactions | Iterable[Interactions] | None) -> list[Interactions]:
    if tables is None:
        return []
    if isinstance(tables, Interactions):
        return [tables]
    return list(tables)


def items_by_user(tables: list[Interactions], n_users: int) -> tf.RaggedTensor:
    """int32 ragged ``[n_users, None]``: the items of each user across ``tables``."""
    if tables:
        user = np.concatenate([t.user for t in tables])
        item = np.concatenate([t.item for t in tables])
    else:
        user = item = np.zeros(0, np.int32)
    order = np.argsort(user, kind="stable")
    return tf.RaggedTensor.from_value_rowids(
        item[order].astype(np.int32), user[order].astype(np.int64), nrows=n_users
    )


def batch_mask(items: tf.RaggedTensor, users: tf.Tensor, n_items: int) -> tf.Tensor:
    """bool ``[B, n_items]``: True where the user (row of ``users``) has the item."""
    rows = tf.gather(items, users)
    indices = tf.stack([rows.value_rowids(), tf.cast(rows.flat_values, tf.int64)], axis=1)
    shape = tf.cast(tf.stack([tf.shape(users)[0], n_items]), tf.int64)
    counts = tf.scatter_nd(indices, tf.ones_like(rows.flat_values), shape)
    return counts > 0


def ideal_dcg(n_relevant: tf.Tensor, k: int) -> tf.Tensor:
    """float32 ``[B]``: DCG of a perfect top-``k`` list for users with ``n_relevant`` items."""
    discounts = 1.0 / tf.math.log(tf.range(2, k + 2, dtype=tf.float32)) * tf.math.log(2.0)
    cumulative = tf.concat([[0.0], tf.cumsum(discounts)], axis=0)
    return tf.gather(cumulative, tf.minimum(tf.cast(n_relevant, tf.int32), k))


def _ranking_metrics_for_batch(
    scores: tf.Tensor, excluded: tf.Tensor, relevant: tf.Tensor, ks: Sequence[int], with_auc: bool
) -> dict[str, tf.Tensor]:
    """Per-user metrics ``{name: float32 [B]}`` for one batch of score rows ``[B, n_items]``."""
    scores = tf.where(excluded, tf.constant(-np.inf, scores.dtype), scores)
    k_max = max(ks)
    _, top = tf.math.top_k(scores, k=k_max)  # [B, k_max], ties -> lower index first
    hits = tf.cast(tf.gather(relevant, top, batch_dims=1), tf.float32)  # [B, k_max]
    n_relevant = tf.reduce_sum(tf.cast(relevant, tf.float32), axis=1)  # [B]
    position = tf.range(k_max, dtype=tf.float32)
    gains = hits * (tf.math.log(2.0) / tf.math.log(position + 2.0))
    reciprocal = hits / (position + 1.0)
    out = {}
    for k in ks:
        n_hits = tf.reduce_sum(hits[:, :k], axis=1)
        out[f"precision@{k}"] = n_hits / k
        out[f"recall@{k}"] = n_hits / n_relevant
        out[f"hr@{k}"] = tf.cast(n_hits > 0, tf.float32)
        out[f"ndcg@{k}"] = tf.reduce_sum(gains[:, :k], axis=1) / ideal_dcg(n_relevant, k)
        out[f"mrr@{k}"] = tf.reduce_max(reciprocal[:, :k], axis=1)
    if with_auc:
        n_items = tf.shape(scores)[1]
        _, order = tf.math.top_k(scores, k=n_items)  # full ranking
        rank = tf.argsort(order, axis=1, stable=True)  # rank[b, i] = position of item i
        n_candidates = tf.cast(n_items, tf.float32) - tf.reduce_sum(
            tf.cast(excluded, tf.float32), axis=1
        )
        n_negative = n_candidates - n_relevant
        rank_sum = tf.reduce_sum(tf.where(relevant, tf.cast(rank, tf.float32), 0.0), axis=1)
        negatives_above = rank_sum - n_relevant * (n_relevant - 1.0) / 2.0
        defined = n_negative > 0  # a user with no negative candidate has no AUC: NaN
        auc = 1.0 - negatives_above / tf.where(defined, n_relevant * n_negative, 1.0)
        out["auc"] = tf.where(defined, auc, tf.constant(np.nan, tf.float32))
    return out


@tf.function(reduce_retracing=True)
def _batch_metrics(
    scores: tf.Tensor,
    users: tf.Tensor,
    excluded_items: tf.RaggedTensor,
    relevant_items: tf.RaggedTensor,
    ks: tuple[int, ...],
    with_auc: bool,
    candidates: tf.Tensor,
) -> dict[str, tf.Tensor]:
    """Per-user metrics for one batch of finite scores (traced once per shape).

    ``candidates``: bool ``[n_items]``; items outside it are excluded for every user.
    """
    n_items = tf.shape(scores)[1]
    excluded = batch_mask(excluded_items, users, n_items) | ~candidates[tf.newaxis, :]
    relevant = batch_mask(relevant_items, users, n_items)
    return _ranking_metrics_for_batch(scores, excluded, relevant, ks, with_auc)


def evaluate_ranking(
    score_fn: ScoreFn,
    target: Interactions,
    exclude: Interactions | Iterable[Interactions] | None = None,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
    with_auc: bool = False,
    per_user: bool = False,
    candidates: np.ndarray | None = None,
) -> dict[str, float] | dict[str, np.ndarray]:
    """Full-ranking evaluation of ``score_fn`` on ``target`` pairs (see the module note on ties
    and on users without an AUC).

    Args:
        score_fn: int32 ``[B]`` users -> float ``[B, n_items]`` scores (higher ranks first).
        target: the held-out pairs to find (validation or test). Users without a target row are
            not evaluated.
        exclude: pairs removed from the ranking (training; training and validation for test).
        ks: cut-offs.
        batch_size: users per batch; memory is bounded by ``batch_size * n_items``.
        with_auc: also compute AUC over all candidates (costs a full sort per user).
        per_user: return ``{metric: float [n_evaluated_users]}`` (plus ``"user"``) instead of means.
        candidates: rank only these items (bool ``[n_items]`` mask or int item ids), e.g. the
            cold items of a cold-start split; default: the whole catalogue.

    Returns:
        ``{"precision@10": ..., "recall@10": ..., "hr@10": ..., "ndcg@10": ..., "mrr@10": ...}``
        (for each K), and ``"auc"`` if asked, averaged over evaluated users (AUC over those with
        at least one non-relevant candidate).

    Raises:
        ValueError: an empty ``target``, ``batch_size < 1``, bad cut-offs, tables over other id
            spaces, target pairs that are also excluded, or scores of the wrong shape.
        NonFiniteScoresError: (a ``ValueError``) ``score_fn`` returned NaN or infinite scores.
        TypeError: ``score_fn`` returned non-floating scores, or ``ks`` is not a sequence.
    """
    if len(target) == 0:
        raise ValueError(
            "target has no pairs, so there is nothing to rank; check that the split's "
            "validation/test part is not empty (e.g. split.users_without('test'))."
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive integer (users per batch), got {batch_size!r}."
        )
    ks = check_cutoffs(ks)
    if ks[-1] > target.n_items:
        raise ValueError(f"cut-off {ks[-1]} exceeds the number of items ({target.n_items}).")
    excluded_tables = _as_list(exclude)
    for table in excluded_tables:
        if (table.n_users, table.n_items) != (target.n_users, target.n_items):
            raise ValueError("exclude and target must share one id space (n_users, n_items).")
        overlap = np.intersect1d(table.keys(), target.keys())
        if len(overlap):
            raise ValueError(
                f"{len(overlap)} target pairs are also in an excluded table, so they could "
                "never be ranked; evaluate on a split whose parts are disjoint."
            )
    n_users, n_items = target.n_users, target.n_items
    allowed = candidate_mask(candidates, target)
    excluded_items = items_by_user(excluded_tables, n_users)
    relevant_items = items_by_user([target], n_users)
    users = np.unique(target.user).astype(np.int32)

    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(users), batch_size):
        batch_users = tf.constant(users[start : start + batch_size])
        scores = checked_scores(score_fn, batch_users, n_items)
        metrics = _batch_metrics(
            scores, batch_users, excluded_items, relevant_items, ks, with_auc, allowed
        )
        for name, value in metrics.items():
            parts.setdefault(name, []).append(value.numpy())
    values = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    if per_user:
        return {"user": users, **values}
    means = {name: float(np.mean(v)) for name, v in values.items() if name != "auc"}
    if "auc" in values:
        defined = values["auc"][np.isfinite(values["auc"])]
        if not len(defined):
            raise ValueError(
                "no evaluated user has a non-relevant candidate item, so AUC is undefined for "
                "all of them; evaluate with_auc=False, or exclude fewer items."
            )
        means["auc"] = float(np.mean(defined))
    return means


def check_cutoffs(ks: Sequence[int]) -> tuple[int, ...]:
    """The sorted distinct cut-offs of ``ks``, each a whole number >= 1 (``2.5`` is refused, not
    truncated to 2)."""
    if isinstance(ks, str) or not isinstance(ks, Iterable):
        raise TypeError(f"ks must be a sequence of cut-offs such as (10, 20), got {ks!r}.")
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks is empty; give the cut-offs, e.g. (10, 20).")
    try:
        values = {check_int(k, "a cut-off", low=1) for k in ks}
    except (TypeError, ValueError):
        raise ValueError(f"cut-offs must be whole numbers >= 1, got {ks}; e.g. (10, 20).") from None
    return tuple(sorted(values))


def checked_scores(score_fn: ScoreFn, users: tf.Tensor, n_items: int) -> tf.Tensor:
    """``score_fn(users)`` for int32 ``[B]`` users, checked: floating, ``[B, n_items]``, finite.

    Raises:
        TypeError: non-floating scores. ValueError: another shape.
        NonFiniteScoresError: NaN or infinite scores (the users are named).
    """
    scores = tf.convert_to_tensor(score_fn(users))
    if not scores.dtype.is_floating:
        raise TypeError(
            f"score_fn must return floating-point scores, got {scores.dtype.name}; cast "
            "them, e.g. tf.cast(scores, tf.float32)."
        )
    if tuple(scores.shape) != (len(users), n_items):
        raise ValueError(
            f"score_fn must return one score per item, shape [{len(users)}, {n_items}]; "
            f"got {tuple(scores.shape)}."
        )
    check_finite_scores(scores, users)
    return scores


def check_finite_scores(scores: tf.Tensor, users: tf.Tensor) -> None:
    """Raises :class:`NonFiniteScoresError` naming the users whose ``[B, n_items]`` scores hold
    NaN or infinity (checked eagerly, so the error is this one, not TensorFlow's)."""
    finite = tf.math.is_finite(tf.cast(scores, tf.float32))
    if bool(tf.reduce_all(finite)):
        return
    bad_rows = ~tf.reduce_all(finite, axis=1).numpy()
    bad_users = np.asarray(users)[bad_rows]
    count = int(tf.size(finite)) - int(tf.reduce_sum(tf.cast(finite, tf.int32)))
    shown = ", ".join(str(u) for u in bad_users[:5]) + (", ..." if len(bad_users) > 5 else "")
    raise NonFiniteScoresError(
        f"score_fn returned {count} NaN or infinite scores for user{'s' * (len(bad_users) > 1)} "
        f"{shown}: the model probably diverged (NaN weights: try a smaller learning rate or "
        "a stronger regularisation), or a score function masks items with -inf; rank only "
        "finite scores (see evaluate_ranking's candidates= to restrict the items)."
    )


def candidate_mask(candidates: np.ndarray | None, target: Interactions) -> tf.Tensor:
    """bool ``[n_items]`` from a mask or item ids (all True for ``None``), checked against
    ``target``: every target item must be a candidate, else it could never be ranked."""
    n_items = target.n_items
    if candidates is None:
        return tf.ones([n_items], tf.bool)
    candidates = np.asarray(candidates)
    if candidates.dtype == bool:
        if candidates.shape != (n_items,):
            raise ValueError(f"a candidate mask must be [{n_items}], got {candidates.shape}.")
        mask = candidates
    else:
        if candidates.ndim != 1 or not np.issubdtype(candidates.dtype, np.integer):
            raise TypeError("candidates must be a bool [n_items] mask or a 1-D array of item ids.")
        if len(candidates) and (candidates.min() < 0 or candidates.max() >= n_items):
            raise ValueError(f"candidate item ids must lie in [0, {n_items}).")
        mask = np.zeros(n_items, bool)
        mask[candidates] = True
    outside = int(np.sum(~mask[target.item]))
    if outside:
        raise ValueError(
            f"{outside} target pairs are on items outside the candidates, so they could never be "
            "ranked; restrict the target to the candidate items first (Interactions.select)."
        )
    return tf.constant(mask)


def sampled_candidates(
    score_fn: ScoreFn,
    target: Interactions,
    exclude: Interactions | Iterable[Interactions] | None = None,
    n_negatives: int = 100,
    seed: int = 0,
) -> ScoreFn:
    """Wraps ``score_fn`` so each user is ranked only against ``n_negatives`` sampled items.

    This is the *sampled* protocol many papers use (each user's target items plus
    ``n_negatives`` random items they never interacted with); every other item gets the lowest
    float32 score. It exists to show how sampled metrics overstate quality (Krichene & Rendle,
    2020): pass the result to :func:`evaluate_ranking` and compare with full ranking.
    """
    n_negatives = check_int(n_negatives, "n_negatives", low=1, hint="sampled items per user")
    seed = check_seed(seed)
    n_users, n_items = target.n_users, target.n_items
    seen = np.zeros((n_users, n_items), bool)
    for table in [target, *_as_list(exclude)]:
        seen[table.user, table.item] = True
    rng = np.random.default_rng(seed)
    keep = seen.copy()
    for user in range(n_users):
        unseen = np.flatnonzero(~seen[user])
        keep[user, rng.choice(unseen, min(n_negatives, len(unseen)), replace=False)] = True
    keep_table = tf.constant(keep)
    lowest = float(np.finfo(np.float32).min)

    def restricted(users: tf.Tensor) -> tf.Tensor:
        scores = tf.cast(score_fn(users), tf.float32)
        return tf.where(tf.gather(keep_table, users), scores, lowest)

    return restricted
