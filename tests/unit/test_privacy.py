"""The adversarially private BPR-MF: reversal layer, lambda = 0, both players' gradients."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.attacks.inference import UNDISCLOSED as INFERENCE_UNDISCLOSED
from advrec.attacks.inference import gender_labels, partition_users
from advrec.data import positive_pairs, synthetic_movielens
from advrec.models.mf import BPRMF
from advrec.models.privacy import UNDISCLOSED, AdversarialBPRMF, reverse_gradient


@pytest.fixture(scope="module")
def data():
    dataset = synthetic_movielens(n_users=80, n_items=60, gender_signal=1.0, seed=1)
    return dataset.interactions, gender_labels(dataset.users)


def _dense(gradient) -> np.ndarray:
    return tf.convert_to_tensor(gradient).numpy()


def test_reverse_gradient_is_identity_forward_and_flips_backward():
    x = tf.constant([[1.0, -2.0], [0.5, 3.0]])
    upstream = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = reverse_gradient(x, tf.constant(2.5))
        loss = tf.reduce_sum(y * upstream)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), -2.5 * upstream.numpy())


def _train(model, interactions, epochs=2, eager=True):
    """A few Adam steps through ``fit`` (eager: no tracing, faster on tiny data)."""
    model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=eager)
    model.fit(positive_pairs(interactions, 128, seed=0), epochs=epochs, verbose=0, shuffle=False)
    return model


@pytest.mark.slow
def test_lambda_zero_trains_exactly_like_bprmf(data):
    interactions, labels = data
    plain = _train(BPRMF(interactions, dim=8, seed=3), interactions)
    for objective in ("reversal", "confusion"):
        private = _train(
            AdversarialBPRMF(
                interactions, labels, adversary_weight=0.0, objective=objective, dim=8, seed=3
            ),
            interactions,
        )
        for name in ("user_factors", "item_factors", "item_bias"):
            np.testing.assert_allclose(
                getattr(private, name).numpy(), getattr(plain, name).numpy(), rtol=1e-5, atol=1e-6
            )
    pushed = _train(
        AdversarialBPRMF(interactions, labels, adversary_weight=1.0, dim=8, seed=3), interactions
    )
    assert not np.allclose(pushed.user_factors.numpy(), plain.user_factors.numpy(), atol=1e-4)


def _plain_cross_entropy(model, users, target=None):
    """The adversary's cross-entropy on the distinct users, no reversal (labels or a target)."""
    distinct, _ = tf.unique(users)
    logits = model.adversary(tf.gather(model.user_factors, distinct))
    if target is None:
        labels = tf.gather(model.user_labels, distinct)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    target = tf.broadcast_to(target, tf.shape(logits))
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))


