"""Adversarial item text: an item's owner rewrites a few word pieces of its text to climb the
rankings of a text-aware recommender.

Threat model. The attacker controls one *target* item's text (a seller edits a title or a
description) and may **replace or append at most ``k`` word pieces**; nothing else changes: no
fake users, no other item, no weights. It knows the recommender and the public text encoder
(white box: the strongest case, an upper bound for a black-box attacker who would work through a
surrogate). It wants the target shown to the users who have not consumed it yet: its goal is the
target's mean score over those users (:class:`ExposureObjective`), and it is measured by
:func:`advrec.attacks.shilling.target_exposure` -- HR@10, HR@50 and mean rank over those users.

The search (HotFlip, Ebrahimi et al., ACL 2018), greedy over ``k`` steps:

1. **First order.** With the token vectors ``v_p = E[x_p]`` (``E``: the encoder's word table),
   the objective ``f`` changes by about ``(E[w] - E[x_p]) · ∂f/∂v_p`` when position ``p`` is
   replaced by piece ``w`` -- the gradient with respect to the one-hot token, for every ``w`` of
   the vocabulary, from one backward pass. Appending is scored the same way at a new position
   filled with ``[MASK]`` first (``f`` of that text plus ``(E[w] - E[[MASK]]) · ∂f/∂v``).
2. **Verification.** The ``candidates`` best estimated edits are applied, re-encoded, and
   ``f`` is evaluated exactly; the best one is kept if it raises ``f`` (otherwise the search
   stops, with fewer than ``k`` edits).

Each original position is replaced at most once and appended pieces are not edited again, so
the edited text differs from the original in at most ``k`` pieces. :func:`random_edit` is the
control: ``k`` edits at random positions with random pieces, the same budget without the search.
:func:`exposure_with_text` and :func:`quality_on_other_items` measure what an edit does, and
does not do, to the recommender. :func:`best_unit_text` is the positive control: the text
embedding no edit can beat (for a model linear in the text embedding), and
:func:`text_sensitivity` how far a unit move of a text embedding can move a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from advrec.attacks.shilling import target_exposure
from advrec.data.splits import Split
from advrec.metrics import evaluate_ranking

EDIT_KINDS = ("replace", "append")


@dataclass(frozen=True)
class Edit:
    """One edit of a text's word pieces.

    Attributes:
        kind: ``"replace"`` or ``"append"``.
        position: index in the token ids (``[CLS]`` is 0); an appended piece goes before
            ``[SEP]``.
        old_id, new_id: the piece before (-1 for an append) and after.
    """

    kind: str
    position: int
    old_id: int
    new_id: int


@dataclass(frozen=True)
class EditedText:
    """The outcome of an edit search on one target.

    Attributes:
        target: the item.
        original_ids, token_ids: int32 ids, ``[CLS] ... [SEP]``, before and after.
        edits: the edits, in the order they were made (at most ``k``).
        objective: float ``[n_edits + 1]``, the attacker's objective before any edit, then
            after each edit.
        embeddings: float32 ``[n_edits + 1, T]``, the encoder's embedding of the text before any
            edit, then after each edit. Both searches add one edit per step, so the first ``j``
            edits of a run with budget ``k`` are a run with budget ``j`` (see :meth:`ids_after`).
    """

    target: int
    original_ids: np.ndarray
    token_ids: np.ndarray
    edits: tuple[Edit, ...]
    objective: np.ndarray
    embeddings: np.ndarray

    @property
    def n_edits(self) -> int:
        return len(self.edits)

    @property
    def embedding(self) -> np.ndarray:
        """float32 ``[T]``: the embedding of the edited text."""
        return self.embeddings[-1]

    def ids_after(self, j: int) -> np.ndarray:
        """int32 ids of the text after its first ``j`` edits (all of them if fewer)."""
        ids = [int(i) for i in self.original_ids]
        for edit in self.edits[:j]:
            ids = _apply(ids, edit)
        return np.array(ids, np.int32)

    def embedding_after(self, j: int) -> np.ndarray:
        """float32 ``[T]``: the embedding after the first ``j`` edits (all of them if fewer)."""
        return self.embeddings[min(j, self.n_edits)]


def exposure_users(split: Split, target: int) -> np.ndarray:
    """int32 users who never interacted with ``target`` (in train, valid or test): the audience
    the attacker wants to reach, as in :func:`advrec.attacks.shilling.target_exposure`."""
    touched = np.zeros(split.n_users, bool)
    for table in (split.train, split.valid, split.test):
        touched[table.user[table.item == target]] = True
    return np.flatnonzero(~touched).astype(np.int32)


class ExposureObjective:
    """The attacker's objective: the target's mean score over :func:`exposure_users`.

    ``objective(texts)`` maps text embeddings ``[C, T]`` (candidate texts of the target) to
    ``[C]`` values, differentiably. The model needs ``score_texts(users, texts, items)``
    (e.g. :class:`advrec.models.text.TextBPR`).
    """

    def __init__(self, model, split: Split, target: int) -> None:
        if not hasattr(model, "score_texts"):
            raise TypeError(
                f"{type(model).__name__} has no score_texts(users, texts, items), so an edited "
                "text cannot be scored; use a text-aware model such as TextBPR."
            )
        self.model, self.target = model, int(target)
        self.users = tf.constant(exposure_users(split, self.target))

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        items = tf.fill([tf.shape(texts)[0]], self.target)
        return tf.reduce_mean(self.model.score_texts(self.users, texts, items), axis=0)


def editable_ids(tokenizer) -> np.ndarray:
    """bool ``[vocab]``: the pieces an attacker may write (all but the bracketed specials)."""
    allowed = np.ones(tokenizer.vocab_size, bool)
    allowed[tokenizer.special_ids()] = False
    return allowed


def whole_word_ids(tokenizer, min_letters: int = 3) -> np.ndarray:
    """bool ``[vocab]``: pieces that are whole English-looking words (ASCII letters only, at least
    ``min_letters``, no ``##``), for an attacker whose edits must read as words -- or a random
    control that draws real words instead of any piece."""
    return np.array(
        [p.isascii() and p.isalpha() and len(p) >= min_letters for p in tokenizer.pieces], bool
    )


class _Searcher:
    """The two computations of the search, for one (encoder, objective). They run eagerly: a
    ``tf.function`` would trace again for every target (a new objective), which costs more on
    a CPU than the search itself."""

    def __init__(self, encoder, objective: ExposureObjective) -> None:
        self.encoder, self.objective = encoder, objective

    def value(self, token_ids: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Objective ``[N]`` and embeddings ``[N, T]`` of ``[N, L]`` texts."""
        texts = self.encoder((token_ids, mask))
        return self.objective(texts), texts

    def gradient(self, token_ids: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Objective ``[N]`` and its gradient ``[N, L, H]`` w.r.t. each token vector."""
        vectors = self.encoder.embed_tokens(token_ids)
        with tf.GradientTape() as tape:
            tape.watch(vectors)
            values = self.objective(self.encoder.encode_embeddings(vectors, mask))
            total = tf.reduce_sum(values)  # rows are independent: each row's own gradient
        return values, tape.gradient(total, vectors)


def _padded(sequences: list[list[int]], length: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.zeros((len(sequences), length), np.int32)
    mask = np.zeros((len(sequences), length), np.int32)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _apply(ids: list[int], edit: Edit) -> list[int]:
    if edit.kind == "replace":
        return [*ids[: edit.position], edit.new_id, *ids[edit.position + 1 :]]
    return [*ids[:-1], edit.new_id, ids[-1]]


def _outcome(target, original, ids, edits, history, embeddings) -> EditedText:
    return EditedText(
        int(target),
        np.array(original, np.int32),
        np.array(ids, np.int32),
        tuple(edits),
        np.array(history),
        np.array(embeddings, np.float32),
    )


def _check_budget(k: int, ids, encoder) -> list[int]:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k (word pieces the attacker may edit) must be an int >= 0, got {k!r}.")
    ids = [int(i) for i in ids]
    if len(ids) < 2:
        raise ValueError("token_ids must be [CLS] ... [SEP] (at least two ids).")
    if len(ids) + k > encoder.tokenizer.max_length:
        raise ValueError(
            f"{len(ids)} ids plus {k} appended pieces exceed the encoder's max_length "
            f"{encoder.tokenizer.max_length}; shorten the text or the budget."
        )
    return ids


def hotflip_edit(
    encoder,
    objective: ExposureObjective,
    token_ids,
    k: int,
    candidates: int = 32,
    allowed: np.ndarray | None = None,
    mask_id: int | None = None,
) -> EditedText:
    """The greedy HotFlip search of the module note: at most ``k`` replaced or appended pieces.

    Args:
        encoder: a :class:`~advrec.text.encoder.SentenceEncoder` (with its tokenizer).
        objective: what the attacker raises (:class:`ExposureObjective`).
        token_ids: the target's original ids, ``[CLS] ... [SEP]``.
        k: the edit budget.
        candidates: edits verified by re-encoding at each step.
        allowed: bool ``[vocab]`` pieces the attacker may write (default :func:`editable_ids`).
        mask_id: the placeholder scored at a new position (default ``[MASK]``).
    """
    ids = _check_budget(k, token_ids, encoder)
    allowed = editable_ids(encoder.tokenizer) if allowed is None else np.asarray(allowed, bool)
    mask_id = encoder.tokenizer.vocab["[MASK]"] if mask_id is None else int(mask_id)
    table = encoder.word_embeddings.numpy()  # [V, H]
    search = _Searcher(encoder, objective)
    length = len(ids) + k
    original, edits = list(ids), []
    replaceable = set(range(1, len(ids) - 1))
    current, text = (t.numpy()[0] for t in search.value(*_padded([ids], length)))
    history, embeddings = [float(current)], [text]
    for _ in range(k):
        with_slot = [*ids[:-1], mask_id, ids[-1]]
        values, grads = (t.numpy() for t in search.gradient(*_padded([ids, with_slot], length)))
        # First-order gains [slots, V]: a row per replaceable position, then the append slot.
        positions = sorted(replaceable)
        slot = len(ids) - 1
        g = np.concatenate([grads[0, positions], grads[1, slot : slot + 1]])  # [S, H]
        current_ids = np.array([ids[p] for p in positions] + [mask_id])
        gain = g @ table.T - np.sum(g * table[current_ids], axis=1, keepdims=True)
        gain[-1] += values[1] - values[0]  # appending [MASK] itself changes f
        gain[:, ~allowed] = -np.inf
        gain[np.arange(len(positions)), current_ids[:-1]] = -np.inf  # no-op replacements
        flat = np.argsort(-gain, axis=None)[:candidates]
        shortlist = []
        for row, piece in zip(*np.unravel_index(flat, gain.shape), strict=True):
            if row < len(positions):
                shortlist.append(Edit("replace", positions[row], ids[positions[row]], int(piece)))
            else:
                shortlist.append(Edit("append", slot, -1, int(piece)))
        edited = [_apply(ids, edit) for edit in shortlist]
        exact, texts = (t.numpy() for t in search.value(*_padded(edited, length)))
        best = int(np.argmax(exact))
        if not exact[best] > current:
            break
        ids, current = edited[best], float(exact[best])
        edits.append(shortlist[best])
        replaceable.discard(shortlist[best].position)
        history.append(current)
        embeddings.append(texts[best])
    return _outcome(objective.target, original, ids, edits, history, embeddings)


def random_edit(
    encoder,
    objective: ExposureObjective,
    token_ids,
    k: int,
    seed: int = 0,
    allowed: np.ndarray | None = None,
) -> EditedText:
    """The control: exactly ``k`` edits, each a replace of a not yet edited original position
    or an append (chosen uniformly among those slots), with a uniformly drawn allowed piece."""
    ids = _check_budget(k, token_ids, encoder)
    allowed = editable_ids(encoder.tokenizer) if allowed is None else np.asarray(allowed, bool)
    vocabulary = np.flatnonzero(allowed)
    rng = np.random.default_rng(seed)
    search = _Searcher(encoder, objective)
    length = len(ids) + k
    original, edits = list(ids), []
    replaceable = list(range(1, len(ids) - 1))
    current, text = (t.numpy()[0] for t in search.value(*_padded([ids], length)))
    history, embeddings = [float(current)], [text]
    for _ in range(k):
        slot = int(rng.integers(len(replaceable) + 1))
        piece = int(rng.choice(vocabulary))
        if slot < len(replaceable):
            position = replaceable.pop(slot)
            edit = Edit("replace", position, ids[position], piece)
        else:
            edit = Edit("append", len(ids) - 1, -1, piece)
        ids = _apply(ids, edit)
        edits.append(edit)
        value, texts = (t.numpy() for t in search.value(*_padded([ids], length)))
        history.append(float(value[0]))
        embeddings.append(texts[0])
    return _outcome(objective.target, original, ids, edits, history, embeddings)


def count_edits(original_ids, edited_ids) -> int:
    """Pieces changed from ``original_ids`` to ``edited_ids``: positions that differ within the
    original's content, plus pieces added before ``[SEP]`` (an independent check of a budget)."""
    original, edited = list(original_ids), list(edited_ids)
    if len(edited) < len(original) or edited[0] != original[0] or edited[-1] != original[-1]:
        raise ValueError("edited_ids must keep [CLS] first and [SEP] last and not be shorter.")
    content = len(original) - 1
    changed = sum(a != b for a, b in zip(original[1:content], edited[1:content], strict=True))
    return changed + len(edited) - len(original)


def with_target_text(model, target: int, embedding: np.ndarray):
    """``score_all`` of ``model`` with ``target``'s text embedding replaced by ``embedding``:
    int32 ``[B]`` users -> float32 ``[B, n_items]`` (the other columns are the model's own)."""
    text = tf.constant(np.asarray(embedding, np.float32)[np.newaxis])
    column = tf.one_hot(target, model.n_items, dtype=tf.float32)[tf.newaxis]  # [1, n_items]
    items = tf.constant([int(target)])

    def score_fn(users: tf.Tensor) -> tf.Tensor:
        scores = model.score_all(users)
        edited = model.score_texts(users, text, items)  # [B, 1]
        return scores * (1.0 - column) + edited * column

    return score_fn


def exposure_with_text(
    model, split: Split, target: int, embedding: np.ndarray | None = None, ks=(10, 50)
) -> dict[str, float]:
    """:func:`~advrec.attacks.shilling.target_exposure` of ``target`` when its text embedding is
    ``embedding`` (default: its own): ``{"hr@10", "hr@50", "mean_rank", "n_users"}``."""
    score_fn = model.score_all if embedding is None else with_target_text(model, target, embedding)
    return target_exposure(score_fn, split, target, ks=tuple(ks))


def quality_on_other_items(
    model, split: Split, target: int, embedding: np.ndarray, ks=(10,)
) -> tuple[dict[str, float], dict[str, float]]:
    """Test metrics of ``model`` on every item but ``target`` (its pairs left out, the item not a
    candidate), with the original and with the edited text: ``(before, after)``. An edit of one
    item's text leaves every other item's score as it was, so the two must be equal."""
    candidates = np.arange(split.n_items) != target
    test = split.test.select(split.test.item != target)
    exclude = [split.train, split.valid]
    before = evaluate_ranking(model.score_all, test, exclude, ks=ks, candidates=candidates)
    after = evaluate_ranking(
        with_target_text(model, target, embedding), test, exclude, ks=ks, candidates=candidates
    )
    return before, after


def best_unit_text(objective: ExposureObjective) -> np.ndarray:
    """float32 ``[T]``: the unit vector that maximises ``objective`` among all unit vectors, for
    a model whose scores are linear in the text embedding (:class:`~advrec.models.text.TextBPR`:
    the objective is ``t · g + c``, so the best unit ``t`` is ``g / |g|``).

    The positive control of an edit search: no edited text -- whose embedding is a unit vector
    too -- raises the objective above this one's, so where even this text leaves the target's
    exposure where it was, no search could have moved it.
    """
    width = int(objective.model.projection.shape[0])
    origin = tf.zeros([1, width])
    with tf.GradientTape() as tape:
        tape.watch(origin)
        value = objective(origin)[0]
    direction = tape.gradient(value, origin)[0].numpy()
    norm = float(np.linalg.norm(direction))
    if not norm > 0:
        raise ValueError("the objective does not depend on the target's text embedding.")
    return (direction / norm).astype(np.float32)


def text_sensitivity(model, users=None) -> float:
    """How much the text can move a score, relative to how much scores differ: the mean over
    ``users`` (default all) of ``|W p_u + w| / std_i(x_ui)``, for a model linear in the text
    embedding, ``x_ui = p_u · (t_i W + e_i) + t_i · w`` (:class:`~advrec.models.text.TextBPR`).

    ``|W p_u + w| = |∂x_ui / ∂t_i|`` is the most a unit move of an item's text embedding can change
    user ``u``'s score of it (text embeddings have norm 1, so this is the scale any text edit acts
    on), and ``std_i(x_ui)`` the spread of that user's scores over the catalogue: a value of 3
    means a unit move of the text can shift an item by three standard deviations of the user's
    scores. Scale-free, so models trained differently compare."""
    users = np.arange(model.n_users) if users is None else np.asarray(users)
    factors = model.user_factors.numpy()[users]
    gradients = factors @ model.projection.numpy().T + model.text_bias.numpy()  # [U, T]
    spread = model.score_all(tf.constant(users, tf.int32)).numpy().std(axis=1)  # [U]
    return float(np.mean(np.linalg.norm(gradients, axis=1) / np.maximum(spread, 1e-12)))
