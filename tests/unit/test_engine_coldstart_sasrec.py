"""The cold-start models and SASRec through the engine: padded batches train like unpadded ones,
the engine like Keras ``fit``, two devices like one."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import cold_start_inputs

from advrec.data.sampling import pair_examples
from advrec.data.sequences import leave_last_out, sequence_examples, synthetic_sequences
from advrec.models.coldstart import AdversarialGenerator, DropoutNetRecommender, RegressionGenerator
from advrec.models.sasrec import SASRec
from advrec.training import fit_model

COLD_START = {
    "regression": lambda inputs: RegressionGenerator(*inputs, hidden=(8,), seed=1),
    "dropoutnet": lambda inputs: DropoutNetRecommender(*inputs, hidden=(8,), seed=1),
    "adversarial": lambda inputs: AdversarialGenerator(
        *inputs, hidden=(8,), tower_hidden=(8,), seed=1
    ),
}
SASREC = {
    "bce": {},
    "sampled-softmax": {"loss": "sampled_softmax", "n_negatives": 16},
    "apr": {"adversary": "apr", "epsilon": 0.5},
    "substitution": {"adversary": "substitution", "epsilon": 0.5, "substitution_rate": 0.5},
}


@pytest.fixture(scope="module")
def sequences():
    """Uneven histories: windows hold different numbers of real target positions."""
    return leave_last_out(synthetic_sequences(60, 30, n_clusters=3, mean_length=9, seed=0), 6)


@pytest.fixture(scope="module", params=["items", "users"])
def cold_inputs(request, synthetic_dataset):
    return cold_start_inputs(synthetic_dataset, request.param)


def _sasrec(sequences, name: str) -> SASRec:
    return SASRec(sequences, dim=8, n_blocks=1, n_heads=2, dropout=0.3, seed=1, **SASREC[name])


def _compile(model, optimizer, **kwargs) -> None:
    if isinstance(model, AdversarialGenerator):
        model.compile(optimizer(), optimizer(), **kwargs)
    else:
        model.compile(optimizer=optimizer(), **kwargs)


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def _padded_and_plain(make, rows: tuple[np.ndarray, ...], real: int, padding: int):
    """Weights and logs after two steps on the first ``real`` rows, and on them followed by
    ``padding`` weight-0 copies of row 0."""
    plain = tuple(a[:real] for a in rows)
    padded = tuple(np.concatenate([a[:real], np.repeat(a[:1], padding, axis=0)]) for a in rows)
    weight = np.concatenate([np.ones(real), np.zeros(padding)]).astype(np.float32)
    results = []
    for data in ((plain,), (padded, None, weight)):
        model = make()
        _compile(model, lambda: keras.optimizers.SGD(0.1))  # Adam would magnify rounding
        step = tf.function(model.train_step)
        for _ in range(2):
            batch = tf.nest.map_structure(lambda a: None if a is None else tf.constant(a), data)
            logs = step(batch)
        results.append((_weights(model), {k: float(v) for k, v in logs.items()}))
    return results


def _assert_same(first, second, rtol=1e-5, atol=1e-6):
    (weights_a, logs_a), (weights_b, logs_b) = first, second
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    assert logs_a.keys() == logs_b.keys()
    for key, value in logs_a.items():
        assert logs_b[key] == pytest.approx(value, rel=rtol, abs=atol), key


@pytest.mark.parametrize("name", sorted(COLD_START))
def test_a_padded_cold_start_batch_trains_like_the_batch_without_its_padding(name, cold_inputs):
    train = cold_inputs[0].warm_space().train
    rows = (train.user.astype(np.int32), train.item.astype(np.int32))
    plain, padded = _padded_and_plain(lambda: COLD_START[name](cold_inputs), rows, 37, 27)
    _assert_same(plain, padded)


@pytest.mark.parametrize("name", sorted(SASREC))
def test_a_padded_sasrec_batch_trains_like_the_batch_without_its_padding(name, sequences):
    examples = sequence_examples(sequences.train, sequences.max_len, 16)
    assert (examples.arrays[2][:13] == sequences.pad).any()  # some padded target positions
    plain, padded = _padded_and_plain(lambda: _sasrec(sequences, name), examples.arrays, 13, 7)
    _assert_same(plain, padded)


def _fit(model, examples, padded: bool, epochs: int = 2):
    if not padded:
        model.supports_padded_batches = False  # Keras fit on tf.data batches, as before
    # SGD, not Adam: some parameters have a gradient of exactly 0 in theory (the attention's key
    # bias; the adversarial game's entity-tower output bias, whose score terms cancel), and Adam
    # turns its rounding noise into steps of the full learning rate.
    _compile(model, lambda: keras.optimizers.SGD(0.1), jit_compile=False)
    history = fit_model(model, examples, epochs=epochs)
    return _weights(model), history.history


@pytest.mark.parametrize("name", sorted(COLD_START))
def test_the_engine_trains_a_cold_start_model_like_fit(name, cold_inputs):
    examples = pair_examples(cold_inputs[0].warm_space().train, 900, seed=2)
    assert len(examples) % 900  # a smaller last batch
    engine = _fit(COLD_START[name](cold_inputs), examples, padded=True)
    fit = _fit(COLD_START[name](cold_inputs), examples, padded=False)
    _assert_histories_and_weights(engine, fit)


@pytest.mark.parametrize("name", sorted(SASREC))
def test_the_engine_trains_sasrec_like_fit(name, sequences):
    examples = sequence_examples(sequences.train, sequences.max_len, 24, seed=2)
    assert len(examples) % 24  # a smaller last batch
    engine = _fit(_sasrec(sequences, name), examples, padded=True)
    fit = _fit(_sasrec(sequences, name), examples, padded=False)
    _assert_histories_and_weights(engine, fit)


def _assert_histories_and_weights(first, second, rtol=1e-5, atol=1e-6):
    (weights_a, history_a), (weights_b, history_b) = first, second
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    assert history_a.keys() == history_b.keys()
    for key, values in history_a.items():
        assert history_b[key] == pytest.approx(values, rel=rtol), key


def _batch_size_leaving_a_replica_empty(n: int, near: int) -> int:
    """An odd batch size near ``near`` whose last batch of ``n`` examples fits in the first of
    two replicas' halves, so the second replica's share of it is all padding."""
    for size in range(near | 1, 2 * near, 2):
        if 0 < n % size < (size + 1) // 2:
            return size
    raise AssertionError("no such batch size")


def _fit_under(strategy, make, examples, epochs=2):
    with strategy.scope():
        model = make()
        _compile(model, lambda: keras.optimizers.SGD(0.1), jit_compile=False)
    history = fit_model(model, examples, epochs=epochs)
    return _weights(model), history.history


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COLD_START))
def test_the_engine_trains_a_cold_start_model_on_two_devices_like_one(
    name, synthetic_dataset, two_devices
):
    inputs = cold_start_inputs(synthetic_dataset, "items")
    train = inputs[0].warm_space().train
    size = _batch_size_leaving_a_replica_empty(len(train), 700)
    examples = pair_examples(train, size, seed=3)
    make = lambda: COLD_START[name](inputs)  # noqa: E731
    one = _fit_under(tf.distribute.get_strategy(), make, examples)
    two = _fit_under(two_devices, make, examples)
    _assert_histories_and_weights(one, two, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bce", "apr"])
def test_the_engine_trains_sasrec_on_two_devices_like_one(name, sequences, two_devices):
    n = len(sequence_examples(sequences.train, sequences.max_len, 1))
    size = _batch_size_leaving_a_replica_empty(n, 24)
    examples = sequence_examples(sequences.train, sequences.max_len, size, seed=3)
    one = _fit_under(tf.distribute.get_strategy(), lambda: _sasrec(sequences, name), examples)
    two = _fit_under(two_devices, lambda: _sasrec(sequences, name), examples)
    _assert_histories_and_weights(one, two, rtol=1e-4, atol=1e-5)
