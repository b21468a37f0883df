"""IRGAN and CFGAN: the estimators and masks they rest on, their players' gradients, the
protocol splits, and reproducibility."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.data import Interactions, positive_pairs
from advrec.data.paper_splits import U1_TEST_ROWS, cfgan_split, u1_split
from advrec.models.cfgan import CFGAN, cfgan_masks
from advrec.models.irgan import IRGAN, importance_proposal, reinforce_loss

# --- IRGAN ------------------------------------------------------------------------------------


def test_reinforce_estimate_matches_the_exact_policy_gradient():
    """The mean REINFORCE gradient over many samples equals d/dlogits of -E_p[r]."""
    logits = tf.constant([[0.5, -1.0, 0.2, 1.3, 0.0]])
    rewards = tf.constant([1.0, -0.5, 2.0, 0.3, -1.2])
    p = tf.nn.softmax(logits)[0].numpy()
    exact = -(p * (rewards.numpy() - np.dot(p, rewards.numpy())))  # d(-E_p[r])/dlogits
    n = 200_000
    samples = np.random.default_rng(0).choice(5, size=(1, n), p=p / p.sum()).astype(np.int32)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = reinforce_loss(logits, tf.constant(samples), tf.gather(rewards, samples))
    estimate = tape.gradient(loss, logits)[0].numpy()
    assert np.allclose(estimate, exact, atol=0.01), (estimate, exact)
    # and it is not trivially zero: the estimator moves probability towards high rewards
    assert np.argmin(estimate) == int(np.argmax(rewards.numpy()))


def test_importance_proposal_and_weights_sum_correctly():
    probabilities = tf.nn.softmax(tf.random.stateless_normal((4, 7), seed=(1, 2)), axis=-1)
    positives = tf.constant(
        [[1, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0] * 7, [1] * 7], tf.float32
    )
    proposal, weights = importance_proposal(probabilities, positives, mix=0.2)
    assert np.allclose(tf.reduce_sum(proposal, 1), 1.0, atol=1e-6)
    # E_proposal[w] = sum_i proposal_i * p_i / proposal_i = 1 for every user
    assert np.allclose(tf.reduce_sum(proposal * weights, 1), 1.0, atol=1e-6)
    # positives get extra proposal mass; a user without positives samples from the policy
    assert np.all(proposal.numpy()[0, [0, 3]] > probabilities.numpy()[0, [0, 3]])
    assert np.allclose(proposal[2], probabilities[2]) and np.allclose(weights[2], 1.0)
    assert np.all(weights.numpy() <= 1.0 / 0.8 + 1e-5)


def _irgan_fit(train, seed):
    model = IRGAN(train, dim=4, seed=seed)
    model.compile(keras.optimizers.Adam(0.05), keras.optimizers.SGD(0.5))
    model.fit(positive_pairs(train, 256, seed=seed), epochs=2, verbose=0)
    return model


@pytest.mark.slow
def test_irgan_trains_both_players_and_is_reproducible(synthetic_split):
    train = synthetic_split.train
    first, second = _irgan_fit(train, 3), _irgan_fit(train, 3)
    for a, b in zip(first.weights, second.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    fresh = IRGAN(train, dim=4, seed=3)
    assert not np.allclose(fresh.g_item.numpy(), first.g_item.numpy())
    assert not np.allclose(fresh.d_item.numpy(), first.d_item.numpy())
    other = _irgan_fit(train, 4)
    assert not np.allclose(other.g_item.numpy(), first.g_item.numpy())


def test_irgan_generator_learns_only_from_the_policy_gradient(tiny_interactions):
    model = IRGAN(tiny_interactions, dim=3, seed=0)
    users, samples = tf.constant([0, 1]), tf.constant([[2, 3], [4, 0]])
    with tf.GradientTape(persistent=True) as tape:
        rewards = model.rewards(users, samples)
        loss = reinforce_loss(model.generator_logits(users), samples, rewards)
    # the reward (D) is held fixed: no gradient reaches D through the generator's loss
    assert all(g is None for g in tape.gradient(loss, model.discriminator_variables))
    assert any(g is not None for g in tape.gradient(loss, model.generator_variables))


def test_irgan_scores_with_the_generator_and_checks_pretrained_shapes(tiny_interactions):
    model = IRGAN(tiny_interactions, dim=2, seed=0)
    model.load_generator(np.ones((4, 2)), np.ones((6, 2)), np.arange(6.0))
    scores = model.score_all(tf.constant([0, 3])).numpy()
    assert scores.shape == (2, 6) and np.allclose(scores[0], 2.0 + np.arange(6.0))
    with pytest.raises(ValueError, match="expected"):
        model.load_generator(np.ones((4, 3)), np.ones((6, 3)), np.zeros(6))


def test_irgan_negatives_for_d_follow_the_tempered_generator(tiny_interactions):
    model = IRGAN(tiny_interactions, dim=2, temperature=0.5, seed=0)
    model.load_generator(np.ones((4, 2)), np.zeros((6, 2)), np.log(np.arange(1.0, 7.0)))
    users = np.repeat(np.array([0, 3]), 60_000)
    drawn = model.sample_negatives(users, np.random.default_rng(0)).reshape(2, -1)
    expected = np.arange(1.0, 7.0) ** 2 / np.sum(np.arange(1.0, 7.0) ** 2)  # softmax(g / 0.5)
    for row in drawn:
        assert np.abs(np.bincount(row, minlength=6) / len(row) - expected).max() < 0.01


def test_irgan_phases_train_one_player_each_and_keep_their_steps(tiny_interactions):
    from advrec.data.sampling import Examples

    model = IRGAN(tiny_interactions, dim=3, seed=0)
    model.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
    pairs = Examples((tiny_interactions.user, tiny_interactions.item), 4, seed=0)
    users = Examples((np.arange(4, dtype=np.int32),), 4, seed=0)
    for phase, data, moved, fixed in (
        ("discriminator", pairs, model.discriminator_variables, model.generator_variables),
        ("generator", users, model.generator_variables, model.discriminator_variables),
    ):
        before = [v.numpy().copy() for v in (*moved, *fixed)]
        with model.phase(phase):
            model.fit(data.dataset(epochs=None), epochs=1, steps_per_epoch=1, verbose=0)
        after = [v.numpy() for v in (*moved, *fixed)]
        assert not np.allclose(before[0], after[0]), phase
        for old, new in zip(before[len(moved) :], after[len(moved) :], strict=True):
            np.testing.assert_array_equal(old, new)
    assert model.current_phase == "game"
    assert {"discriminator", "generator"} <= set(model._phase_functions)
    with pytest.raises(ValueError, match="phase"):
        with model.phase("both"):
            pass


def test_irgan_generator_update_uses_two_samples_per_positive(tiny_interactions):
    model = IRGAN(tiny_interactions, dim=2, generator_samples=2, seed=0)
    assert model.max_samples == 2 * 3  # every user has 3 positives
    model.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    loss, reward = model.generator_user_step(tf.constant([0, 1, 2, 3]))
    assert np.isfinite(loss.numpy()) and abs(float(reward)) <= 1.0


def test_irgan_rejects_bad_settings(tiny_interactions):
    with pytest.raises(ValueError, match="reward"):
        IRGAN(tiny_interactions, reward="exp")
    with pytest.raises(ValueError, match="mix"):
        IRGAN(tiny_interactions, mix=1.0)
    model = IRGAN(tiny_interactions)
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="separate optimizer"):
        model.compile(optimizer, optimizer)


# --- CFGAN ------------------------------------------------------------------------------------


def test_cfgan_masks_never_hide_a_positive():
    real = tf.cast(tf.random.stateless_uniform((64, 50), seed=(0, 1)) < 0.2, tf.float32)
    mask, zero = cfgan_masks(real, 0.7, 0.7, keras.random.SeedGenerator(0))
    mask, zero, real = mask.numpy(), zero.numpy(), real.numpy()
    assert np.all(mask[real == 1] == 1)  # PM keeps every purchase visible to D
    assert np.all(zero[real == 1] == 0)  # ZR never pulls a purchase to zero
    assert set(np.unique(mask)) <= {0.0, 1.0} and set(np.unique(zero)) <= {0.0, 1.0}
    unobserved = real == 0
    assert abs(mask[unobserved].mean() - 0.7) < 0.05 and abs(zero[unobserved].mean() - 0.7) < 0.05


def test_cfgan_generator_gets_gradients_only_through_the_discriminator_verdict(tiny_interactions):
    model = CFGAN(tiny_interactions, mode="user", generator_units=8, discriminator_units=8, seed=0)
    real = tf.gather(model.vectors, tf.constant([0, 1, 2]))
    mask, zero = cfgan_masks(real, 0.5, 0.0, model.seed_generator)
    with tf.GradientTape(persistent=True) as tape:
        _, adversarial = model.generator_loss(real, mask, zero)
        generated = model.generator(real, training=True)
        # the same verdict, recomputed on G's output: used for the chain rule below
        verdict = model.discriminator(tf.concat([real, generated * mask], 1), training=True)
        adversarial_again = tf.reduce_mean(tf.nn.softplus(-verdict))
    direct = tape.gradient(adversarial, model.generator_variables)
    assert all(g is not None for g in direct)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in direct) > 0
    # chain rule: dL/dtheta = (dL/dG(c))^T dG(c)/dtheta -- the gradient passes only via G(c)
    upstream = tape.gradient(adversarial_again, generated)
    through_output = tape.gradient(generated, model.generator_variables, output_gradients=upstream)
    for a, b in zip(direct, through_output, strict=True):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)
    # a fake computed outside the tape (the known bug) leaves G without any gradient
    outside = model.generator(real, training=True)
    with tf.GradientTape() as tape2:
        logits = model.discriminator(tf.concat([real, outside * mask], 1), training=True)
        detached = tf.reduce_mean(tf.nn.softplus(-logits))
    assert all(g is None for g in tape2.gradient(detached, model.generator_variables))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["user", "item"])
def test_cfgan_trains_is_reproducible_and_scores_users(synthetic_split, mode):
    def fit(seed):
        model = CFGAN(
            synthetic_split.train, mode=mode, generator_units=16, discriminator_units=8, seed=seed
        )
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        model.fit(model.row_examples(64, seed=seed).dataset(), epochs=2, verbose=0)
        return model

    first, second = fit(1), fit(1)
    for a, b in zip(first.weights, second.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    assert set(first.history.history) >= {"d_loss", "g_loss"}
    scores = first.score_all(tf.constant([0, 5, 7])).numpy()
    assert scores.shape == (3, synthetic_split.n_items) and np.isfinite(scores).all()
    assert not np.allclose(fit(2).generator.weights[0].numpy(), first.generator.weights[0])


def test_cfgan_rejects_bad_settings(tiny_interactions):
    with pytest.raises(ValueError, match="mode"):
        CFGAN(tiny_interactions, mode="both")
    with pytest.raises(ValueError, match="pm_ratio"):
        CFGAN(tiny_interactions, pm_ratio=1.5)


# --- the papers' protocols --------------------------------------------------------------------


def _fake_ml100k(seed=0):
    rng = np.random.default_rng(seed)
    n = 100_000
    cells = rng.choice(943 * 1682, size=n, replace=False)  # distinct pairs, random row order
    return Interactions.from_arrays(
        cells // 1682,
        cells % 1682,
        rating=rng.integers(1, 6, n),
        n_users=943,
        n_items=1682,
    )


def test_u1_split_takes_the_first_rows_as_test_and_keeps_positives_only():
    table = _fake_ml100k()
    split = u1_split(table, valid_fraction=0.1, seed=0)
    first = table.select(np.arange(len(table)) < U1_TEST_ROWS)
    positives = first.select(first.rating >= 4)
    assert np.array_equal(np.sort(split.test.keys()), np.sort(positives.keys()))
    for part in (split.train, split.valid, split.test):
        assert part.rating.min() >= 4
    rest = table.select((np.arange(len(table)) >= U1_TEST_ROWS) & (table.rating >= 4))
    union = np.concatenate([split.train.keys(), split.valid.keys()])
    assert np.array_equal(np.sort(union), np.sort(rest.keys()))
    whole = u1_split(table, valid_fraction=0.0)
    assert len(whole.valid) == 0 and len(whole.train) == len(rest)
    with pytest.raises(ValueError, match="100,000 rows"):
        u1_split(table.select(np.arange(10)))


def test_cfgan_split_holds_out_a_fifth_of_each_user():
    table = _fake_ml100k()
    split = cfgan_split(table, seed=0)
    per_user = table.user_counts()
    test_share = split.test.user_counts() / per_user
    assert np.allclose(test_share, 0.2, atol=0.5 / per_user.min() + 1e-9)
    keys = [np.sort(p.keys()) for p in (split.train, split.valid, split.test)]
    assert sum(len(k) for k in keys) == len(table)
    assert not np.intersect1d(keys[0], keys[2]).size and not np.intersect1d(keys[1], keys[2]).size
    again = cfgan_split(table, seed=0)
    assert np.array_equal(np.sort(again.test.keys()), keys[2])
    with pytest.raises(ValueError, match="test_fraction"):
        cfgan_split(table, test_fraction=0.0)


_DISTRIBUTED = """
import json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from advrec.data import synthetic_movielens, random_holdout, positive_pairs
from advrec.models.irgan import IRGAN
from advrec.models.cfgan import CFGAN
split = random_holdout(synthetic_movielens(n_users=120, n_items=90, seed=0).interactions, seed=0)
out = {}
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    irgan = IRGAN(split.train, dim=4, seed=0)
    irgan.compile(keras.optimizers.Adam(0.01), keras.optimizers.SGD(0.1))
    cfgan = CFGAN(split.train, mode="user", generator_units=8, discriminator_units=8, seed=0)
    cfgan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
