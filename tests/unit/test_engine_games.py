"""The image/toy GAN and the shilling profile GAN on the training engine: a padded batch trains
like the batch without its padding, and the engine trains like Keras ``fit``."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec import losses
from advrec.attacks import shilling as sh
from advrec.data.sampling import Examples
from advrec.gan import GAN, mlp_discriminator, mlp_generator
from advrec.training import fit_model

LATENT, DATA = 3, 2
OBJECTIVES = ("non_saturating", "minimax", "article")


def _gan(objective="non_saturating", discriminator_steps=1, learning_rate=0.1, **compile_kwargs):
    """A small GAN with the same initial weights every time (under any strategy's scope)."""
    generator = mlp_generator(LATENT, (DATA,), hidden_units=(8,))
    discriminator = mlp_discriminator((DATA,), hidden_units=(8,))
    for model, seed in ((generator, 1), (discriminator, 2)):
        rng = np.random.default_rng(seed)
        model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.weights])
    gan = GAN(generator, discriminator, LATENT, discriminator_steps=discriminator_steps, seed=5)
    optimizer = keras.optimizers.SGD if learning_rate >= 0.1 else keras.optimizers.Adam
    gan.compile(
        optimizer(learning_rate), optimizer(learning_rate), objective=objective, **compile_kwargs
    )
    return gan


