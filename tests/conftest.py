"""Shared fixtures: small synthetic data sets, quiet TensorFlow, and two logical CPU devices.

The CPU is split into two logical devices before TensorFlow starts, so the distribution tests can
run a real two-replica ``MirroredStrategy`` here; everything else runs on the first one.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from advrec.data import Interactions, random_holdout, synthetic_movielens  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_dataset():
    """A 300-user, 200-item data set with planted preferences (same schema as ML-100K)."""
    return synthetic_movielens(n_users=300, n_items=200, seed=0)


@pytest.fixture(scope="session")
def synthetic_split(synthetic_dataset):
    return random_holdout(synthetic_dataset.interactions, seed=0)


@pytest.fixture
def tiny_interactions():
    """4 users x 6 items, hand-made: user u has items {u, u+1, u+2}."""
    users = np.repeat(np.arange(4), 3)
    items = np.concatenate([np.arange(u, u + 3) for u in range(4)])
    return Interactions.from_arrays(users, items, n_users=4, n_items=6)


@pytest.fixture(scope="session")
def two_devices() -> tf.distribute.MirroredStrategy:
    """A real two-replica strategy over the two logical CPUs, one for the whole session:
    TensorFlow's collective ops cache their instances by key, and a second strategy over the
    same devices reuses the keys (a shape mismatch follows)."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy
