"""Optimizers that update only the embedding rows a batch touches.

Keras optimizers update every row of an embedding table at every step: ``fit_ranker`` hands them
dense gradients (:func:`advrec.distribute.dense_gradients`), and even given sparse gradients
Keras' Adagrad recomputes the square root of the whole accumulator, so the update costs in
proportion to the tables, not to the batch. Measured on a 2-core CPU at ML-20M's size (10.6 M
parameters, ``benchmarks/README.md``): without XLA dense Adam takes 107 ms per step and this
module's :class:`RowAdagrad` 13 ms; *with* XLA dense Adam fuses into 13 ms too, and a whole step
costs ~88 ms with either, so on a CPU with XLA this is no speed-up.

:class:`RowAdagrad` is Adagrad that updates only the touched rows. For Adagrad this changes
nothing but the cost: a row with a zero gradient keeps its accumulator and its value under dense
Adagrad too. (Adam is different: its moments decay on every step, so a touched-row Adam -- "lazy
Adam" -- is another algorithm.)
"""

from __future__ import annotations

import keras
import tensorflow as tf


class RowAdagrad(keras.optimizers.Adagrad):
    """Adagrad (Duchi et al., 2011) whose update of an embedding table touches only the rows in
    the gradient: the same result as ``keras.optimizers.Adagrad`` with the same settings.

    A ``tf.IndexedSlices`` gradient (``k`` rows ``[k, ...]`` at ``k`` indices, repeats allowed) is
    summed per distinct row first, so a row that occurs twice in a batch gets the update of its
    summed gradient, exactly as under dense Adagrad. The sums use a sort and a segment sum of
    static size ``k`` (:func:`sum_per_row`), so the step keeps static shapes and compiles with
    XLA. Dense gradients take Keras' own path. The pairwise rankers hand it their sparse
    gradients (:attr:`updates_touched_rows`).

    Args: those of ``keras.optimizers.Adagrad``. For a mean loss over large batches keep
    ``initial_accumulator_value`` tiny (e.g. 1e-8): Keras' default of 0.1 dwarfs the squared
    gradients and freezes training (see ``benchmarks/README.md``).
    """

    updates_touched_rows = True
    """Read by :class:`advrec.models.base.PairwiseRanker`: pass embedding gradients sparse."""

    def update_step(self, gradient, variable, learning_rate) -> None:
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        rows, summed = sum_per_row(gradient.indices, tf.cast(gradient.values, variable.dtype))
        accumulator = self._accumulators[self._get_variable_index(variable)]
        squared = tf.square(summed)
        accumulated = tf.gather(accumulator.value, rows) + squared  # the rows' new accumulators
        step = tf.cast(learning_rate, variable.dtype) * summed / tf.sqrt(accumulated + self.epsilon)
        # Scatters: the rows only. Padding entries carry zeros, so adding them changes nothing.
        self.assign_add(accumulator, tf.IndexedSlices(squared, rows))
        self.assign_sub(variable, tf.IndexedSlices(step, rows))


def sum_per_row(indices: tf.Tensor, values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Sums ``values`` (``[k, ...]``) over repeated ``indices`` (int ``[k]``), in static shapes.

    Returns ``(rows [k], sums [k, ...])``: the first ``u`` entries hold the ``u`` distinct
    indices (ascending) and the sum of their values; the remaining ``k - u`` entries are padding
    with a valid row index and all-zero sums, so a scatter-add of them is a no-op. No
    ``tf.unique`` (which has no XLA kernel): a sort, a cumulative sum and a segment sum of
    ``k`` segments.
    """
    order = tf.argsort(indices, stable=True)
    sorted_rows = tf.gather(indices, order)
    starts = tf.concat([[True], sorted_rows[1:] != sorted_rows[:-1]], axis=0)  # [k]
    segment = tf.cumsum(tf.cast(starts, tf.int32)) - 1  # [k]: the distinct row's position
    k = tf.shape(indices)[0]
    sums = tf.math.unsorted_segment_sum(tf.gather(values, order), segment, k)
    first_rows = tf.math.unsorted_segment_max(sorted_rows, segment, k)  # empty segments: -inf
    used = tf.range(k) <= segment[-1]
    rows = tf.where(used, first_rows, tf.zeros_like(first_rows))
    return rows, sums
