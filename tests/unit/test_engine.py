"""The training engine: padded epochs equal unpadded ones, one trace per model, two devices."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data.sampling import Examples, padded_batches, pair_examples
from advrec.engine import EpochFunction, epoch_function
from advrec.models import AMF, BPRMF, AdversarialBPRMF
from advrec.models.text import AdversarialTextBPR, TextBPR
from advrec.training import fit_model, restart_from


def _labels(n_users: int) -> np.ndarray:
    return (np.arange(n_users) % 3 == 0).astype(np.int32)


def _texts(n_items: int) -> np.ndarray:
    """float32 ``[n_items, 16]`` unit rows standing in for a text encoder's embeddings."""
    texts = np.random.default_rng(0).normal(size=(n_items, 16)).astype(np.float32)
    return texts / np.linalg.norm(texts, axis=1, keepdims=True)


RANKERS = {
    "bprmf": lambda train: BPRMF(train, dim=8, l2=1e-2, seed=1),
    "amf": lambda train: AMF(train, epsilon=0.3, dim=8, l2=1e-2, seed=1),
    "privacy-confusion": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="confusion", dim=8, seed=1
    ),
    "privacy-reversal": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="reversal", dim=8, seed=1
    ),
    "text": lambda train: TextBPR(train, _texts(train.n_items), dim=8, seed=1),
    "text-adversarial": lambda train: AdversarialTextBPR(
        train, _texts(train.n_items), epsilon=0.2, dim=8, seed=1
    ),
}


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def test_padded_batches_keep_each_rows_position_and_mask_the_rest():
    table = tf.constant(np.arange(10) * 10)
    order = tf.constant([3, 1, 4, 0, 9, 2, 6, 5, 8, 7], tf.int32)
    (batches,), mask = padded_batches((table,), order, batch_size=4, slots=6)
    assert batches.shape == (3, 6) and mask.shape == (3, 6)
    np.testing.assert_array_equal(
        batches.numpy(),
        [[30, 10, 40, 0, 0, 0], [90, 20, 60, 50, 0, 0], [80, 70, 0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        mask.numpy(), [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]]
    )


def test_an_epochs_padded_batches_hold_the_epochs_order(synthetic_split):
    examples = pair_examples(synthetic_split.train, 500, seed=4)
    (users, items), mask = examples.padded_epoch(2, replicas=3)  # 501 slots: divisible by 3
    assert users.shape == (examples.batches_per_epoch, 501)
    real = mask.numpy().astype(bool)
    assert real.sum() == len(examples) and not real[:, 500:].any()
    batches = [((u, i),) for ((u, i),) in examples.dataset(epochs=3)][2 * users.shape[0] :]
    for b, ((u, i),) in enumerate(batches):
        np.testing.assert_array_equal(users.numpy()[b][real[b]], u.numpy())
        np.testing.assert_array_equal(items.numpy()[b][real[b]], i.numpy())


@pytest.mark.parametrize("name", sorted(RANKERS))
def test_a_padded_batch_trains_like_the_batch_without_its_padding(name, synthetic_split):
    users, items = synthetic_split.train.user[:37], synthetic_split.train.item[:37]
    padding = np.zeros(27, np.int32)  # row 0 of a table, weight 0
    padded = (np.concatenate([users, padding]), np.concatenate([items, padding]))
    weight = np.concatenate([np.ones(37), np.zeros(27)]).astype(np.float32)
    results = []
    for data in (((users, items),), (padded, None, weight)):
        model = RANKERS[name](synthetic_split.train)
        model.compile(optimizer=keras.optimizers.SGD(0.5))  # Adam would magnify rounding
        for _ in range(2):
            batch = tf.nest.map_structure(lambda a: None if a is None else tf.constant(a), data)
            logs = tf.function(model.train_step)(batch)
        results.append((_weights(model), float(logs["loss"])))
    (plain, plain_loss), (masked, masked_loss) = results
    for a, b in zip(plain, masked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert masked_loss == pytest.approx(plain_loss, rel=1e-6)


def _fit(model, examples, epochs=2, padded=True):
    if not padded:
        model.supports_padded_batches = False  # Keras fit on tf.data batches, as before the engine
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = fit_model(model, examples, epochs=epochs)
    return _weights(model), history.history


@pytest.mark.parametrize("name", sorted(RANKERS))
def test_the_engine_trains_like_fit_on_unpadded_batches(name, synthetic_split):
    examples = pair_examples(synthetic_split.train, 700, seed=2)  # a last batch of 586
    engine_weights, engine_history = _fit(RANKERS[name](synthetic_split.train), examples)
    fit_weights, fit_history = _fit(RANKERS[name](synthetic_split.train), examples, padded=False)
    for a, b in zip(engine_weights, fit_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert engine_history.keys() == fit_history.keys()
    for key, values in engine_history.items():
        assert values == pytest.approx(fit_history[key], rel=1e-5)


def test_the_step_is_traced_once_per_model_and_reused_across_seeds(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=4, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    traces = []
    step = model.train_step

    def counting_step(data):
        traces.append(data)
        return step(data)

    model.train_step = counting_step
    examples = pair_examples(synthetic_split.train, 512, seed=0)
    assert len(examples) % 512  # a smaller last batch: padded, not traced again
    fit_model(model, examples, epochs=3)
    assert len(traces) == 1
    restart_from(model, BPRMF(synthetic_split.train, dim=4, seed=5))
    fit_model(model, pair_examples(synthetic_split.train, 512, seed=5), epochs=2)
    assert len(traces) == 1  # another seed's examples: same compiled epoch
    assert epoch_function(model) is epoch_function(model)


def test_the_engine_refuses_a_model_that_ignores_the_mask(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=4)
    model.supports_padded_batches = False
    model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="supports_padded_batches"):
        EpochFunction(model)


def test_an_unshuffled_table_trains_in_its_own_order(synthetic_split):
    train = synthetic_split.train
    examples = Examples((train.user.astype(np.int32), train.item.astype(np.int32)), 300, 0, False)
    engine_weights, _ = _fit(BPRMF(train, dim=4, seed=2), examples, epochs=1)
    fit_weights, _ = _fit(BPRMF(train, dim=4, seed=2), examples, epochs=1, padded=False)
    for a, b in zip(engine_weights, fit_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # XLA compiles four steps
@pytest.mark.parametrize("name", ["bprmf", "amf"])
def test_one_xla_epoch_trains_like_fit_with_xla(name, synthetic_split):
    examples = pair_examples(synthetic_split.train, 700, seed=2)
    results = []
    for padded in (True, False):
        model = RANKERS[name](synthetic_split.train)
        if not padded:
            model.supports_padded_batches = False
        model.compile(optimizer=keras.optimizers.Adam(0.02), jit_compile=True)
        fit_model(model, examples, epochs=2)
        results.append(_weights(model))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_draws_are_the_same_with_and_without_xla():
    from advrec.distribute import portable_normal, portable_uniform

    seed = tf.constant([3, 7], tf.int64)
    for shape in [(7,), (64, 9)]:
        uniform = tf.random.stateless_uniform(shape, seed, alg="philox").numpy()
        np.testing.assert_array_equal(portable_uniform(shape, seed).numpy(), uniform)
        compiled = tf.function(lambda shape=shape: portable_uniform(shape, seed), jit_compile=True)
        np.testing.assert_array_equal(compiled().numpy(), uniform)  # XLA's own differs
        normal = tf.random.stateless_normal(shape, seed, alg="philox").numpy()
        compiled = tf.function(lambda shape=shape: portable_normal(shape, seed), jit_compile=True)
        np.testing.assert_allclose(portable_normal(shape, seed).numpy(), normal, atol=1e-6)
        np.testing.assert_allclose(compiled().numpy(), normal, atol=1e-6)


@pytest.mark.slow  # XLA compiles the epoch
def test_a_run_with_xla_trains_like_one_without(synthetic_split):
    examples = pair_examples(synthetic_split.train, 700, seed=2)
    results = []
    for jit in (False, True):
        model = RANKERS["amf"](synthetic_split.train)
        model.compile(optimizer=keras.optimizers.Adam(0.02), jit_compile=jit)
        fit_model(model, examples, epochs=2)
        results.append(_weights(model))
    for a, b in zip(*results, strict=True):  # before portable draws: 0.4 apart after 2 epochs
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_every_model_of_the_library_with_its_own_step_trains_through_the_engine():
    import importlib
    import inspect
    import pkgutil

    import advrec

    own_steps = {}
    for info in pkgutil.walk_packages(advrec.__path__, "advrec."):
        if info.name.endswith("__main__"):
            continue
        for _, cls in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
            if issubclass(cls, keras.Model) and cls.train_step is not keras.Model.train_step:
                own_steps[f"{cls.__module__}.{cls.__qualname__}"] = cls
    assert {"advrec.models.sasrec.SASRec", "advrec.gan.GAN"} <= set(own_steps)
    for name, cls in own_steps.items():
        declared = inspect.getattr_static(cls, "supports_padded_batches", False)
        assert declared is True or isinstance(declared, property), (
            f"{name} has its own train_step but does not train through the engine "
            "(advrec.models.contract: supports_padded_batches)"
        )
