"""Loss functions, all computed from logits in float32.

GAN losses (Goodfellow et al., 2014). The discriminator outputs a logit ``a``; its probability
that the input is real is ``D = sigmoid(a)``. Writing every loss with ``softplus`` keeps it finite
for any logit: ``-log sigmoid(a) = softplus(-a)`` and ``-log(1 - sigmoid(a)) = softplus(a)``.

- :func:`discriminator_cross_entropy` -- binary cross-entropy, real = 1, fake = 0.
- :func:`minimax_generator_loss` -- ``mean log(1 - D(G(z)))``, the generator's side of the
  minimax game; its gradient vanishes when the discriminator rejects the fakes.
- :func:`non_saturating_generator_loss` -- ``-mean log D(G(z))``, the loss used in practice.
- :func:`article_discriminator_loss`, :func:`article_generator_loss` -- the source article's
  losses exactly as printed (no logarithms). **They are wrong**; they are kept only so the book
  can show how they fail.

Each loss takes logits of shape ``(batch,)`` or ``(batch, 1)`` and returns a float32 scalar: a
mean over the batch, or with ``weights`` (float ``[batch]``, 0 for a padding row) the weighted mean
(:func:`weighted_mean`), so a batch padded with rows of weight 0 has the loss of the batch without
them; ``weights=None`` is the plain mean.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from advrec.distribute import sum_over_replicas

DiscriminatorLoss = Callable[..., tf.Tensor]
"""``(real_logits, fake_logits[, weights]) -> float32 scalar``."""
GeneratorLoss = Callable[..., tf.Tensor]
"""``(fake_logits[, weights]) -> float32 scalar``."""


def _as_float32_logits(logits: tf.Tensor, name: str) -> tf.Tensor:
    """Cast logits to float32 and check they are ``(batch,)`` or ``(batch, 1)``."""
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(
            f"{name} must be a floating-point tensor of discriminator logits, got dtype "
            f"{logits.dtype.name}; cast it with tf.cast(x, tf.float32)."
        )
    rank = logits.shape.rank
    if rank is not None and not (rank == 1 or (rank == 2 and logits.shape[-1] in (1, None))):
        raise ValueError(
            f"{name} must have shape (batch,) or (batch, 1), got {logits.shape}; the "
            "discriminator should end in a Dense(1) layer without activation."
        )
    return tf.cast(logits, tf.float32)


def _row_mean(values: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
    """Mean of per-row ``values`` ``(batch,)`` or ``(batch, 1)``, weighted by ``weights``
    ``[batch]`` when given (:func:`weighted_mean`)."""
    return weighted_mean(tf.reshape(values, [-1]), weights)


# --- correct GAN losses ---------------------------------------------------------------------


def discriminator_cross_entropy(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """Binary cross-entropy of the discriminator over a batch of N real and N fake samples.

    ``L_D = -1/(2N) sum_i log D(x_i) - 1/(2N) sum_i log(1 - D(G(z_i)))``, i.e. the mean
    cross-entropy over the 2N samples, which equals ``-V(D, G) / 2`` for the value function V
    of the minimax game.

    Args:
        real_logits: ``(batch,)`` or ``(batch, 1)`` logits on real samples.
        fake_logits: ``(batch,)`` or ``(batch, 1)`` logits on generated samples.
        weights: float ``[batch]`` weight of row ``i`` in both terms (0: padding); ``None``: all 1.

    Returns:
        float32 scalar.
    """
    real_logits = _as_float32_logits(real_logits, "real_logits")
    fake_logits = _as_float32_logits(fake_logits, "fake_logits")
    real_term = _row_mean(tf.math.softplus(-real_logits), weights)  # -log sigmoid(a)
    fake_term = _row_mean(tf.math.softplus(fake_logits), weights)  # -log(1 - sigmoid(a))
    return 0.5 * (real_term + fake_term)


def minimax_generator_loss(fake_logits: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """The generator's minimax loss ``mean log(1 - D(G(z)))`` (to be minimised).

    Per sample this is ``-softplus(a)``, whose derivative is ``-sigmoid(a)``: when the
    discriminator confidently rejects a fake (``a`` very negative) the gradient vanishes.

    Args:
        fake_logits: ``(batch,)`` or ``(batch, 1)`` logits on generated samples.
        weights: float ``[batch]`` weight of each row (0: padding); ``None``: all 1.

    Returns:
        float32 scalar (always negative).
    """
    fake_logits = _as_float32_logits(fake_logits, "fake_logits")
    return -_row_mean(tf.math.softplus(fake_logits), weights)


def non_saturating_generator_loss(
    fake_logits: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """The non-saturating generator loss ``-mean log D(G(z))`` (to be minimised).

    Per sample this is ``softplus(-a)``, whose derivative is ``-(1 - sigmoid(a))``: the
    gradient is largest exactly when the discriminator rejects the fake.

    Args:
        fake_logits: ``(batch,)`` or ``(batch, 1)`` logits on generated samples.
        weights: float ``[batch]`` weight of each row (0: padding); ``None``: all 1.

    Returns:
        float32 scalar (always positive).
    """
    fake_logits = _as_float32_logits(fake_logits, "fake_logits")
    return _row_mean(tf.math.softplus(-fake_logits), weights)


# --- the source article's losses, kept only to show that they fail ---------------------------


def article_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """INCORRECT: the source article's discriminator loss, exactly as printed.

    ``L_D = -1/(2N) sum_i [D(x_i) - 1] - 1/(2N) sum_i [D(G(z_i)) - 0]`` with
    ``D = sigmoid(logit)``. There are no logarithms, so this is not a cross-entropy; it is
    minimised by ``D = 1`` on *every* input, real or fake, so a discriminator trained on it
    learns nothing about which samples are real. Do not use it outside the demonstration.

    Args:
        real_logits: ``(batch,)`` or ``(batch, 1)`` logits on real samples.
        fake_logits: ``(batch,)`` or ``(batch, 1)`` logits on generated samples.
        weights: float ``[batch]`` weight of each row (0: padding); ``None``: all 1.

    Returns:
        float32 scalar in ``[-1/2, 1/2]``.
    """
    real_logits = _as_float32_logits(real_logits, "real_logits")
    fake_logits = _as_float32_logits(fake_logits, "fake_logits")
    real_term = _row_mean(tf.sigmoid(real_logits) - 1.0, weights)
    fake_term = _row_mean(tf.sigmoid(fake_logits) - 0.0, weights)
    return -0.5 * real_term - 0.5 * fake_term


def article_generator_loss(fake_logits: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """INCORRECT: the source article's generator loss, exactly as printed.

    ``L_G = -1/(2N) sum_i [D(G(z_i)) - 0]``. The article says to *maximise* it, which would
    push the fakes away from the data; :class:`advrec.gan.GAN` minimises it (the charitable
    reading), and it still fails because its derivative ``-sigmoid(a)(1 - sigmoid(a)) / 2``
    vanishes once the article's discriminator outputs 1 everywhere.

    Args:
        fake_logits: ``(batch,)`` or ``(batch, 1)`` logits on generated samples.
        weights: float ``[batch]`` weight of each row (0: padding); ``None``: all 1.

    Returns:
        float32 scalar in ``[-1/2, 0]``.
    """
    fake_logits = _as_float32_logits(fake_logits, "fake_logits")
    return -0.5 * _row_mean(tf.sigmoid(fake_logits), weights)


GAN_OBJECTIVES: dict[str, tuple[DiscriminatorLoss, GeneratorLoss]] = {
    "non_saturating": (discriminator_cross_entropy, non_saturating_generator_loss),
    "minimax": (discriminator_cross_entropy, minimax_generator_loss),
    "article": (article_discriminator_loss, article_generator_loss),
}
"""Named (discriminator loss, generator loss) pairs; ``"article"`` is the incorrect one."""


def gan_objective(name: str) -> tuple[DiscriminatorLoss, GeneratorLoss]:
    """Return the (discriminator loss, generator loss) pair called ``name``."""
    if name not in GAN_OBJECTIVES:
        raise ValueError(
            f"Unknown GAN objective {name!r}; choose one of {sorted(GAN_OBJECTIVES)} or pass "
            "a (discriminator_loss, generator_loss) pair of callables."
        )
    return GAN_OBJECTIVES[name]


# --- ranking losses ---------------------------------------------------------------------------


def bpr_loss(margin: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """Bayesian Personalised Ranking loss ``-mean log sigmoid(x_ui - x_uj)`` (Rendle et al., 2009).

    Args:
        margin: float ``[B]`` score of the positive item minus the score of the negative item.
        weights: float ``[B]`` weight of each triple (0 for a padding row); ``None``: all 1.

    Returns:
        float32 scalar, the (weighted) mean of ``softplus(-margin)``, which stays finite.
    """
    return weighted_mean(tf.nn.softplus(-tf.cast(margin, tf.float32)), weights)


def weighted_mean(values: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """``sum(weights * values) / sum(weights)`` over float32 ``[B]`` ``values`` (0 when the
    weights sum to 0); ``weights=None`` is the plain mean.

    With 0/1 weights this is the mean over the rows weighted 1, so a batch padded with rows of
    weight 0 has the loss of the batch without them.
    """
    if weights is None:
        return tf.reduce_mean(values)
    weights = tf.cast(weights, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * weights), tf.reduce_sum(weights))


# --- distribution ------------------------------------------------------------------------------


def scale_for_replicas(loss: tf.Tensor, count: tf.Tensor | None = None) -> tf.Tensor:
    """The share of a per-replica mean ``loss`` whose gradients, summed over replicas, average.

    ``loss`` is the (weighted) mean over this replica's examples, ``count`` their number (or the
    sum of their weights: the padding rows of a padded batch weigh 0). With ``count``, the result
    is ``loss * count / (count summed over replicas)``, this replica's part of the mean over the
    whole (global) batch, so the summed gradients are exactly those of the global mean even when
    replicas hold different numbers of examples (the last batch of an epoch; padding positions of
    a sequence model); a replica with nothing to count contributes 0. Without it,
    ``loss / replicas``, exact only for equal shares. Outside a strategy: ``loss``.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return loss
    if count is None:
        return loss / tf.cast(replicas, loss.dtype)
    count = tf.cast(count, loss.dtype)
    return tf.math.divide_no_nan(loss * count, sum_over_replicas(count))
