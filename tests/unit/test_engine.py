"""Padded batches: a step on a batch padded with rows of weight 0 equals the step without them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.models import AMF, BPRMF, AdversarialBPRMF


def _labels(n_users: int) -> np.ndarray:
    return (np.arange(n_users) % 3 == 0).astype(np.int32)


RANKERS = {
    "bprmf": lambda train: BPRMF(train, dim=8, l2=1e-2, seed=1),
    "amf": lambda train: AMF(train, epsilon=0.3, dim=8, l2=1e-2, seed=1),
    "privacy-confusion": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="confusion", dim=8, seed=1
    ),
    "privacy-reversal": lambda train: AdversarialBPRMF(
        train, _labels(train.n_users), objective="reversal", dim=8, seed=1
    ),
}


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


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
