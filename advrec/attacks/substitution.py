"""Substitution attacks on a sequential recommender's input history (Yue et al., RecSys 2022).

A *profile pollution* attacker replaces a few items of a user's history at inference time (say,
by making the user's account click other items) so that the recommender ranks worse for that
user (untargeted) or ranks an attacker-chosen item higher (targeted). The gradient-guided
substitution of Yue et al., as in their released code:

1. the gradient ``g_t = ∂ℓ/∂e_t`` of an adversarial loss ``ℓ`` with respect to each input
   item embedding ranks the positions; the ``budget`` positions with the largest ``‖g_t‖`` are
   attacked (padding is never attacked);
2. for each chosen position in turn, the items whose embeddings are most cosine-similar to
   ``e_t + sign(g_t)`` (untargeted; ``e_t - sign(g_t)`` when promoting a target) are the
   candidates; optionally only items with cosine similarity ``>= min_similarity`` to the
   original item are allowed (the paper's stealth constraint);
3. each of the ``n_candidates`` best candidates is tried and the one that hurts most is kept:
   lowest log-softmax score of the item the user actually picks next (untargeted; the attacker
   is white-box and knows that item, the worst case the released code evaluates) or highest of
   the target item.

``ℓ`` is the softmax cross-entropy of the last position's scores for the true next item
(untargeted, to be increased) or for the target item (targeted, to be decreased).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from advrec.checks import check_id, check_int, check_real, check_seed
from advrec.data.sequences import SequenceSplit
from advrec.metrics import evaluate_ranking


def _log_softmax_of(model, histories: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
    """float32 ``[B]`` log-softmax score of ``items [B]`` after ``histories [B, L]``."""
    scores = model.score_histories(histories)
    return tf.gather(tf.nn.log_softmax(scores, axis=-1), items, batch_dims=1)


def substitution_attack(
    model,
    histories: np.ndarray,
    items: np.ndarray,
    budget: int = 3,
    targeted: bool = False,
    n_candidates: int = 10,
    min_similarity: float | None = None,
    batch_size: int = 512,
) -> list[np.ndarray]:
    """Greedy gradient-guided substitution of up to ``budget`` items per history.

    Args:
        model: a sequential model with ``embed``, ``encode``, ``output_table``,
            ``score_histories``, ``item_embeddings``, ``pad`` and ``n_items`` (:class:`SASRec`).
        histories: int32 ``[B, L]`` left-padded histories to attack.
        items: int32 ``[B]``: per history, the item to demote (untargeted: the true next item)
            or to promote (``targeted=True``).
        budget: number of positions substituted (1-5 in the chapter).
        targeted: promote ``items`` instead of demoting them.
        n_candidates: substitutes tried per position.
        min_similarity: if given, substitutes must have at least this cosine similarity to the
            item they replace (when none has, the item is kept).
        batch_size: histories attacked at once.

    Returns:
        ``budget`` int32 arrays ``[B, L]``: the histories after 1, 2, ..., ``budget``
        substitutions (the greedy attack with budget ``k`` is the first ``k`` steps of it).
    """
    histories, items = _check_batch(model, histories, items)
    budget = check_int(
        budget,
        "budget",
        low=1,
        high=histories.shape[1],
        hint=f"a history of max_len = {histories.shape[1]} items has no more positions",
    )
    n_candidates = check_int(
        n_candidates, "n_candidates", low=1, high=model.n_items, hint="substitutes per position"
    )
    batch_size = check_int(batch_size, "batch_size", low=1)
    if min_similarity is not None:
        min_similarity = check_real(
            min_similarity, "min_similarity", low=-1, high=1, hint="a cosine similarity"
        )
    steps = [[] for _ in range(budget)]
    for start in range(0, len(histories), batch_size):
        chunk = _attack_batch(
            model,
            tf.constant(histories[start : start + batch_size]),
            tf.constant(items[start : start + batch_size]),
            budget,
            targeted,
            n_candidates,
            min_similarity,
        )
        for k in range(budget):
            steps[k].append(chunk[k])
    return [np.concatenate(parts) for parts in steps]


def _check_batch(model, histories, items) -> tuple[np.ndarray, np.ndarray]:
    """int32 ``histories [B, max_len]`` (item ids or the padding id ``n_items``) and int32
    ``items [B]`` (item ids), checked against ``model``."""
    histories, items = np.asarray(histories), np.asarray(items)
    for name, array in (("histories", histories), ("items", items)):
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer item ids, got dtype {array.dtype}.")
    max_len = getattr(model, "max_len", histories.shape[-1] if histories.ndim else 0)
    if histories.ndim != 2 or histories.shape[1] != max_len or items.shape != (len(histories),):
        raise ValueError(
            f"histories must be [B, {max_len}] (the model's max_len) and items [B]; got "
            f"{histories.shape} and {items.shape}."
        )
    if len(histories) == 0:
        raise ValueError("no history to attack (B = 0); pass at least one user's history.")
    n_items = model.n_items
    if histories.min() < 0 or histories.max() > n_items:
        raise ValueError(
            f"histories must hold item ids in [0, {n_items}] ({n_items} is the padding); got "
            f"values in [{histories.min()}, {histories.max()}]."
        )
    if items.min() < 0 or items.max() >= n_items:
        raise ValueError(
            f"items must be item ids in [0, {n_items}) (not the padding id); got values in "
            f"[{items.min()}, {items.max()}]."
        )
    return histories.astype(np.int32), items.astype(np.int32)


def _attack_batch(model, histories, items, budget, targeted, n_candidates, min_similarity):
    pad, n_items = model.pad, model.n_items
    batch, length = histories.shape
    vectors = tf.cast(model.embed(histories), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        last = model.encode(vectors, histories)[:, -1, :]
        scores = tf.cast(tf.matmul(last, model.output_table(), transpose_b=True), tf.float32)
        log_p = tf.gather(tf.nn.log_softmax(scores, -1), items, batch_dims=1)
        objective = tf.reduce_sum(-log_p)  # cross-entropy of `items`
    gradient = tape.gradient(objective, vectors)  # [B, L, d]
    importance = tf.norm(gradient, axis=-1)
    importance = tf.where(tf.equal(histories, pad), -1.0, importance)
    n_real = tf.reduce_sum(tf.cast(tf.not_equal(histories, pad), tf.int32), axis=1)
    _, positions = tf.math.top_k(importance, k=min(budget, length))  # [B, budget]

    table = tf.cast(model.item_embeddings[:n_items], tf.float32)
    unit_table = tf.math.l2_normalize(table, axis=-1)
    rows = tf.range(batch)
    current = histories
    current_score = _log_softmax_of(model, current, items)
    results = []
    sign = -1.0 if targeted else 1.0
    for k in range(budget):
        position = positions[:, k]
        index = tf.stack([rows, position], axis=1)
        attackable = k < n_real  # [B]: never attack padding
        original = tf.gather_nd(current, index)
        e = tf.gather_nd(vectors, index)
        g = tf.gather_nd(gradient, index)
        direction = tf.math.l2_normalize(e + sign * tf.sign(g), axis=-1)
        similarity = tf.matmul(direction, unit_table, transpose_b=True)  # [B, n_items]
        forbidden = tf.one_hot(items, n_items, on_value=True, off_value=False)
        forbidden |= tf.one_hot(original, n_items, on_value=True, off_value=False)
        if min_similarity is not None:
            to_original = tf.matmul(tf.math.l2_normalize(e, -1), unit_table, transpose_b=True)
            forbidden |= to_original < min_similarity
        similarity = tf.where(forbidden, -np.inf, similarity)
        candidate_score, candidates = tf.math.top_k(similarity, k=n_candidates)  # [B, R]
        best, best_score = current, current_score
        for r in range(n_candidates):
            allowed = attackable & tf.math.is_finite(candidate_score[:, r])
            trial = tf.tensor_scatter_nd_update(current, index, candidates[:, r])
            trial_score = _log_softmax_of(model, trial, items)
            better = trial_score > best_score if targeted else trial_score < best_score
            take = allowed & better
            best = tf.where(take[:, tf.newaxis], trial, best)
            best_score = tf.where(take, trial_score, best_score)
        current, current_score = best, best_score
        results.append(current.numpy())
    return results


def untargeted_attack_curve(
    model,
    sequences: SequenceSplit,
    budgets: Sequence[int] = (1, 2, 3, 4, 5),
    n_candidates: int = 10,
    min_similarity: float | None = None,
    ks: Sequence[int] = (10,),
) -> dict[int, dict[str, float]]:
    """Test metrics after substituting ``b`` items of every test user's history, per budget ``b``.

    Budget 0 is the clean test score. The attacked history replaces ``sequences.test_context``
    for the users with a test item; the ranking excludes the user's true training and validation
    items as in the clean evaluation.
    """
    budgets = list(budgets)
    if not budgets:
        raise ValueError("budgets is empty; give the numbers of substitutions, e.g. (1, 2, 3).")
    budgets = sorted(
        {
            check_int(b, "budget", low=0, high=sequences.max_len, hint="at most max_len")
            for b in budgets
        }
    )
    split = sequences.split
    exclude = [split.train, split.valid]
    results = {0: evaluate_ranking(model.scorer(sequences.test_context), split.test, exclude, ks)}
    if budgets[-1] == 0:
        return results
    users = split.test.user
    attacked = substitution_attack(
        model,
        sequences.test_context[users],
        split.test.item,
        budget=budgets[-1],
        n_candidates=n_candidates,
        min_similarity=min_similarity,
    )
    for b in budgets:
        if b == 0:
            continue
        context = sequences.test_context.copy()
        context[users] = attacked[b - 1]
        results[b] = evaluate_ranking(model.scorer(context), split.test, exclude, ks)
    return results


def target_ranks(model, context: np.ndarray, users: np.ndarray, target: int, seen) -> np.ndarray:
    """float ``[U]``: 1-based rank of ``target`` among the items each user has not seen.

    ``seen`` is a bool ``[n_users, n_items]`` matrix of excluded items (the target must not be
    one of a user's seen items).
    """
    target = check_id(target, model.n_items, "target")
    scores = model.score_histories(tf.constant(context[users], tf.int32)).numpy()
    scores = np.where(seen[users], -np.inf, scores)
    return 1.0 + (scores > scores[:, [target]]).sum(axis=1)


def targeted_attack(
    model,
    sequences: SequenceSplit,
    target: int,
    budget: int = 3,
    n_candidates: int = 10,
    min_similarity: float | None = None,
    max_users: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Promote item ``target`` to test users who have not seen it.

    Returns ``{"users", "clean_rank", "attacked_rank"}`` (ranks 1-based among the user's unseen
    items, per user, with the clean and the attacked test context).
    """
    target = check_id(target, sequences.n_items, "target")
    if max_users is not None:
        max_users = check_int(max_users, "max_users", low=1, hint="or None for every test user")
    split = sequences.split
    seen = np.zeros((sequences.n_users, sequences.n_items), bool)
    for table in (split.train, split.valid):
        seen[table.user, table.item] = True
    users = np.unique(split.test.user)
    users = users[~seen[users, target]]
    if len(users) == 0:
        raise ValueError(f"every test user has already seen item {target}; pick another target.")
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    attacked = substitution_attack(
        model,
        sequences.test_context[users],
        np.full(len(users), target, np.int32),
        budget=budget,
        targeted=True,
        n_candidates=n_candidates,
        min_similarity=min_similarity,
    )[-1]
    context = sequences.test_context.copy()
    clean_rank = target_ranks(model, context, users, target, seen)
    context[users] = attacked
    attacked_rank = target_ranks(model, context, users, target, seen)
    return {"users": users, "clean_rank": clean_rank, "attacked_rank": attacked_rank}


def random_substitution(
    model,
    histories: np.ndarray,
    budget: int,
    min_similarity: float | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """The random control of :func:`substitution_attack`: ``budget`` random non-padding
    positions per history, each replaced by a random item (uniform over the items other than
    the one replaced, and with cosine similarity ``>= min_similarity`` to it when given; a
    position with no such item keeps its item).

    Returns ``budget`` int32 arrays ``[B, L]``: the histories after 1, ..., ``budget`` random
    substitutions (budget ``k`` is the first ``k`` of the same draws, as for the attack).
    """
    histories, _ = _check_batch(model, histories, np.zeros(len(histories), np.int32))
    budget = check_int(budget, "budget", low=1, high=histories.shape[1])
    rng = np.random.default_rng(check_seed(seed))
    pad, n_items = model.pad, model.n_items
    unit = tf.math.l2_normalize(tf.cast(model.item_embeddings[:n_items], tf.float32), -1).numpy()
    current, steps = histories.copy(), []
    order = np.argsort(rng.random(histories.shape) + 2.0 * (histories == pad), axis=1)
    for k in range(budget):
        rows = np.arange(len(current))
        position = order[:, k]
        original = histories[rows, position]
        real = original != pad  # a history shorter than the budget runs out of positions
        allowed = np.ones((len(current), n_items), bool)
        allowed[rows, np.minimum(original, n_items - 1)] = False
        if min_similarity is not None:
            allowed &= unit[np.minimum(original, n_items - 1)] @ unit.T >= min_similarity
        scores = np.where(allowed, rng.random(allowed.shape), -1.0)
        choice = scores.argmax(axis=1)
        take = real & allowed.any(axis=1)
        current[rows[take], position[take]] = choice[take]
        steps.append(current.copy())
    return steps


def overlap_at_k(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """float ``[U]``: the share of each row of ``before [U, k]`` found in the same row of
    ``after [U, k]`` (1: the same top-k items, in any order)."""
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape or before.ndim != 2:
        raise ValueError(
            f"give two [U, k] lists of the same shape, got {before.shape}, {after.shape}"
        )
    hits = (before[:, :, np.newaxis] == after[:, np.newaxis, :]).any(axis=2)
    return hits.mean(axis=1)


def label_free_attack_report(
    model,
    sequences: SequenceSplit,
    budgets: Sequence[int] = (1, 2, 3, 4, 5),
    n_candidates: int = 10,
    min_similarity: float | None = 0.5,
    k: int = 10,
    seed: int = 0,
) -> dict:
    """The substitution attack as an attacker who does not know the held-out item runs it,
    beside its random control, on every test user's history (Yue et al., RecSys 2022).

    The attacker demotes the item the model recommends first from the clean history (its own
    top prediction, as the released code ranks positions by ``scores.argmax``), substituting
    only items with cosine similarity ``>= min_similarity`` to the one replaced (the released
    default 0.5). The random control substitutes as many random positions with random items
    under the same limit. Both are scored on the held-out test item, which neither uses.

    Returns:
        ``{"clean": metrics, "attack": {b: metrics}, "random": {b: metrics}}``; metrics are
        the test ``ndcg@k``/``hr@k`` (:func:`advrec.metrics.evaluate_ranking`), ``overlap@k``
        (mean share of the clean top-``k`` list still in the attacked one) and ``changed``
        (mean number of history positions that differ from the clean history).
    """
    from advrec.diversity import top_k_lists

    budgets = list(budgets)
    if not budgets:
        raise ValueError("budgets is empty; give the numbers of substitutions, e.g. (1, 2, 3).")
    budgets = sorted({check_int(b, "budget", low=1, high=sequences.max_len) for b in budgets})
    split = sequences.split
    exclude = [split.train, split.valid]
    users = np.unique(split.test.user).astype(np.int32)
    clean_context = sequences.test_context
    clean_lists = top_k_lists(model.scorer(clean_context), users, exclude, k=k)

    def measure(histories: np.ndarray) -> dict[str, float]:
        context = clean_context.copy()
        context[users] = histories
        scores = evaluate_ranking(model.scorer(context), split.test, exclude, ks=(k,))
        lists = top_k_lists(model.scorer(context), users, exclude, k=k)
        scores[f"overlap@{k}"] = float(overlap_at_k(clean_lists, lists).mean())
        scores["changed"] = float((histories != clean_context[users]).sum(axis=1).mean())
        return scores

    report = {"clean": measure(clean_context[users]), "attack": {}, "random": {}}
    attacked = substitution_attack(
        model,
        clean_context[users],
        clean_lists[:, 0],
        budget=budgets[-1],
        n_candidates=n_candidates,
        min_similarity=min_similarity,
    )
    controls = random_substitution(
        model, clean_context[users], budgets[-1], min_similarity=min_similarity, seed=seed
    )
    for b in budgets:
        report["attack"][b] = measure(attacked[b - 1])
        report["random"][b] = measure(controls[b - 1])
    return report
