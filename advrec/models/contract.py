"""The contract every recommender in :mod:`advrec.models` keeps, written as ``typing.Protocol``s.

A recommender is built from the training interactions (they fix ``n_users`` and ``n_items``)
and its hyper-parameters, and scores every item for a batch of users::

    model = SomeModel(split.train, ...)            # built: every variable exists now
    scores = model.score_all(users)                # int32 [B] -> float32 [B, n_items]

That one method is all the shared protocol needs (:func:`advrec.protocol.evaluate_split`,
:mod:`advrec.attacks`, the CLI). There are two kinds of model:

- **Closed-form** (:class:`Recommender`): fitted in the constructor, no training loop
  (``ItemPop``, ``EASE``). To "restore" one, build it again from the same training data: the
  fit is deterministic.
- **Trained** (:class:`TrainedRecommender`): a ``keras.Model`` that trains through Keras
  ``fit`` and its *own* ``train_step`` -- never a hand-written epoch loop -- usually via
  :func:`advrec.training.fit_ranker`, which adds validation by full ranking and early stopping.
  Pairwise rankers subclass :class:`advrec.models.PairwiseRanker` and only say how they score
  and what loss they add. Every variable (including a second optimizer's state) is created in
  ``__init__``/``build``, so the model works inside ``strategy.scope()``; the step is pure
  TensorFlow with static shapes (it must compile with ``jit_compile=True``); its random numbers
  come from a ``keras.random.SeedGenerator`` on the model, drawn through
  :mod:`advrec.distribute` (``replica_uniform``, ``replica_normal``, ``replica_randint``,
  ``replica_categorical``) so that under a strategy each replica draws its own slice of one
  global stream (``keras.random`` with the mirrored seed gives every replica the same
  numbers). Saving and restoring are Keras': ``model.save_weights("m.weights.h5")``; to
  restore, construct the same model (same class, training data and hyper-parameters) and
  ``load_weights``; the scores are then identical (a model whose variables all exist after
  ``__init__`` marks itself built there, as ``PairwiseRanker`` does, so Keras saves and loads
  it). Optimizer state is not part of the weights file (to resume training, pass
  ``backup_dir`` to :func:`advrec.training.fit_model`). The whole-model ``.keras`` format
  cannot rebuild a model from a config, since the training data is not one: ``model.save``
  says so, and weights saved from a model built for other data are refused on load
  (:mod:`advrec.models.saving`, mixed into ``PairwiseRanker``).

Sequence models that score a user from their recent history, not from a user id, also provide
``score_histories`` (:class:`HistoryRecommender`).

**Training through the engine** (:mod:`advrec.engine`). :func:`advrec.training.fit_model` runs an
epoch of a model's ``train_step`` as one compiled call -- an in-graph loop over the epoch's
batches, the step traced once, one XLA computation on one device -- when the model declares
``supports_padded_batches = True``; any other model trains through Keras ``fit`` on ``tf.data``
batches as before. Declaring it is a promise that the step keeps these rules:

1. **Batches.** ``train_step(data)`` gets ``data = (x, None, sample_weight)``: ``x`` is the rows
   of the :class:`~advrec.data.sampling.Examples` arrays (a tuple, or the single array's rows),
   ``sample_weight`` float32 ``[B]`` is 1 for a real example and 0 for padding (the last batch
   of an epoch is filled up with copies of example 0, and under a strategy every replica gets
   the same number of rows). Read it with ``keras.utils.unpack_x_y_sample_weight``; outside
   the engine it may be ``None`` (all 1).
2. **Losses.** A padded batch must train exactly like the batch without its padding: every loss
   term is the weighted mean over the rows (:func:`advrec.losses.weighted_mean`; BPR:
   ``bpr_loss(margin, weights)``), and anything else the step computes from the batch --
   counts, means over distinct users, in-batch negatives, normalisations -- ignores rows of
   weight 0. The gradient is taken of ``scale_for_replicas(loss, count=sum(sample_weight))``,
   so replicas' shares add up to the global batch's weighted mean whatever their share of
   padding. A term that is already a global share (e.g. summed with
   :func:`advrec.distribute.sum_over_replicas`) is divided by the same factor first (see
   :meth:`advrec.models.privacy.AdversarialBPRMF.global_user_mean`).
3. **Random numbers** per row come from :mod:`advrec.distribute` (``replica_uniform`` etc.) with
   the padded shape: real rows keep their positions, so they draw what they would unpadded.
4. **No variable is created in the step.** The engine builds ``model.optimizer``; a model with
   more optimizers (a GAN's two players) builds them in ``compile``.
5. **Logs are metrics.** After each epoch the engine reports ``model.metrics`` (reset at each
   epoch's start, reduced over replicas); a value the step returns but no tracker holds is not
   reported. Update trackers with ``sample_weight=count`` so that their epoch value is the mean
   over real examples.
6. **Loop-safe.** The step is traced once and runs once per batch inside a ``tf.while_loop``:
   no per-batch Python side effects, no ``tf.data`` or iterator ops, static shapes, and (for
   XLA) no ``tf.unique`` or other op without an XLA kernel.

Every model of the library with its own step keeps them (the pairwise rankers, the GANs, IRGAN,
CFGAN, the cold-start models, the shilling profile GAN, SASRec; a test walks the package to keep
it so); a test that a padded batch trains like the unpadded one (``tests/unit/test_engine*.py``)
is what to copy for a new model. A step that reads Python state while it is traced (IRGAN's
phase) names that state in ``trace_key``: the engine keeps one compiled epoch per key.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import tensorflow as tf


@runtime_checkable
class Recommender(Protocol):
    """What every model provides.

    Attributes:
        n_users, n_items: sizes of the id spaces it was built for (from the training table).
    """

    n_users: int
    n_items: int

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]``: the score of every item for each of the int32 ``[B]``
        ``users``; higher ranks first. Must not depend on which other users are in the batch."""
        ...


