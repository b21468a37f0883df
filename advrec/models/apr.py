"""AMF: matrix factorisation trained with Adversarial Personalized Ranking (He et al., SIGIR 2018).

APR minimises the BPR loss at the parameters *and* at the parameters moved by the worst
perturbation of norm ``epsilon``::

    L_APR(Θ) = L_BPR(Θ) + λ · L_BPR(Θ + Δ_adv),   Δ_adv = ε · g / ‖g‖,  g = ∂L_BPR/∂Θ,

with ``Δ_adv`` treated as a constant (no gradient flows through it). The choices made here:

- ``Δ`` perturbs the user and item factor tables ``P`` and ``Q`` only, not the item bias
  (a scalar per item; the paper's model has none).
- As in the paper's released code, ``g`` is the gradient of the batch's BPR loss with respect
  to the *tables*, normalised per table row (so an item that occurs several times in a batch
  gets one direction, from the sum of its gradients), and only the rows the batch touches are
  perturbed.
- As in the released code, the l2 penalty (BPR-MF's) is applied once, to the clean embeddings.
- ``Δ`` exists only inside ``train_step``: :meth:`AMF.score_pairs` and :meth:`AMF.score_all` are
  those of :class:`~advrec.models.BPRMF`.

With ``epsilon = 0`` the adversarial term would only repeat the clean loss, and with
``adversarial_weight = 0`` it would be weighted by zero; in both cases it is dropped and AMF trains
exactly like BPR-MF, with BPR-MF's own loss (the same updates bit for bit, for the same seed).

The paper pre-trains BPR-MF and then continues with APR from those weights; here that is
:func:`pretrain_bprmf`, then :meth:`AMF.initialize_from` followed by ``fit``
(:func:`advrec.training.fit_amf` does both).
"""

from __future__ import annotations

import tensorflow as tf

from advrec.checks import check_real
from advrec.data.interactions import Interactions
from advrec.distribute import sum_over_replicas
from advrec.losses import bpr_loss, scale_for_replicas
from advrec.models.base import AdversarialTerm
from advrec.models.mf import BPRMF, DEFAULT_L2, BatchRows

"""``(p, q_pos, q_neg, b_pos, b_neg)`` of a batch: ``[B, dim]`` factors and ``[B]`` biases."""


def row_normalized_directions(ids: tf.Tensor, row_gradients: tf.Tensor, n_rows: int) -> tf.Tensor:
    """Unit directions of a table gradient, per table row, gathered back for each occurrence.

    ``row_gradients[n]`` is the gradient with respect to the gathered row ``table[ids[n]]``; the
    gradient with respect to the table row ``r`` is the sum over the occurrences of ``r``. It is
    summed into a dense ``[n_rows, dim]`` table (the size of the dense gradient the optimizer
    applies anyway) and, under a ``tf.distribute`` strategy, over all replicas, so the direction
    is that of the global batch, as on one device.

    Args:
        ids: int32 ``[N]`` table row of each gathered row (repeats allowed).
        row_gradients: float32 ``[N, dim]``.
        n_rows: number of rows of the table.

    Returns:
        float32 ``[N, dim]``: for each occurrence, the l2-normalised gradient of its table row
        (zero where that gradient is zero).
    """
    per_row = sum_over_replicas(tf.math.unsorted_segment_sum(row_gradients, ids, n_rows))
    return tf.gather(tf.math.l2_normalize(per_row, axis=-1), ids)


