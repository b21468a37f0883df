"""Optimizers that update only the embedding rows a batch touches.

Keras optimizers update every row of an embedding table at every step: ``fit_ranker`` hands them
dense gradients (:func:`advrec.models.base.dense_gradients`), and even given sparse gradients
Keras' Adagrad recomputes the square root of the whole accumulator. A step then costs in
proportion to the tables, not to the batch -- at ML-20M's size (10.6 M parameters) that is most
of an epoch's time (``benchmarks/bench_scale.py``).

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

    A ``tf.IndexedSlices`` gradient (``[k, ...]`` rows at ``k`` indices, repeats allowed) is
    summed per distinct row first, so a row that occurs twice in a batch gets the update of its
    summed gradient, exactly as under dense Adagrad. Dense gradients take Keras' own path.

    ``tf.unique`` (which finds the distinct rows) has no XLA kernel, so a model trained with this
    optimizer is compiled without XLA (:func:`advrec.training.fit_ranker` does so when
    ``jit_compile="auto"``); the pairwise rankers hand it their sparse gradients
    (:attr:`updates_touched_rows`).

    Args: those of ``keras.optimizers.Adagrad``. For a mean loss over large batches keep
    ``initial_accumulator_value`` tiny (e.g. 1e-8): Keras' default of 0.1 dwarfs the squared
    gradients and freezes training (see ``benchmarks/README.md``).
    """

    updates_touched_rows = True
    """Read by :class:`advrec.models.base.PairwiseRanker`: pass embedding gradients sparse."""

    def update_step(self, gradient, variable, learning_rate) -> None:
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        rows, position = tf.unique(gradient.indices)  # distinct rows, each occurrence's row
        summed = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, variable.dtype), position, tf.shape(rows)[0]
        )  # [distinct rows, ...]
        accumulator = self._accumulators[self._get_variable_index(variable)]
        accumulated = tf.gather(accumulator.value, rows) + tf.square(summed)
        self.assign(accumulator, tf.IndexedSlices(accumulated, rows))  # a scatter: rows only
        step = tf.cast(learning_rate, variable.dtype) * summed / tf.sqrt(accumulated + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step, rows))
