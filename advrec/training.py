"""Training a model: :func:`fit_model` (every model), :func:`fit_ranker` (plus validation).

:func:`fit_model` is the one way every model trains: Keras ``fit`` (or, where ``fit`` cannot go,
:func:`advrec.distribute.fit_with_strategy`) with the model's own ``train_step``, each epoch one
compiled call of the training engine (:mod:`advrec.engine`) for a model that honours padded
batches; Keras callbacks, several devices or workers, and resume (:mod:`advrec.backup`).
:func:`fit_ranker` adds the default optimizer and the validation of a ranker:
:class:`RankingValidation` evaluates the model on the validation pairs every few epochs and hands
the score to Keras' own ``EarlyStopping(restore_best_weights=True)``, which keeps the best
weights, stops after ``patience`` evaluations without improvement and restores the best weights at
the end. :class:`TestTrace` records test metrics per epoch, to report a paper's test-selected
procedure.

Training *procedures* (which model, which schedule, which settings) are in :mod:`advrec.recipes`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from advrec.backup import RunBackup, saved_epoch
from advrec.data.sampling import Examples, pair_examples
from advrec.data.splits import Split
from advrec.distribute import fit_with_strategy, keras_fit_works_under
from advrec.engine import epoch_function, supports_padded_batches
from advrec.metrics import evaluate_ranking

DEFAULT_LEARNING_RATE = 0.01
"""Adam's step size when :func:`fit_ranker` creates the optimizer."""


class RankingValidation(keras.callbacks.Callback):
    """Validation by full ranking, with Keras' ``EarlyStopping`` choosing and restoring the best.

    Every ``every`` epochs (and after the last planned epoch) the model is ranked on the
    validation pairs with its training pairs excluded; the scores go into the epoch's logs as
    ``val_<metric>`` and into :attr:`history`, and a ``keras.callbacks.EarlyStopping`` on
    ``val_<monitor>`` (mode ``max``, ``restore_best_weights=True``) does the rest.

    Args:
        split: its ``valid`` pairs are the targets; its ``train`` pairs are excluded.
        monitor: metric to maximise, e.g. ``"ndcg@10"``.
        ks: cut-offs to compute.
        every: evaluate every this many epochs (and after the last one).
        patience: evaluations without improvement before stopping (``None``: never stop early).

    After training, ``history`` holds ``{"epoch": [...], "ndcg@10": [...], ...}`` (and
    ``"evaluation_s"``, the seconds each evaluation took) and ``best_epoch``/``best`` the selected
    epoch (1-based) and its score.
    """

    def __init__(
        self,
        split: Split,
        monitor: str = "ndcg@10",
        ks: Sequence[int] = (10, 20),
        every: int = 1,
        patience: int | None = 5,
    ) -> None:
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}.")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience must be a positive integer or None, got {patience}.")
        self.split, self.monitor, self.ks, self.every = split, monitor, tuple(ks), int(every)
        self.history: dict[str, list[float]] = {"epoch": []}
        self.stopper = keras.callbacks.EarlyStopping(
            monitor=f"val_{monitor}",
            mode="max",
            patience=math.inf if patience is None else int(patience),
            restore_best_weights=True,
        )

    @property
    def best(self) -> float:
        """The best validation score (``-inf`` before the first evaluation)."""
        return -math.inf if self.stopper.best is None else float(self.stopper.best)

    @property
    def best_epoch(self) -> int:
        """The 1-based epoch whose weights the model holds after training (0: none yet)."""
        return self.stopper.best_epoch + 1 if self.history["epoch"] else 0

    def set_model(self, model) -> None:
        super().set_model(model)
        self.stopper.set_model(model)

    def evaluate(self) -> dict[str, float]:
        """Validation metrics of the model as it is now."""
        return evaluate_ranking(
            self.model.score_all, self.split.valid, exclude=self.split.train, ks=self.ks
        )

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.history = {"epoch": []}
        self.stopper.on_train_begin(logs)

    def get_state(self) -> tuple[dict, list[np.ndarray]]:
        """``(state, best_weights)``: what a resumed run needs to select as this one would
        (a JSON-able dict, and the best weights so far); :class:`advrec.backup.RunBackup`
        saves it with the model's weights after every epoch."""
        stopper = self.stopper
        state = {
            "history": self.history,
            "best": stopper.best,
            "best_epoch": stopper.best_epoch,
            "wait": stopper.wait,
            "stopped_epoch": stopper.stopped_epoch,
        }
        return state, list(stopper.best_weights or [])

    def set_state(self, state: dict, best_weights: list[np.ndarray]) -> None:
        """Restores what :meth:`get_state` returned."""
        self.history = state["history"]
        self.stopper.best, self.stopper.best_epoch = state["best"], state["best_epoch"]
        self.stopper.wait, self.stopper.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.stopper.best_weights = list(best_weights) or None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last_planned = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last_planned:
            return
        start = time.perf_counter()
        scores = self.evaluate()
        self.history.setdefault("evaluation_s", []).append(time.perf_counter() - start)
        if self.monitor not in scores:
            raise ValueError(f"monitor {self.monitor!r} is not one of {sorted(scores)}.")
        logs = {} if logs is None else logs
        self.history["epoch"].append(epoch + 1)
        for name, value in scores.items():
            self.history.setdefault(name, []).append(value)
            logs[f"val_{name}"] = value
        self.stopper.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.stopper.on_train_end(logs)