@runtime_checkable
class TrainedRecommender(Recommender, Protocol):
    """A recommender trained by gradient descent: a ``keras.Model`` with its own step.

    ``fit`` is ``keras.Model.fit`` (possibly wrapped, never replaced by another loop);
    ``train_step(data)`` does one update and returns the metrics to log; ``build()`` marks the
    model built (its variables already exist); ``save_weights`` / ``load_weights`` are Keras'
    and round-trip the scores exactly.
    """

    def build(self, input_shape: Any = None) -> None:
        """Marks the model built; every variable was created in ``__init__``."""
        ...

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One optimisation step on a batch from the training dataset; returns its metrics."""
        ...

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.fit``: runs ``train_step`` over the data for some epochs."""
        ...

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Writes every weight to ``filepath`` (a ``.weights.h5`` file)."""
        ...

    def load_weights(self, filepath: str, *args: Any, **kwargs: Any) -> None:
        """Restores the weights written by ``save_weights`` into a model built the same way."""
        ...


@runtime_checkable
class HistoryRecommender(Recommender, Protocol):
    """A model that scores items from a user's history (sequential recommenders)."""

    def score_histories(self, histories: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` from int32 ``[B, L]`` item histories, oldest first and
        left-padded with ``n_items`` (one past the last item id) to the common length ``L``."""
        ...


def checked_users(users, n_users: int) -> tf.Tensor:
    """``users`` as int32 ``[B]``, checked to lie in ``[0, n_users)`` when known (eagerly).

    ``score_all`` calls it first: a gather out of range raises TensorFlow's own error on a CPU
    and returns zeros on a GPU, and a model that ignores the id (ItemPop) would score anyone.
    Inside a ``tf.function`` (symbolic ids) it only casts.
    """
    users = tf.convert_to_tensor(users)
    if not users.dtype.is_integer:
        raise TypeError(f"user ids must be integers, got {users.dtype.name}.")
    users = tf.cast(users, tf.int32)
    if tf.executing_eagerly() and users.shape.num_elements():
        low, high = int(tf.reduce_min(users)), int(tf.reduce_max(users))
        if low < 0 or high >= n_users:
            raise ValueError(
                f"user ids must lie in [0, {n_users}) (the users the model was built for); got "
                f"ids in [{low}, {high}]. Map users to the training table's contiguous ids first."
            )
    return users


def check_scores(model: Recommender, users: np.ndarray | tf.Tensor) -> tf.Tensor:
    """Calls ``model.score_all(users)`` and checks the result against the contract.

    Returns the scores; raises ``TypeError``/``ValueError`` naming what is wrong (dtype, shape,
    non-finite values, or scores that change with the other users in the batch).
    """
    if not isinstance(model, Recommender):
        raise TypeError(
            f"{type(model).__name__} is not a Recommender: it needs n_users, n_items and "
            "score_all(users) (see advrec.models.contract)."
        )
    users = tf.convert_to_tensor(users, tf.int32)
    scores = tf.convert_to_tensor(model.score_all(users))
    if scores.dtype != tf.float32:
        raise TypeError(f"score_all must return float32 scores, got {scores.dtype.name}.")
    expected = (int(users.shape[0]), model.n_items)
    if tuple(scores.shape) != expected:
        raise ValueError(f"score_all must return shape {expected}, got {tuple(scores.shape)}.")
    if not bool(tf.reduce_all(tf.math.is_finite(scores))):
        raise ValueError("score_all returned NaN or infinite scores.")
    if expected[0] > 1:
        alone = tf.convert_to_tensor(model.score_all(users[:1]))
        if not np.allclose(alone.numpy(), scores[:1].numpy(), rtol=1e-5, atol=1e-5):
            raise ValueError("score_all gives a user other scores depending on the batch.")
    return scores
