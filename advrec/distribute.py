"""Running a model's own training step on many replicas, and an epoch of it as one call.

Under a ``tf.distribute`` strategy every replica runs the same ``train_step`` on its slice of the
global batch. Random numbers drawn in the step (negatives, noise, masks) must differ between
replicas -- otherwise two replicas train on the same negatives -- and yet one step on ``n``
replicas should equal one step on one device. :func:`replica_uniform` does both: every replica
draws the same stream for the *global* batch from the shared seed and keeps the slice of its own
examples, so replica ``r`` gets exactly the numbers a single device would draw for examples
``[r * B, (r + 1) * B)`` (batches are split into consecutive equal slices, as
``experimental_distribute_dataset`` does).

:func:`fit_with_strategy` drives a model's epochs -- the training engine's one call per epoch
(:mod:`advrec.engine`) or a ``tf.data`` iterator -- with Keras callbacks where Keras' ``fit``
cannot go.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


def replica_id_and_count() -> tuple[tf.Tensor, int]:
    """int32 scalar id of the current replica among all replicas in sync, and their number.

    Outside a strategy (or in cross-replica context) this is ``(0, 1)``.
    """
    strategy = tf.distribute.get_strategy()
    context = tf.distribute.get_replica_context()
    if context is None or strategy.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), 1
    return tf.cast(context.replica_id_in_sync_group, tf.int32), strategy.num_replicas_in_sync


def replica_uniform(
    shape: tuple[tf.Tensor | int, ...], seed_generator: keras.random.SeedGenerator
) -> tf.Tensor:
    """float32 ``shape`` uniform in ``[0, 1)``: this replica's slice of one global draw.

    ``shape[0]`` is this replica's batch size; the draw is made for the global batch with the
    seed generator's next seed (Philox, which XLA compiles cheaply; ThreeFry costs tens of
    milliseconds per step on a CPU) and this replica's rows are returned. The numbers are the
    same with and without XLA (:func:`portable_uniform`).
    """
    return _replica_slice(portable_uniform, shape, seed_generator)


def replica_normal(
    shape: tuple[tf.Tensor | int, ...], seed_generator: keras.random.SeedGenerator
) -> tf.Tensor:
    """float32 ``shape`` standard normal: this replica's slice of one global draw (as
    :func:`replica_uniform`; the same numbers with and without XLA, :func:`portable_normal`)."""
    return _replica_slice(portable_normal, shape, seed_generator)


def portable_uniform(shape, seed: tf.Tensor, alg: str = "philox") -> tf.Tensor:
    """``tf.random.stateless_uniform(shape, seed, alg=alg)``, computed so that XLA gives the
    same numbers as TensorFlow's own kernels.

    Both draw the same Philox bits for a seed, but turn them into floats differently: the CPU
    and GPU kernels put a ``uint32``'s low 23 bits into the mantissa of a float in ``[1, 2)`` and
    subtract 1, XLA scales its high bits. So a step compiled with XLA drew other negatives, other
    noise, than the same step without it, and runs of one seed parted after a few steps
    (``benchmarks/README.md``). Here the bits are drawn as integers (identical under XLA) and
    converted as the kernels convert them: the numbers equal ``stateless_uniform``'s without
    XLA, bit for bit, and are the same under XLA.
    """
    bits = tf.random.stateless_uniform(
        shape, seed, minval=None, maxval=None, dtype=tf.uint32, alg=alg
    )
    mantissa = tf.bitwise.bitwise_or(
        tf.bitwise.bitwise_and(bits, tf.constant(0x7FFFFF, tf.uint32)),
        tf.constant(0x3F800000, tf.uint32),  # the exponent of [1, 2)
    )
    return tf.bitcast(mantissa, tf.float32) - 1.0


def portable_normal(shape, seed: tf.Tensor, alg: str = "philox") -> tf.Tensor:
    """``tf.random.stateless_normal(shape, seed, alg=alg)``, the same with and without XLA (to
    a unit in the last place: ``log``, ``sin`` and ``cos`` may round differently).

    Box-Muller on pairs of :func:`portable_uniform` numbers, as TensorFlow's kernels do it: the
    uniforms ``(u, v)`` of positions ``2k, 2k + 1`` give ``r sin(2 pi v)`` and ``r cos(2 pi v)``
    at those positions, ``r = sqrt(-2 log max(u, 1e-7))``.
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    size = tf.reduce_prod(shape)
    pairs = portable_uniform(tf.reshape((size + 1) // 2, [1]) * [2], seed, alg)
    pairs = tf.reshape(pairs, [-1, 2])
    radius = tf.sqrt(-2.0 * tf.math.log(tf.maximum(pairs[:, 0], 1e-7)))
    angle = tf.cast(2.0 * np.pi * tf.cast(pairs[:, 1], tf.float64), tf.float32)
    normal = tf.reshape(tf.stack([tf.sin(angle) * radius, tf.cos(angle) * radius], axis=1), [-1])
    return tf.reshape(normal[:size], shape)


def replica_randint(
    shape: tuple[tf.Tensor | int, ...],
    maxval: tf.Tensor | int,
    seed_generator: keras.random.SeedGenerator,
) -> tf.Tensor:
    """int32 ``shape`` uniform in ``[0, maxval)`` (``maxval`` a scalar or broadcastable to
    ``shape``): ``floor(u * maxval)`` of :func:`replica_uniform`'s ``u``, so replicas draw
    their own slices of one global draw."""
    uniform = replica_uniform(shape, seed_generator)
    maxval = tf.convert_to_tensor(maxval, tf.int32)
    draw = tf.cast(uniform * tf.cast(maxval, tf.float32), tf.int32)
    return tf.minimum(draw, maxval - 1)  # float rounding can reach maxval


def replica_categorical(
    weights: tf.Tensor, num_samples: int, seed_generator: keras.random.SeedGenerator
) -> tf.Tensor:
    """int32 ``[B, num_samples]``: draws with replacement from each row of ``weights``.

    ``weights`` float ``[B, n]`` are non-negative and need not sum to one; row ``b`` draws class
    ``k`` with probability ``weights[b, k] / sum(weights[b])`` (a class of weight 0 is never
    drawn). Inverse-CDF sampling with :func:`replica_uniform` numbers: each replica draws its
    own rows of one global stream, and the search (``tf.searchsorted``) compiles with XLA.
    """
    weights = tf.cast(weights, tf.float32)
    cumulative = tf.cumsum(weights, axis=-1)  # [B, n], non-decreasing
    uniform = replica_uniform((tf.shape(weights)[0], num_samples), seed_generator)
    # u * total < total, so the search never runs past the last class of positive weight.
    points = uniform * cumulative[:, -1:]
    samples = tf.searchsorted(cumulative, points, side="right", out_type=tf.int32)
    return tf.minimum(samples, tf.shape(weights)[-1] - 1)


def global_randint(
    shape: tuple[int, ...], maxval: int, seed_generator: keras.random.SeedGenerator
) -> tf.Tensor:
    """int32 ``shape`` uniform in ``[0, maxval)``, the *same* on every replica: for a draw that
    belongs to the global batch rather than to its examples (e.g. negatives every position of
    the batch shares), so that ``n`` replicas use the numbers one device would."""
    seed = tf.cast(seed_generator.next(), tf.int64)
    return tf.random.stateless_uniform(
        shape, seed, minval=0, maxval=maxval, dtype=tf.int32, alg="philox"
    )


def replica_dropout(
    x: tf.Tensor, rate: float, seed_generator: keras.random.SeedGenerator
) -> tf.Tensor:
    """Inverted dropout of ``x`` ``[B, ...]`` (training only): each entry kept with probability
    ``1 - rate`` and scaled by ``1 / (1 - rate)``, its mask this replica's slice of one global
    draw (:func:`replica_uniform`), so replicas drop different entries and ``n`` replicas drop
    what one device would. ``keras.layers.Dropout`` draws from a mirrored seed, the same mask on
    every replica."""
    if not rate:
        return x
    shape = tuple(tf.unstack(tf.shape(x)))
    keep = tf.cast(replica_uniform(shape, seed_generator) >= rate, x.dtype)
    return x * keep / tf.cast(1.0 - rate, x.dtype)


def _replica_slice(draw, shape, seed_generator: keras.random.SeedGenerator) -> tf.Tensor:
    """This replica's rows of ``draw(global shape, seed)``: the global batch is the replicas'
    batches in replica order, which may differ in size by one (an odd last batch)."""
    seed = tf.cast(seed_generator.next(), tf.int64)
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return draw(shape, seed, alg="philox")
    rows = tf.convert_to_tensor(shape[0], tf.int32)
    start, total = global_rows(rows)
    values = draw((total, *shape[1:]), seed, alg="philox")
    return values[start : start + rows]


def global_rows(rows: tf.Tensor | int) -> tuple[tf.Tensor, tf.Tensor]:
    """``(start, total)``, int32 scalars: where this replica's ``rows`` rows begin in the global
    batch (the replicas' batches in replica order, which may differ in size by one) and how many
    rows the global batch has. Outside a strategy: ``(0, rows)``."""
    rows = tf.convert_to_tensor(rows, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), rows
    all_rows = context.all_gather(rows[tf.newaxis], axis=0)  # [replicas]
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return tf.reduce_sum(all_rows[:replica]), tf.reduce_sum(all_rows)


def sum_over_replicas(value: tf.Tensor) -> tf.Tensor:
    """``value`` summed over all replicas in sync (itself outside a strategy).

    For statistics of the *global* batch inside a step, e.g. how often a row occurs in it.
    """
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def dense_gradients(gradients: list, variables: list) -> list:
    """Turns embedding gradients (``tf.IndexedSlices``) into dense tensors of each variable's shape.

    The rows are summed with ``unsorted_segment_sum`` into a table of the variable's static shape:
    XLA compiles it into one fused scatter-add (the sorted ``segment_sum`` has no XLA kernel), the
    optimizer then updates the dense table in the same compiled step, and under a
    ``tf.distribute`` strategy every replica all-reduces tensors of the same static shapes.
    """
    return [
        tf.math.unsorted_segment_sum(g.values, g.indices, v.shape[0])
        if isinstance(g, tf.IndexedSlices)
        else g
        for g, v in zip(gradients, variables, strict=True)
    ]


def metric_logs(model: keras.Model) -> dict[str, tf.Tensor]:
    """Every metric of ``model`` by name (a metric returning a dict gives its entries), read in
    cross-replica context: Keras' trackers keep their totals and counts in variables summed over
    replicas on read, so the result is the mean over every replica's examples -- not the mean
    of the replicas' means, which a replica holding fewer (or only padding) examples would
    pull."""
    logs = {}
    for metric in model.metrics:
        result = metric.result()
        logs.update(result if isinstance(result, dict) else {metric.name: result})
    return logs


def keras_fit_works_under(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``keras.Model.fit`` can train under ``strategy`` (TF 2.21, Keras 3.15).

    Not under ``MultiWorkerMirroredStrategy``: ``fit`` fails in ``_maybe_symbolic_build``
    ("Attempt to convert a value (PerReplica...) to a Tensor") and then in the cross-worker
    reduction of its metrics -- upstream keras-team/keras#20585. Remove :func:`fit_with_strategy`'s
    use when that issue is fixed.
    """
    return not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit_with_strategy(
    model: keras.Model,
    data: tf.data.Dataset | None,
    epochs: int,
    steps_per_epoch: int,
    callbacks=(),
    verbose: int = 0,
    run_epoch: Callable[[int], dict] | None = None,
) -> keras.callbacks.History:
    """Trains ``model`` with its own ``train_step`` under its strategy, where ``fit`` cannot.

    A scheduler around the model's step, not a second step, driving the same Keras callbacks as
    ``fit`` (validation, early stopping, checkpoints, progress bar), so ``model.stop_training``
    and ``model.history`` behave as after ``fit``. An epoch is either ``run_epoch(epoch)`` (the
    training engine's one call, :class:`advrec.engine.EpochFunction`, which returns the epoch's
    logs), or ``steps_per_epoch`` calls of ``strategy.run(model.train_step, ...)`` inside one
    ``tf.function`` over the distributed ``data`` (split among replicas exactly as ``fit``
    splits it: each global batch into consecutive per-replica slices); the logs are the model's
    metrics read across replicas (:func:`metric_logs`).

    Args:
        model: a compiled model created (with its optimizer) in ``strategy.scope()``.
        data: global batches, repeated here if finite, so one iterator serves every epoch; or
            ``None`` with ``run_epoch``.
        epochs, steps_per_epoch: how long to train.
        callbacks: Keras callbacks.
        verbose: 0 silent, 1 progress bar.
        run_epoch: trains epoch ``e`` (0-based) and returns its logs; replaces ``data``.

    Returns:
        The ``History`` callback (also ``model.history``).
    """
    strategy = model.distribute_strategy
    if getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model (in strategy.scope()) before training it.")
    if (data is None) == (run_epoch is None):
        raise ValueError("give fit_with_strategy either data or run_epoch.")
    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    if run_epoch is None:
        iterator = iter(strategy.experimental_distribute_dataset(data.repeat()))

        @tf.function
        def one_epoch(iterator):
            logs = strategy.run(model.train_step, args=(next(iterator),))
            for _ in tf.range(steps_per_epoch - 1):
                logs = strategy.run(model.train_step, args=(next(iterator),))
            with tf.control_dependencies(
                tf.nest.flatten(strategy.experimental_local_results(logs))
            ):
                return metric_logs(model)

        def run_epoch(epoch: int) -> dict:
            return one_epoch(iterator)

    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )
    model.stop_training = False
    model._initial_epoch = None
    callback_list.on_train_begin()
    # As in fit: a backup callback sets the epoch to resume from while the callbacks begin.
    for epoch in range(model._initial_epoch or 0, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        logs = {name: float(value) for name, value in run_epoch(epoch).items()}
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model.history


def train_with_coordinator(
    model: keras.Model,
    coordinator: tf.distribute.coordinator.ClusterCoordinator,
    dataset_fn,
    steps: int,
) -> dict[str, float]:
    """Trains ``model`` with its own ``train_step`` on a ``ParameterServerStrategy`` cluster.

    Keras' ``fit`` refuses this strategy's datasets ("pass this dataset to
    ClusterCoordinator.create_per_worker_dataset"), so, as :func:`fit_with_strategy` does for
    ``MultiWorkerMirroredStrategy``, this is a scheduler around the model's step, not a second
    step: ``steps`` closures of ``strategy.run(model.train_step, ...)`` go to whichever worker is
    free, each on the next batch of that worker's own copy of ``dataset_fn()`` (the workers update
    the variables on the parameter servers asynchronously, so this is not one global step per
    batch as under a mirrored strategy). No callbacks.

    The strategy must have no ``variable_partitioner``: every variable then lives whole on one
    parameter server (round-robin), so tables are spread over servers but no table is split. With
    a partitioner the Keras variables wrap ``ShardedVariable``\\ s and the step's
    ``tape.gradient`` fails ("'ShardedVariable' object has no attribute 'handle'", TF 2.21 /
    Keras 3.15; ``tests/integration/test_parameter_server.py``). Either way each worker reads
    whole tables (``tf.gather`` on a Keras variable) and builds dense gradients of their full shape
    (:func:`dense_gradients`), so every table must still fit one worker.

    Args:
        model: a compiled model created (with its optimizer) in the coordinator's
            ``strategy.scope()``.
        dataset_fn: no-argument function returning the batches, called on every worker; repeat
            them (``epochs=None``) so that no worker runs out.
        steps: how many steps to schedule.

    Returns:
        The logs of the last step scheduled, as floats.
    """
    strategy = coordinator.strategy
    if model.distribute_strategy is not strategy:
        raise ValueError("create the model in the coordinator's strategy.scope().")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model (in strategy.scope()) before training it.")
    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))

    @tf.function
    def one_step(iterator):
        return strategy.run(model.train_step, args=(next(iterator),))

    logs = None
    for _ in range(steps):
        logs = coordinator.schedule(one_step, args=(iterator,))
    coordinator.join()
    return {name: float(value) for name, value in logs.fetch().items()}