class AMF(AdversarialTerm, BPRMF):
    """BPR-MF trained with APR; inference is BPR-MF's (``x_ui = p_u · q_i + b_i``).

    Args:
        train: training interactions.
        epsilon: l2 norm of the adversarial perturbation of each touched embedding row.
        adversarial_weight: λ, the weight of the BPR loss at the perturbed embeddings.
        dim, l2, init_std, seed: as for :class:`~advrec.models.BPRMF`.

    ``fit`` reports the epoch means of ``loss`` (the total) and, while the adversarial term is
    on, of ``clean_loss`` and ``adversarial_loss`` (both BPR, without the l2 penalty).
    """

    def __init__(
        self,
        train: Interactions,
        epsilon: float = 0.5,
        adversarial_weight: float = 1.0,
        dim: int = 64,
        l2: float = DEFAULT_L2,
        init_std: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        epsilon = check_real(epsilon, "epsilon", low=0, hint="a perturbation norm, e.g. 0.5")
        adversarial_weight = check_real(
            adversarial_weight,
            "adversarial_weight",
            low=0,
            hint="λ; a negative weight would reward the model for being fragile",
        )
        super().__init__(train, dim=dim, l2=l2, init_std=init_std, seed=seed, **kwargs)
        self.epsilon = float(epsilon)
        self.adversarial_weight = float(adversarial_weight)
        self.track_adversarial_terms()

    def initialize_from(self, pretrained: BPRMF) -> AMF:
        """Copies a trained BPR-MF's factors and biases (APR's pre-training step); returns self."""
        mine = (self.user_factors, self.item_factors, self.item_bias)
        theirs = (pretrained.user_factors, pretrained.item_factors, pretrained.item_bias)
        for target, source in zip(mine, theirs, strict=True):
            if tuple(target.shape) != tuple(source.shape):
                raise ValueError(
                    f"cannot initialise {target.name} {tuple(target.shape)} from "
                    f"{tuple(source.shape)}: build the pre-trained BPR-MF on the same training "
                    "table and with the same dim."
                )
            target.assign(source)
        return self

    def adversarial_perturbation(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor,
        rows: BatchRows | None = None,
        weights: tf.Tensor | None = None,
    ) -> tuple[tuple[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]:
        """``Δ`` for the batch's user, positive and negative rows (each ``[B, dim]``), as
        constants, and the clean BPR loss (a scalar, without the l2 penalty) it was taken from.

        ``rows``: the batch's rows from :meth:`gather_batch`, if already gathered; ``weights``:
        float32 ``[B]`` weight of each triple (``None``: all 1; a padding row weighs 0 and moves
        no direction). Under a ``tf.distribute`` strategy the direction is taken from each
        replica's share of the global batch's loss (:func:`advrec.losses.scale_for_replicas`),
        so it is the one device's even when replicas hold different numbers of triples.
        """
        rows = self.gather_batch(users, positives, negatives) if rows is None else rows
        p, q_pos, q_neg, b_pos, b_neg = (tf.stop_gradient(t) for t in rows)
        count = tf.size(users) if weights is None else tf.reduce_sum(weights)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([p, q_pos, q_neg])
            clean = bpr_loss(self.margin(p, q_pos, q_neg, b_pos, b_neg), weights)
            share = scale_for_replicas(clean, count=count)
        g_p, g_pos, g_neg = tape.gradient(share, [p, q_pos, q_neg])
        d_user = row_normalized_directions(users, g_p, self.n_users)
        d_items = row_normalized_directions(
            tf.concat([positives, negatives], 0), tf.concat([g_pos, g_neg], 0), self.n_items
        )
        d_pos, d_neg = tf.split(d_items, 2, axis=0)
        delta = tuple(tf.stop_gradient(self.epsilon * d) for d in (d_user, d_pos, d_neg))
        return delta, clean

    def adversarial_loss(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor,
        delta: tuple[tf.Tensor, tf.Tensor, tf.Tensor],
        rows: BatchRows | None = None,
        weights: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Scalar BPR loss at the embeddings moved by ``delta`` (differentiable in the weights),
        the mean over the triples weighted by ``weights`` (``None``: all 1)."""
        p, q_pos, q_neg, b_pos, b_neg = (
            self.gather_batch(users, positives, negatives) if rows is None else rows
        )
        d_user, d_pos, d_neg = delta
        margin = self.margin(p + d_user, q_pos + d_pos, q_neg + d_neg, b_pos, b_neg)
        return bpr_loss(margin, weights)

    def pairwise_loss(self, users, positives, negatives, weights=None):
        if not self.adversarial:
            return super().pairwise_loss(users, positives, negatives, weights)
        # One gather per table serves the clean and the adversarial terms, so their gradients
        # meet before the gather's backward pass (one densified embedding gradient, not two).
        rows = self.gather_batch(users, positives, negatives)
        clean = bpr_loss(self.margin(*rows), weights)
        loss = clean + self.penalty(rows, weights)  # BPR-MF's loss
        delta, _ = self.adversarial_perturbation(users, positives, negatives, rows, weights)
        adversarial = self.adversarial_loss(users, positives, negatives, delta, rows, weights)
        total = loss + self.adversarial_weight * adversarial
        return total, self.report_terms(clean, adversarial, users, weights)