def fit_model(
    model: keras.Model,
    examples: Examples,
    epochs: int,
    validation: RankingValidation | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 0,
    backup_dir: str | Path | None = None,
) -> keras.callbacks.History:
    """Trains a compiled ``model`` with its own ``train_step`` on ``examples`` for ``epochs``.

    The one way every model in the library trains. Epoch ``e`` sees ``examples`` in their order
    for ``e``. A model whose step honours padded batches (``supports_padded_batches``, see
    :mod:`advrec.models.contract`) trains through the engine, :class:`advrec.engine.EpochFunction`:
    each epoch is one compiled call of an in-graph loop over its padded batches (the step traced
    once; one XLA computation on one device), run inside Keras ``fit`` (which calls it once per
    epoch and runs the callbacks), or by :func:`advrec.distribute.fit_with_strategy` under a
    strategy ``fit`` cannot drive. Any other model trains as ``fit`` trains it, on ``tf.data``
    batches (:meth:`Examples.dataset`).

    Args:
        model: compiled (in its strategy's scope) with its optimizer(s).
        examples: the training examples and batch size.
        epochs: how many passes (fewer if ``validation`` stops early).
        validation: a :class:`RankingValidation` (early stopping, best weights), or ``None``.
        callbacks: more Keras callbacks.
        verbose: passed to ``fit`` (``"auto"``/1 a progress bar, 2 a line per epoch).
        backup_dir: keep the run's state there after every epoch, as one atomic file
            (:class:`advrec.backup.RunBackup`: weights, optimizer, random-stream state, epochs
            done, the validation's history and best weights). Calling again with the same
            arguments after an interruption at any moment resumes where it stopped and ends
            with the same weights and history as an uninterrupted run. A damaged folder, or one
            another run wrote, is refused with an error naming it. The folder is removed when
            training completes.

    Returns:
        Keras' ``History`` (also ``model.history``).
    """
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"compile the {type(model).__name__} (in its strategy's scope) before training it."
        )
    callbacks = [*([] if validation is None else [validation]), *callbacks]
    if backup_dir is not None:  # last: it saves what the others did at the end of each epoch
        identity = {"examples": [len(examples), int(examples.batch_size), examples.seed]}
        callbacks.append(RunBackup(backup_dir, validation, identity))
    model._initial_epoch = None  # a run resumed earlier must not start this one late
    strategy, n_batches = model.distribute_strategy, examples.batches_per_epoch
    if supports_padded_batches(model) and not model.run_eagerly:
        engine = epoch_function(model)

        def run_epoch(epoch: int) -> dict:
            return engine(examples, epoch)

        if keras_fit_works_under(strategy):
            return _fit_by_epochs(model, run_epoch, n_batches, int(epochs), callbacks, verbose)
        verbose = 0 if verbose == 0 else 1
        return fit_with_strategy(model, None, int(epochs), n_batches, callbacks, verbose, run_epoch)
    data = examples.dataset(epochs=None, first_epoch=saved_epoch(backup_dir))
    if keras_fit_works_under(strategy):
        return model.fit(
            data,
            epochs=int(epochs),
            steps_per_epoch=n_batches,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the examples are shuffled each epoch by their own seed
        )
    return fit_with_strategy(
        model, data, int(epochs), n_batches, callbacks, verbose=0 if verbose == 0 else 1
    )


