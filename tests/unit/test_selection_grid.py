"""Selection on validation: a numeric grid is extended past a winning edge."""

import numpy as np
import pytest
import tensorflow as tf

from advrec.protocol import select_on_validation


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

    selection = select_on_validation(
        [1.0, 10.0, 100.0], build, split, monitor="ndcg@3", ks=(3,), max_extensions=3
    )
    assert selection.value == pytest.approx(1000.0) and not selection.at_edge
    assert built == pytest.approx([1.0, 10.0, 100.0, 1000.0, 10000.0])
    assert selection.grid == pytest.approx([1.0, 10.0, 100.0, 1000.0, 10000.0])
    assert selection.model.scores[5] == pytest.approx(3.0)  # the chosen value's model
    assert selection.scores.argmax() == selection.index == 3


def test_extension_grows_downwards_too_and_refuses_a_bad_grid(tiny_interactions):
    from advrec.data import Interactions
    from advrec.data.splits import Split

    valid = Interactions.from_arrays([0], [5], n_users=4, n_items=6)
    split = Split(tiny_interactions, valid, valid, "toy")
    selection = select_on_validation(
        [1e4, 1e5], _Peaked, split, monitor="ndcg@3", ks=(3,), max_extensions=2
    )
    assert selection.grid == pytest.approx([100.0, 1e3, 1e4, 1e5]) and selection.index == 1
    with pytest.raises(ValueError, match="increasing positive"):
        select_on_validation([10.0, 1.0], lambda v: None, None, max_extensions=1)
