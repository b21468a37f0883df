"""Embedding attacks: budgets are respected, the loss goes up, the model is never modified."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.attacks import embedding as attacks
from advrec.metrics import evaluate_ranking
from advrec.models import BPRMF, ItemPop
from advrec.models.apr import AMF
from advrec.protocol import evaluate_split
from advrec.training import fit_ranker


@pytest.fixture(scope="module")
def model_and_train(synthetic_split):
    """A BPR-MF trained on the synthetic data (early-stopped on validation, about 4 s)."""
    keras.utils.set_random_seed(0)
    model = BPRMF(synthetic_split.train, dim=8, seed=0)
    fit_ranker(model, synthetic_split, epochs=30, batch_size=512, verbose=0)
    return model, synthetic_split.train


def _attack_loss(model, train, perturbation):
    tables = attacks.FactorTables.of(model)
    triples = attacks.training_triples(train, seed=0)
    return float(attacks.bpr_loss_of_tables(tables, perturbation, triples))


def _zero(model):
    return attacks.Perturbation(
        tf.zeros_like(model.user_factors), tf.zeros_like(model.item_factors)
    )


def test_fgsm_moves_every_touched_row_by_epsilon_and_raises_the_loss(model_and_train):
    model, train = model_and_train
    delta = attacks.fgsm_perturbation(model, train, epsilon=0.2)
    user_norms = np.linalg.norm(delta.users.numpy(), axis=1)
    trained_users = np.flatnonzero(train.user_counts() > 0)
    np.testing.assert_allclose(user_norms[trained_users], 0.2, rtol=1e-5)
    assert delta.max_row_norm() == pytest.approx(0.2, rel=1e-5)
    clean, attacked = _attack_loss(model, train, _zero(model)), _attack_loss(model, train, delta)
    assert attacked > clean + 0.05


def test_fgsm_beats_a_random_perturbation_of_the_same_size(model_and_train):
    model, train = model_and_train
    rng = np.random.default_rng(0)

    def random_rows(shape):
        r = rng.normal(size=shape).astype(np.float32)
        return tf.constant(0.2 * r / np.linalg.norm(r, axis=1, keepdims=True))

    random = attacks.Perturbation(
        random_rows(model.user_factors.shape), random_rows(model.item_factors.shape)
    )
    fgsm = attacks.fgsm_perturbation(model, train, epsilon=0.2)
    clean = _attack_loss(model, train, _zero(model))
    assert _attack_loss(model, train, fgsm) - clean > 5 * abs(
        _attack_loss(model, train, random) - clean
    )


def test_iterative_attack_stays_in_the_ball_and_is_at_least_as_strong(model_and_train):
    model, train = model_and_train
    fgsm = attacks.fgsm_perturbation(model, train, epsilon=0.3)
    pgd = attacks.iterative_perturbation(model, train, epsilon=0.3, steps=5)
    assert pgd.max_row_norm() <= 0.3 * (1 + 1e-5)
    assert _attack_loss(model, train, pgd) >= _attack_loss(model, train, fgsm) - 1e-4
    # One step of size epsilon is FGSM.
    one_step = attacks.iterative_perturbation(model, train, 0.3, steps=1, step_size=0.3)
    np.testing.assert_allclose(one_step.users.numpy(), fgsm.users.numpy(), atol=1e-6)


def test_attacks_leave_the_model_untouched_and_hurt_its_ranking(model_and_train, synthetic_split):
    model, train = model_and_train
    weights = [w.numpy().copy() for w in model.weights]
    users = tf.constant([0, 1, 2])
    before = model.score_all(users).numpy()
    clean = evaluate_ranking(model.score_all, synthetic_split.valid, exclude=train)["ndcg@10"]
    for method in attacks.ATTACKS:
        score_fn = attacks.attacked_score_all(model, train, epsilon=1.0, method=method, steps=3)
        attacked = evaluate_ranking(score_fn, synthetic_split.valid, exclude=train)["ndcg@10"]
        assert attacked < 0.85 * clean, (method, attacked, clean)
    for kept, now in zip(weights, model.weights, strict=True):
        np.testing.assert_array_equal(kept, now.numpy())
    np.testing.assert_array_equal(model.score_all(users).numpy(), before)


def test_zero_budget_changes_nothing(model_and_train):
    model, train = model_and_train
    users = tf.constant([3, 4])
    for method in attacks.ATTACKS:
        score_fn = attacks.attacked_score_all(model, train, epsilon=0.0, method=method, steps=2)
        np.testing.assert_allclose(
            score_fn(users).numpy(), model.score_all(users).numpy(), atol=1e-6
        )


def test_perturbed_scores_are_those_of_the_moved_tables(model_and_train):
    model, train = model_and_train
    delta = attacks.fgsm_perturbation(model, train, epsilon=0.1)
    p = model.user_factors.numpy() + delta.users.numpy()
    q = model.item_factors.numpy() + delta.items.numpy()
    expected = p[[5, 6]] @ q.T + model.item_bias.numpy()
    got = attacks.perturbed_score_all(model, delta)(tf.constant([5, 6])).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_attacks_work_on_amf_too(synthetic_split):
    model = AMF(synthetic_split.train, dim=8, seed=0)
    delta = attacks.fgsm_perturbation(model, synthetic_split.train, epsilon=0.1)
    assert delta.items.shape == model.item_factors.shape


def test_bad_input_is_rejected(model_and_train):
    model, train = model_and_train
    with pytest.raises(ValueError, match="epsilon"):
        attacks.fgsm_perturbation(model, train, epsilon=-0.1)
    with pytest.raises(ValueError, match="unknown attack"):
        attacks.attacked_score_all(model, train, 0.1, method="cw")
    with pytest.raises(ValueError, match="steps"):
        attacks.iterative_perturbation(model, train, 0.1, steps=0)
    with pytest.raises(TypeError, match="matrix-factorisation"):
        attacks.fgsm_perturbation(ItemPop(train), train, 0.1)


def test_robustness_curve_starts_at_the_clean_metrics_and_falls(model_and_train, synthetic_split):
    model, _ = model_and_train
    clean = evaluate_split(model, synthetic_split, "test")
    for method in attacks.ATTACKS:
        curve = attacks.robustness_curve(model, synthetic_split, [0.0, 2.0], method=method, steps=3)
        assert set(curve) >= {"ndcg@10", "recall@10"}
        assert curve["ndcg@10"][0] == pytest.approx(clean["ndcg@10"], abs=1e-6)
        assert curve["ndcg@10"][1] < 0.85 * curve["ndcg@10"][0]
    # The curve's FGSM point is the one-off attack's.
    single = attacks.evaluate_under_attack(model, synthetic_split, 2.0, method="fgsm")
    fgsm = attacks.robustness_curve(model, synthetic_split, [2.0])
    assert fgsm["ndcg@10"][0] == pytest.approx(single["ndcg@10"], abs=1e-6)


def test_relative_budget_moves_every_row_by_its_share_of_its_own_norm(model_and_train):
    model, train = model_and_train
    user_norms = np.linalg.norm(model.user_factors.numpy(), axis=1)
    trained_users = np.flatnonzero(train.user_counts() > 0)
    fgsm = attacks.fgsm_perturbation(model, train, epsilon=0.2, relative=True)
    moved = np.linalg.norm(fgsm.users.numpy(), axis=1)
    np.testing.assert_allclose(moved[trained_users], 0.2 * user_norms[trained_users], rtol=1e-4)
    pgd = attacks.iterative_perturbation(model, train, epsilon=0.2, steps=4, relative=True)
    item_norms = np.linalg.norm(model.item_factors.numpy(), axis=1)
    assert np.all(np.linalg.norm(pgd.items.numpy(), axis=1) <= 0.2 * item_norms * (1 + 1e-5) + 1e-7)
    assert _attack_loss(model, train, pgd) >= _attack_loss(model, train, fgsm) - 1e-4


def test_relative_attack_is_blind_to_the_scale_of_the_embeddings(model_and_train, synthetic_split):
    # Scaling P up and Q down by the same factor leaves every score unchanged; an absolute budget
    # then hurts the two models differently, a relative one does not.
    model, train = model_and_train
    scaled = BPRMF(train, dim=8, seed=0)
    scaled.user_factors.assign(10.0 * model.user_factors)
    scaled.item_factors.assign(model.item_factors / 10.0)
    scaled.item_bias.assign(model.item_bias)
    curves = {
        relative: [
            attacks.robustness_curve(m, synthetic_split, [0.3], relative=relative)["ndcg@10"][0]
            for m in (model, scaled)
        ]
        for relative in (False, True)
    }
    assert curves[True][0] == pytest.approx(curves[True][1], abs=1e-3)
    assert abs(curves[False][0] - curves[False][1]) > 0.02


def test_embedding_norms_are_the_row_norms_of_the_tables(model_and_train):
    model, _ = model_and_train
    norms = attacks.embedding_norms(model)
    users = np.linalg.norm(model.user_factors.numpy(), axis=1)
    items = np.linalg.norm(model.item_factors.numpy(), axis=1)
    assert norms["user mean"] == pytest.approx(users.mean(), rel=1e-5)
    assert norms["user median"] == pytest.approx(np.median(users), rel=1e-5)
    assert norms["item mean"] == pytest.approx(items.mean(), rel=1e-5)
    assert norms["item median"] == pytest.approx(np.median(items), rel=1e-5)


def test_attack_settings_that_would_run_silently_wrong_are_refused(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=4, seed=0)  # untrained: only the checks run
    train = synthetic_split.train
    with pytest.raises(ValueError, match="budgets is empty"):  # used to return {}
        attacks.robustness_curve(model, synthetic_split, [])
    for step_size in (np.nan, -1.0):  # NaN gave a NaN perturbation, -1 a descent
        with pytest.raises(ValueError, match="step_size must be a finite number > 0"):
            attacks.iterative_perturbation(model, train, 0.1, step_size=step_size)
    with pytest.raises(ValueError, match="steps must be a whole number"):
        attacks.iterative_perturbation(model, train, 0.1, steps=2.5)
    with pytest.raises(ValueError, match="negatives_per_pair must be a whole number"):
        attacks.fgsm_perturbation(model, train, 0.1, negatives_per_pair=2.5)
    with pytest.raises(TypeError, match="epsilon must be a number, got True"):
        attacks.fgsm_perturbation(model, train, True)  # was a budget of 1.0


def test_the_random_control_moves_every_row_by_the_budget_and_hurts_less(
    model_and_train, synthetic_split
):
    model, train = model_and_train
    delta = attacks.random_perturbation(model, epsilon=0.3, seed=1)
    for moved in (delta.users.numpy(), delta.items.numpy()):
        np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 0.3, rtol=1e-5)
    again = attacks.random_perturbation(model, epsilon=0.3, seed=1)
    np.testing.assert_array_equal(delta.users.numpy(), again.users.numpy())
    relative = attacks.random_perturbation(model, epsilon=0.5, seed=1, relative=True)
    np.testing.assert_allclose(
        np.linalg.norm(relative.items.numpy(), axis=1),
        0.5 * np.linalg.norm(model.item_factors.numpy(), axis=1),
        rtol=1e-4,
    )
    curves = {
        method: attacks.robustness_curve(model, synthetic_split, [0.0, 1.0], method=method)
        for method in ("fgsm", "random")
    }
    assert curves["random"]["ndcg@10"][0] == pytest.approx(curves["fgsm"]["ndcg@10"][0])
    assert curves["random"]["ndcg@10"][1] > curves["fgsm"]["ndcg@10"][1]
    score_fn = attacks.attacked_score_all(model, train, 0.0, method="random")
    users = tf.constant([0, 1])
    np.testing.assert_allclose(score_fn(users).numpy(), model.score_all(users).numpy(), atol=1e-6)