class _EpochCursor(keras.callbacks.Callback):
    """Remembers the epoch ``fit`` is in (a resumed run starts past 0)."""

    epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch


def _fit_by_epochs(model, run_epoch, n_batches, epochs, callbacks, verbose):
    """Keras ``fit`` with one call of ``run_epoch(epoch)`` per epoch as its train function.

    ``fit`` calls its train function once per ``steps_per_execution`` steps, so with both set to
    the epoch's batches it calls ``run_epoch`` once per epoch and runs the callbacks around it as
    usual. Its iterator is of a placeholder dataset that no step reads; the model's own
    train function and ``steps_per_execution`` are restored afterwards.
    """
    cursor = _EpochCursor()
    saved = model.train_function, model.steps_per_execution
    model.train_function = lambda iterator: run_epoch(cursor.epoch)
    model.steps_per_execution = n_batches
    replicas = model.distribute_strategy.num_replicas_in_sync
    placeholder = tf.data.Dataset.from_tensors(tf.zeros([replicas], tf.int32)).repeat()
    try:
        return model.fit(
            placeholder,
            epochs=epochs,
            steps_per_epoch=n_batches,
            callbacks=[cursor, *callbacks],
            verbose=verbose,
            shuffle=False,
        )
    finally:
        model.train_function, model.steps_per_execution = saved


