"""BPR-MF whose user factors are trained against an attribute adversary (gradient reversal).

The adversary is a small classifier that reads a user's factors ``p_u`` and predicts a private
attribute ``a_u`` (gender, age group). The recommender and the adversary play

    min_{P, Q, b}  max_{adversary}  L_BPR(P, Q, b) - lambda * CE(adversary(p_u), a_u),

which one tape and one optimizer step solve with a gradient-reversal layer (Ganin et al., JMLR
2016): the step minimises ``L_BPR + CE(adversary(R_lambda(p_u)), a_u)``, where ``R_lambda`` is the
identity forward and multiplies the gradient by ``-lambda`` backward. The adversary's parameters
thus descend its cross-entropy, while the user factors descend ``L_BPR`` and *ascend*
``lambda * CE``. Ascending the cross-entropy rewards factors that make the adversary confidently
*wrong*, which still encodes the attribute; the ``"confusion"`` objective instead pushes the
adversary's prediction towards the attribute's base rate (see :class:`AdversarialBPRMF`). With
``lambda = 0`` the recommender trains exactly as :class:`BPRMF`; the adversary still learns, as a
passive probe of what the factors reveal.

The defence may know the attribute of some users only: label the others :data:`UNDISCLOSED`
(-1), and no step reads their labels.

A fooled in-training adversary proves nothing about a fresh one (Elazar & Goldberg, EMNLP 2018):
measure the leak with :mod:`advrec.attacks.inference`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from advrec.checks import check_real
from advrec.data.interactions import Interactions
from advrec.distribute import replica_id_and_count, sum_over_replicas
from advrec.models.mf import BPRMF, DEFAULT_L2


@tf.custom_gradient
def reverse_gradient(x: tf.Tensor, weight: tf.Tensor):
    """Identity on ``x`` forward; multiplies the incoming gradient by ``-weight`` backward.

    ``weight`` is a float32 scalar and receives no gradient.
    """

    def gradient(upstream: tf.Tensor):
        return -tf.cast(weight, upstream.dtype) * upstream, tf.zeros_like(weight)

    return tf.identity(x), gradient


class AttributeAdversary(keras.layers.Layer):
    """An MLP ``[B, input_dim] -> [B, n_classes]`` logits with ReLU hidden layers.

    ``call(x, frozen=True)`` computes the same logits with the weights behind
    ``tf.stop_gradient``: the gradient then reaches ``x`` only, so a loss on those logits moves
    the representation without training the adversary.
    """

    def __init__(self, n_classes: int, hidden: Sequence[int] = (), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dense_layers = [
            keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + index),
            )
            for index, width in enumerate(hidden)
        ]
        self.dense_layers.append(
            keras.layers.Dense(
                n_classes,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + len(hidden)),
            )
        )

    def build(self, input_shape) -> None:
        for layer in self.dense_layers:
            layer.build(input_shape)
            input_shape = (*input_shape[:-1], layer.units)

    def parameters(self) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """Each layer's ``(kernel, bias)``, read now (for :meth:`call`'s ``parameters``)."""
        return [
            (tf.convert_to_tensor(d.kernel), tf.convert_to_tensor(d.bias))
            for d in self.dense_layers
        ]

    def call(
        self,
        x: tf.Tensor,
        frozen: bool = False,
        parameters: list[tuple[tf.Tensor, tf.Tensor]] | None = None,
    ) -> tf.Tensor:
        """Logits ``[B, n_classes]``; ``parameters`` from :meth:`parameters`, read in this call
        if not given. A step that computes the logits twice (live and frozen) passes one read to
        both: with a second read of the weights, some graph runs computed the frozen logits after
        the step's update of the adversary (a race between runs, seen only in graph mode)."""
        parameters = self.parameters() if parameters is None else parameters
        for layer, (kernel, bias) in zip(self.dense_layers, parameters, strict=True):
            if frozen:
                kernel, bias = tf.stop_gradient(kernel), tf.stop_gradient(bias)
            x = layer.activation(tf.matmul(x, kernel) + bias)
        return x


UNDISCLOSED = -1
"""The label of a user whose attribute the defence does not know (see :class:`AdversarialBPRMF`)."""


