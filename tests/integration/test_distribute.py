"""Every model compiles with XLA and trains on two devices exactly as on one.

The two devices are the logical CPU devices that ``conftest.py`` creates: a real two-replica
``tf.distribute.MirroredStrategy`` (a one-device "strategy" could not fail for multi-replica bugs).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import NegativeSampler, positive_pairs
from advrec.data.sampling import pair_examples
from advrec.distribute import replica_uniform
from advrec.engine import EpochFunction
from advrec.gan import GAN, mlp_discriminator, mlp_generator
from advrec.models import AMF, BPRMF, AdversarialBPRMF
from advrec.training import fit_model


def _labels(n_users: int) -> np.ndarray:
    return (np.arange(n_users) % 3 == 0).astype(np.int32)


RANKERS = {
    "bprmf": lambda train: BPRMF(train, dim=8, l2=1e-3, seed=1),
    "amf": lambda train: AMF(train, epsilon=0.3, dim=8, l2=1e-3, seed=1),
    "privacy-confusion": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="confusion", dim=8, seed=1
    ),
    "privacy-reversal": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="reversal", dim=8, seed=1
    ),
}


def _train_ranker(make, split, strategy, steps=2, batch=64, jit_compile=False):
    """Weights of a ranker after ``steps`` SGD steps of ``batch`` pairs under ``strategy``."""
    with strategy.scope():
        model = make(split.train)
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    data = positive_pairs(split.train, batch, seed=3, epochs=None)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return [w.numpy() for w in model.trainable_weights]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RANKERS))
def test_ranker_trains_with_xla(name, synthetic_split):
    before = [w.numpy() for w in RANKERS[name](synthetic_split.train).trainable_weights]
    after = _train_ranker(
        RANKERS[name], synthetic_split, tf.distribute.get_strategy(), jit_compile=True
    )
    assert all(np.isfinite(w).all() for w in after)
    assert any(not np.allclose(a, b) for a, b in zip(after, before, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RANKERS))
def test_ranker_on_two_devices_matches_one_device(name, synthetic_split, two_devices):
    strategy = two_devices
    one = _train_ranker(RANKERS[name], synthetic_split, tf.distribute.get_strategy())
    two = _train_ranker(RANKERS[name], synthetic_split, strategy)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _fit_with_the_engine(make, split, strategy, batch_size=511, epochs=2):
    """Weights and loss history of a ranker after ``epochs`` of ``fit_model`` (the engine)."""
    with strategy.scope():
        model = make(split.train)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = fit_model(model, pair_examples(split.train, batch_size, seed=3), epochs=epochs)
    return [w.numpy() for w in model.weights], history.history


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RANKERS))
def test_the_engine_on_two_devices_matches_one_device(name, synthetic_split, two_devices):
    # 511 pairs per batch: 512 slots, one of them padding, so each replica gets 256 rows; the
    # last batch holds 131 real pairs, all on the first replica (the second has only padding).
    assert len(synthetic_split.train) % 511 < 256
    one, one_history = _fit_with_the_engine(
        RANKERS[name], synthetic_split, tf.distribute.get_strategy()
    )
    two, two_history = _fit_with_the_engine(RANKERS[name], synthetic_split, two_devices)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key, values in one_history.items():
        assert two_history[key] == pytest.approx(values, rel=1e-5)


def test_each_replica_draws_its_own_slice_of_the_global_stream(two_devices):
    strategy = two_devices
    with strategy.scope():
        seed = keras.random.SeedGenerator(11)

    @tf.function
    def draw():
        return strategy.run(lambda: replica_uniform((4,), seed))

    per_replica = strategy.experimental_local_results(draw())
    first, second = (t.numpy() for t in per_replica)
    assert not np.allclose(first, second)  # the replicas' negatives differ
    single = replica_uniform((8,), keras.random.SeedGenerator(11)).numpy()
    np.testing.assert_allclose(np.concatenate([first, second]), single)


def test_sampler_per_replica_negatives_avoid_positives(synthetic_split, two_devices):
    strategy = two_devices
    sampler = NegativeSampler(synthetic_split.train)
    with strategy.scope():
        seed = keras.random.SeedGenerator(0)
    users = tf.constant(np.repeat(np.arange(50), 20), tf.int32)

    @tf.function
    def draw(u):
        return sampler(u, seed)

    results = strategy.experimental_local_results(strategy.run(draw, args=(users,)))
    negatives = [r.numpy() for r in results]
    assert not np.array_equal(negatives[0], negatives[1])
    positives = synthetic_split.train.dense().astype(bool)
    for n in negatives:
        assert not positives[users.numpy(), n].any()


def _gan(latent_dim=3, data_dim=2):
    generator = mlp_generator(latent_dim, (data_dim,), hidden_units=(8,))
    discriminator = mlp_discriminator((data_dim,), hidden_units=(8,))
    for model, seed in ((generator, 1), (discriminator, 2)):
        rng = np.random.default_rng(seed)  # identical initial weights under any strategy
        model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.weights])
    return GAN(generator, discriminator, latent_dim=latent_dim, seed=5)


def _train_gan(strategy, jit_compile=False):
    with strategy.scope():
        gan = _gan()
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), jit_compile=jit_compile)
    real = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(real).batch(32)
    gan.fit(data, epochs=1, verbose=0)
    return [w.numpy() for w in gan.generator.weights + gan.discriminator.weights]


@pytest.mark.slow
def test_gan_trains_with_xla():
    weights = _train_gan(tf.distribute.get_strategy(), jit_compile=True)
    assert all(np.isfinite(w).all() for w in weights)


@pytest.mark.slow
def test_gan_on_two_devices_matches_one_device(two_devices):
    one = _train_gan(tf.distribute.get_strategy())
    two = _train_gan(two_devices)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_the_engines_logs_are_means_over_every_replicas_examples(synthetic_split, two_devices):
    # The last batch leaves the second replica only padding: a mean of the replicas' own means
    # (what the engine returned before) differs from the mean over every real pair.
    examples = pair_examples(synthetic_split.train, 511, seed=3)
    logs = []
    for strategy in (tf.distribute.get_strategy(), two_devices):
        with strategy.scope():
            model = RANKERS["bprmf"](synthetic_split.train)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
        logs.append(float(EpochFunction(model)(examples, 0)["loss"]))
    assert logs[1] == pytest.approx(logs[0], rel=1e-6)
