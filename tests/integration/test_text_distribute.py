"""TextBPR, its adversarial variant and its tuned texts compile with XLA and train on two devices
as on one."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import positive_pairs
from advrec.models.text import AdversarialTextBPR, TextBPR, TunableItemTexts
from advrec.text.encoder import EncoderConfig, SentenceEncoder


def _texts(n_items: int) -> np.ndarray:
    rows = np.random.default_rng(0).normal(size=(n_items, 12)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _tunable(n_items: int) -> TunableItemTexts:
    """A random 2-block encoder's texts of random ids, its top block tuned."""
    config = EncoderConfig(
        vocab_size=30, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=8,
    )  # fmt: skip
    encoder = SentenceEncoder(config)
    rng = np.random.default_rng(0)
    encoder.set_weights(
        [rng.normal(0, 0.3, w.shape).astype(np.float32) for w in encoder.get_weights()]
    )
    ids = rng.integers(1, 30, (n_items, 5)).astype(np.int32)
    return TunableItemTexts(encoder, ids, np.ones_like(ids), tuned_layers=1)


MODELS = {
    "text": lambda train: TextBPR(train, _texts(train.n_items), dim=8, l2=1e-3, seed=1),
    "hybrid": lambda train: TextBPR(
        train, _texts(train.n_items), dim=8, item_ids=True, l2=1e-3, seed=1
    ),
    "adversarial": lambda train: AdversarialTextBPR(
        train, _texts(train.n_items), epsilon=0.3, dim=8, item_ids=True, l2=1e-3, seed=1
    ),
    "tuned": lambda train: AdversarialTextBPR(
        train, _tunable(train.n_items), epsilon=0.1, dim=8, l2=1e-3, seed=1
    ),
}


def _train(make, split, strategy, steps=2, batch=64, jit_compile=False):
    with strategy.scope():
        model = make(split.train)
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    data = positive_pairs(split.train, batch, seed=3, epochs=None)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return [w.numpy() for w in model.trainable_weights]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_trains_with_xla_and_on_two_devices_as_on_one(name, synthetic_split, two_devices):
    model = MODELS[name](synthetic_split.train)
    before = {w.path: w.numpy() for w in model.trainable_weights}
    with_xla = _train(MODELS[name], synthetic_split, tf.distribute.get_strategy(), jit_compile=True)
    assert all(np.isfinite(w).all() for w in with_xla)
    # Every weight moves but an attention key bias: it adds the same number to all of a
    # query's logits, which the softmax ignores, so its gradient is exactly zero.
    moved = {path for (path, b), a in zip(before.items(), with_xla, strict=True) if (a != b).any()}
    assert set(before) - moved == {p for p in before if p.endswith("key/bias")}
    one = _train(MODELS[name], synthetic_split, tf.distribute.get_strategy())
    two = _train(MODELS[name], synthetic_split, two_devices)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
