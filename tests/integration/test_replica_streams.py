"""Random numbers drawn inside a training step, under two replicas.

Each replica must draw its own numbers (two replicas drawing alike train on the same negatives,
masks or noise), and ``n`` replicas should train exactly as one device on the same global batch.
The helpers in :mod:`advrec.distribute` give each replica its slice of one global draw; the
models below used to draw with ``keras.random`` from a mirrored seed generator, which gives every
replica the *same* numbers, so one device and two devices trained differently.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import cold_start_inputs

from advrec.attacks import shilling
from advrec.data.sampling import positive_pairs
from advrec.distribute import replica_categorical, replica_randint
from advrec.models.cfgan import CFGAN
from advrec.models.coldstart import AdversarialGenerator, DropoutNetRecommender
from advrec.models.irgan import IRGAN


def _local_results(strategy, fn):
    """``fn()`` run on every replica; one numpy array per replica."""
    results = strategy.experimental_local_results(tf.function(lambda: strategy.run(fn))())
    return [r.numpy() for r in results]


def test_randint_gives_each_replica_its_slice_of_one_draw(two_devices):
    with two_devices.scope():
        seed = keras.random.SeedGenerator(3)
    first, second = _local_results(two_devices, lambda: replica_randint((500,), 7, seed))
    assert not np.array_equal(first, second)
    single = replica_randint((1000,), 7, keras.random.SeedGenerator(3)).numpy()
    np.testing.assert_array_equal(np.concatenate([first, second]), single)
    assert single.min() == 0 and single.max() == 6
    assert np.bincount(single, minlength=7).min() > 100  # every value is drawn


def test_categorical_follows_the_weights_and_never_draws_a_zero_weight():
    weights = tf.constant([[0.0, 1.0, 3.0, 0.0, 4.0], [2.0, 0.0, 0.0, 0.0, 0.0]])
    draws = replica_categorical(weights, 40_000, keras.random.SeedGenerator(0)).numpy()
    assert draws.shape == (2, 40_000) and draws.dtype == np.int32
    share = np.bincount(draws[0], minlength=5) / draws.shape[1]
    np.testing.assert_allclose(share, [0, 0.125, 0.375, 0, 0.5], atol=0.01)
    assert (draws[1] == 0).all()


def test_categorical_compiles_with_xla():
    # XLA's Philox orders its stream differently from TensorFlow's kernel, so the draws differ
    # from eager ones; the rule (zero weight: never drawn) holds in both.
    weights = tf.constant([[0.0, 1.0, 0.0, 2.0]] * 4)
    seed = keras.random.SeedGenerator(4)
    compiled = tf.function(lambda w: replica_categorical(w, 500, seed), jit_compile=True)
    draws = compiled(weights).numpy()
    assert set(np.unique(draws)) == {1, 3}


def test_categorical_gives_each_replica_its_slice_of_one_draw(two_devices):
    weights = tf.random.stateless_uniform((8, 30), seed=(5, 6))
    with two_devices.scope():
        seed = keras.random.SeedGenerator(9)

    def draw():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return replica_categorical(weights[4 * replica : 4 * (replica + 1)], 5, seed)

    first, second = _local_results(two_devices, draw)
    assert not np.array_equal(first, second)
    single = replica_categorical(weights, 5, keras.random.SeedGenerator(9)).numpy()
    np.testing.assert_array_equal(np.concatenate([first, second]), single)


# -- every model with random draws in its step trains on two devices as on one ----------------


def _irgan(split):
    model = IRGAN(split.train, dim=4, seed=0)
    model.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
    return model, positive_pairs(split.train, 64, seed=3, epochs=None)


def _cfgan(split):
    model = CFGAN(split.train, mode="user", generator_units=8, discriminator_units=8, seed=0)
    model.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
    return model, model.row_examples(64, seed=0).dataset(epochs=None)


def _cold_start(cls):
    def make(split, dataset):
        cold, features, entity, opposite = cold_start_inputs(dataset)
        model = cls(cold, features, entity, opposite, hidden=(8,), seed=0)
        if cls is AdversarialGenerator:
            model.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
        else:
            model.compile(keras.optimizers.SGD(0.5))
        return model, positive_pairs(cold.warm_space().train, 64, seed=3, epochs=None)

    return make


def _profile_gan(split):
    train = split.train
    value = np.linspace(-1, 1, train.n_items).astype(np.float32)
    model = shilling.ProfileGAN(train.n_items, 5, value, filler_size=8, hidden_units=8, seed=0)
    model.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
    templates = shilling.gan_templates(train, 5, 8).astype(np.float32)
    return model, tf.data.Dataset.from_tensor_slices(templates[:64]).batch(32).repeat()


MODELS = {
    "irgan": lambda split, dataset: _irgan(split),
    "cfgan": lambda split, dataset: _cfgan(split),
    "coldstart-adversarial": _cold_start(AdversarialGenerator),
    "coldstart-dropoutnet": _cold_start(DropoutNetRecommender),
    "shilling-profile-gan": lambda split, dataset: _profile_gan(split),
}


def _trained(name, strategy, split, dataset, steps=2):
    with strategy.scope():
        model, data = MODELS[name](split, dataset)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return [w.numpy() for w in model.trainable_weights]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_trains_on_two_devices_as_on_one(
    name, synthetic_split, synthetic_dataset, two_devices
):
    one = _trained(name, tf.distribute.get_strategy(), synthetic_split, synthetic_dataset)
    two = _trained(name, two_devices, synthetic_split, synthetic_dataset)
    initial = [
        w.numpy() for w in MODELS[name](synthetic_split, synthetic_dataset)[0].trainable_weights
    ]
    assert any(not np.allclose(a, b) for a, b in zip(one, initial, strict=True))  # it trained
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
