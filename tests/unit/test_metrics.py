"""Full-ranking metrics: toy cases with known answers, a brute-force reference, and ties."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions
from advrec.metrics import evaluate_ranking

N_ITEMS = 6


def _table(pairs, n_users=2, n_items=N_ITEMS):
    users, items = zip(*pairs, strict=True) if pairs else ((), ())
    return Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)


def _fixed_scores(matrix):
    matrix = tf.constant(np.asarray(matrix, np.float32))
    return lambda users: tf.gather(matrix, users)


def test_perfect_ranking_scores_one():
    target = _table([(0, 4), (0, 5), (1, 0)])
    scores = np.array([[0, 0, 0, 0, 9, 8], [9, 0, 0, 0, 0, 0]])
    result = evaluate_ranking(_fixed_scores(scores), target, ks=(2,), with_auc=True)
    for name in ("recall@2", "hr@2", "ndcg@2", "mrr@2", "auc"):
        assert result[name] == pytest.approx(1.0), name
    assert result["precision@2"] == pytest.approx((2 / 2 + 1 / 2) / 2)


def test_no_hit_scores_zero():
    target = _table([(0, 4), (1, 0)])
    scores = np.array([[9, 8, 0, 0, 0, 0], [0, 9, 8, 0, 0, 0]])
    result = evaluate_ranking(_fixed_scores(scores), target, ks=(2,))
    assert all(value == 0.0 for value in result.values())


def test_known_dcg_example():
    # One user, relevant items {1, 3}; ranking 0, 1, 2, 3, ...: hits at positions 2 and 4.
    target = _table([(0, 1), (0, 3)], n_users=1)
    scores = np.array([[6, 5, 4, 3, 2, 1]])
    result = evaluate_ranking(_fixed_scores(scores), target, ks=(4,), with_auc=True)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    idcg = 1 + 1 / np.log2(3)
    assert result["ndcg@4"] == pytest.approx(dcg / idcg, rel=1e-6)
    assert result["mrr@4"] == pytest.approx(0.5)
    assert result["recall@4"] == pytest.approx(1.0)
    assert result["precision@4"] == pytest.approx(0.5)
    # AUC: negatives {0, 2, 4, 5}; item 1 beats 3 of 4, item 3 beats 2 of 4.
    assert result["auc"] == pytest.approx(5 / 8)


def test_excluded_items_are_not_ranked():
    train = _table([(0, 0), (0, 1)], n_users=1)
    target = _table([(0, 2)], n_users=1)
    scores = np.array([[9, 8, 7, 0, 0, 0]])
    result = evaluate_ranking(_fixed_scores(scores), target, exclude=train, ks=(1,))
    assert result["hr@1"] == 1.0  # items 0 and 1 were seen in training, so item 2 comes first
    assert evaluate_ranking(_fixed_scores(scores), target, ks=(1,))["hr@1"] == 0.0


def test_ties_are_broken_by_lower_item_index():
    target = _table([(0, 3)], n_users=1)
    flat = np.zeros((1, N_ITEMS))
    assert evaluate_ranking(_fixed_scores(flat), target, ks=(3,))["hr@3"] == 0.0
    assert evaluate_ranking(_fixed_scores(flat), target, ks=(4,))["hr@4"] == 1.0
    assert evaluate_ranking(_fixed_scores(flat), target, ks=(4,))["mrr@4"] == pytest.approx(1 / 4)


def _brute_force(scores, train_items, target_items, k):
    """Plain numpy: stable sort by descending score, seen items removed."""
    out = {"precision": [], "recall": [], "hr": [], "ndcg": [], "mrr": []}
    for u, relevant in target_items.items():
        order = [i for i in np.argsort(-scores[u], kind="stable") if i not in train_items[u]]
        top = order[:k]
        hits = [1.0 if i in relevant else 0.0 for i in top]
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(relevant), k)))
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(relevant))
        out["hr"].append(float(sum(hits) > 0))
        out["ndcg"].append(dcg / idcg)
        out["mrr"].append(max([h / (r + 1) for r, h in enumerate(hits)], default=0.0))
    return {f"{name}@{k}": float(np.mean(v)) for name, v in out.items()}


def test_agrees_with_brute_force_on_random_scores():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    # Integer scores on a small range make ties common.
    scores = rng.integers(0, 8, size=(n_users, n_items)).astype(np.float32)
    pairs = rng.random((n_users, n_items))
    train_mask, target_mask = pairs < 0.2, (pairs >= 0.2) & (pairs < 0.35)
    train = Interactions.from_arrays(*np.nonzero(train_mask), n_users=n_users, n_items=n_items)
    target = Interactions.from_arrays(*np.nonzero(target_mask), n_users=n_users, n_items=n_items)
    train_items = {u: set(np.nonzero(train_mask[u])[0]) for u in range(n_users)}
    target_items = {u: set(np.nonzero(target_mask[u])[0]) for u in range(n_users)}
    target_items = {u: s for u, s in target_items.items() if s}
    for k in (1, 5, 10):
        got = evaluate_ranking(_fixed_scores(scores), target, exclude=train, ks=(k,), batch_size=7)
        want = _brute_force(scores, train_items, target_items, k)
        for name, value in want.items():
            assert got[name] == pytest.approx(value, abs=1e-6), name


def test_per_user_results_and_batching_agree():
    rng = np.random.default_rng(1)
    scores = rng.random((10, N_ITEMS))
    target = Interactions.from_arrays(np.arange(10), rng.integers(0, N_ITEMS, 10), n_items=N_ITEMS)
    whole = evaluate_ranking(_fixed_scores(scores), target, ks=(3,), batch_size=100)
    per_user = evaluate_ranking(_fixed_scores(scores), target, ks=(3,), batch_size=3, per_user=True)
    assert np.array_equal(per_user["user"], np.arange(10))
    assert whole["ndcg@3"] == pytest.approx(per_user["ndcg@3"].mean())


def test_bad_input_is_rejected():
    target = _table([(0, 1)], n_users=1)
    with pytest.raises(ValueError, match="exceeds the number of items"):
        evaluate_ranking(_fixed_scores(np.zeros((1, N_ITEMS))), target, ks=(10,))
    with pytest.raises(ValueError, match="also in an excluded table"):
        evaluate_ranking(_fixed_scores(np.zeros((1, N_ITEMS))), target, exclude=target, ks=(1,))
    with pytest.raises(ValueError, match="one score per item"):
        evaluate_ranking(_fixed_scores(np.zeros((1, 3))), target, ks=(1,))
    with pytest.raises(ValueError, match=r"score_fn returned 6 NaN or infinite scores for user 0"):
        evaluate_ranking(_fixed_scores(np.full((1, N_ITEMS), np.nan)), target, ks=(1,))
    with pytest.raises(ValueError, match=r"cut-offs must be whole numbers >= 1, got \(2\.5,\)"):
        evaluate_ranking(_fixed_scores(np.zeros((1, N_ITEMS))), target, ks=(2.5,))
    with pytest.raises(TypeError, match=r"ks must be a sequence of cut-offs such as \(10, 20\)"):
        evaluate_ranking(_fixed_scores(np.zeros((1, N_ITEMS))), target, ks=10)


def test_a_model_with_nan_weights_gets_the_documented_value_error(synthetic_split):
    # It used to raise TensorFlow's InvalidArgumentError from inside the compiled batch.
    from advrec.metrics import NonFiniteScoresError
    from advrec.models import BPRMF

    model = BPRMF(synthetic_split.train, dim=4)
    model.user_factors.assign(tf.fill(model.user_factors.shape, np.nan))
    with pytest.raises(NonFiniteScoresError, match="diverged") as error:
        evaluate_ranking(model.score_all, synthetic_split.valid, synthetic_split.train)
    assert isinstance(error.value, ValueError)


def test_sampled_candidates_overstate_a_weak_model():
    from advrec.metrics import sampled_candidates

    rng = np.random.default_rng(0)
    n_users, n_items = 30, 400
    scores = rng.random((n_users, n_items)).astype(np.float32)  # a random model
    target = Interactions.from_arrays(
        np.arange(n_users), rng.integers(0, n_items, n_users), n_items=n_items
    )
    full = evaluate_ranking(_fixed_scores(scores), target, ks=(10,))["hr@10"]
    restricted = sampled_candidates(_fixed_scores(scores), target, n_negatives=20, seed=0)
    sampled = evaluate_ranking(restricted, target, ks=(10,))["hr@10"]
    # Random model: HR@10 is about 10/400 under full ranking, about 10/21 when sampled.
    assert full < 0.15 < 0.3 < sampled
    # Only the target and 20 sampled items keep their scores.
    kept = restricted(tf.constant([0])).numpy()[0] > np.finfo(np.float32).min
    assert kept.sum() == 21 and kept[target.item[0]]


def _brute_force_auc(scores, excluded_items, target_items):
    """Per user: the share of (relevant, other candidate) pairs ranked in the right order, with
    ties ordered by item index (lower first); None for users without another candidate."""
    out = {}
    for u, relevant in target_items.items():
        order = [i for i in np.argsort(-scores[u], kind="stable") if i not in excluded_items[u]]
        position = {item: rank for rank, item in enumerate(order)}
        negatives = [i for i in order if i not in relevant]
        if not negatives:
            out[u] = None
            continue
        right = sum(position[p] < position[n] for p in relevant for n in negatives)
        out[u] = right / (len(relevant) * len(negatives))
    return out


def test_auc_with_excluded_items_agrees_with_brute_force():
    rng = np.random.default_rng(3)
    n_users, n_items = 30, 12
    scores = rng.integers(0, 4, size=(n_users, n_items)).astype(np.float32)  # many ties
    draw = rng.random((n_users, n_items))
    train_mask, target_mask = draw < 0.3, (draw >= 0.3) & (draw < 0.5)
    train_mask[0], target_mask[0] = True, False  # user 0: no target
    train_mask[1, :], target_mask[1, :] = False, False
    train_mask[1, :9], target_mask[1, 9:] = True, True  # user 1: every candidate is a target
    train = Interactions.from_arrays(*np.nonzero(train_mask), n_users=n_users, n_items=n_items)
    target = Interactions.from_arrays(*np.nonzero(target_mask), n_users=n_users, n_items=n_items)
    excluded = {u: set(np.nonzero(train_mask[u])[0]) for u in range(n_users)}
    targets = {u: set(np.flatnonzero(row)) for u, row in enumerate(target_mask) if row.any()}
    want = _brute_force_auc(scores, excluded, targets)
    assert want[1] is None  # the case that used to make the mean NaN

    got = evaluate_ranking(
        _fixed_scores(scores), target, exclude=train, ks=(1,), with_auc=True, per_user=True
    )
    for user, auc in zip(got["user"], got["auc"], strict=True):
        if want[user] is None:
            assert np.isnan(auc)
        else:
            assert auc == pytest.approx(want[user], abs=1e-6), user
    mean = evaluate_ranking(_fixed_scores(scores), target, exclude=train, ks=(1,), with_auc=True)
    defined = [v for v in want.values() if v is not None]
    assert mean["auc"] == pytest.approx(np.mean(defined), abs=1e-6)


def test_auc_is_refused_when_no_user_has_a_negative_candidate():
    train = _table([(0, i) for i in range(5)], n_users=1)
    target = _table([(0, 5)], n_users=1)
    scores = np.zeros((1, N_ITEMS))
    with pytest.raises(ValueError, match="AUC is undefined"):
        evaluate_ranking(_fixed_scores(scores), target, exclude=train, ks=(1,), with_auc=True)


def test_auc_tie_rule_is_the_index_order():
    # A constant scorer ranks by index: target item 0 beats all 5 others, item 5 none.
    flat = np.zeros((1, N_ITEMS))
    first = evaluate_ranking(_fixed_scores(flat), _table([(0, 0)], 1), ks=(1,), with_auc=True)
    last = evaluate_ranking(_fixed_scores(flat), _table([(0, 5)], 1), ks=(1,), with_auc=True)
    assert first["auc"] == 1.0 and last["auc"] == 0.0


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_a_batch_size_that_is_not_a_positive_integer_is_refused(batch_size):
    target = _table([(0, 1)], n_users=1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        evaluate_ranking(_fixed_scores(np.zeros((1, N_ITEMS))), target, batch_size=batch_size)


def test_integer_scores_are_refused_with_the_cast_to_use():
    target = _table([(0, 1)], n_users=1)
    scores = tf.constant(np.zeros((1, N_ITEMS), np.int32))
    with pytest.raises(TypeError, match=r"floating-point scores, got int32.*tf\.cast"):
        evaluate_ranking(lambda users: scores, target, ks=(1,))


def test_an_empty_target_is_refused():
    with pytest.raises(ValueError, match="target has no pairs"):
        evaluate_ranking(_fixed_scores(np.zeros((2, N_ITEMS))), _table([]), ks=(1,))


def test_sampled_candidates_need_negatives_and_a_seed():
    from advrec.metrics import sampled_candidates

    target = _table([(0, 1)], n_users=1)
    scores = _fixed_scores(np.zeros((1, N_ITEMS)))
    with pytest.raises(ValueError, match="n_negatives must be >= 1"):  # 0 gave NDCG 1.0
        sampled_candidates(scores, target, n_negatives=0)
    with pytest.raises(TypeError, match="got None"):  # None: other negatives on every call
        sampled_candidates(scores, target, seed=None)