def fit_ranker(
    model: keras.Model,
    split: Split,
    epochs: int = 100,
    batch_size: int = 8192,
    learning_rate: float | None = None,
    optimizer: keras.optimizers.Optimizer | None = None,
    monitor: str = "ndcg@10",
    eval_every: int = 1,
    patience: int | None = 5,
    seed: int = 0,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
    examples: Examples | None = None,
    jit_compile: bool | str = "auto",
    backup_dir: str | Path | None = None,
) -> RankingValidation:
    """Trains ``model`` on ``split.train`` with early stopping on validation ``monitor``.

    The model ends with its best validation weights. Returns the validation callback, whose
    ``history``, ``best_epoch`` and ``best`` describe the run; the Keras loss history is on
    ``model.history``.

    An uncompiled model is compiled here with ``optimizer`` (default: Adam with
    ``learning_rate``, 0.01 unless given) and ``jit_compile``; it trains through
    :func:`fit_model`, one compiled call per epoch (a model without padded batches: one epoch of
    mini-batches per call, ``steps_per_execution``). A model compiled by the caller keeps its own
    settings, and then passing another ``optimizer`` or ``learning_rate`` here is an error rather
    than being silently ignored (its own learning rate may be passed again).

    Args:
        model: a :class:`advrec.models.PairwiseRanker` (anything that trains on
            ``(users, positives)`` batches and has ``score_all``).
        split: train/valid/test; only train and valid are used.
        epochs: maximum number of passes over the training pairs.
        batch_size: training pairs per step (when ``examples`` is not given).
        learning_rate: for the default Adam optimizer.
        optimizer: overrides the default optimizer.
        monitor, eval_every, patience: see :class:`RankingValidation`.
        seed: shuffling seed (the order depends on it alone).
        verbose: passed to ``fit`` (``"auto"`` shows a progress bar).
        callbacks: more Keras callbacks.
        examples: the training examples, if not the pairs of ``split.train``
            (:func:`advrec.data.sampling.pair_examples` with ``batch_size`` and ``seed``).
        backup_dir: resume an interrupted run (see :func:`fit_model`).
        jit_compile: XLA for the training step: ``"auto"`` (the default) is Keras' choice, XLA on
            a GPU and not on a CPU, where compiling costs more than it saves for models that
            train in seconds (``benchmarks/README.md``); ``True`` forces it (every step compiles).
    """
    if len(split.valid) == 0:
        raise ValueError("the split has no validation pairs: model selection needs them.")
    if examples is None:
        examples = pair_examples(split.train, batch_size, seed=seed)
    if getattr(model, "optimizer", None) is None:
        if optimizer is not None and learning_rate is not None:
            raise ValueError("give either an optimizer or a learning_rate for Adam, not both.")
        if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate}.")
        model.compile(
            optimizer=optimizer or keras.optimizers.Adam(learning_rate or DEFAULT_LEARNING_RATE),
            steps_per_execution=examples.batches_per_epoch,
            jit_compile=jit_compile,
        )
    elif (optimizer is not None and optimizer is not model.optimizer) or (
        learning_rate is not None
        and not math.isclose(float(model.optimizer.learning_rate), learning_rate, rel_tol=1e-6)
    ):
        raise ValueError(
            f"{type(model).__name__} is already compiled with {type(model.optimizer).__name__}; "
            "its optimizer is used. Don't pass optimizer/learning_rate to fit_ranker for a "
            "compiled model (or leave the model uncompiled and let fit_ranker compile it)."
        )
    validation = RankingValidation(split, monitor=monitor, every=eval_every, patience=patience)
    fit_model(model, examples, epochs, validation, callbacks, verbose, backup_dir)
    return validation


def restart_from(model: keras.Model, initial: keras.Model) -> keras.Model:
    """Puts ``model`` back at the start of training, from ``initial``'s weights; returns it.

    ``initial`` has the same architecture (e.g. the same class built with another seed). All
    weights are copied, random-stream positions included where the model tracks them, and a
    compiled model's optimizer state is reset to that of a fresh optimizer with the same
    settings. The compiled training step is kept: tracing a new model's step costs seconds (about
    ten for SASRec on a CPU), so runs over several seeds can share one compiled model.
    """
    model.set_weights(initial.get_weights())
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        fresh = optimizer.__class__.from_config(optimizer.get_config())
        fresh.build(model.trainable_variables)
        for mine, new in zip(optimizer.variables, fresh.variables, strict=True):
            mine.assign(new)
    return model


class TestTrace(keras.callbacks.Callback):
    """Records test metrics after every ``every`` epochs: the papers' procedure, which picks the
    epoch with the best *test* score. For reporting that procedure only; select on validation.

    Args:
        split: its ``test`` pairs are the targets; ``train`` and ``valid`` are excluded.
        ks: cut-offs to compute.
        every: evaluate every this many epochs.

    Attributes:
        history: ``{"epoch": [...], "precision@5": [...], ...}``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, split: Split, ks: Sequence[int] = (5, 10), every: int = 1) -> None:
        super().__init__()
        self.split, self.ks, self.every = split, tuple(ks), max(1, int(every))
        self.history: dict[str, list[float]] = {"epoch": []}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        split = self.split
        scores = evaluate_ranking(
            self.model.score_all, split.test, exclude=[split.train, split.valid], ks=self.ks
        )
        self.history["epoch"].append(epoch + 1)
        for name, value in scores.items():
            self.history.setdefault(name, []).append(float(value))

    def best(self, monitor: str) -> dict[str, float]:
        """All metrics at the epoch with the largest ``monitor`` (the test-selected epoch)."""
        index = int(np.argmax(self.history[monitor]))
        return {name: values[index] for name, values in self.history.items()}
