"""Sequences for sequential recommenders: time-ordered histories, leave-last-out, batches.

A user's *history* is the list of items they interacted with, oldest first. Sequential models
(SASRec) read it as a fixed-length window: the latest ``max_len`` items, **left-padded** with the
padding id ``n_items`` (one past the last item), so the most recent item is always in the last
column.

- :func:`user_histories` -- one padded window per user from an :class:`Interactions` table.
- :func:`leave_last_out` -- the split of :func:`advrec.data.leave_one_out` (last item test,
  second-to-last validation) plus the two context windows a sequential model scores from:
  training items (for validation) and training + validation items (for test).
- :func:`training_sequences` -- a ``tf.data`` pipeline of ``(users, inputs, targets)`` batches:
  each training history is cut into windows of ``max_len + 1`` items (newest window first),
  the model reads ``inputs = window[:-1]`` and predicts ``targets = window[1:]``.
- :func:`synthetic_sequences` -- histories drawn from a Markov chain over item clusters (a
  planted sequential structure that a sequence model can learn and a bag-of-items model cannot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advrec.checks import check_int, check_real, check_seed
from advrec.data.interactions import Interactions
from advrec.data.splits import Split, leave_one_out


def _time_order(table: Interactions) -> np.ndarray:
    """Row order by (user, timestamp, row position): the order :func:`leave_one_out` uses."""
    return np.lexsort((np.arange(len(table)), table.timestamp, table.user))


def _check_max_len(max_len: int) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer (items per window), got {max_len!r}.")
    return int(max_len)


def user_histories(table: Interactions, max_len: int) -> np.ndarray:
    """int32 ``[n_users, max_len]``: each user's latest ``max_len`` items, oldest first.

    Rows are left-padded with the padding id ``table.n_items``; a user without rows is all padding.
    Items are ordered by timestamp, ties by their position in the table (later row = later).
    """
    max_len = _check_max_len(max_len)
    order = _time_order(table)
    user, item = table.user[order], table.item[order]
    counts = np.bincount(user, minlength=table.n_users)
    ends = np.cumsum(counts)  # one past each user's last row
    # position of each row counted from the user's newest row: 0 = newest
    from_end = ends[user] - 1 - np.arange(len(user))
    keep = from_end < max_len
    histories = np.full((table.n_users, max_len), table.n_items, np.int32)
    histories[user[keep], max_len - 1 - from_end[keep]] = item[keep]
    return histories


@dataclass(frozen=True)
class SequenceSplit:
    """Leave-last-out split with the context windows a sequential model scores from.

    Attributes:
        split: train/valid/test tables (:func:`advrec.data.leave_one_out`).
        max_len: window length.
        valid_context: int32 ``[n_users, max_len]`` training items; scores for validation.
        test_context: int32 ``[n_users, max_len]`` training and validation items; scores for test.
    """

    split: Split
    max_len: int
    valid_context: np.ndarray
    test_context: np.ndarray

    @property
    def train(self) -> Interactions:
        return self.split.train

    @property
    def valid(self) -> Interactions:
        return self.split.valid

    @property
    def test(self) -> Interactions:
        return self.split.test

    @property
    def n_users(self) -> int:
        return self.split.n_users

    @property
    def n_items(self) -> int:
        return self.split.n_items

    @property
    def pad(self) -> int:
        """The padding id, ``n_items``."""
        return self.split.n_items


def leave_last_out(interactions: Interactions, max_len: int = 50) -> SequenceSplit:
    """Leave-last-out by time with context windows of ``max_len`` items.

    Each user's newest item is the test target and the one before it the validation target
    (users with fewer than 3 items stay wholly in train); both are ranked against every item the
    user has not interacted with (full ranking, :func:`advrec.metrics.evaluate_ranking`).
    """
    max_len = _check_max_len(max_len)
    split = leave_one_out(interactions)
    return SequenceSplit(
        split=split,
        max_len=max_len,
        valid_context=user_histories(split.train, max_len),
        test_context=user_histories(split.train.concat(split.valid), max_len),
    )


def windows_per_user(train: Interactions, max_len: int) -> np.ndarray:
    """int ``[n_users]``: training windows of each user, ``ceil((n - 1) / max_len)`` for ``n > 1``
    items (see :func:`training_windows`)."""
    max_len = _check_max_len(max_len)
    counts = np.bincount(train.user, minlength=train.n_users)
    return np.where(counts > 1, -(-(counts - 1) // max_len), 0)


def training_windows(train: Interactions, max_len: int) -> tuple[np.ndarray, ...]:
    """Every training history cut into windows of ``max_len + 1`` items, newest window first.

    A user with ``n`` items gives ``ceil((n - 1) / max_len)`` windows; consecutive windows share
    one item (the oldest input of a window is the newest target of the one before it in time), so
    every item after the user's first is a target exactly once. Users with one item give none.

    Returns:
        ``(users [W], inputs [W, max_len], targets [W, max_len])``, int32, left-padded with
        ``n_items``; ``targets[w, t]`` is the item that followed ``inputs[w, t]``.
    """
    max_len = _check_max_len(max_len)
    pad = train.n_items
    order = _time_order(train)
    user, item = train.user[order], train.item[order]
    counts = np.bincount(user, minlength=train.n_users)
    ends = np.cumsum(counts)
    from_end = ends[user] - 1 - np.arange(len(user))  # 0 = the user's newest item
    n_windows = windows_per_user(train, max_len)
    first_window = np.concatenate([[0], np.cumsum(n_windows)[:-1]])
    total = int(n_windows.sum())
    inputs = np.full((total, max_len), pad, np.int32)
    targets = np.full((total, max_len), pad, np.int32)
    windows_users = np.repeat(np.arange(train.n_users, dtype=np.int32), n_windows)
    # item at distance d from the newest is the target of window d // max_len (if d < n - 1) at
    # column max_len - 1 - d % max_len, and the input of window (d - 1) // max_len (if d >= 1)
    # at column max_len - 1 - (d - 1) % max_len.
    is_target = from_end < counts[user] - 1
    window = first_window[user] + from_end // max_len
    targets[window[is_target], (max_len - 1 - from_end % max_len)[is_target]] = item[is_target]
    is_input = from_end >= 1
    d = from_end - 1
    window = first_window[user] + d // max_len
    inputs[window[is_input], (max_len - 1 - d % max_len)[is_input]] = item[is_input]
    return windows_users, inputs, targets


def sequence_examples(
    train: Interactions, max_len: int, batch_size: int, seed: int = 0, shuffle: bool = True
):
    """:class:`advrec.data.sampling.Examples` of the training windows
    ``(users [W], inputs [W, max_len], targets [W, max_len])`` (:func:`training_windows`);
    ``shuffle=False`` keeps their order."""
    from advrec.data.sampling import Examples

    if len(train) == 0:
        raise ValueError("the training table is empty: nothing to train on.")
    windows = training_windows(train, max_len)
    if len(windows[0]) == 0:
        raise ValueError("no user has two training items: a sequence model has nothing to learn.")
    return Examples(windows, batch_size, seed, shuffle)


def training_sequences(
    train: Interactions,
    max_len: int,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    epochs: int | None = 1,
    first_epoch: int = 0,
):
    """``tf.data.Dataset`` of training windows, ``epochs`` passes in a new random order each:
    ``((users [B], inputs [B, max_len], targets [B, max_len]),)``, int32, the last batch of a
    pass possibly smaller (:func:`sequence_examples`, :meth:`Examples.dataset`)."""
    examples = sequence_examples(train, max_len, batch_size, seed, shuffle)
    return examples.dataset(epochs, first_epoch)


def synthetic_sequences(
    n_users: int = 500,
    n_items: int = 300,
    *,
    n_clusters: int = 10,
    mean_length: float = 30.0,
    min_length: int = 5,
    stickiness: float = 0.8,
    popularity_exponent: float = 1.0,
    seed: int = 0,
) -> Interactions:
    """Histories from a Markov chain over item clusters: a planted sequential structure.

    Items are split into ``n_clusters`` contiguous clusters. Each user starts in a random
    cluster; with probability ``stickiness`` the next item comes from the *successor* cluster
    ``(c + 1) % n_clusters``, otherwise from a uniformly random cluster. Within a cluster, items
    are drawn with Zipf-like popularity ``rank ** -popularity_exponent``. The next item is thus
    predictable from the last one, but not from the set of items alone.

    Args:
        n_users, n_items: sizes of the id spaces (``n_items >= n_clusters``).
        n_clusters: number of clusters.
        mean_length: mean history length (lengths are ``min_length`` + geometric).
        min_length: shortest history (before repeats are removed: only each user's first
            interaction with an item is kept, as in MovieLens and as ``Interactions`` requires).
        stickiness: probability of following the chain (0: no sequential signal).
        popularity_exponent: skew of the within-cluster popularity.
        seed: the result is a deterministic function of all arguments.

    Returns:
        :class:`Interactions` with ``timestamp`` = position in the history.
    """
    seed = check_seed(seed)
    n_users, n_items = check_int(n_users, "n_users"), check_int(n_items, "n_items")
    n_clusters, min_length = (
        check_int(n_clusters, "n_clusters"),
        check_int(min_length, "min_length"),
    )
    mean_length = check_real(mean_length, "mean_length")
    stickiness = check_real(stickiness, "stickiness", hint="a probability")
    if n_users < 1 or n_clusters < 1 or n_items < n_clusters:
        raise ValueError(
            f"need n_users >= 1 and n_items >= n_clusters >= 1; got n_users={n_users}, "
            f"n_items={n_items}, n_clusters={n_clusters}."
        )
    if not 0.0 <= stickiness <= 1.0:
        raise ValueError(f"stickiness is a probability, got {stickiness}.")
    if min_length < 1 or mean_length < min_length:
        raise ValueError(
            f"need 1 <= min_length <= mean_length; got min_length={min_length}, "
            f"mean_length={mean_length}."
        )
    rng = np.random.default_rng(seed)
    extra = mean_length - min_length
    lengths = min_length + (rng.geometric(1.0 / (extra + 1.0), n_users) - 1 if extra > 0 else 0)
    lengths = np.minimum(lengths, 20 * int(np.ceil(mean_length)))
    max_length = int(lengths.max())
    bounds = np.linspace(0, n_items, n_clusters + 1).astype(np.int64)
    sizes = np.diff(bounds)
    cluster = rng.integers(0, n_clusters, n_users)
    steps = np.empty((n_users, max_length), np.int64)
    for t in range(max_length):
        if t:
            follow = rng.random(n_users) < stickiness
            cluster = np.where(
                follow, (cluster + 1) % n_clusters, rng.integers(0, n_clusters, n_users)
            )
        # Zipf-like rank within the cluster by inverse-CDF of a continuous power law
        u = rng.random(n_users)
        size = sizes[cluster]
        if popularity_exponent == 1.0:
            rank = np.floor(np.exp(u * np.log(size + 1.0))).astype(np.int64) - 1
        else:
            a = 1.0 - popularity_exponent
            rank = np.floor((1.0 + u * ((size + 1.0) ** a - 1.0)) ** (1.0 / a)).astype(np.int64) - 1
        steps[:, t] = bounds[cluster] + np.clip(rank, 0, size - 1)
    position = np.arange(max_length)
    mask = position[np.newaxis, :] < lengths[:, np.newaxis]
    user = np.repeat(np.arange(n_users), lengths)
    item = steps[mask]
    timestamp = np.tile(position, (n_users, 1))[mask]
    keys = user.astype(np.int64) * n_items + item
    _, first = np.unique(keys, return_index=True)
    first.sort()
    user, item, timestamp = user[first], item[first], timestamp[first]
    return Interactions.from_arrays(
        user, item, timestamp=timestamp, n_users=n_users, n_items=n_items
    )


def timestamp_ties(interactions: Interactions) -> dict[str, float]:
    """How often "the next item" is decided by the order of rows rather than by time.

    Returns shares (0-1): ``consecutive`` -- of consecutive interactions of a user (in time
    order), those with the same timestamp; ``test_ties_valid`` -- of the users
    :func:`advrec.data.leave_one_out` gives a test item, those whose test item has the same
    timestamp as their validation item; ``valid_ties_train`` -- those whose validation item has
    the same timestamp as their latest training item. A tie is broken by the row's position in
    the file, so the held-out "next" item is then the one listed later, not the one chosen
    later.
    """
    order = _time_order(interactions)
    user, stamp = interactions.user[order], interactions.timestamp[order]
    same_user = user[1:] == user[:-1]
    tied = same_user & (stamp[1:] == stamp[:-1])
    counts = np.bincount(user, minlength=interactions.n_users)
    ends = np.cumsum(counts)  # one past each user's newest row
    held = np.flatnonzero(counts >= 3)
    last, before, third = stamp[ends[held] - 1], stamp[ends[held] - 2], stamp[ends[held] - 3]
    return {
        "consecutive": float(tied.sum() / max(same_user.sum(), 1)),
        "test_ties_valid": float(np.mean(last == before)),
        "valid_ties_train": float(np.mean(before == third)),
    }


def untied_users(interactions: Interactions) -> np.ndarray:
    """int32 ``[U]``: the users whose leave-last-out targets are ordered by time, not by file
    order: their test item is strictly later than their validation item, which is strictly
    later than their latest training item. Evaluating on them alone is the tie-robust reading
    of leave-last-out (see :func:`timestamp_ties`)."""
    order = _time_order(interactions)
    user, stamp = interactions.user[order], interactions.timestamp[order]
    counts = np.bincount(user, minlength=interactions.n_users)
    ends = np.cumsum(counts)
    held = np.flatnonzero(counts >= 3)
    last, before, third = stamp[ends[held] - 1], stamp[ends[held] - 2], stamp[ends[held] - 3]
    return held[(last > before) & (before > third)].astype(np.int32)
