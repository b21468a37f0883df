"""The GAN chapters' library: the game on finitely many points in closed form, snapshots and
gradient norms of a generator, the toy-GAN recipe and the digit judge."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from advrec import losses
from advrec.gan import GAN, GeneratorSnapshots, generator_gradient_norm
from advrec.gan_quality import (
    game_value,
    jensen_shannon,
    kl_divergence,
    mode_coverage,
    mosaic,
    optimal_discriminator,
    value_at_optimal_discriminator,
)
from advrec.recipes.base import with_settings
from advrec.recipes.toy_gans import (
    DIGITS_GAN,
    RING_GAN,
    JudgeConfig,
    fit_digit_judge,
    load_digit_images,
    ring_data,
    run_gan,
)

RNG = np.random.default_rng(7)
P, Q = RNG.dirichlet(np.ones(6)), RNG.dirichlet(np.ones(6))


def test_the_optimal_discriminator_beats_every_other_and_its_value_is_a_jsd():
    d_star = optimal_discriminator(P, Q)
    np.testing.assert_allclose(d_star, P / (P + Q))
    others = RNG.uniform(1e-3, 1 - 1e-3, size=(10_000, 6))
    assert game_value(d_star, P, Q) > game_value(others, P, Q).max()
    assert game_value(others, P, Q).shape == (10_000,)
    for p, q in ((P, Q), (P, P), (np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.4, 0.6]))):
        expected = -np.log(4) + 2 * jensen_shannon(p, q)
        assert value_at_optimal_discriminator(p, q) == pytest.approx(expected, abs=1e-12)
    assert value_at_optimal_discriminator(P, P) == pytest.approx(-np.log(4))
    assert jensen_shannon(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(np.log(2))


def test_kl_is_zero_for_equal_distributions_infinite_off_support_and_checks_its_input():
    assert kl_divergence(P, P) == pytest.approx(0.0)
    assert kl_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == np.inf
    assert kl_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="probability vector"):
        kl_divergence(np.array([0.5, 0.6]), P[:2])


def test_mosaic_tiles_images_row_by_row():
    batch = np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1)
    tiled = mosaic(batch, rows=2)
    assert tiled.shape == (6, 6)
    np.testing.assert_array_equal(tiled[1::3, 1::3], [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="at least 9"):
        mosaic(batch, rows=3)


def _tiny_gan() -> GAN:
    from advrec.gan import mlp_discriminator, mlp_generator

    keras.utils.set_random_seed(0)
    gan = GAN(mlp_generator(2, (2,), (8,)), mlp_discriminator((2,), (8,)), latent_dim=2, seed=0)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    return gan


def test_snapshots_keep_the_chosen_epochs_and_gradient_norms_follow_the_loss():
    gan = _tiny_gan()
    noise = keras.random.normal((32, 2), seed=1)
    snapshots = GeneratorSnapshots(noise, epochs=(1, 3))
    gan.fit(np.ones((64, 2), np.float32), batch_size=16, epochs=3, verbose=0,
            callbacks=[snapshots])  # fmt: skip
    assert sorted(snapshots.samples) == [1, 3] and snapshots.samples[3].shape == (32, 2)
    assert not np.allclose(snapshots.samples[1], snapshots.samples[3])
    own = generator_gradient_norm(gan, noise)
    assert own == pytest.approx(generator_gradient_norm(gan, noise, gan.generator_loss))
    assert own > 0 and generator_gradient_norm(gan, noise, losses.minimax_generator_loss) > 0


@pytest.mark.slow
def test_run_gan_learns_the_ring_and_the_articles_loss_does_not():
    data = ring_data()
    good = run_gan(data.samples, with_settings(RING_GAN, snapshot_epochs=(1,)), seed=0)
    bad = run_gan(data.samples, with_settings(RING_GAN, objective="article", epochs=8), seed=0)
    assert list(good.facts["snapshots"]) == [1]
    assert good.facts["samples"].shape == (RING_GAN.eval_samples, 2)
    assert mode_coverage(good.facts["samples"], data.centers, data.std)[0] >= 6
    assert mode_coverage(bad.facts["samples"], data.centers, data.std)[0] == 0
    assert bad.losses["train"]["d_fake"][-1] > 0.9  # it calls everything real
    short = with_settings(RING_GAN, epochs=1)
    once, again = run_gan(data.samples, short, seed=3), run_gan(data.samples, short, seed=3)
    np.testing.assert_allclose(again.facts["samples"], once.facts["samples"], atol=1e-5)
    frozen = run_gan(data.samples, with_settings(short, generator_learning_rate=0.0), seed=3)
    still = with_settings(short, learning_rate=1e-12, generator_learning_rate=0.0)
    untrained = run_gan(data.samples, still, seed=3)  # neither player moves
    np.testing.assert_allclose(frozen.facts["samples"], untrained.facts["samples"], atol=1e-6)
    with pytest.raises(ValueError, match="objective"):
        run_gan(data.samples, with_settings(short, objective="wasserstein"))


@pytest.mark.slow
def test_the_judge_tells_digits_from_noise():
    images = load_digit_images("digits", held_out=200, seed=0)
    assert images.x_train.shape[1:] == (8, 8, 1) and len(images.x_test) == 200
    assert images.x_train.min() == -1.0 and images.x_train.max() == 1.0
    judge = fit_digit_judge(images, JudgeConfig(epochs=10))
    assert judge.accuracy > 0.85
    real = judge.quality(images.x_train[:200])
    noise = judge.quality(np.random.default_rng(0).uniform(-1, 1, (200, 8, 8, 1)))
    assert real["frechet"] < 0.2 * noise["frechet"] and real["classes"] == 10
    assert DIGITS_GAN.latent_dim == 100  # the source article's noise size
    with pytest.raises(ValueError, match="dataset"):
        load_digit_images("cifar")
