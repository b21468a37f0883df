"""Small builders that tests in several tiers share (importable: ``tests`` is on pytest's path)."""

from __future__ import annotations

import numpy as np

from advrec.data.coldstart import cold_start_split
from advrec.data.features import item_feature_matrix, user_feature_matrix

COLD_START_DIM = 6
"""Embedding size of :func:`cold_start_inputs`' random tables."""


def cold_start_inputs(dataset, side: str = "items", seed: int = 0):
    """A cold-start split of ``dataset`` with its side information and random pre-trained tables:
    ``(split, features, entity_table, opposite_table)``, as the cold-start models take them."""
    split = cold_start_split(dataset.interactions, side, seed=seed)
    rng = np.random.default_rng(seed)
    if side == "items":
        features = item_feature_matrix(dataset.items, dataset.n_items).values
        opposite = rng.normal(size=(dataset.n_users, COLD_START_DIM)).astype(np.float32)
    else:
        features = user_feature_matrix(dataset.users, dataset.n_users).values
        opposite = rng.normal(size=(dataset.n_items, COLD_START_DIM)).astype(np.float32)
    entity = rng.normal(size=(len(split.warm_ids), COLD_START_DIM)).astype(np.float32)
    return split, features, entity, opposite
