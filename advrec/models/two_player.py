"""What the two GAN recommenders (IRGAN, CFGAN) share: the two-player training pattern.

The same pattern as :class:`advrec.gan.GAN`, for recommenders that score items: one optimizer
per player, each built on its own player's variables in ``compile`` (so all optimizer state
exists before ``fit`` and the model works inside ``strategy.scope()``), one gradient tape per
player, and :func:`player_update` as the single place where a player's loss becomes an update.
A subclass defines ``discriminator_variables``, ``generator_variables``, ``train_step`` and
``score_all``.

These helpers are written to be folded into :mod:`advrec.gan` once the image GAN and the
recommender GANs share one base class.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.data.splits import Split
from advrec.metrics import evaluate_ranking


def player_update(
    tape: tf.GradientTape,
    loss: tf.Tensor,
    variables: Sequence[tf.Variable],
    optimizer: keras.optimizers.Optimizer,
) -> list[tf.Tensor]:
    """Applies one optimizer step of ``loss`` (a per-replica mean) to ``variables`` only.

    The gradients are divided by the replica count, so that the sum over replicas under a
    ``tf.distribute`` strategy is the mean gradient (the tape has closed, so the loss itself
    cannot be rescaled here). Returns the (dense) gradients, for inspection in tests.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    gradients = []
    for gradient in tape.gradient(loss, list(variables)):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        if gradient is not None and replicas > 1:
            gradient = gradient / replicas
        gradients.append(gradient)
    optimizer.apply(gradients, list(variables))
    return gradients


class TwoPlayerRecommender(keras.Model):
    """Base class of a recommender trained as a game between a generator and a discriminator.

    ``compile(discriminator_optimizer, generator_optimizer)`` sets one optimizer per player and
    builds each on its player's variables. Losses are tracked as ``d_loss`` and ``g_loss``.
    """

    def __init__(self, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")

    # -- what a subclass defines -------------------------------------------------------------
    @property
    def discriminator_variables(self) -> list[tf.Variable]:
        raise NotImplementedError

    @property
    def generator_variables(self) -> list[tf.Variable]:
        raise NotImplementedError

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores of every item for int32 ``[B]`` users."""
        raise NotImplementedError

    # -- the shared pattern --------------------------------------------------------------------
    def compile(
        self,
        discriminator_optimizer: keras.optimizers.Optimizer,
        generator_optimizer: keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        """Sets and builds one optimizer per player (two distinct objects)."""
        if discriminator_optimizer is generator_optimizer:
            raise ValueError(
                "The discriminator and the generator need separate optimizer objects (each keeps "
                "its own moments and step count); create two, e.g. keras.optimizers.Adam() twice."
            )
        super().compile(**kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_optimizer = generator_optimizer
        discriminator_optimizer.build(self.discriminator_variables)
        generator_optimizer.build(self.generator_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.discriminator_loss_tracker, self.generator_loss_tracker]

    def build(self, input_shape=None) -> None:
        """Nothing to do: subclasses create all their variables in ``__init__``."""
        self.built = True

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit``; a finite ``tf.data.Dataset`` is repeated with
        ``steps_per_epoch`` set to its cardinality, so one iterator serves all epochs."""
        if isinstance(x, tf.data.Dataset) and y is None and not args:
            n_batches = int(x.cardinality())
            if n_batches == tf.data.INFINITE_CARDINALITY and kwargs.get("steps_per_epoch") is None:
                raise ValueError(
                    "the dataset repeats forever: give fit steps_per_epoch (batches per epoch)."
                )
            if kwargs.get("steps_per_epoch") is None and n_batches > 0:
                x, kwargs["steps_per_epoch"] = x.repeat(), n_batches
        return super().fit(x, y, *args, **kwargs)

    def _report(self, d_loss: tf.Tensor, g_loss: tf.Tensor, **extras) -> dict[str, tf.Tensor]:
        self.discriminator_loss_tracker.update_state(d_loss)
        self.generator_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics} | extras


def dense_rows(table: Interactions, transpose: bool = False) -> np.ndarray:
    """float32 0/1 matrix ``[n_users, n_items]`` of ``table`` (``[n_items, n_users]`` if
    ``transpose``)."""
    matrix = table.dense()
    return np.ascontiguousarray(matrix.T) if transpose else matrix


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
