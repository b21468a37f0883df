"""RowAdagrad: Adagrad that updates only the touched rows, with dense Adagrad's result."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import positive_pairs
from advrec.models import BPRMF
from advrec.optimizers import RowAdagrad, sum_per_row


def _adagrad(cls):
    return cls(0.1, initial_accumulator_value=1e-8)


def test_a_repeated_row_gets_the_update_of_its_summed_gradient():
    rows = tf.constant([1, 5, 5, 7])
    values = tf.random.stateless_normal((4, 3), seed=(0, 1))
    sparse, dense = keras.Variable(np.ones((9, 3), np.float32)), keras.Variable(np.ones((9, 3)))
    row_adagrad, adagrad = _adagrad(RowAdagrad), _adagrad(keras.optimizers.Adagrad)
    row_adagrad.build([sparse])
    adagrad.build([dense])
    for _ in range(3):
        row_adagrad.apply([tf.IndexedSlices(values, rows, tf.constant([9, 3]))], [sparse])
        adagrad.apply([tf.math.unsorted_segment_sum(values, rows, 9)], [dense])
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), rtol=1e-6)
    untouched = [0, 2, 3, 4, 6, 8]
    np.testing.assert_array_equal(sparse.numpy()[untouched], 1.0)
    np.testing.assert_allclose(
        row_adagrad.variables[-1].numpy(), adagrad.variables[-1].numpy(), rtol=1e-6
    )


def _trained(optimizer, split, steps=5):
    model = BPRMF(split.train, dim=8, l2=1e-3, seed=1)
    model.compile(optimizer=optimizer, jit_compile=False)  # in the caller's strategy scope
    model.fit(positive_pairs(split.train, 128, seed=3, epochs=None), steps_per_epoch=steps)
    return [w.numpy() for w in model.trainable_weights]


def test_bpr_mf_trains_as_with_dense_adagrad(synthetic_split):
    row = _trained(_adagrad(RowAdagrad), synthetic_split)
    dense = _trained(_adagrad(keras.optimizers.Adagrad), synthetic_split)
    initial = [w.numpy() for w in BPRMF(synthetic_split.train, dim=8, l2=1e-3, seed=1).weights]
    assert not np.allclose(row[0], initial[0])
    for a, b in zip(row, dense, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_it_trains_on_two_devices_as_on_one(synthetic_split, two_devices):
    one = _trained(_adagrad(RowAdagrad), synthetic_split)
    with two_devices.scope():
        two = _trained(_adagrad(RowAdagrad), synthetic_split)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_sum_per_row_pads_with_zero_sums():
    rows, sums = sum_per_row(tf.constant([7, 2, 7, 7, 4]), tf.constant([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(rows.numpy()[:3], [2, 4, 7])
    np.testing.assert_allclose(sums.numpy(), [2.0, 5.0, 8.0, 0.0, 0.0])
    assert ((rows.numpy() >= 0) & (rows.numpy() <= 7)).all()


@pytest.mark.slow
def test_it_compiles_with_xla_to_dense_adagrad(synthetic_split):
    def trained(cls):
        model = BPRMF(synthetic_split.train, dim=8, l2=1e-3, seed=1)
        model.compile(optimizer=_adagrad(cls), jit_compile=True)
        data = positive_pairs(synthetic_split.train, 128, seed=3, epochs=None)
        model.fit(data, steps_per_epoch=5, verbose=0)
        return [w.numpy() for w in model.trainable_weights]

    for a, b in zip(trained(RowAdagrad), trained(keras.optimizers.Adagrad), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
