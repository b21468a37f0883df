"""advrec.gan.GAN: each player learns from its own loss only, and the game moves toward the data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.gan import GAN, mlp_discriminator, mlp_generator
from advrec.gan_quality import (
    frechet_distance,
    mode_coverage,
    ring_centers,
    ring_of_gaussians,
)

LATENT_DIM = 2


def _gan(seed: int = 0, discriminator_steps: int = 1, objective: str = "non_saturating") -> GAN:
    keras.utils.set_random_seed(seed)
    gan = GAN(
        mlp_generator(LATENT_DIM, (3,), hidden_units=(8,)),
        mlp_discriminator((3,), hidden_units=(8,)),
        latent_dim=LATENT_DIM,
        discriminator_steps=discriminator_steps,
        seed=seed,
    )
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), objective=objective)
    return gan


def _real(batch: int = 16) -> tf.Tensor:
    return tf.constant(np.random.default_rng(0).normal(2.0, 1.0, (batch, 3)), tf.float32)


def _values(variables) -> list[np.ndarray]:
    return [v.numpy().copy() for v in variables]


@pytest.mark.parametrize("objective", ["non_saturating", "minimax", "article"])
def test_each_player_gets_a_nonzero_gradient_for_every_variable(objective):
    gan = _gan(objective=objective)
    noise = gan.sample_noise(16)
    d_grads, _, _, _ = gan.discriminator_gradients(_real(), noise)
    g_grads, _ = gan.generator_gradients(noise)
    assert len(d_grads) == len(gan.discriminator.trainable_variables) > 0
    assert len(g_grads) == len(gan.generator.trainable_variables) > 0
    for grad in d_grads + g_grads:  # None would mean the variable is cut off from its loss
        assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0.0


def test_players_own_disjoint_variables_that_cover_the_model():
    gan = _gan()
    d_ids = {id(v) for v in gan.discriminator.trainable_variables}
    g_ids = {id(v) for v in gan.generator.trainable_variables}
    assert not d_ids & g_ids
    assert d_ids | g_ids == {id(v) for v in gan.trainable_variables}


def test_discriminator_step_changes_only_the_discriminator():
    gan = _gan()
    g_before, d_before = _values(gan.generator.weights), _values(gan.discriminator.weights)
    gan.discriminator_step(_real())
    for before, after in zip(g_before, _values(gan.generator.weights), strict=True):
        np.testing.assert_array_equal(before, after)
    changed = [
        not np.array_equal(b, a)
        for b, a in zip(d_before, _values(gan.discriminator.weights), strict=True)
    ]
    assert all(changed)


def test_generator_step_changes_only_the_generator():
    gan = _gan()
    g_before, d_before = _values(gan.generator.weights), _values(gan.discriminator.weights)
    gan.generator_step(16)
    for before, after in zip(d_before, _values(gan.discriminator.weights), strict=True):
        np.testing.assert_array_equal(before, after)
    changed = [
        not np.array_equal(b, a)
        for b, a in zip(g_before, _values(gan.generator.weights), strict=True)
    ]
    assert all(changed)


def test_fit_takes_k_discriminator_steps_per_generator_step():
    gan = _gan(discriminator_steps=3)
    history = gan.fit(_real(32), batch_size=8, epochs=1, verbose=0)
    assert int(gan.generator_optimizer.iterations) == 4
    assert int(gan.discriminator_optimizer.iterations) == 12
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}


def test_same_seed_gives_the_same_samples():
    a, b = _gan(seed=3), _gan(seed=3)
    np.testing.assert_allclose(a.sample(5), b.sample(5))
    assert not np.allclose(a.sample(5), _gan(seed=4).sample(5))


def test_separate_optimizers_are_required():
    gan = GAN(mlp_generator(1, (1,)), mlp_discriminator((1,)), latent_dim=1)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="separate optimizer"):
        gan.compile(shared, shared)


@pytest.mark.slow
def test_short_run_moves_generated_mean_toward_data_mean():
    keras.utils.set_random_seed(0)
    data_mean = 3.0
    data = np.random.default_rng(1).normal(data_mean, 0.5, (1024, 1)).astype("float32")
    gan = GAN(
        mlp_generator(1, (1,), hidden_units=(16,)),
        mlp_discriminator((1,), hidden_units=(16,)),
        latent_dim=1,
        seed=0,
    )
    gan.compile(
        keras.optimizers.Adam(2e-2, beta_1=0.5),
        keras.optimizers.Adam(5e-3, beta_1=0.5),
        steps_per_execution=8,
    )
    before = float(np.mean(gan.sample(2000)))
    gan.fit(data, batch_size=128, epochs=6, verbose=0)
    after = float(np.mean(gan.sample(2000)))
    assert abs(after - data_mean) < 0.5 * abs(before - data_mean)


@pytest.mark.slow
def test_fit_runs_with_xla_compilation():
    # Keras compiles with XLA by default on a GPU; the train step must support it.
    gan = _gan()
    gan.compile(
        keras.optimizers.SGD(0.1),
        keras.optimizers.SGD(0.1),
        jit_compile=True,
        steps_per_execution=2,
    )
    history = gan.fit(_real(32), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][-1])
    assert int(gan.generator_optimizer.iterations.numpy()) == 4


def test_mixed_precision_keeps_logits_and_losses_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = _gan()
        noise = gan.sample_noise(16)
        assert gan.generator(noise).dtype == tf.float16  # compute really is half precision
        _, d_loss, real_logits, fake_logits = gan.discriminator_gradients(_real(), noise)
        _, g_loss = gan.generator_gradients(noise)
        assert real_logits.dtype == fake_logits.dtype == tf.float32
        assert d_loss.dtype == g_loss.dtype == tf.float32
        assert isinstance(gan.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        history = gan.fit(_real(32), batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["g_loss"][-1])
    except tf.errors.NotFoundError as error:  # no float16 kernels on this CPU
        pytest.skip(f"float16 matmul not supported here: {error}")
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_ring_samples_lie_near_the_eight_centres():
    samples = ring_of_gaussians(4000, std=0.05, seed=1)
    assert samples.shape == (4000, 2) and samples.dtype == np.float32
    # In 2-D, P(|x - mu| < 3 sigma) = 1 - exp(-9/2) for an isotropic Gaussian (chi, 2 dof).
    expected_share = 1.0 - np.exp(-4.5)
    assert mode_coverage(samples, ring_centers(), std=0.05) == (
        8,
        pytest.approx(expected_share, abs=0.005),
    )


def test_mode_coverage_counts_a_collapsed_generator_as_one_mode():
    centers = ring_centers()
    collapsed = np.repeat(centers[:1], 100, axis=0)
    assert mode_coverage(collapsed, centers, std=0.05) == (1, 1.0)
    far_away = collapsed + 1.0
    assert mode_coverage(far_away, centers, std=0.05) == (0, 0.0)


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 3))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5])
    assert frechet_distance(features, features + shift) == pytest.approx(np.sum(shift**2))
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2, with the sample moments.
    a, b = rng.normal(0, 1, (2000, 1)), rng.normal(1, 3, (2000, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="same d"):
        frechet_distance(features, features[:, :2])