def _check_labels(user_labels, n_users: int, n_classes: int | None) -> tuple[np.ndarray, int]:
    labels = np.asarray(user_labels)
    if labels.shape != (n_users,):
        raise ValueError(
            f"user_labels must hold one label per user, shape ({n_users},); got {labels.shape}. "
            "Index it by the contiguous user id, e.g. "
            "advrec.attacks.inference.gender_labels(users)."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"user_labels must be integer class ids 0..n_classes-1 (or {UNDISCLOSED} for an "
            f"undisclosed user), got dtype {labels.dtype}; encode the attribute first "
            "(advrec.attacks.inference.gender_labels / age_group_labels)."
        )
    disclosed = labels[labels != UNDISCLOSED]
    if len(disclosed) == 0:
        raise ValueError(
            f"every user is undisclosed ({UNDISCLOSED}); the adversary needs some users' labels "
            "(advrec.attacks.inference.disclosed_labels keeps those of a group of users)."
        )
    n_classes = int(disclosed.max()) + 1 if n_classes is None else int(n_classes)
    if disclosed.min() < 0 or disclosed.max() >= n_classes:
        raise ValueError(
            f"user_labels must lie in [0, {n_classes}), or be {UNDISCLOSED} for an undisclosed "
            f"user; got values in [{labels.min()}, {labels.max()}]."
        )
    if n_classes < 2 or len(np.unique(disclosed)) < 2:
        raise ValueError(
            "the attribute needs at least two classes among the disclosed users for an "
            "adversary to predict."
        )
    return labels.astype(np.int32), n_classes


OBJECTIVES = ("reversal", "confusion")


