"""Training batches: ``positive_pairs`` (epoch coverage, reshuffling, determinism) and the
in-graph ``NegativeSampler`` (never a training positive, uniform over the rest)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions, NegativeSampler, positive_pairs


def random_table(n_users: int, n_items: int, density: float, seed: int = 0) -> Interactions:
    """Every user gets ``density * n_items`` distinct random items (at least one free item)."""
    rng = np.random.default_rng(seed)
    per_user = max(1, min(n_items - 1, round(density * n_items)))
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)


def epochs_of(dataset: tf.data.Dataset, n_epochs: int) -> list[np.ndarray]:
    """The keys ``user * 10**6 + item`` of each epoch, in the order they were yielded."""
    epochs = []
    for _ in range(n_epochs):
        keys = [
            users.numpy().astype(np.int64) * 10**6 + items.numpy() for ((users, items),) in dataset
        ]
        epochs.append(np.concatenate(keys))
    return epochs


@pytest.fixture(scope="module")
def table() -> Interactions:
    return random_table(n_users=23, n_items=17, density=0.3)


def test_positive_pairs_cover_every_pair_once_per_epoch(table):
    dataset = positive_pairs(table, batch_size=16, seed=3)
    expected = np.sort(table.user.astype(np.int64) * 10**6 + table.item)
    for keys in epochs_of(dataset, 3):
        np.testing.assert_array_equal(np.sort(keys), expected)


def test_positive_pairs_batch_shapes(table):
    batches = [users.shape[0] for ((users, _),) in positive_pairs(table, batch_size=16)]
    assert batches == [16] * (len(table) // 16) + [len(table) % 16] * bool(len(table) % 16)


def test_positive_pairs_reshuffle_every_epoch(table):
    keys = epochs_of(positive_pairs(table, batch_size=16, seed=3, epochs=3), 1)[0]
    epochs = np.split(keys, 3)
    for epoch in epochs:
        np.testing.assert_array_equal(np.sort(epoch), np.sort(epochs[0]))
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    # Forever (what fit_ranker trains on) starts with the same passes.
    forever = positive_pairs(table, batch_size=16, seed=3, epochs=None)
    n_batches = -(-len(table) // 16)
    head = [
        u.numpy().astype(np.int64) * 10**6 + i.numpy() for ((u, i),) in forever.take(3 * n_batches)
    ]
    np.testing.assert_array_equal(np.concatenate(head), keys)


def test_positive_pairs_ignore_the_global_seed(table):
    tf.random.set_seed(1)
    first = epochs_of(positive_pairs(table, batch_size=16, seed=5, epochs=2), 1)
    tf.random.set_seed(2)
    second = epochs_of(positive_pairs(table, batch_size=16, seed=5, epochs=2), 1)
    np.testing.assert_array_equal(first[0], second[0])


def test_positive_pairs_deterministic_in_seed(table):
    same = epochs_of(positive_pairs(table, batch_size=16, seed=5), 2)
    again = epochs_of(positive_pairs(table, batch_size=16, seed=5), 2)
    other = epochs_of(positive_pairs(table, batch_size=16, seed=6), 2)
    for a, b in zip(same, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(same[0], other[0])


def test_positive_pairs_without_shuffle_keeps_order(table):
    keys = epochs_of(positive_pairs(table, batch_size=16, shuffle=False), 1)[0]
    np.testing.assert_array_equal(keys, table.user.astype(np.int64) * 10**6 + table.item)


@pytest.mark.parametrize("bad", [0, -3])
def test_positive_pairs_rejects_bad_batch_size(table, bad):
    with pytest.raises(ValueError, match="batch_size"):
        positive_pairs(table, batch_size=bad)


def test_negative_sampler_never_returns_a_positive_and_is_uniform():
    # Dense: each user has 60% of the items, so a naive draw hits a positive 60% of the time.
    table = random_table(n_users=12, n_items=25, density=0.6, seed=1)
    sampler = NegativeSampler(table)
    positives = np.zeros((table.n_users, table.n_items), bool)
    positives[table.user, table.item] = True

    draws_per_user = 2000
    users = tf.constant(np.repeat(np.arange(table.n_users), draws_per_user), tf.int32)
    seed = keras.random.SeedGenerator(7)
    negatives = tf.function(lambda u: sampler(u, seed), jit_compile=True)(users).numpy()
    assert negatives.dtype == np.int32 and negatives.shape == users.shape

    counts = np.zeros((table.n_users, table.n_items))
    np.add.at(counts, (users.numpy(), negatives), 1)
    assert counts[positives].sum() == 0, "a training positive was returned as a negative"
    # Uniform over each user's free items: chi-square over all users, 0.1% critical value.
    free = ~positives
    expected = draws_per_user / free.sum(axis=1, keepdims=True)
    chi2 = (((counts - expected) ** 2 / expected)[free]).sum()
    dof = int(free.sum()) - table.n_users
    assert chi2 < dof + 3.1 * np.sqrt(2 * dof), f"chi2 {chi2:.1f} with {dof} dof"


def test_nth_negative_enumerates_each_users_free_items_in_order():
    # Users with no positive, one positive at either end, and nearly all items taken.
    users = [1, 2, 3, 3, 3, 3, 3, 4, 4]
    items = [0, 5, 0, 1, 2, 3, 5, 2, 4]
    table = Interactions.from_arrays(users, items, n_users=5, n_items=6)
    sampler = NegativeSampler(table)
    positives = table.dense().astype(bool)
    for user in range(table.n_users):
        free = np.flatnonzero(~positives[user])
        got = sampler.nth_negative(
            tf.fill([len(free)], user), tf.range(len(free), dtype=tf.int32)
        ).numpy()
        np.testing.assert_array_equal(got, free)


def test_negative_sampler_refuses_a_user_with_every_item():
    table = Interactions.from_arrays([0, 0, 0, 1], [0, 1, 2, 0], n_users=2, n_items=3)
    with pytest.raises(ValueError, match="user 0 .* interacted with all 3 items"):
        NegativeSampler(table)


def test_negative_sampler_draws_change_between_calls(table):
    sampler = NegativeSampler(table)
    seed = keras.random.SeedGenerator(0)
    users = tf.zeros([200], tf.int32)
    assert not np.array_equal(sampler(users, seed).numpy(), sampler(users, seed).numpy())


def test_free_list_draws_what_the_binary_search_draws():
    # Same uniform numbers, same ranks: the two ways must return the same items.
    table = random_table(n_users=40, n_items=30, density=0.5, seed=4)
    free_list = NegativeSampler(table)
    search = NegativeSampler(table, max_free_list_bytes=0)
    assert (free_list.method, search.method) == ("free_list", "binary_search")
    users = tf.constant(np.repeat(np.arange(table.n_users), 50), tf.int32)
    a = free_list(users, keras.random.SeedGenerator(3)).numpy()
    b = search(users, keras.random.SeedGenerator(3)).numpy()
    np.testing.assert_array_equal(a, b)
    free = np.diff(np.append(free_list._free_starts.numpy(), len(free_list._free)))
    ranks = np.concatenate([np.arange(f) for f in free]).astype(np.int32)  # every (user, rank)
    owners = np.repeat(np.arange(table.n_users), free).astype(np.int32)
    np.testing.assert_array_equal(
        free_list.nth_negative(owners, ranks).numpy(), search.nth_negative(owners, ranks).numpy()
    )


def test_free_list_falls_back_to_the_binary_search_above_its_memory_limit():
    table = random_table(n_users=40, n_items=30, density=0.5)
    n_free = 40 * 30 - len(table)
    assert NegativeSampler(table, max_free_list_bytes=2 * n_free).method == "free_list"  # int16
    assert NegativeSampler(table, max_free_list_bytes=2 * n_free - 1).method == "binary_search"
