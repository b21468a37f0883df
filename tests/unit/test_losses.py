"""GAN losses: closed forms, gradients w.r.t. the logit, stability, bad input."""

import numpy as np
import pytest
import tensorflow as tf

from advrec import losses

LOGITS = np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 30.0], dtype=np.float32)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a.astype(np.float64)))


def _per_sample_gradient(loss_fn, logits: np.ndarray) -> np.ndarray:
    """d loss / d a_i, times the batch size (undoes the mean), as float64 numpy."""
    a = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = loss_fn(a)
    return tape.gradient(loss, a).numpy().astype(np.float64) * len(logits)


def test_discriminator_cross_entropy_matches_closed_form():
    real, fake = np.array([2.0, -1.0, 0.3], np.float32), np.array([-0.4, 1.5], np.float32)
    expected = -0.5 * np.mean(np.log(_sigmoid(real))) - 0.5 * np.mean(np.log(1 - _sigmoid(fake)))
    np.testing.assert_allclose(losses.discriminator_cross_entropy(real, fake), expected, rtol=1e-6)


def test_discriminator_cross_entropy_is_log2_for_an_undecided_discriminator():
    zeros = tf.zeros((5, 1))
    np.testing.assert_allclose(losses.discriminator_cross_entropy(zeros, zeros), np.log(2.0))


def test_generator_losses_match_closed_forms():
    d = _sigmoid(LOGITS[1:-1])  # skip the extremes, where log(1 - D) in float64 is -inf
    middle = LOGITS[1:-1]
    np.testing.assert_allclose(
        losses.minimax_generator_loss(middle), np.mean(np.log(1 - d)), rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.non_saturating_generator_loss(middle), -np.mean(np.log(d)), rtol=1e-6
    )


def test_minimax_gradient_is_minus_sigmoid():
    gradient = _per_sample_gradient(losses.minimax_generator_loss, LOGITS)
    np.testing.assert_allclose(gradient, -_sigmoid(LOGITS), atol=1e-6)
    assert abs(gradient[0]) < 1e-12  # saturates when D rejects the fake


def test_non_saturating_gradient_is_minus_one_minus_sigmoid():
    gradient = _per_sample_gradient(losses.non_saturating_generator_loss, LOGITS)
    np.testing.assert_allclose(gradient, -(1 - _sigmoid(LOGITS)), atol=1e-6)
    assert gradient[0] == pytest.approx(-1.0)  # strongest when D rejects the fake


def test_losses_are_finite_for_extreme_logits():
    extreme = tf.constant([-1e4, 1e4])
    for value in (
        losses.discriminator_cross_entropy(extreme, extreme),
        losses.minimax_generator_loss(extreme),
        losses.non_saturating_generator_loss(extreme),
    ):
        assert np.isfinite(value.numpy())


def test_article_losses_are_the_printed_formulas_without_logarithms():
    real, fake = np.array([2.0, -1.0], np.float32), np.array([-0.4, 1.5, 0.0], np.float32)
    expected_d = -0.5 * np.mean(_sigmoid(real) - 1) - 0.5 * np.mean(_sigmoid(fake) - 0)
    np.testing.assert_allclose(losses.article_discriminator_loss(real, fake), expected_d, rtol=1e-6)
    np.testing.assert_allclose(
        losses.article_generator_loss(fake), -0.5 * np.mean(_sigmoid(fake)), rtol=1e-6
    )


def test_article_discriminator_loss_rewards_calling_everything_real():
    confident_real = tf.fill((4,), 20.0)
    honest = losses.article_discriminator_loss(confident_real, -confident_real)
    everything_real = losses.article_discriminator_loss(confident_real, confident_real)
    assert everything_real < honest  # its minimum is D = 1 on fakes too
    np.testing.assert_allclose(everything_real, -0.5, atol=1e-6)


def test_article_generator_gradient_vanishes_at_both_ends():
    gradient = _per_sample_gradient(losses.article_generator_loss, LOGITS)
    s = _sigmoid(LOGITS)
    np.testing.assert_allclose(gradient, -0.5 * s * (1 - s), atol=1e-6)
    assert abs(gradient[0]) < 1e-12 and abs(gradient[-1]) < 1e-12


def test_losses_accept_batch_by_one_and_return_float32_for_float16_input():
    logits = tf.constant([[0.5], [-0.5]], dtype=tf.float16)
    assert losses.non_saturating_generator_loss(logits).dtype == tf.float32
    assert losses.discriminator_cross_entropy(logits, logits).dtype == tf.float32


def test_bad_input_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="Dense\\(1\\)"):
        losses.non_saturating_generator_loss(tf.zeros((4, 3)))
    with pytest.raises(TypeError, match="floating-point"):
        losses.minimax_generator_loss(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="non_saturating"):
        losses.gan_objective("wasserstein")