class AdversarialBPRMF(BPRMF):
    """BPR-MF with an attribute adversary on the user factors, traded off by ``adversary_weight``.

    The adversary always descends its cross-entropy on the batch's users. What the user factors
    do with it depends on ``objective``:

    - ``"reversal"``: gradient reversal (Ganin et al., 2016); the factors *ascend*
      ``lambda * CE(a_u, adversary(p_u))``: they are rewarded for making the adversary wrong.
    - ``"confusion"``: the factors descend ``lambda * CE(prior, adversary(p_u))``, the
      cross-entropy between the adversary's prediction and the attribute's base rate: they are
      rewarded for making it *uninformed*, not wrong (a maximum-entropy adversary).

    Args:
        train: training interactions.
        user_labels: int ``[n_users]`` class of each user's private attribute (0..n_classes-1),
            or :data:`UNDISCLOSED` (-1) for a user whose attribute the defence may not use.
            Only disclosed users train the adversary and enter the attribute's base rate.
        adversary_weight: lambda >= 0 (0: plain BPR-MF, with the adversary as a passive probe).
        objective: ``"reversal"`` or ``"confusion"``.
        n_classes: number of attribute classes (default: ``max(user_labels) + 1``).
        adversary_hidden: hidden widths of the adversary's MLP (default ``()``: a linear
            softmax classifier, which cannot memorise individual users).
        dim, l2, init_std, seed: as in :class:`BPRMF`.

    Undisclosed users' labels are never read: their occurrences in a batch weigh 0 in the
    adversary's cross-entropy (and in the reversed term, which is the same loss), and the means
    over a batch's users count disclosed users only. The confusion term needs no label, so it
    pushes *every* user's prediction towards the base rate.

    ``fit`` reports ``adversary_loss``, the adversary's mean cross-entropy over the epoch.
    """

    def __init__(
        self,
        train: Interactions,
        user_labels,
        adversary_weight: float = 1.0,
        objective: str = "confusion",
        n_classes: int | None = None,
        adversary_hidden: Sequence[int] = (),
        dim: int = 64,
        l2: float = DEFAULT_L2,
        init_std: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        adversary_weight = check_real(
            adversary_weight, "adversary_weight", low=0, hint="0 is plain BPR-MF"
        )
        super().__init__(train, dim=dim, l2=l2, init_std=init_std, seed=seed, **kwargs)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}.")
        labels, self.n_classes = _check_labels(user_labels, self.n_users, n_classes)
        disclosed = labels != UNDISCLOSED
        self.user_labels = tf.constant(labels)  # [n_users], UNDISCLOSED for undisclosed users
        self.disclosed = tf.constant(disclosed.astype(np.float32))  # [n_users]: 1 disclosed
        prior = np.bincount(labels[disclosed], minlength=self.n_classes) / disclosed.sum()
        self.attribute_prior = tf.constant(prior, tf.float32)  # [n_classes]
        self.adversary_weight = float(adversary_weight)
        self.objective = objective
        self.adversary = AttributeAdversary(self.n_classes, adversary_hidden, seed=seed)
        self.adversary.build((None, dim))
        self.adversary_loss_tracker = keras.metrics.Mean(name="adversary_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.adversary_loss_tracker]

    def privacy_losses(
        self, users: tf.Tensor, weights: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The two players' terms over the distinct users of the batch, ``users`` int32 ``[B]``.

        Returns ``(adversary_loss, defence_loss)``, float32 scalars: the adversary's mean
        cross-entropy (its gradient reaches only the adversary, except through the reversal
        layer) and the factors' extra term (``0`` for ``"reversal"``, whose push is inside the
        reversal layer). The cross-entropy is over the batch's disclosed users (``0`` if it has
        none), the confusion term over all of them. Each user counts once, however many pairs the
        batch holds: every occurrence is weighted by ``1 / (occurrences of its user)``, counted
        over the *global* batch, so the terms are those of one device under a ``tf.distribute``
        strategy too (see :meth:`global_user_mean`). ``weights`` (float32 ``[B]``, ``None``: all
        1) marks padding rows with 0: they are no occurrence of their user. No ``tf.unique``: the
        step keeps static shapes for XLA.
        """
        factors = tf.gather(self.user_factors, users)  # [B, dim]
        # [B]; an undisclosed user's -1 becomes class 0, and its occurrences weigh 0 below.
        labels = tf.maximum(tf.gather(self.user_labels, users), 0)
        weight = tf.constant(self.adversary_weight, tf.float32)
        if self.objective == "reversal":
            logits = self.adversary(reverse_gradient(factors, weight))  # [B, n_classes]
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            adversary_loss = self.global_user_mean(users, cross_entropy, self.disclosed, weights)
            return adversary_loss, tf.constant(0.0)
        parameters = self.adversary.parameters()  # one read for both logits (see its call)
        logits = self.adversary(tf.stop_gradient(factors), parameters=parameters)
        adversary_loss = self.global_user_mean(
            users,
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits),
            self.disclosed,
            weights,
        )
        frozen_logits = self.adversary(factors, frozen=True, parameters=parameters)
        prior = tf.broadcast_to(self.attribute_prior, tf.shape(frozen_logits))
        confusion = tf.nn.softmax_cross_entropy_with_logits(prior, frozen_logits)
        return adversary_loss, weight * self.global_user_mean(users, confusion, None, weights)

    def global_user_mean(
        self,
        users: tf.Tensor,
        values: tf.Tensor,
        counted: tf.Tensor | None = None,
        weights: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Mean of ``values`` (float32 ``[B]``, one per occurrence) over the distinct users.

        ``counted`` (float32 ``[n_users]``, 1 or 0, default all 1) restricts the mean to the
        users marked 1: the others' occurrences weigh 0 and they do not count among the distinct
        users; with none of them in the batch the mean is 0. ``weights`` (float32 ``[B]``, 1 or
        0, default all 1): rows of weight 0 (padding) are no occurrence. Scaled like a
        per-replica mean loss over this replica's rows of weight 1: after
        :func:`advrec.losses.scale_for_replicas` with their count, the replicas' values sum to
        the mean over the global batch's users, however the rows are divided among replicas.
        """
        if weights is None:
            weights = tf.ones_like(values)
        occurrences = sum_over_replicas(
            tf.math.unsorted_segment_sum(weights, users, self.n_users)
        )  # [n_users]: how often each user is in the global batch
        present = tf.cast(occurrences > 0, tf.float32)
        if counted is None:
            counted = tf.ones_like(present)
        n_distinct = tf.reduce_sum(present * counted)
        # [B]; 0 for a padding row (whose user may not occur at all: no 0 / 0).
        weight = tf.math.divide_no_nan(
            tf.gather(counted, users) * weights, tf.gather(occurrences, users)
        )
        share = tf.math.divide_no_nan(tf.reduce_sum(values * weight), n_distinct)
        _, replicas = replica_id_and_count()
        if replicas == 1:
            return share
        count = tf.reduce_sum(weights)  # undoes scale_for_replicas' count / global count
        return tf.math.divide_no_nan(share * sum_over_replicas(count), count)

    def pairwise_loss(self, users, positives, negatives, weights=None):
        recommender_loss, extras = super().pairwise_loss(users, positives, negatives, weights)
        adversary_loss, defence_loss = self.privacy_losses(users, weights)
        count = tf.cast(tf.size(users), tf.float32) if weights is None else tf.reduce_sum(weights)
        self.adversary_loss_tracker.update_state(adversary_loss, sample_weight=count)
        extras = {**extras, "adversary_loss": self.adversary_loss_tracker.result()}
        return recommender_loss + adversary_loss + defence_loss, extras

    def attribute_probabilities(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_classes]``: the in-training adversary's belief about each user."""
        return tf.nn.softmax(self.adversary(tf.gather(self.user_factors, users)))