def test_reversal_sends_minus_lambda_times_the_adversary_gradient_to_the_factors(data):
    interactions, labels = data
    model = AdversarialBPRMF(
        interactions,
        labels,
        adversary_weight=3.0,
        objective="reversal",
        adversary_hidden=(16,),
        dim=8,
        seed=0,
    )
    users = tf.constant([0, 5, 5, 17, 42, 79], tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        adversary_loss, defence_loss = model.privacy_losses(users)
        plain = _plain_cross_entropy(model, users)
    np.testing.assert_allclose(adversary_loss.numpy(), plain.numpy(), rtol=1e-6)
    assert float(defence_loss) == 0.0
    reversed_ = _dense(tape.gradient(adversary_loss, model.user_factors))
    forward = _dense(tape.gradient(plain, model.user_factors))
    assert np.abs(forward).sum() > 0
    np.testing.assert_allclose(reversed_, -3.0 * forward, rtol=1e-5, atol=1e-8)
    # The adversary's own parameters get the plain (un-reversed) gradient: they descend the CE.
    for variable in model.adversary.trainable_variables:
        np.testing.assert_allclose(
            _dense(tape.gradient(adversary_loss, variable)),
            _dense(tape.gradient(plain, variable)),
            rtol=1e-5,
            atol=1e-8,
        )


def test_confusion_moves_only_the_factors_towards_the_base_rate(data):
    interactions, labels = data
    model = AdversarialBPRMF(
        interactions,
        labels,
        adversary_weight=2.0,
        objective="confusion",
        adversary_hidden=(16,),
        dim=8,
        seed=0,
    )
    users = tf.constant([1, 2, 3, 3, 60], tf.int32)
    prior = np.bincount(labels, minlength=2) / len(labels)
    with tf.GradientTape(persistent=True) as tape:
        adversary_loss, defence_loss = model.privacy_losses(users)
        to_prior = _plain_cross_entropy(model, users, tf.constant(prior, tf.float32))
        plain = _plain_cross_entropy(model, users)
        total = adversary_loss + defence_loss
    np.testing.assert_allclose(defence_loss.numpy(), 2.0 * to_prior.numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        _dense(tape.gradient(total, model.user_factors)),
        2.0 * _dense(tape.gradient(to_prior, model.user_factors)),
        rtol=1e-5,
        atol=1e-8,
    )
    for variable in model.adversary.trainable_variables:
        np.testing.assert_allclose(
            _dense(tape.gradient(total, variable)),
            _dense(tape.gradient(plain, variable)),
            rtol=1e-5,
            atol=1e-8,
        )


@pytest.mark.parametrize("objective", ["reversal", "confusion"])
def test_the_adversary_is_updated_to_reduce_its_loss(data, objective):
    interactions, labels = data
    model = AdversarialBPRMF(
        interactions, labels, adversary_weight=1.0, objective=objective, dim=8, seed=0
    )
    all_users = tf.range(interactions.n_users, dtype=tf.int32)
    factors_before = model.user_factors.numpy()
    loss_before = float(model.privacy_losses(all_users)[0])
    model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=True)
    batches = positive_pairs(interactions, len(interactions), seed=0)  # one step per epoch
    model.fit(batches, epochs=5, verbose=0, shuffle=False)
    model.user_factors.assign(factors_before)  # same inputs: only the adversary has changed
    loss_after = float(model.privacy_losses(all_users)[0])
    assert loss_after < loss_before - 0.01


@pytest.mark.slow
def test_fit_reports_the_adversary_loss(data):
    interactions, labels = data
    model = AdversarialBPRMF(interactions, labels, dim=8, seed=0)
    _train(model, interactions, epochs=1, eager=False)  # traced: the step must run as a graph
    assert np.isfinite(model.history.history["adversary_loss"][-1])
    probabilities = model.attribute_probabilities(tf.constant([0, 1, 2]))
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_bad_arguments_say_what_to_fix(data):
    interactions, labels = data
    with pytest.raises(ValueError, match="one label per user"):
        AdversarialBPRMF(interactions, labels[:-1])
    with pytest.raises(TypeError, match="integer class ids"):
        AdversarialBPRMF(interactions, labels.astype(float))
    with pytest.raises(ValueError, match=">= 0"):
        AdversarialBPRMF(interactions, labels, adversary_weight=-1.0)
    with pytest.raises(ValueError, match="objective"):
        AdversarialBPRMF(interactions, labels, objective="flip")
    with pytest.raises(ValueError, match="at least two classes"):
        AdversarialBPRMF(interactions, np.zeros_like(labels))


# Undisclosed users: their labels are never read, and the means count disclosed users only.


def _masked(labels, undisclosed):
    masked = labels.copy()
    masked[undisclosed] = UNDISCLOSED
    return masked


