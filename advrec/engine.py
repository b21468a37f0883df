"""The training engine: an epoch of a model's own ``train_step`` as one compiled call.

Keras' ``fit`` runs one step per batch drawn from a ``tf.data`` iterator: every step pays for
the iterator, a launch of the compiled step and Keras' loop, and the smaller last batch of an
epoch traces (and XLA-compiles) the step a second time. :class:`EpochFunction` runs a whole epoch
in one call instead:

1. The epoch's order is the stateless shuffle of :class:`advrec.data.sampling.Examples` with
   seed ``(seed, epoch)``, drawn in the graph (outside XLA: ``StatelessShuffle`` has no XLA
   kernel), so epoch ``e`` visits the examples exactly as ``Examples.dataset`` does.
2. The examples are laid out as padded batches ``[n_batches, slots, ...]`` with a 0/1 mask
   (:func:`advrec.data.sampling.padded_batches`): every batch has one shape, so the step is
   traced once; the padding rows weigh 0.
3. A ``tf.while_loop`` runs the model's own ``train_step((x, None, mask))`` on each batch: the
   mask is Keras' ``sample_weight``. With one replica the loop is one ``jit_compile`` function
   (when the model is compiled with XLA): the epoch is one XLA computation. With several
   replicas (``MirroredStrategy``, ``MultiWorkerMirroredStrategy``) the loop calls
   ``strategy.run(train_step)`` for each batch, and replica ``r`` takes the ``r``-th of equal
   consecutive slices of the global batch, as ``experimental_distribute_dataset`` splits it, so
   its real rows keep their positions and its random draws are those of one device.
4. The call returns the model's metrics after the epoch (``model.metrics``, read across
   replicas: each tracker's totals and counts summed over them, so a replica holding only
   padding does not pull the mean): what Keras' ``fit`` reports at the end of an epoch.

A model opts in with ``supports_padded_batches = True`` once its step honours the mask
(:mod:`advrec.models.contract` says exactly what that means); :func:`advrec.training.fit_model`
trains every other model through Keras' ``fit`` on ``tf.data`` batches as before.
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from advrec.data.sampling import Examples, epoch_order, padded_batches
from advrec.distribute import metric_logs, replica_id_and_count


def supports_padded_batches(model: keras.Model) -> bool:
    """Whether ``model``'s ``train_step`` honours a 0/1 ``sample_weight`` (padding rows of
    weight 0 change nothing), i.e. whether the engine may train it."""
    return bool(getattr(model, "supports_padded_batches", False))


class EpochFunction:
    """One compiled call per epoch of ``model.train_step`` under the model's strategy.

    Create it once per compiled model (:func:`epoch_function` keeps it on the model): the traced
    and compiled epoch is reused by every later call with examples of the same shapes, batch size
    and shuffling, whatever their seed or content (they are arguments, not constants), so a
    model restarted for another seed (:func:`advrec.training.restart_from`) trains without
    tracing or compiling again.

    Args:
        model: compiled (in its strategy's scope), with ``supports_padded_batches``.
        jit_compile: XLA for the epoch (one replica) or the step (several); default: the
            model's ``jit_compile``.
    """

    def __init__(self, model: keras.Model, jit_compile: bool | None = None) -> None:
        if getattr(model, "optimizer", None) is None:
            raise ValueError(f"compile the {type(model).__name__} before training it.")
        if not supports_padded_batches(model):
            raise ValueError(
                f"{type(model).__name__}.train_step does not declare that it honours padded "
                "batches (supports_padded_batches = True; see advrec.models.contract)."
            )
        self.model = model
        self.optimizer = model.optimizer
        self.strategy = model.distribute_strategy
        with self.strategy.scope():  # no variable may be created in the traced epoch
            if not self.optimizer.built:
                self.optimizer.build(model.trainable_variables)
        self.replicas = self.strategy.num_replicas_in_sync
        self.jit_compile = bool(model.jit_compile if jit_compile is None else jit_compile)
        # Each function wraps a partial of this instance's method: TensorFlow counts traces per
        # function's code (shared by every model's engine) unless it has none, so a study that
        # builds a model per seed would warn of "retracing" that is one trace per model by design.
        self._epoch = tf.function(
            functools.partial(EpochFunction._run_epoch, self), autograph=False
        )
        self._steps = tf.function(
            functools.partial(EpochFunction._run_steps, self),
            autograph=False,
            jit_compile=self.jit_compile,
        )
        # A function of its own, so that one iteration's call of it completes (every update done)
        # before the loop's next iteration starts: the step's stateful ops inlined into the loop
        # body are not ordered across iterations, and the run is then not deterministic.
        self._one_step = tf.function(functools.partial(EpochFunction._step, self), autograph=False)
        self._examples: Examples | None = None
        self._tables: tuple[tf.Tensor, ...] = ()

    def __call__(self, examples: Examples, epoch: int) -> dict[str, tf.Tensor]:
        """Trains on epoch ``epoch`` (0-based) of ``examples``; returns the model's metrics."""
        if examples is not self._examples:  # the tables go in as arguments: no retracing
            self._examples = examples
            self._tables = tuple(tf.convert_to_tensor(a) for a in examples.arrays)
        seed = tf.constant(examples.seed if examples.shuffle else 0, tf.int64)
        return self._epoch(
            self._tables,
            seed,
            tf.constant(epoch, tf.int64),
            int(examples.batch_size),
            bool(examples.shuffle),
        )

    def slots(self, batch_size: int) -> int:
        """Rows of one padded global batch: ``batch_size`` rounded up to a multiple of the
        number of replicas."""
        return -(-batch_size // self.replicas) * self.replicas

    # -- the traced functions -------------------------------------------------------------
    def _run_epoch(self, tables, seed, epoch, batch_size: int, shuffle: bool):
        order = epoch_order(int(tables[0].shape[0]), seed if shuffle else None, epoch)
        batches, mask = padded_batches(tables, order, batch_size, self.slots(batch_size))
        if self.replicas == 1:
            return self._steps(batches, mask)

        def body(b):
            done = self.strategy.run(self._one_step, args=(tuple(t[b] for t in batches), mask[b]))
            with tf.control_dependencies(self.strategy.experimental_local_results(done)):
                return b + 1

        n_batches = mask.shape[0]
        done = tf.while_loop(lambda b: b < n_batches, body, [tf.constant(0)], parallel_iterations=1)
        with tf.control_dependencies([done]):
            return metric_logs(self.model)  # read across replicas: their totals and counts summed

    def _run_steps(self, batches, mask):
        """One replica: every batch in one loop (one XLA computation with ``jit_compile``)."""

        def body(b):
            with tf.control_dependencies([self._one_step(tuple(t[b] for t in batches), mask[b])]):
                return b + 1

        n_batches = mask.shape[0]
        done = tf.while_loop(lambda b: b < n_batches, body, [tf.constant(0)], parallel_iterations=1)
        with tf.control_dependencies([done]):
            return metric_logs(self.model)

    def _step(self, batch: tuple[tf.Tensor, ...], mask: tf.Tensor) -> tf.Tensor:
        """This replica's slice of one global batch through ``train_step``; returns a scalar
        that depends on the step's updates (to order the loop's iterations)."""
        replica, replicas = replica_id_and_count()
        if replicas > 1:
            rows = int(mask.shape[0]) // replicas

            def mine(t):
                return tf.gather(tf.reshape(t, [replicas, rows, *t.shape[1:]]), replica)

            batch, mask = tuple(mine(t) for t in batch), mine(mask)
        logs = self.model.train_step((batch if len(batch) > 1 else batch[0], None, mask))
        with tf.control_dependencies([t for t in tf.nest.flatten(logs) if tf.is_tensor(t)]):
            return tf.identity(tf.constant(0))


def epoch_function(model: keras.Model) -> EpochFunction:
    """The model's :class:`EpochFunction`, made once per compiled model and optimizer and kept on
    the model, so every ``fit`` of it (every seed of a :func:`advrec.training.restart_from`
    loop) reuses the compiled epoch.

    A model whose step reads Python state while it is traced (IRGAN's phase) names that state
    in a ``trace_key`` attribute: one compiled epoch is kept per key, so switching back and forth
    traces each once and never runs one state's trace in another.
    """
    epochs = model.__dict__.setdefault("_advrec_epoch_functions", {})
    key = getattr(model, "trace_key", None)
    cached = epochs.get(key)
    if (
        cached is None
        or cached.optimizer is not model.optimizer
        or cached.jit_compile != bool(model.jit_compile)
    ):
        cached = epochs[key] = EpochFunction(model)
    return cached
