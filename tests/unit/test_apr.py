"""AMF (APR): BPR-MF when the adversary is off, a harder loss when it is on, BPR-MF's inference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.models import BPRMF
from advrec.models.apr import AMF, row_normalized_directions
from advrec.training import fit_ranker

USERS = tf.constant([0, 1, 2, 1, 7])
POSITIVES = tf.constant([0, 1, 2, 1, 3])
NEGATIVES = tf.constant([5, 6, 7, 2, 5])


def _trained_weights(model, split, epochs=2):
    keras.utils.set_random_seed(0)
    fit_ranker(model, split, epochs=epochs, batch_size=512, patience=None, verbose=0)
    return [w.numpy() for w in model.trainable_variables]


@pytest.mark.slow
def test_amf_is_bprmf_without_the_adversary_and_differs_with_it(synthetic_split):
    bpr = _trained_weights(BPRMF(synthetic_split.train, dim=8, seed=3), synthetic_split)
    for settings in ({"epsilon": 0.0}, {"adversarial_weight": 0.0}):
        amf = AMF(synthetic_split.train, dim=8, seed=3, **settings)
        for mine, theirs in zip(_trained_weights(amf, synthetic_split), bpr, strict=True):
            np.testing.assert_array_equal(mine, theirs)  # bit for bit, for the same seed
    amf = AMF(synthetic_split.train, epsilon=0.5, dim=8, seed=3)
    assert not np.allclose(_trained_weights(amf, synthetic_split)[0], bpr[0])


def test_the_adversarial_perturbation_increases_the_batch_loss(synthetic_split):
    model = AMF(synthetic_split.train, epsilon=0.3, dim=8, seed=0)
    (d_user, d_pos, d_neg), clean = model.adversarial_perturbation(USERS, POSITIVES, NEGATIVES)
    adversarial = model.adversarial_loss(USERS, POSITIVES, NEGATIVES, (d_user, d_pos, d_neg))
    assert float(adversarial) > float(clean) + 1e-3
    # Every touched row moves by exactly epsilon.
    for delta in (d_user, d_pos, d_neg):
        np.testing.assert_allclose(np.linalg.norm(delta.numpy(), axis=1), 0.3, rtol=1e-5)
    # A random perturbation of the same size raises the loss much less (if at all).
    rng = np.random.default_rng(0)
    random = [rng.normal(size=d.shape).astype(np.float32) for d in (d_user, d_pos, d_neg)]
    random = [0.3 * r / np.linalg.norm(r, axis=1, keepdims=True) for r in random]
    random_loss = model.adversarial_loss(USERS, POSITIVES, NEGATIVES, tuple(random))
    assert float(adversarial) - float(clean) > 3 * abs(float(random_loss) - float(clean))


def test_directions_are_the_normalised_rows_of_the_table_gradient():
    table = tf.Variable(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    ids = tf.constant([2, 0, 2, 3, 2])
    with tf.GradientTape(persistent=True) as tape:
        rows = tf.gather(table, ids)
        tape.watch(rows)
        loss = tf.reduce_sum(tf.sin(rows) * tf.range(1.0, 6.0)[:, None])
    table_gradient = tf.convert_to_tensor(tape.gradient(loss, table)).numpy()
    directions = row_normalized_directions(ids, tape.gradient(loss, rows), 4).numpy()
    touched = table_gradient[ids.numpy()]  # row 1 is not in the batch
    expected = touched / np.linalg.norm(touched, axis=1, keepdims=True)
    np.testing.assert_allclose(directions, expected, rtol=1e-5)


def test_every_trainable_variable_gets_a_gradient_and_delta_is_a_constant(synthetic_split):
    model = AMF(synthetic_split.train, epsilon=0.5, dim=8, seed=0)
    with tf.GradientTape() as tape:
        loss, extras = model.pairwise_loss(USERS, POSITIVES, NEGATIVES)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert len(gradients) == 3
    assert all(float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) > 0 for g in gradients)
    assert {"clean_loss", "adversarial_loss"} <= set(extras)

    # The gradient equals the one with Δ frozen as a numpy constant (no path through Δ).
    delta, _ = model.adversarial_perturbation(USERS, POSITIVES, NEGATIVES)
    frozen = tuple(tf.constant(d.numpy()) for d in delta)
    with tf.GradientTape() as tape:
        clean_total, _ = BPRMF.pairwise_loss(model, USERS, POSITIVES, NEGATIVES)
        expected_loss = clean_total + model.adversarial_loss(USERS, POSITIVES, NEGATIVES, frozen)
    expected = tape.gradient(expected_loss, model.trainable_variables)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-6)
    for mine, theirs in zip(gradients, expected, strict=True):
        np.testing.assert_allclose(
            tf.convert_to_tensor(mine).numpy(), tf.convert_to_tensor(theirs).numpy(), atol=1e-6
        )


def test_inference_does_not_depend_on_the_perturbation(synthetic_split):
    model = AMF(synthetic_split.train, epsilon=0.5, dim=8, seed=0)
    users = tf.constant([0, 4, 9])
    before = model.score_all(users).numpy()
    model.epsilon = 5.0  # a different attack budget changes training only
    np.testing.assert_array_equal(model.score_all(users).numpy(), before)
    p = model.user_factors.numpy()[[0, 4, 9]]
    expected = p @ model.item_factors.numpy().T + model.item_bias.numpy()
    np.testing.assert_allclose(before, expected, atol=1e-5)


def test_initialize_from_copies_the_pretrained_factors(synthetic_split):
    bpr = BPRMF(synthetic_split.train, dim=8, seed=1)
    amf = AMF(synthetic_split.train, dim=8, seed=2).initialize_from(bpr)
    users = tf.constant([0, 1])
    np.testing.assert_array_equal(amf.score_all(users).numpy(), bpr.score_all(users).numpy())
    with pytest.raises(ValueError, match="same dim"):
        AMF(synthetic_split.train, dim=4).initialize_from(bpr)


def test_bad_hyper_parameters_are_rejected(synthetic_split):
    with pytest.raises(ValueError, match="epsilon"):
        AMF(synthetic_split.train, epsilon=-1.0)
    with pytest.raises(ValueError, match="adversarial_weight"):
        AMF(synthetic_split.train, adversarial_weight=-0.5)


def test_the_released_recipe_runs_a_fixed_length_adagrad_phase(synthetic_split):
    from advrec.recipes.adversarial import APR_RELEASED, run_adversarial_phase
    from advrec.recipes.base import with_settings
    from advrec.recipes.ranking import BPRMFConfig, run_bprmf

    pretrained = run_bprmf(synthetic_split, BPRMFConfig(dim=8, epochs=2, batch_size=1024), 0)
    users = tf.constant([0, 1])
    before = pretrained.model.score_all(users).numpy()
    config = with_settings(APR_RELEASED, epochs=3, eval_every=3, batch_size=1024)
    run = run_adversarial_phase(pretrained, synthetic_split, config, seed=0)
    assert isinstance(run.model.optimizer, keras.optimizers.Adagrad)
    assert run.history["adversarial"]["epoch"] == [3]  # one evaluation: the last weights kept
    assert run.best_epoch == {"pretrain": pretrained.best_epoch["train"], "adversarial": 3}
    assert len(run.losses["adversarial"]["loss"]) == 3
    np.testing.assert_array_equal(pretrained.model.score_all(users).numpy(), before)  # untouched
    assert not np.allclose(run.model.score_all(users).numpy(), before)


def test_run_bprmf_is_seeded_and_early_stopped(synthetic_split):
    from advrec.recipes.ranking import BPRMFConfig, run_bprmf

    config = BPRMFConfig(dim=8, l2=1e-3, epochs=2, batch_size=1024)
    first, second = (run_bprmf(synthetic_split, config, seed=1) for _ in range(2))
    assert isinstance(first.model, BPRMF) and first.model.l2 == 1e-3
    assert len(first.history["train"]["epoch"]) <= 2
    np.testing.assert_array_equal(
        first.model.user_factors.numpy(), second.model.user_factors.numpy()
    )
