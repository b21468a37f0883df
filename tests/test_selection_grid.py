"""Selection on validation: the best value wins, and a grid is extended past a winning edge."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.tuning import is_interior, select_on_validation


class _Peaked:
    """User 0's candidates are items 3, 4, 5; item 5 (the validation item) ranks first at
    ``value == 1000`` and drops one place per decade away from it."""

    def __init__(self, value):
        distance = abs(np.log10(value) - 3.0)
        self.scores = np.array([0, 0, 0, 2.0, 1.0, 3.0 - distance], np.float32)

    def score_all(self, users):
        return tf.tile(self.scores[None, :], [tf.shape(users)[0], 1])


def test_extends_the_grid_until_the_best_value_is_inside(tiny_interactions):
    from advrec.data import Interactions
    from advrec.data.splits import Split

    valid = Interactions.from_arrays([0], [5], n_users=4, n_items=6)
    split = Split(tiny_interactions, valid, valid, "toy")
    built = []

    def build(value):
        built.append(value)
        return _Peaked(value)

    best, _, scores = select_on_validation(
        build, [1.0, 10.0, 100.0], split, monitor="ndcg@3", ks=(3,), max_extensions=3
    )
    assert best == pytest.approx(1000.0) and is_interior(list(scores), best)
    assert built == pytest.approx([1.0, 10.0, 100.0, 1000.0, 10000.0])


def test_rejects_a_bad_grid(tiny_interactions):
    with pytest.raises(ValueError, match="increasing positive"):
        select_on_validation(lambda v: None, [10.0, 1.0], None)