before = cfgan.generator.weights[0].numpy().copy()
out["irgan"] = irgan.fit(positive_pairs(split.train, 256, seed=0), epochs=1, verbose=0).history
out["cfgan"] = cfgan.fit(cfgan.row_examples(64, seed=0).dataset(), epochs=1, verbose=0).history
out["cfgan_moved"] = bool(np.abs(cfgan.generator.weights[0].numpy() - before).max() > 0)
xla = CFGAN(split.train, mode="item", generator_units=8, discriminator_units=8, seed=0)
xla.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=True)
out["cfgan_xla"] = xla.fit(xla.row_examples(64, seed=0).dataset(), epochs=1, verbose=0).history
xla = IRGAN(split.train, dim=4, seed=0)
xla.compile(keras.optimizers.Adam(0.01), keras.optimizers.SGD(0.1), jit_compile=True)
out["irgan_xla"] = xla.fit(positive_pairs(split.train, 256, seed=0), epochs=1, verbose=0).history
print(json.dumps(out))
"""


@pytest.mark.slow
def test_both_models_train_under_a_two_replica_strategy_and_under_xla():
    """Two logical CPUs must be configured before TensorFlow starts: run in a fresh process."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTED], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["cfgan_moved"]
    for name in ("irgan", "cfgan", "irgan_xla", "cfgan_xla"):
        assert np.isfinite(out[name]["d_loss"][0]) and np.isfinite(out[name]["g_loss"][0]), name