@pytest.mark.parametrize("objective", ["reversal", "confusion"])
def test_undisclosed_users_do_not_train_the_adversary(data, objective):
    interactions, labels = data
    undisclosed = np.arange(0, interactions.n_users, 2)  # every second user
    model = AdversarialBPRMF(
        interactions,
        _masked(labels, undisclosed),
        adversary_weight=2.0,
        objective=objective,
        adversary_hidden=(16,),
        dim=8,
        seed=0,
    )
    disclosed = np.setdiff1d(np.arange(interactions.n_users), undisclosed)
    np.testing.assert_allclose(
        model.attribute_prior.numpy(), np.bincount(labels[disclosed], minlength=2) / len(disclosed)
    )
    users = tf.constant([0, 1, 1, 2, 3, 3, 3, 4, 7, 10], tf.int32)  # 0, 2, 4, 10 undisclosed
    with tf.GradientTape(persistent=True) as tape:
        adversary_loss, defence_loss = model.privacy_losses(users)
        reference = _plain_cross_entropy(model, tf.constant([1, 3, 7], tf.int32))
    np.testing.assert_allclose(adversary_loss.numpy(), reference.numpy(), rtol=1e-6)
    gradient = tape.gradient(adversary_loss, model.user_factors)  # None: confusion stops it
    factor_gradient = np.zeros(model.user_factors.shape) if gradient is None else _dense(gradient)
    np.testing.assert_array_equal(factor_gradient[[0, 2, 4, 10]], 0.0)  # the label is not used
    if objective == "reversal":
        assert np.abs(factor_gradient[[1, 3, 7]]).sum() > 0
    for variable in model.adversary.trainable_variables:
        np.testing.assert_allclose(
            _dense(tape.gradient(adversary_loss, variable)),
            _dense(tape.gradient(reference, variable)),
            rtol=1e-5,
            atol=1e-8,
        )
    if objective == "confusion":  # needs no label: every user is pushed towards the base rate
        confusion = _dense(tape.gradient(defence_loss, model.user_factors))
        assert np.all(np.abs(confusion[[0, 1, 2, 3, 4, 7, 10]]).sum(axis=1) > 0)


@pytest.mark.parametrize("objective", ["reversal", "confusion"])
def test_a_batch_without_disclosed_users_gives_finite_zero_adversary_terms(data, objective):
    interactions, labels = data
    model = AdversarialBPRMF(
        interactions, _masked(labels, np.arange(40)), objective=objective, dim=8, seed=0
    )
    users = tf.constant([0, 3, 3, 39], tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        adversary_loss, defence_loss = model.privacy_losses(users)
        total = adversary_loss + defence_loss
    assert float(adversary_loss) == 0.0 and np.isfinite(float(defence_loss))
    gradients = tape.gradient(total, [model.user_factors, *model.adversary.trainable_variables])
    for gradient in gradients:
        if gradient is not None:
            assert np.all(np.isfinite(_dense(gradient)))
    for variable in model.adversary.trainable_variables:
        assert not np.any(_dense(tape.gradient(adversary_loss, variable)))


@pytest.mark.slow
def test_an_undisclosed_users_true_label_cannot_change_training(data):
    """Flipping the true labels of the undisclosed users leaves the trained model unchanged,
    while flipping a disclosed user's label changes it (a traced, compiled step)."""
    interactions, labels = data
    partition = partition_users(labels, (0.5, 0.25), seed=0)
    flipped = labels.copy()
    hidden = np.concatenate([partition.selection, partition.evaluation])
    flipped[hidden] = 1 - flipped[hidden]
    models = [
        _train(
            AdversarialBPRMF(interactions, partition.disclosed_labels(truth), dim=8, seed=3),
            interactions,
            eager=False,
        )
        for truth in (labels, flipped)
    ]
    for name in ("user_factors", "item_factors"):
        np.testing.assert_array_equal(getattr(models[0], name), getattr(models[1], name))
    for a, b in zip(models[0].adversary.weights, models[1].adversary.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    disclosed_flip = flipped.copy()
    disclosed_flip[hidden] = labels[hidden]
    disclosed_flip[partition.disclosed[:5]] = 1 - disclosed_flip[partition.disclosed[:5]]
    changed = _train(
        AdversarialBPRMF(interactions, partition.disclosed_labels(disclosed_flip), dim=8, seed=3),
        interactions,
        eager=False,
    )
    assert not np.allclose(changed.user_factors.numpy(), models[0].user_factors.numpy())


def test_undisclosed_marker_is_shared_and_checked(data):
    interactions, labels = data
    assert UNDISCLOSED == INFERENCE_UNDISCLOSED == -1
    with pytest.raises(ValueError, match="every user is undisclosed"):
        AdversarialBPRMF(interactions, np.full_like(labels, UNDISCLOSED))
    with pytest.raises(ValueError, match="or be -1"):
        AdversarialBPRMF(interactions, np.where(labels == 1, -2, labels))
    with pytest.raises(ValueError, match="two classes among the disclosed"):
        AdversarialBPRMF(interactions, np.where(labels == 1, UNDISCLOSED, labels))
