"""IRGAN and CFGAN through the training engine: a padded batch trains like the batch without its
padding, an engine epoch like Keras ``fit`` on unpadded batches, each IRGAN phase keeps its own
compiled epoch, and two devices train like one."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data.sampling import Examples
from advrec.engine import epoch_function
from advrec.models.cfgan import CFGAN
from advrec.models.irgan import IRGAN
from advrec.training import fit_model


def _irgan(train, **settings):
    return IRGAN(train, dim=4, seed=1, **settings)


def _cfgan(mode):
    def make(train):
        return CFGAN(train, mode=mode, generator_units=8, discriminator_units=6, seed=1)

    return make


def _users(train) -> tuple[np.ndarray, ...]:
    return (np.arange(train.n_users, dtype=np.int32),)


def _pairs(train) -> tuple[np.ndarray, ...]:
    return train.user.astype(np.int32), train.item.astype(np.int32)


def _triples(train) -> tuple[np.ndarray, ...]:
    negatives = np.random.default_rng(0).integers(0, train.n_items, len(train), dtype=np.int32)
    return (*_pairs(train), negatives)


def _rows(model) -> tuple[np.ndarray, ...]:
    return (np.arange(model.n_rows, dtype=np.int32),)


# name -> (make the model, its phase, its examples' arrays from (train, model))
CASES = {
    "irgan-game": (_irgan, "game", lambda train, model: _pairs(train)),
    "irgan-game-l2": (
        lambda train: _irgan(train, generator_l2=0.1, discriminator_steps=2),
        "game",
        lambda train, model: _pairs(train),
    ),
    "irgan-discriminator": (_irgan, "discriminator", lambda train, model: _triples(train)),
    "irgan-discriminator-pairs": (_irgan, "discriminator", lambda train, model: _pairs(train)),
    "irgan-generator": (
        lambda train: _irgan(train, generator_l2=0.1),
        "generator",
        lambda train, model: _users(train),
    ),
    "cfgan-user": (_cfgan("user"), None, lambda train, model: _rows(model)),
    "cfgan-item": (_cfgan("item"), None, lambda train, model: _rows(model)),
}


def _compile(model, learning_rate=0.5):
    # SGD: Adam would magnify rounding (as in tests/unit/test_engine.py)
    model.compile(keras.optimizers.SGD(learning_rate), keras.optimizers.SGD(learning_rate))
    return model


def _in_phase(model, phase):
    return model.phase(phase) if phase else contextlib.nullcontext()


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_padded_batch_trains_like_the_batch_without_its_padding(name, synthetic_split):
    make, phase, arrays = CASES[name]
    train = synthetic_split.train
    real = tuple(a[:37] for a in arrays(train, make(train)))
    padded = tuple(np.concatenate([a, np.repeat(a[:1], 27)]) for a in real)  # copies of row 0
    weight = np.concatenate([np.ones(37), np.zeros(27)]).astype(np.float32)
    results = []
    for data in ((real,), (padded, None, weight)):
        model = _compile(make(train))
        batch = tuple(
            None if part is None else tuple(tf.constant(a) for a in part)
            if isinstance(part, tuple) else tf.constant(part)
            for part in data
        )  # fmt: skip
        if len(batch[0]) == 1:  # one array: its rows are the input
            batch = (batch[0][0], *batch[1:])
        with _in_phase(model, phase):
            step = tf.function(model.train_step)
            for _ in range(2):
                logs = step(batch)
        results.append((_weights(model), {k: float(v) for k, v in logs.items()}))
    (plain, plain_logs), (masked, masked_logs) = results
    assert any(not np.allclose(a, b) for a, b in zip(plain, _weights(make(train)), strict=True))
    for a, b in zip(plain, masked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert masked_logs == pytest.approx(plain_logs, rel=1e-5, abs=1e-9)


def _fit(make, phase, arrays, train, batch_size, padded=True, epochs=2, shuffle=True):
    model = make(train)
    if not padded:
        model.supports_padded_batches = False  # Keras fit on tf.data batches
    _compile(model, 0.2)
    examples = Examples(arrays(train, model), batch_size, seed=2, shuffle=shuffle)
    assert len(examples) % batch_size  # a smaller last batch
    with _in_phase(model, phase):
        history = fit_model(model, examples, epochs=epochs)
    return _weights(model), history.history


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_engine_trains_like_fit_on_unpadded_batches(name, synthetic_split):
    make, phase, arrays = CASES[name]
    batch_size = 700 if name.startswith("irgan") and phase != "generator" else 64
    shuffle = phase != "discriminator"  # the recipe's D table keeps its order
    train = synthetic_split.train
    engine, engine_history = _fit(make, phase, arrays, train, batch_size, shuffle=shuffle)
    fit, fit_history = _fit(make, phase, arrays, train, batch_size, padded=False, shuffle=shuffle)
    for a, b in zip(engine, fit, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert engine_history.keys() == fit_history.keys()
    for key, values in engine_history.items():
        assert values == pytest.approx(fit_history[key], rel=1e-5)


def _irgan_schedule(train, padded):
    """IRGAN through phases that share one input signature (D and the game on the same pairs)
    and one that does not (G on users), back and forth."""
    model = _compile(_irgan(train), 0.2)
    if not padded:
        model.supports_padded_batches = False
    pairs = Examples(_pairs(train), 700, seed=3)
    users = Examples(_users(train), 64, seed=3)
    epochs = {}
    history = []
    for phase, examples in (
        ("discriminator", pairs),
        ("game", pairs),
        ("generator", users),
        ("discriminator", pairs),
        ("game", pairs),
    ):
        with model.phase(phase):
            history.append(fit_model(model, examples, epochs=1).history)
            if padded:
                epochs.setdefault(phase, epoch_function(model))
                assert epoch_function(model) is epochs[phase]  # each phase its own, kept
    return model, history, epochs


def test_each_irgan_phase_keeps_its_own_compiled_epoch(synthetic_split):
    train = synthetic_split.train
    model, history, epochs = _irgan_schedule(train, padded=True)
    assert len({id(e) for e in epochs.values()}) == 3
    assert model.current_phase == "game" and epoch_function(model) is epochs["game"]
    reference, fit_history, _ = _irgan_schedule(train, padded=False)
    # Had the game reused the D phase's trace (same signature), G would not have moved there.
    for a, b in zip(_weights(model), _weights(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [sorted(h) for h in history] == [sorted(h) for h in fit_history]
    for mine, theirs in zip(history, fit_history, strict=True):
        for key, values in mine.items():
            assert values == pytest.approx(theirs[key], rel=1e-5)


def test_the_game_does_not_run_the_discriminator_phases_trace(synthetic_split):
    train = synthetic_split.train
    model = _compile(_irgan(train), 0.2)
    pairs = Examples(_pairs(train), 700, seed=3)
    with model.phase("discriminator"):
        fit_model(model, pairs, epochs=1)
    before = model.g_item.numpy().copy()
    fit_model(model, pairs, epochs=1)  # the game, on a table of the D phase's signature
    assert not np.allclose(before, model.g_item.numpy())
    assert set(model.history.history) == {"d_loss", "g_loss", "reward"}


def test_cfgan_slices_count_the_real_rows_only(synthetic_split):
    model = _cfgan("user")(synthetic_split.train)
    with pytest.raises(ValueError, match="generator_chunks"):
        model.row_examples(299)  # 300 rows: a last batch of 1 real row for 2 slices
    assert model.row_examples(298).batches_per_epoch == 2  # a last batch of 2 real rows


def _two_device_fit(make, phase, arrays, train, strategy, batch_size, shuffle):
    with strategy.scope():
        model = _compile(make(train), 0.2)
    examples = Examples(arrays(train, model), batch_size, seed=3, shuffle=shuffle)
    with _in_phase(model, phase):
        history = fit_model(model, examples, epochs=2)
    return _weights(model), history.history


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["irgan-game", "irgan-discriminator", "irgan-generator", "cfgan-user", "cfgan-item"]
)
def test_the_engine_on_two_devices_matches_one_device(name, synthetic_split, two_devices):
    make, phase, arrays = CASES[name]
    train = synthetic_split.train
    # A batch size whose last batch leaves the second replica only padding: 2686 pairs in
    # batches of 511 (512 slots) end with 131; 300 users or rows in 255 (256) with 45; 200
    # items in 151 (152) with 49.
    rows = len(arrays(train, make(train))[0])
    batch_size = {2686: 511, 300: 255, 200: 151}[rows]
    assert rows % batch_size < -(-batch_size // 2)
    shuffle = phase != "discriminator"
    one, one_history = _two_device_fit(
        make, phase, arrays, train, tf.distribute.get_strategy(), batch_size, shuffle
    )
    two, two_history = _two_device_fit(make, phase, arrays, train, two_devices, batch_size, shuffle)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for key, values in one_history.items():
        assert two_history[key] == pytest.approx(values, rel=1e-4, abs=1e-9)


@pytest.mark.slow  # XLA compiles the epoch
@pytest.mark.parametrize("name", ["irgan-game", "irgan-generator", "cfgan-item"])
def test_one_xla_epoch_trains_like_one_without(name, synthetic_split):
    make, phase, arrays = CASES[name]
    train = synthetic_split.train
    results = []
    for jit in (False, True):
        model = make(train)
        model.compile(keras.optimizers.SGD(0.2), keras.optimizers.SGD(0.2), jit_compile=jit)
        examples = Examples(arrays(train, model), 151, seed=3)
        with _in_phase(model, phase):
            fit_model(model, examples, epochs=1)
        results.append(_weights(model))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