def _real(n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(1.0, 1.0, (n, DATA)).astype(np.float32)


@pytest.fixture(scope="module")
def shilling_setup(synthetic_split):
    """(n_items, target, item values, templates float32 [135, n_items]) of the synthetic data."""
    train, target = synthetic_split.train, 7
    value = np.random.default_rng(0).normal(size=train.n_items).astype(np.float32)
    return train.n_items, target, value, sh.gan_templates(train, target, 8)


def _profile_gan(setup, learning_rate=0.5, **compile_kwargs):
    n_items, target, value, _ = setup
    gan = sh.ProfileGAN(n_items, target, value, filler_size=8, latent_dim=4, hidden_units=16)
    optimizer = keras.optimizers.SGD if learning_rate >= 0.1 else keras.optimizers.Adam
    gan.compile(optimizer(learning_rate), optimizer(learning_rate), **compile_kwargs)
    return gan


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def _padded(rows: np.ndarray, padding: int):
    """``(rows + padding copies of row 0, None, 0/1 weights)``: the engine's padded batch."""
    padded = np.concatenate([rows, np.repeat(rows[:1], padding, axis=0)])
    weight = np.concatenate([np.ones(len(rows)), np.zeros(padding)]).astype(np.float32)
    return padded, None, weight


def _two_steps(model, data) -> tuple[list[np.ndarray], dict[str, float]]:
    for _ in range(2):
        batch = tf.nest.map_structure(lambda a: None if a is None else tf.constant(a), data)
        logs = tf.function(model.train_step)(batch)
    return _weights(model), {name: float(value) for name, value in logs.items()}


@pytest.mark.parametrize(
    "make",
    [*(f"gan-{o}" for o in OBJECTIVES), "gan-k2", "profile"],
)
def test_a_padded_batch_trains_like_the_batch_without_its_padding(make, shilling_setup):
    if make == "profile":
        rows, build = shilling_setup[3][:37], lambda: _profile_gan(shilling_setup)
    elif make == "gan-k2":
        rows, build = _real(37), lambda: _gan(discriminator_steps=2)
    else:
        rows, build = _real(37), lambda: _gan(make.removeprefix("gan-"))
    (plain, plain_logs), (masked, masked_logs) = (
        _two_steps(build(), data) for data in ((rows,), _padded(rows, 27))
    )
    for a, b in zip(plain, masked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert masked_logs.keys() == plain_logs.keys()
    for name, value in plain_logs.items():
        assert masked_logs[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


def _fit(build, examples, padded=True):
    model = build()
    assert model.supports_padded_batches
    if not padded:
        model.supports_padded_batches = False  # Keras fit on tf.data batches, as before the engine
    history = fit_model(model, examples, epochs=2)
    return _weights(model), history.history


@pytest.mark.parametrize("make", ["gan", "gan-k2", "profile"])
def test_the_engine_trains_like_fit_on_unpadded_batches(make, shilling_setup):
    if make == "profile":  # 135 templates: a last batch of 7
        examples = Examples((shilling_setup[3],), 64, seed=3)

        def build():
            return _profile_gan(shilling_setup, learning_rate=0.01)
    else:  # 100 samples: a last batch of 4
        examples = Examples((_real(100),), 32, seed=3)

        def build():
            return _gan(discriminator_steps=1 + (make == "gan-k2"), learning_rate=0.01)

    engine_weights, engine_history = _fit(build, examples)
    fit_weights, fit_history = _fit(build, examples, padded=False)
    for a, b in zip(engine_weights, fit_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert engine_history.keys() == fit_history.keys()
    for key, values in engine_history.items():
        assert values == pytest.approx(fit_history[key], rel=1e-5), key


def test_gan_losses_weigh_each_row():
    rng = np.random.default_rng(1)
    real, fake = (tf.constant(rng.normal(size=(6, 1)), tf.float32) for _ in range(2))
    weights = tf.constant([1, 0, 1, 1, 0, 1], tf.float32)
    kept = tf.constant([0, 2, 3, 5])
    for name, (d_loss, g_loss) in losses.GAN_OBJECTIVES.items():
        real_rows, fake_rows = tf.gather(real, kept), tf.gather(fake, kept)
        assert float(d_loss(real, fake, weights)) == pytest.approx(
            float(d_loss(real_rows, fake_rows)), rel=1e-6
        ), name
        assert float(g_loss(fake, weights)) == pytest.approx(float(g_loss(fake_rows)), rel=1e-6)
        assert float(g_loss(fake[:, 0], None)) == pytest.approx(float(g_loss(fake)), rel=1e-6)


def test_a_gan_with_losses_without_weights_trains_through_keras_fit():
    def d_loss(real_logits, fake_logits):
        return losses.discriminator_cross_entropy(real_logits, fake_logits)

    def g_loss(fake_logits):
        return losses.non_saturating_generator_loss(fake_logits)

    plain = _gan(objective=(d_loss, g_loss))
    assert not plain.supports_padded_batches
    with pytest.raises(TypeError, match="takes no `weights`"):
        plain.train_step(
            tuple(tf.constant(a) if a is not None else None for a in _padded(_real(4), 2))
        )
    history = fit_model(plain, Examples((_real(10),), 4, seed=0), epochs=1)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}

    weighted = _gan(objective=(losses.discriminator_cross_entropy, lambda f, **kw: g_loss(f)))
    assert weighted.supports_padded_batches  # a **kwargs parameter takes weights too
    uncompiled = GAN(mlp_generator(LATENT, (DATA,)), mlp_discriminator((DATA,)), LATENT)
    assert not uncompiled.supports_padded_batches
    weighted.supports_padded_batches = False
    assert not weighted.supports_padded_batches


@pytest.mark.slow  # two replicas, two models per case
@pytest.mark.parametrize("make", ["gan", "profile"])
def test_the_engine_on_two_devices_matches_one_device(make, shilling_setup, two_devices):
    # The last batch's real rows all lie on the first replica; the second holds only padding.
    if make == "profile":  # 135 templates in batches of 40: 15 in the last, 20 slots a replica
        examples = Examples((shilling_setup[3],), 40, seed=3)

        def build():
            return _profile_gan(shilling_setup, learning_rate=0.01)
    else:  # 100 samples in batches of 33: 1 in the last, 17 slots a replica
        examples = Examples((_real(100),), 33, seed=3)

        def build():
            return _gan(learning_rate=0.01)

    results = []
    for strategy in (tf.distribute.get_strategy(), two_devices):
        with strategy.scope():
            model = build()
        history = fit_model(model, examples, epochs=2)
        results.append((_weights(model), history.history))
    (one, one_history), (two, two_history) = results
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for key, values in one_history.items():
        assert two_history[key] == pytest.approx(values, rel=1e-4), key
