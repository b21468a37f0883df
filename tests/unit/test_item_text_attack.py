"""The item-text attack on a small case with a known answer.

Ten items, five users and a TextBPR set by hand so that every user scores an item by its text's
similarity to one "taste" sentence about horror films. The attacker edits a family film's text:
HotFlip must raise the target's score and rank more than random edits of the same budget, never
edit more than ``k`` pieces, and leave every other item's score alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from text_fixtures import pretrained_encoder_or_skip

from advrec.attacks import item_text as attack
from advrec.data import Interactions, Split
from advrec.models.text import TextBPR

TEXTS = [
    "Toy Story. 1995. Animation, Children's, Comedy.",  # the target
    "Night of the Living Dead. 1968. Horror.",
    "The Shining. 1980. Horror.",
    "Scream. 1996. Horror, Thriller.",
    "Babe. 1995. Children's, Comedy, Drama.",
    "Heat. 1995. Action, Crime, Thriller.",
    "Emma. 1996. Comedy, Drama, Romance.",
    "Alien. 1979. Action, Horror, Sci-Fi.",
    "Fargo. 1996. Crime, Drama, Thriller.",
    "Casablanca. 1942. Drama, Romance, War.",
]
TASTE = "A terrifying horror film about zombies, blood and fear."
TARGET, K = 0, 3


@pytest.fixture(scope="module")
def case():
    encoder = pretrained_encoder_or_skip()
    texts = encoder.encode_texts(TEXTS)
    taste = encoder.encode_texts([TASTE])[0]
    # Users 0-4 each had two of items 1-9 (user 4's second one is held out as its test item);
    # nobody had the target.
    users = np.repeat(np.arange(5), 2)
    items = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 2])
    table = Interactions.from_arrays(users, items, n_users=5, n_items=len(TEXTS))
    rows = np.arange(len(table))
    split = Split(
        train=table.select(rows != 9),
        valid=table.select(rows < 0),
        test=table.select(rows == 9),
        protocol="hand-made",
    )
    model = TextBPR(split.train, texts, dim=1, seed=0)
    model.projection.assign(taste[:, np.newaxis])  # score = t · taste for every user
    model.user_factors.assign(np.ones((5, 1), np.float32))
    return encoder, model, split, taste


def test_the_objective_is_the_targets_mean_score_over_users_who_never_had_it(case):
    encoder, model, split, taste = case
    objective = attack.ExposureObjective(model, split, TARGET)
    np.testing.assert_array_equal(objective.users.numpy(), np.arange(5))
    text = model.item_text.numpy()[TARGET]
    assert float(objective(tf.constant(text[np.newaxis]))[0]) == pytest.approx(
        text @ taste, abs=1e-5
    )
    with pytest.raises(TypeError, match="has no score_texts"):
        attack.ExposureObjective(object(), split, TARGET)


@pytest.mark.slow  # about 5 s: a dozen forward and backward passes of the encoder
def test_hotflip_beats_random_edits_and_never_exceeds_the_budget(case):
    encoder, model, split, _ = case
    objective = attack.ExposureObjective(model, split, TARGET)
    ids = encoder.tokenizer.encode(TEXTS[TARGET])
    edited = attack.hotflip_edit(encoder, objective, ids, K, candidates=16)
    assert 1 <= edited.n_edits <= K
    assert attack.count_edits(edited.original_ids, edited.token_ids) <= K
    assert np.all(np.diff(edited.objective) > 0)  # every kept edit raised the objective
    # The recorded embeddings are those of the recorded ids.
    for j in range(edited.n_edits + 1):
        again = encoder.encode_texts([encoder.tokenizer.decode(edited.ids_after(j))])[0]
        recorded = edited.embedding_after(j)
        assert float(again @ recorded) > 0.99  # decode/re-tokenise may re-cut a piece
    np.testing.assert_allclose(
        encoder((edited.token_ids[np.newaxis], np.ones((1, len(edited.token_ids)), np.int32)))[0],
        edited.embedding,
        atol=1e-5,
    )
    randoms = [attack.random_edit(encoder, objective, ids, K, seed=s) for s in range(3)]
    assert all(r.n_edits == K for r in randoms)
    assert all(attack.count_edits(r.original_ids, r.token_ids) == K for r in randoms)
    gain = edited.objective[-1] - edited.objective[0]
    random_gain = np.mean([r.objective[-1] - r.objective[0] for r in randoms])
    assert gain > 0.1 and gain > 3 * max(random_gain, 0.0), (gain, random_gain)

    ks = (1, 5)  # ten items: the default cut-off 50 is refused
    clean = attack.exposure_with_text(model, split, TARGET, ks=ks)
    after = attack.exposure_with_text(model, split, TARGET, edited.embedding, ks=ks)
    random_rank = np.mean(
        [
            attack.exposure_with_text(model, split, TARGET, r.embedding, ks=ks)["mean_rank"]
            for r in randoms
        ]
    )
    assert after["mean_rank"] < clean["mean_rank"] and after["mean_rank"] < random_rank
    before, then = attack.quality_on_other_items(model, split, TARGET, edited.embedding)
    assert before == then  # other items' scores are untouched


def test_budget_zero_and_bad_budgets(case):
    encoder, model, split, _ = case
    objective = attack.ExposureObjective(model, split, TARGET)
    ids = encoder.tokenizer.encode(TEXTS[TARGET])
    for search in (attack.hotflip_edit, attack.random_edit):
        none = search(encoder, objective, ids, 0)
        assert none.n_edits == 0 and list(none.token_ids) == ids
        with pytest.raises(ValueError, match="must be an int >= 0"):
            search(encoder, objective, ids, -1)


def test_count_edits_counts_replacements_and_appends():
    assert attack.count_edits([101, 5, 6, 102], [101, 5, 6, 102]) == 0
    assert attack.count_edits([101, 5, 6, 102], [101, 7, 6, 9, 102]) == 2
    with pytest.raises(ValueError, match="keep \\[CLS\\] first"):
        attack.count_edits([101, 5, 102], [5, 102])


def test_with_target_text_changes_only_the_target_column(case):
    _, model, split, _ = case
    users = tf.constant([0, 2])
    new_text = np.zeros(model.item_text.shape[1], np.float32)
    scores = attack.with_target_text(model, TARGET, new_text)(users).numpy()
    clean = model.score_all(users).numpy()
    np.testing.assert_array_equal(scores[:, 1:], clean[:, 1:])
    np.testing.assert_allclose(scores[:, TARGET], 0.0, atol=1e-7)


def test_whole_words_are_letters_only_and_long_enough(case):
    encoder = case[0]
    words = attack.whole_word_ids(encoder.tokenizer)
    pieces = np.array(encoder.tokenizer.pieces)
    assert {"horror", "zombie", "the"} <= set(pieces[words])
    assert not {"##ing", "[CLS]", "a", "1995", "é"} & set(pieces[words])
    assert not (words & ~attack.editable_ids(encoder.tokenizer)).any()


def test_a_budget_past_the_longest_text_is_refused(case):
    encoder, model, split, _ = case
    objective = attack.ExposureObjective(model, split, TARGET)
    with pytest.raises(ValueError, match="exceed the encoder's max_length 256"):
        attack.hotflip_edit(encoder, objective, [101] + [1996] * 250 + [102], 5)


def test_the_best_unit_text_is_the_taste_and_bounds_every_edit(case):
    encoder, model, split, taste = case
    objective = attack.ExposureObjective(model, split, TARGET)
    best = attack.best_unit_text(objective)
    np.testing.assert_allclose(best, taste / np.linalg.norm(taste), atol=1e-5)
    texts = encoder.encode_texts(TEXTS)  # any real text, the target's included
    assert float(objective(tf.constant(best[np.newaxis]))[0]) >= float(
        tf.reduce_max(objective(tf.constant(texts)))
    )


def test_text_sensitivity_is_the_largest_score_change_per_unit_of_text_in_score_spreads(case):
    _, model, _, taste = case
    # score = t_i · taste for every user: |W p_u + w| = |taste| = 1, spread = std_i(t_i · taste)
    spread = float(np.std(model.item_text.numpy() @ taste))
    assert attack.text_sensitivity(model) == pytest.approx(1.0 / spread, rel=1e-4)
    assert attack.text_sensitivity(model, users=[0, 3]) == pytest.approx(1.0 / spread, rel=1e-4)
