"""TextBPR keeps the model contract and learns; its adversarial variant perturbs the texts; its
tunable texts fine-tune the encoder's top blocks and nothing else."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.models.contract import TrainedRecommender, check_scores
from advrec.models.text import AdversarialTextBPR, TextBPR, TunableItemTexts
from advrec.protocol import evaluate_split
from advrec.text.encoder import EncoderConfig, SentenceEncoder
from advrec.training import fit_ranker

USERS = tf.constant([0, 1, 2, 1, 7])
POSITIVES = tf.constant([0, 1, 2, 1, 3])
NEGATIVES = tf.constant([5, 6, 7, 2, 5])


def _texts(n_items: int, width: int = 12, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n_items, width)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)  # unit length, like the encoder's


@pytest.mark.parametrize("item_ids", [False, True])
def test_scores_keep_the_contract_and_the_formula(synthetic_split, item_ids):
    train = synthetic_split.train
    texts = _texts(train.n_items)
    model = TextBPR(train, texts, dim=6, item_ids=item_ids, seed=1)
    assert isinstance(model, TrainedRecommender)
    users = tf.constant([0, 3, 5])
    scores = check_scores(model, users).numpy()
    p = model.user_factors.numpy()[[0, 3, 5]]
    q = texts @ model.projection.numpy()
    b = texts @ model.text_bias.numpy()
    if item_ids:
        q, b = q + model.item_factors.numpy(), b + model.item_bias.numpy()
    np.testing.assert_allclose(scores, p @ q.T + b, atol=1e-5)
    pairs = model.score_pairs(tf.constant([3, 5]), tf.constant([7, 9])).numpy()
    np.testing.assert_allclose(pairs, [scores[1, 7], scores[2, 9]], atol=1e-5)
    all_items = tf.range(train.n_items)
    np.testing.assert_allclose(
        model.score_texts(users, tf.constant(texts), all_items).numpy(), scores, atol=1e-6
    )
    assert len(model.trainable_variables) == (5 if item_ids else 3)  # item_text is frozen


def test_weights_round_trip(synthetic_split, tmp_path):
    texts = _texts(synthetic_split.n_items)
    model = TextBPR(synthetic_split.train, texts, dim=4, item_ids=True, seed=2)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    again = TextBPR(synthetic_split.train, np.zeros_like(texts), dim=4, item_ids=True, seed=9)
    again.load_weights(path)
    users = tf.constant([0, 1, 2])
    np.testing.assert_array_equal(again.score_all(users).numpy(), model.score_all(users).numpy())


def test_bad_inputs_are_refused(synthetic_split):
    train = synthetic_split.train
    with pytest.raises(ValueError, match=r"one row per item id, got shape \(3, 12\)"):
        TextBPR(train, _texts(3))
    with pytest.raises(ValueError, match="finite"):
        TextBPR(train, np.full((train.n_items, 4), np.nan))
    with pytest.raises(ValueError, match="dim must be >= 1"):
        TextBPR(train, _texts(train.n_items), dim=0)
    with pytest.raises(ValueError, match="epsilon"):
        AdversarialTextBPR(train, _texts(train.n_items), epsilon=-1.0)
    with pytest.raises(ValueError, match="fragile"):
        AdversarialTextBPR(train, _texts(train.n_items), adversarial_weight=-1.0)


@pytest.mark.slow
def test_it_learns_from_texts_that_carry_the_item_identity(synthetic_split):
    # One-hot "texts" make TextBPR a matrix factorisation: it must learn the planted preferences.
    texts = np.eye(synthetic_split.n_items, dtype=np.float32)
    keras.utils.set_random_seed(0)
    model = TextBPR(synthetic_split.train, texts, dim=8, l2=1e-3, seed=0)
    before = evaluate_split(model, synthetic_split, "valid")["ndcg@10"]
    fit_ranker(model, synthetic_split, epochs=30, batch_size=512, patience=None, verbose=0)
    after = evaluate_split(model, synthetic_split, "valid")["ndcg@10"]
    assert after > 2 * before and after > 0.1, (before, after)


def _trained_weights(model, split, epochs=2):
    keras.utils.set_random_seed(0)
    fit_ranker(model, split, epochs=epochs, batch_size=512, patience=None, verbose=0)
    return [w.numpy() for w in model.trainable_variables]


@pytest.mark.slow
def test_without_the_adversary_it_is_textbpr_and_differs_with_it(synthetic_split):
    texts = _texts(synthetic_split.n_items)
    plain = _trained_weights(TextBPR(synthetic_split.train, texts, dim=8, seed=3), synthetic_split)
    for settings in ({"epsilon": 0.0}, {"adversarial_weight": 0.0}):
        model = AdversarialTextBPR(synthetic_split.train, texts, dim=8, seed=3, **settings)
        for mine, theirs in zip(_trained_weights(model, synthetic_split), plain, strict=True):
            # Not bit for bit: two runs of TextBPR itself differ by ~1e-8, as its matmuls run
            # on several CPU threads; the adversary moves them by about 0.1.
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6)
    model = AdversarialTextBPR(synthetic_split.train, texts, epsilon=0.3, dim=8, seed=3)
    assert np.abs(_trained_weights(model, synthetic_split)[0] - plain[0]).max() > 1e-3


def test_the_text_shift_is_the_worst_one_of_norm_epsilon(synthetic_split):
    model = AdversarialTextBPR(
        synthetic_split.train, _texts(synthetic_split.n_items), epsilon=0.2, dim=8, seed=0
    )
    d_pos, d_neg = model.adversarial_text_shift(USERS, POSITIVES, NEGATIVES)
    for shift in (d_pos, d_neg):
        np.testing.assert_allclose(np.linalg.norm(shift.numpy(), axis=1), 0.2, rtol=1e-5)
    # Item 1 is a positive twice: one direction per item, as APR normalises per table row.
    np.testing.assert_allclose(d_pos.numpy()[1], d_pos.numpy()[3])
    clean = float(
        tf.reduce_mean(tf.math.softplus(-model.batch_margin(USERS, POSITIVES, NEGATIVES)[0]))
    )
    worst = model.batch_margin(USERS, POSITIVES, NEGATIVES, (d_pos, d_neg))[0]
    worst = float(tf.reduce_mean(tf.math.softplus(-worst)))
    rng = np.random.default_rng(0)
    random = [rng.normal(size=d.shape).astype(np.float32) for d in (d_pos, d_neg)]
    random = tuple(0.2 * r / np.linalg.norm(r, axis=1, keepdims=True) for r in random)
    random_loss = model.batch_margin(USERS, POSITIVES, NEGATIVES, random)[0]
    random_loss = float(tf.reduce_mean(tf.math.softplus(-random_loss)))
    assert worst - clean > 3 * abs(random_loss - clean) and worst > clean


def test_every_trainable_variable_gets_a_gradient_and_the_shift_is_a_constant(synthetic_split):
    texts = _texts(synthetic_split.n_items)
    model = AdversarialTextBPR(synthetic_split.train, texts, epsilon=0.3, dim=8, item_ids=True)
    with tf.GradientTape() as tape:
        loss, extras = model.pairwise_loss(USERS, POSITIVES, NEGATIVES)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) > 0 for g in gradients)
    assert {"clean_loss", "adversarial_loss"} <= set(extras)
    frozen = tuple(
        tf.constant(d.numpy()) for d in model.adversarial_text_shift(USERS, POSITIVES, NEGATIVES)
    )
    with tf.GradientTape() as tape:
        margin, penalty = model.batch_margin(USERS, POSITIVES, NEGATIVES)
        shifted, _ = model.batch_margin(USERS, POSITIVES, NEGATIVES, frozen)
        expected_loss = (
            tf.reduce_mean(tf.math.softplus(-margin))
            + penalty
            + tf.reduce_mean(tf.math.softplus(-shifted))
        )
    expected = tape.gradient(expected_loss, model.trainable_variables)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-6)
    for mine, theirs in zip(gradients, expected, strict=True):
        np.testing.assert_allclose(
            tf.convert_to_tensor(mine).numpy(), tf.convert_to_tensor(theirs).numpy(), atol=1e-6
        )


SMALL = EncoderConfig(vocab_size=30, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                      intermediate_size=16, max_position_embeddings=12)  # fmt: skip


def _small_encoder_and_tokens(n_items: int, seed: int = 0):
    """A random 3-block encoder and random token ids [n_items, 6] with ragged masks."""
    encoder = SentenceEncoder(SMALL)
    rng = np.random.default_rng(seed)
    encoder.set_weights(
        [rng.normal(0, 0.3, w.shape).astype(np.float32) for w in encoder.get_weights()]
    )
    lengths = rng.integers(3, 7, n_items)
    mask = (np.arange(6)[np.newaxis] < lengths[:, np.newaxis]).astype(np.int32)
    ids = rng.integers(1, SMALL.vocab_size, (n_items, 6)).astype(np.int32) * mask
    return encoder, ids, mask


@pytest.mark.slow  # one epoch through an (adversarial) step that re-encodes every item
def test_tunable_texts_start_as_the_encoder_and_train_only_the_top_blocks(synthetic_split):
    n_items = synthetic_split.n_items
    encoder, ids, mask = _small_encoder_and_tokens(n_items)
    before = [w.numpy().copy() for w in encoder.weights]
    texts = TunableItemTexts(encoder, ids, mask, tuned_layers=1, batch_size=64)
    np.testing.assert_allclose(texts.embeddings().numpy(), encoder((ids, mask)).numpy(), atol=1e-6)
    model = AdversarialTextBPR(synthetic_split.train, texts, epsilon=0.1, dim=4, seed=0)
    block_weights = 2 * 6 + 2 * 2  # six Dense (kernel, bias) and two LayerNorms (gamma, beta)
    assert len(model.trainable_variables) == 3 + block_weights
    assert not any(v is texts.frozen_hidden for v in model.trainable_variables)
    keras.utils.set_random_seed(0)
    fit_ranker(model, synthetic_split, epochs=1, batch_size=512, patience=None, verbose=0)
    for old, new in zip(before, encoder.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())  # the pretrained encoder is untouched
    tuned = texts.as_encoder(encoder)
    assert not np.allclose(tuned((ids, mask)).numpy(), encoder((ids, mask)).numpy(), atol=1e-4)
    np.testing.assert_allclose(tuned((ids, mask)).numpy(), texts.embeddings().numpy(), atol=1e-5)
    users = tf.constant([0, 1])
    np.testing.assert_allclose(
        model.score_all(users).numpy(),
        model.score_texts(users, texts.embeddings(), tf.range(n_items)).numpy(),
        atol=1e-5,
    )


def test_tunable_texts_refuse_bad_settings(synthetic_split):
    encoder, ids, mask = _small_encoder_and_tokens(5)
    with pytest.raises(ValueError, match=r"tuned_layers must be in \[1, 3\]"):
        TunableItemTexts(encoder, ids, mask, tuned_layers=4)
    with pytest.raises(ValueError, match="must both be"):
        TunableItemTexts(encoder, ids, mask[:, :3])
    with pytest.raises(ValueError, match="hold 5 items, the training table 200"):
        TextBPR(synthetic_split.train, TunableItemTexts(encoder, ids, mask))