# --- the recipes at their released schedules, in miniature ------------------------------------


@pytest.mark.slow
def test_irgan_recipe_selects_from_the_pretrained_start_on_and_refits(synthetic_split):
    from advrec.recipes.base import with_settings
    from advrec.recipes.gan_recommenders import IRGANConfig, run_irgan

    config = with_settings(
        IRGANConfig(),
        pretrain__dim=4,
        pretrain__epochs=2,
        rounds=2,
        discriminator_epochs=2,
        generator_epochs=2,
        eval_every=1,
        discriminator_batch=512,
    )
    run = run_irgan(synthetic_split, config, seed=0)
    assert run.history["game"]["epoch"] == [0, 1, 2, 3, 4]  # epoch 0: the pre-trained generator
    assert run.best_epoch["game"] in run.history["game"]["epoch"]
    assert (
        len(run.losses["discriminator"]["d_loss"]) == 2 and len(run.losses["game"]["g_loss"]) == 4
    )
    assert {"test", "valid", "refit_test"} <= set(run.facts["pretrained"])
    assert run.test.keys() == run.facts["selected"]["test"].keys()


@pytest.mark.slow
def test_cfgan_recipe_refits_for_the_selected_epochs(synthetic_split):
    from advrec.recipes.base import with_settings
    from advrec.recipes.gan_recommenders import CFGANConfig, run_cfgan

    config = with_settings(
        CFGANConfig(), mode="user", generator_units=8, discriminator_units=8, epochs=3,
        eval_every=1,
    )  # fmt: skip
    run = run_cfgan(synthetic_split, config, seed=0)
    assert run.history["train"]["epoch"] == [1, 2, 3]
    assert len(run.losses["refit"]["d_loss"]) == run.best_epoch["train"]
    assert run.test != run.facts["selected"]["test"]  # the refit model is tested
    with pytest.raises(ValueError, match="refit"):
        run_cfgan(synthetic_split, with_settings(config, refit="twice"), seed=0)
