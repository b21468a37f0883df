"""BPR-MF and ItemPop: the baselines train through `fit`, select on validation, and beat chance."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.losses import bpr_loss
from advrec.models import BPRMF, ItemPop
from advrec.protocol import evaluate_split
from advrec.training import fit_ranker


def _test_ndcg(model, split):
    return evaluate_split(model, split, "test")["ndcg@10"]


def test_bpr_loss_matches_its_closed_form():
    margin = tf.constant([-2.0, 0.0, 3.0])
    expected = np.mean(-np.log(1 / (1 + np.exp(-margin.numpy()))))
    assert float(bpr_loss(margin)) == pytest.approx(expected, rel=1e-6)
    assert np.isfinite(float(bpr_loss(tf.constant([-1e4, 1e4]))))


def test_itempop_ranks_by_training_popularity(tiny_interactions):
    scores = ItemPop(tiny_interactions).score_all(tf.constant([0, 3])).numpy()
    assert scores.shape == (2, 6)
    assert np.array_equal(scores[0], [1, 2, 3, 3, 2, 1]) and np.array_equal(scores[0], scores[1])


def test_score_all_agrees_with_score_pairs(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=8, seed=0)
    users = tf.constant([0, 5, 7])
    items = tf.constant([3, 1, 199])
    pairs = model.score_pairs(users, items).numpy()
    full = model.score_all(users).numpy()
    assert np.allclose(full[np.arange(3), items.numpy()], pairs, atol=1e-5)


@pytest.mark.slow
def test_bprmf_beats_itempop_and_restores_best_weights(synthetic_split):
    keras.utils.set_random_seed(0)
    model = BPRMF(synthetic_split.train, dim=16, seed=0)
    validation = fit_ranker(model, synthetic_split, epochs=40, batch_size=1024, verbose=0)
    assert validation.best_epoch >= 1
    # The weights in the model are the best validation epoch's.
    assert validation.evaluate()["ndcg@10"] == pytest.approx(validation.best, abs=1e-6)
    pop = _test_ndcg(ItemPop(synthetic_split.train), synthetic_split)
    assert _test_ndcg(model, synthetic_split) > pop + 0.02


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(synthetic_split):
    def train(seed):
        keras.utils.set_random_seed(seed)
        model = BPRMF(synthetic_split.train, dim=8, seed=seed)
        fit_ranker(model, synthetic_split, epochs=3, batch_size=512, seed=seed, verbose=0)
        return model.user_factors.numpy()

    assert np.allclose(train(1), train(1))
    assert not np.allclose(train(1), train(2))


def test_l2_penalty_and_loss_match_a_numpy_computation(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=6, l2=0.03, seed=0)
    users, pos, neg = np.array([0, 1, 1, 9]), np.array([3, 4, 4, 7]), np.array([5, 3, 8, 7])
    P, Q = model.user_factors.numpy(), model.item_factors.numpy()  # noqa: N806
    b = model.item_bias.numpy() + np.linspace(-0.5, 0.5, model.n_items)
    model.item_bias.assign(b)
    squares = (P[users] ** 2).sum(1) + (Q[pos] ** 2).sum(1) + (Q[neg] ** 2).sum(1)
    penalty = 0.03 * squares.mean()  # repeated rows count once per occurrence
    margin = (P[users] * (Q[pos] - Q[neg])).sum(1) + b[pos] - b[neg]
    bpr = np.mean(np.log1p(np.exp(-margin)))

    rows = model.gather_batch(*(tf.constant(x) for x in (users, pos, neg)))
    assert float(model.penalty(rows)) == pytest.approx(penalty, rel=1e-5)
    loss, _ = model.pairwise_loss(*(tf.constant(x) for x in (users, pos, neg)))
    assert float(loss) == pytest.approx(bpr + penalty, rel=1e-5)
    # The item biases are not penalised, and l2 = 0 switches the penalty off.
    no_l2 = BPRMF(synthetic_split.train, dim=6, l2=0.0, seed=0)
    assert (
        float(no_l2.penalty(no_l2.gather_batch(*(tf.constant(x) for x in (users, pos, neg))))) == 0
    )
    with tf.GradientTape() as tape:
        only_penalty = model.penalty(
            model.gather_batch(*(tf.constant(x) for x in (users, pos, neg)))
        )
    grad_p, grad_b = tape.gradient(only_penalty, [model.user_factors, model.item_bias])
    expected = np.zeros_like(P)
    np.add.at(expected, users, 2 * 0.03 * P[users] / len(users))
    np.testing.assert_allclose(tf.convert_to_tensor(grad_p).numpy(), expected, rtol=1e-5, atol=1e-7)
    assert grad_b is None or not np.any(tf.convert_to_tensor(grad_b).numpy())


def test_every_variable_gets_a_gradient(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=8, seed=0)
    users, items = tf.constant([0, 1, 2]), tf.constant([0, 1, 2])
    with tf.GradientTape() as tape:
        loss, _ = model.pairwise_loss(users, items, tf.constant([5, 6, 7]))
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 3
    assert all(float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) > 0 for g in grads)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 0}, "dim must be >= 1"),
        ({"dim": 2.5}, "dim must be a positive integer"),
        ({"l2": -1.0}, "l2 must be a finite number >= 0"),
        ({"l2": float("nan")}, "l2 must be a finite number >= 0"),
        ({"l2": float("inf")}, "l2 must be a finite number >= 0"),
        ({"init_std": float("nan")}, "init_std must be a finite number > 0"),
        ({"l2": "0.1"}, "l2 must be a number"),
    ],
)
def test_bad_hyper_parameters_are_refused(tiny_interactions, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        BPRMF(tiny_interactions, **kwargs)


def test_fit_ranker_rejects_a_split_without_validation(synthetic_split):
    from advrec.data import Split

    empty = synthetic_split.valid.select(np.zeros(len(synthetic_split.valid), bool))
    split = Split(synthetic_split.train, empty, synthetic_split.test, "none")
    with pytest.raises(ValueError, match="no validation pairs"):
        fit_ranker(BPRMF(split.train, dim=4), split, epochs=1, verbose=0)
