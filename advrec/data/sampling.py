"""Training batches for pairwise ranking: a ``tf.data`` pipeline and an in-graph negative sampler.

The pipeline yields (user, positive item) batches; negatives are drawn inside the model's
``train_step`` by :class:`NegativeSampler`, so sampling runs on the accelerator (and compiles
with XLA) and a fresh negative is drawn for every pair in every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.distribute import replica_uniform


@dataclass(frozen=True)
class Examples:
    """A table of training examples, each epoch in a new order: what a model's ``train_step`` eats.

    ``arrays`` share their first dimension ``N`` (e.g. ``(users, items)`` of the training pairs,
    or one array of row ids). Epoch ``e`` visits every example once, in the order of the
    stateless shuffle with seed ``(seed, e)`` -- so the stream depends on ``seed`` alone (not on
    TensorFlow's global seed or on how often it was read) -- in ``ceil(N / batch_size)`` batches
    of ``batch_size`` (the last may be smaller). A batch is the element ``(x,)``: ``x`` is the
    tuple of the arrays' rows, or the rows of the single array, so Keras reads it as the input
    with no target.

    The same epoch as one padded table (:meth:`padded_epoch`, what
    :func:`advrec.distribute.epoch_function` trains on): ``[ceil(N / batch_size), slots, ...]``
    with a 0/1 mask, the last batch filled up with masked copies of row 0, so every batch has
    one shape and a training step is traced once.

    Args:
        arrays: the examples; each ``[N, ...]``.
        batch_size: examples per batch.
        seed: the shuffling seed.
        shuffle: ``False`` keeps the table's order every epoch.
    """

    arrays: tuple[np.ndarray, ...]
    batch_size: int
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self) -> None:
        if not self.arrays:
            raise ValueError("Examples needs at least one array.")
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"the arrays must have the same length, got {sorted(lengths)}.")
        if len(self) == 0:
            raise ValueError("the training table is empty: nothing to train on.")
        if isinstance(self.batch_size, bool) or int(self.batch_size) != self.batch_size:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size}.")

    def __len__(self) -> int:
        return len(self.arrays[0])

    @property
    def batches_per_epoch(self) -> int:
        """``ceil(N / batch_size)``."""
        return -(-len(self) // int(self.batch_size))

    def epoch_order(self, epoch: tf.Tensor | int) -> tf.Tensor:
        """int32 ``[N]``: the order in which epoch ``epoch`` (0-based) visits the examples."""
        return epoch_order(len(self), self.seed if self.shuffle else None, epoch)

    def slots(self, replicas: int = 1) -> int:
        """Rows of one padded global batch: ``batch_size`` rounded up to a multiple of
        ``replicas``, so that every replica gets the same number of rows (its slice)."""
        return -(-int(self.batch_size) // replicas) * replicas

    def padded_epoch(
        self, epoch: tf.Tensor | int, replicas: int = 1
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor]:
        """Epoch ``epoch`` as padded batches: see :func:`padded_batches`."""
        tables = tuple(tf.constant(a) for a in self.arrays)
        order = self.epoch_order(epoch)
        return padded_batches(tables, order, int(self.batch_size), self.slots(replicas))

    def dataset(self, epochs: int | None = 1, first_epoch: int = 0) -> tf.data.Dataset:
        """The batches of epochs ``first_epoch, first_epoch + 1, ...``: ``epochs`` of them, or
        forever for ``None`` (one iterator then serves a whole ``fit``; a run resumed after epoch
        ``e`` starts at ``e`` and sees what an uninterrupted run would have seen).

        The permutation is drawn for a whole epoch at once and batches are slices of it, which is
        over ten times faster than ``Dataset.shuffle`` over single examples.
        """
        if epochs is not None and (isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1):
            raise ValueError(f"epochs must be a positive integer or None (forever), got {epochs}.")
        batch_size, n_batches = int(self.batch_size), self.batches_per_epoch
        tables = tuple(tf.constant(a) for a in self.arrays)

        def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
            order = self.epoch_order(epoch)
            shuffled = tuple(tf.gather(t, order) for t in tables)

            def batch(b: tf.Tensor):
                rows = tuple(t[b * batch_size : (b + 1) * batch_size] for t in shuffled)
                return (rows if len(rows) > 1 else rows[0],)

            return tf.data.Dataset.range(n_batches).map(batch)

        return epoch_passes(one_epoch, n_batches, epochs, first_epoch)


def epoch_order(n: int, seed: tf.Tensor | int | None, epoch: tf.Tensor | int) -> tf.Tensor:
    """int32 ``[n]``: the stateless shuffle of ``range(n)`` with seed ``(seed, epoch)`` (int64
    scalars, tensors or numbers), or ``range(n)`` itself for ``seed=None`` (no shuffling)."""
    order = tf.range(n, dtype=tf.int32)
    if seed is None:
        return order
    pair_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(order, seed=pair_seed)


def padded_batches(
    tables: tuple[tf.Tensor, ...], order: tf.Tensor, batch_size: int, slots: int
) -> tuple[tuple[tf.Tensor, ...], tf.Tensor]:
    """The rows of ``tables`` (each ``[N, ...]``) in ``order`` (int32 ``[N]``), laid out as
    ``ceil(N / batch_size)`` batches of ``slots >= batch_size`` rows, and their mask.

    Slot ``s < batch_size`` of batch ``b`` holds row ``order[b * batch_size + s]`` where that
    exists; every other slot (the end of the last batch, and the ``slots - batch_size`` extra
    slots that make a batch divisible among replicas) holds row 0 and is masked. Real rows thus
    keep the positions they have in unpadded batches, and a replica's random draws for them are
    those of one device.

    Returns:
        ``(batches, mask)``: each table as ``[n_batches, slots, ...]`` and float32
        ``[n_batches, slots]``, 1 for a real row and 0 for padding.
    """
    n = int(order.shape[0])
    n_batches = -(-n // batch_size)
    slot = tf.range(slots, dtype=tf.int32)
    position = tf.range(n_batches, dtype=tf.int32)[:, tf.newaxis] * batch_size + slot  # [nb, S]
    real = tf.logical_and(slot < batch_size, position < n)
    rows = tf.where(real, tf.gather(order, tf.minimum(position, n - 1)), 0)
    batches = tuple(tf.gather(table, rows) for table in tables)
    return batches, tf.cast(real, tf.float32)


def pair_examples(train: Interactions, batch_size: int, seed: int = 0, shuffle: bool = True):
    """:class:`Examples` of the observed pairs ``(users [N], items [N])``, int32."""
    return Examples(
        (train.user.astype(np.int32), train.item.astype(np.int32)), batch_size, seed, shuffle
    )


def positive_pairs(
    train: Interactions,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    epochs: int | None = 1,
    first_epoch: int = 0,
) -> tf.data.Dataset:
    """Batches ``((users [B], items [B]),)`` of observed pairs, ``epochs`` passes in a new random
    order each: ``pair_examples(...).dataset(epochs, first_epoch)`` (see :class:`Examples`)."""
    return pair_examples(train, batch_size, seed, shuffle).dataset(epochs, first_epoch)


def epoch_passes(
    one_epoch: Callable[[tf.Tensor], tf.data.Dataset],
    n_batches: int,
    epochs: int | None,
    first_epoch: int = 0,
) -> tf.data.Dataset:
    """Passes ``first_epoch, first_epoch + 1, ...`` of ``one_epoch(e)`` (int64 ``e``), one after
    another: ``epochs`` of them, or forever for ``None``. Each pass has ``n_batches`` batches;
    the cardinality is asserted so Keras knows the length (or that it is infinite)."""
    passes = tf.data.Dataset.counter(start=first_epoch)
    if epochs is not None:
        passes = passes.take(epochs)
    batches = passes.flat_map(one_epoch)
    cardinality = tf.data.INFINITE_CARDINALITY if epochs is None else n_batches * epochs
    batches = batches.apply(tf.data.experimental.assert_cardinality(cardinality))
    # No autotuning: deleting an autotuned iterator took 0.5-1.8 s here, inside every short fit.
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


FREE_LIST_BYTES = 64 * 2**20
"""Largest free list :class:`NegativeSampler` keeps (64 MiB: ML-1M's takes 43 MB); above it, the
binary search over the positives (one int32 per training pair) is used."""


class NegativeSampler:
    """Draws, for each user, an item uniformly among the items the user has not interacted with.

    Exact, loop-free and of fixed shape, so it compiles with XLA and runs on any device. A draw is
    one uniform number ``u`` per user, turned into a rank ``r = floor(u * (n_items - c))`` among
    the user's ``n_items - c`` free (non-positive) items, and the ``r``-th free item in ascending
    order is returned. Two ways to find it, with the same result for the same ``r``:

    - **Free list** (when it fits in ``max_free_list_bytes``): every user's free items, sorted,
      in one flat array (int16 when the item ids fit, else int32); the draw is one gather. Memory:
      one entry per (user, free item), ``n_users * n_items - n_pairs`` in all (ML-100K: 3 MB).
    - **Binary search** (larger catalogues): for a user with sorted distinct training items
      ``p_0 < p_1 < ... < p_{c-1}``, let ``a_k = p_k - k`` (the number of free items below
      ``p_k``). The ``r``-th free item is ``r + #{k : a_k <= r}``, because exactly the positives
      with ``a_k <= r`` lie below it, so a search of a fixed ``ceil(log2(max_c + 1))`` rounds (10
      for ML-100K) of one gather each over a flat array of all users' ``a_k`` finds it. Memory:
      one int32 per training pair, whatever the catalogue size.

    Random numbers come from :func:`advrec.distribute.replica_uniform`, so under a
    ``tf.distribute`` strategy each replica draws different negatives, and the draws of ``n``
    replicas equal those of one device for the same global batch.

    Args:
        train: the observed pairs to avoid (a pair listed twice counts once).
        max_free_list_bytes: the free list is used when it takes at most this much memory
            (0: always the binary search).

    Attributes:
        method: ``"free_list"`` or ``"binary_search"``.

    Raises:
        ValueError: when a user has interacted with every item (no negative exists).
    """

    def __init__(self, train: Interactions, max_free_list_bytes: int = FREE_LIST_BYTES) -> None:
        self.n_items = train.n_items
        keys = np.unique(train.keys())  # sorted by (user, item)
        users = (keys // train.n_items).astype(np.int64)
        items = (keys % train.n_items).astype(np.int64)
        counts = np.bincount(users, minlength=train.n_users)
        full = np.flatnonzero(counts >= train.n_items)
        if len(full):
            raise ValueError(
                f"user {int(full[0])} (and {len(full) - 1} more) interacted with all "
                f"{train.n_items} items, so no negative item exists for them; drop such users "
                "before pairwise training."
            )
        self._counts = tf.constant(counts.astype(np.int32))  # [n_users]
        item_dtype = np.int16 if train.n_items <= np.iinfo(np.int16).max + 1 else np.int32
        n_free = train.n_users * train.n_items - len(keys)
        if n_free * np.dtype(item_dtype).itemsize <= max_free_list_bytes:
            self.method = "free_list"
            taken = np.zeros(train.n_users * train.n_items, bool)
            taken[keys] = True
            free = np.flatnonzero(~taken)  # sorted by (user, item)
            free_counts = train.n_items - counts
            self._free_starts = tf.constant(
                np.concatenate([[0], np.cumsum(free_counts)[:-1]]).astype(np.int32)
            )  # [n_users]
            self._free = tf.constant((free % train.n_items).astype(item_dtype))  # [n_free]
            return
        self.method = "binary_search"
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank_in_user = np.arange(len(keys)) - starts[users]
        self.rounds = int(np.ceil(np.log2(counts.max() + 1))) if len(keys) else 0
        # One extra sentinel entry keeps every probe inside the array.
        adjusted = np.append(items - rank_in_user, np.iinfo(np.int32).max)
        self._adjusted = tf.constant(adjusted.astype(np.int32))  # [n_pairs + 1]
        self._starts = tf.constant(starts.astype(np.int32))  # [n_users]

    def nth_negative(self, users: tf.Tensor, rank: tf.Tensor) -> tf.Tensor:
        """int32 ``[B]``: the ``rank``-th (0-based) item each user has not interacted with.

        ``users`` and ``rank`` are int32 ``[B]``, ``0 <= rank < n_items - count[user]``.
        """
        if self.method == "free_list":
            position = tf.gather(self._free_starts, users) + rank
            return tf.cast(tf.gather(self._free, position), tf.int32)
        low = tf.gather(self._starts, users)
        high = low + tf.gather(self._counts, users)
        start = low
        for _ in range(self.rounds):  # unrolled: a fixed number of rounds, no loop in the graph
            middle = (low + high) // 2
            go_right = tf.logical_and(low < high, tf.gather(self._adjusted, middle) <= rank)
            go_left = tf.logical_and(low < high, tf.logical_not(go_right))
            low = tf.where(go_right, middle + 1, low)
            high = tf.where(go_left, middle, high)
        return rank + (low - start)

    def __call__(self, users: tf.Tensor, seed: keras.random.SeedGenerator) -> tf.Tensor:
        """int32 ``[B]`` negative item per user in ``users`` (int32 ``[B]``)."""
        n_free = self.n_items - tf.gather(self._counts, users)  # [B], >= 1
        uniform = replica_uniform((tf.size(users),), seed)
        rank = tf.minimum(tf.cast(uniform * tf.cast(n_free, tf.float32), tf.int32), n_free - 1)
        return self.nth_negative(users, rank)
