"""EASE^R: the closed form solves its constrained ridge problem and beats popularity."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions
from advrec.models import EASE, ItemPop
from advrec.protocol import evaluate_split


def test_closed_form_satisfies_the_constrained_normal_equations(synthetic_split):
    model = EASE(synthetic_split.train, l2=50.0)
    x = synthetic_split.train.dense().astype(np.float64)
    b = model.weights.numpy().astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    # KKT of min ||X - XB||^2 + l2 ||B||^2 s.t. diag(B) = 0: off the diagonal the gradient
    # (X^T X + l2 I) B - X^T X vanishes; on the diagonal it equals the multiplier (any value).
    gradient = (x.T @ x + 50.0 * np.eye(len(b))) @ b - x.T @ x
    off_diagonal = gradient[~np.eye(len(b), dtype=bool)]
    assert np.abs(off_diagonal).max() < 1e-3 * np.abs(x.T @ x).max()


def test_scores_are_history_times_weights(tiny_interactions):
    model = EASE(tiny_interactions, l2=1.0)
    scores = model.score_all(tf.constant([0, 2])).numpy()
    expected = tiny_interactions.dense()[[0, 2]] @ model.weights.numpy()
    assert np.allclose(scores, expected, atol=1e-5)


def test_ease_beats_itempop(synthetic_split):
    def ndcg(model):
        return evaluate_split(model, synthetic_split, "test")["ndcg@10"]

    assert ndcg(EASE(synthetic_split.train, l2=20.0)) > ndcg(ItemPop(synthetic_split.train)) + 0.02


@pytest.mark.parametrize("l2", [0.0, -1.0, float("nan"), float("inf")])
def test_rejects_a_bad_l2(tiny_interactions, l2):
    with pytest.raises(ValueError, match=r"l2 must be a finite number > 0.*X\^T X \+ l2 I"):
        EASE(tiny_interactions, l2=l2)


def test_rejects_an_empty_table():
    empty = Interactions.from_arrays([], [], n_users=2, n_items=3)
    with pytest.raises(ValueError, match="empty"):
        EASE(empty)
