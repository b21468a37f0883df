"""A text-aware recommender: items known by the sentence embedding of their text.

Each item ``i`` has a fixed text embedding ``t_i`` (``[T]``, e.g. all-MiniLM-L6-v2's 384-wide
unit vector of "Title. Year. Genres.", :func:`advrec.text.items.item_text_embeddings`). The
model learns a projection ``W [T, dim]``, a text bias ``w [T]`` and user factors ``P``::

    x_ui = p_u · (t_i W + e_i) + t_i · w

with an optional item-id embedding ``e_i`` (``item_ids=True``; without it an item is its text
alone, so an item nobody has rated is scored as well as any other). It trains with BPR like
BPR-MF (:class:`~advrec.models.BPRMF`: same loss, penalty and step) through
:func:`advrec.training.fit_ranker`. The encoder stays frozen, unless the texts are given as
:class:`TunableItemTexts`: then the encoder's top blocks train with the recommender (every item's
text is re-encoded by them at every step: a job for a GPU).

:class:`AdversarialTextBPR` is the defence against edited item texts: APR's adversarial training
(He et al., SIGIR 2018; :mod:`advrec.models.apr`) moved from the embedding tables to the *text
embeddings*: the BPR loss is also minimised at ``t_i + Δ_i`` for the worst ``Δ_i`` of norm
``epsilon``, the shift an attacker who rewrites the text aims for.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from advrec.data.interactions import Interactions
from advrec.losses import bpr_loss, scale_for_replicas, weighted_mean
from advrec.models.apr import row_normalized_directions
from advrec.models.base import AdversarialTerm, PairwiseRanker
from advrec.models.mf import DEFAULT_L2, _check_hyper_parameters
from advrec.text.encoder import SentenceEncoder, TransformerBlock, mean_pool


def _check_text_embeddings(text_embeddings, n_items: int) -> np.ndarray:
    """float32 ``[n_items, T]`` or a ValueError that says what is wrong."""
    array = np.asarray(text_embeddings)
    if array.ndim != 2 or array.shape[0] != n_items:
        raise ValueError(
            f"text_embeddings must be [n_items={n_items}, T], one row per item id, got shape "
            f"{array.shape}; e.g. advrec.text.items.item_text_embeddings(dataset)."
        )
    if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
        raise ValueError("text_embeddings must be finite floating-point numbers.")
    return array.astype(np.float32)


class TunableItemTexts(keras.layers.Layer):
    """Every item's text embedding ``[n_items, H]``, with the encoder's top ``tuned_layers``
    blocks trainable: pass it to :class:`TextBPR` instead of fixed embeddings to fine-tune them.

    The lower blocks stay frozen, so their output for every item is computed once here and kept
    (a non-trainable ``[n_items, L, H]`` weight); each call runs only the top blocks, which are
    copies of the encoder's (the encoder itself is left unchanged), then pools and normalises.
    Before any training :meth:`embeddings` equals ``encoder``'s embeddings of the texts.

    Args:
        encoder: the pretrained :class:`~advrec.text.encoder.SentenceEncoder`.
        token_ids, mask: int ``[n_items, L]`` of the item texts (``encoder.tokenizer(texts)``).
        tuned_layers: how many top blocks train (1 to the number of blocks).
        batch_size: items per batch when computing the frozen part.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        token_ids: np.ndarray,
        mask: np.ndarray,
        tuned_layers: int = 1,
        batch_size: int = 256,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        depth = len(encoder.blocks)
        if not 1 <= int(tuned_layers) <= depth:
            raise ValueError(f"tuned_layers must be in [1, {depth}], got {tuned_layers}.")
        token_ids, mask = np.asarray(token_ids, np.int32), np.asarray(mask, np.int32)
        if token_ids.shape != mask.shape or token_ids.ndim != 2:
            raise ValueError(
                f"token_ids and mask must both be [n_items, L], got {token_ids.shape} and "
                f"{mask.shape}; e.g. encoder.tokenizer(item_texts(dataset.items))."
            )
        self.config = encoder.config
        self.frozen_layers = depth - int(tuned_layers)
        frozen = [
            encoder.hidden_states(
                encoder.embed_tokens(token_ids[i : i + batch_size]),
                mask[i : i + batch_size],
                layers=self.frozen_layers,
            ).numpy()
            for i in range(0, len(token_ids), batch_size)
        ]
        frozen = np.concatenate(frozen)
        self.frozen_hidden = self.add_weight(
            shape=frozen.shape, initializer="zeros", trainable=False, name="frozen_hidden"
        )
        self.frozen_hidden.assign(frozen)
        self.mask = self.add_weight(
            shape=mask.shape, initializer="zeros", trainable=False, name="mask"
        )
        self.mask.assign(mask.astype(np.float32))
        self.blocks = []
        for i, source in enumerate(encoder.blocks[self.frozen_layers :]):
            block = TransformerBlock(encoder.config, name=f"tuned_block_{i}")
            block.set_weights(source.get_weights())
            self.blocks.append(block)
        self.built = True

    @property
    def width(self) -> int:
        return self.config.hidden_size

    def embeddings(self) -> tf.Tensor:
        """float32 ``[n_items, H]``: unit-length embeddings from the (trainable) top blocks."""
        hidden = self.frozen_hidden
        for block in self.blocks:
            hidden = block(hidden, self.mask)
        return tf.math.l2_normalize(mean_pool(hidden, self.mask), axis=-1, epsilon=1e-24)

    def as_encoder(self, pretrained: SentenceEncoder) -> SentenceEncoder:
        """A :class:`~advrec.text.encoder.SentenceEncoder` with ``pretrained``'s weights below
        and the tuned blocks on top: the text encoder this recommender now uses, e.g. for an
        attack on its texts."""
        encoder = SentenceEncoder(self.config, pretrained.tokenizer, name="tuned_encoder")
        encoder.set_weights(pretrained.get_weights())
        for block, tuned in zip(encoder.blocks[self.frozen_layers :], self.blocks, strict=True):
            block.set_weights(tuned.get_weights())
        encoder.trainable = False
        return encoder


class TextBPR(PairwiseRanker):
    """``x_ui = p_u · (t_i W + e_i) + t_i · w`` from fixed text embeddings ``t`` (see the
    module note), trained with BPR.

    Args:
        train: training interactions.
        text_embeddings: float ``[n_items, T]``, row ``i`` the text embedding of item ``i``,
            kept as a non-trainable weight (saved with the model); or a
            :class:`TunableItemTexts`, whose top encoder blocks then train with the model.
        dim: factor size.
        item_ids: also learn an item-id embedding ``e_i`` (a hybrid); default text only.
        l2: weight of the squared norm of the batch's user and item vectors (per triple), as in
            BPR-MF.
        init_std: standard deviation of the normal initialisers of ``P``, ``W`` and ``e``; for
            a unit-length ``t_i`` the entries of ``t_i W`` then have that standard deviation
            too, like BPR-MF's item factors.
        seed: seeds the initialisers and the negative sampler.
    """

    def __init__(
        self,
        train: Interactions,
        text_embeddings: np.ndarray,
        dim: int = 64,
        item_ids: bool = False,
        l2: float = DEFAULT_L2,
        init_std: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        _check_hyper_parameters(dim=dim, l2=l2, init_std=init_std)
        tunable = isinstance(text_embeddings, TunableItemTexts)
        if tunable and text_embeddings.frozen_hidden.shape[0] != train.n_items:
            raise ValueError(
                f"the TunableItemTexts hold {text_embeddings.frozen_hidden.shape[0]} items, "
                f"the training table {train.n_items}; build them from every item's text."
            )
        text = None if tunable else _check_text_embeddings(text_embeddings, train.n_items)
        super().__init__(train, seed=seed, **kwargs)
        self.dim, self.l2, self.use_item_ids = dim, l2, bool(item_ids)
        width = text_embeddings.width if tunable else text.shape[1]
        normal = keras.initializers.RandomNormal(stddev=init_std, seed=seed)
        self.user_factors = self.add_weight(
            shape=(self.n_users, dim), initializer=normal, name="user_factors"
        )
        self.tunable_texts = text_embeddings if tunable else None
        self.item_text = None
        if not tunable:
            self.item_text = self.add_weight(
                shape=text.shape, initializer="zeros", trainable=False, name="item_text"
            )
            self.item_text.assign(text)
        self.projection = self.add_weight(
            shape=(width, dim),
            initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + 1),
            name="projection",
        )
        self.text_bias = self.add_weight(shape=(width,), initializer="zeros", name="text_bias")
        self.item_factors = self.item_bias = None
        if self.use_item_ids:
            self.item_factors = self.add_weight(
                shape=(self.n_items, dim),
                initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + 2),
                name="item_factors",
            )
            self.item_bias = self.add_weight(
                shape=(self.n_items,), initializer="zeros", name="item_bias"
            )

    # -- scoring ---------------------------------------------------------------------------
    def text_table(self) -> tf.Tensor:
        """float32 ``[n_items, T]``: every item's text embedding (fixed, or re-encoded by the
        tuned blocks)."""
        if self.tunable_texts is not None:
            return self.tunable_texts.embeddings()
        return tf.convert_to_tensor(self.item_text)

    def item_vectors(self, texts: tf.Tensor, items: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Item factors ``[M, dim]`` and biases ``[M]`` of items ``[M]`` described by texts
        ``[M, T]`` (their own, or edited ones)."""
        vectors = tf.matmul(texts, self.projection)
        bias = tf.linalg.matvec(texts, self.text_bias)
        if self.use_item_ids:
            vectors += tf.gather(self.item_factors, items)
            bias += tf.gather(self.item_bias, items)
        return vectors, bias

    def score_texts(self, users: tf.Tensor, texts: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, M]``: scores of items ``[M]`` with texts ``[M, T]`` for users ``[B]``."""
        vectors, bias = self.item_vectors(texts, items)
        return tf.matmul(tf.gather(self.user_factors, users), vectors, transpose_b=True) + bias

    def score_pairs(self, users, items, training=False):
        vectors, bias = self.item_vectors(tf.gather(self.text_table(), items), items)
        return tf.reduce_sum(tf.gather(self.user_factors, users) * vectors, axis=-1) + bias

    def score_all(self, users):
        return self.score_texts(users, self.text_table(), tf.range(self.n_items))

    # -- training --------------------------------------------------------------------------
    def batch_margin(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor,
        text_shift: tuple[tf.Tensor, tf.Tensor] | None = None,
        table: tf.Tensor | None = None,
        weights: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """BPR margins ``[B]`` (positive minus negative score) and the l2 penalty (a scalar, the
        mean over triples weighted by ``weights`` float32 ``[B]`` if given: a padding row weighs
        0), with the texts ``[B, T]`` of positives and negatives moved by ``text_shift`` if
        given. ``table``: :meth:`text_table`, if already computed in this step."""
        table = self.text_table() if table is None else table
        t_pos, t_neg = tf.gather(table, positives), tf.gather(table, negatives)
        if text_shift is not None:
            t_pos, t_neg = t_pos + text_shift[0], t_neg + text_shift[1]
        p = tf.gather(self.user_factors, users)
        q_pos, b_pos = self.item_vectors(t_pos, positives)
        q_neg, b_neg = self.item_vectors(t_neg, negatives)
        margin = tf.reduce_sum(p * (q_pos - q_neg), axis=-1) + b_pos - b_neg
        penalty = self.l2 * weighted_mean(
            tf.reduce_sum(p * p + q_pos * q_pos + q_neg * q_neg, axis=-1), weights
        )
        return margin, penalty

    def pairwise_loss(self, users, positives, negatives, weights=None):
        """BPR loss plus the l2 penalty of the batch's user and item vectors (weighted means)."""
        margin, penalty = self.batch_margin(users, positives, negatives, weights=weights)
        return bpr_loss(margin, weights) + penalty, {}


class AdversarialTextBPR(AdversarialTerm, TextBPR):
    """:class:`TextBPR` trained against worst-case shifts of the item text embeddings.

    The loss is ``L_BPR(t) + penalty + λ · L_BPR(t + Δ)``, with ``Δ_i = ε g_i / |g_i|`` and
    ``g_i`` the gradient of the batch's clean BPR loss with respect to item ``i``'s text
    embedding (summed over its occurrences in the batch, as APR normalises per table row);
    ``Δ`` is a constant. Inference is :class:`TextBPR`'s; with ``epsilon = 0`` or
    ``adversarial_weight = 0`` it trains exactly like :class:`TextBPR`.

    Args:
        epsilon: l2 norm of each item's text shift (text embeddings have norm 1).
        adversarial_weight: λ.
        Others: as :class:`TextBPR`.

    ``fit`` reports ``clean_loss`` and ``adversarial_loss`` (BPR, without the penalty) too.
    """

    def __init__(
        self,
        train: Interactions,
        text_embeddings: np.ndarray,
        epsilon: float = 0.3,
        adversarial_weight: float = 1.0,
        **kwargs,
    ) -> None:
        if not epsilon >= 0:
            raise ValueError(f"epsilon is a perturbation norm and must be >= 0, got {epsilon}.")
        if not adversarial_weight >= 0:
            raise ValueError(
                f"adversarial_weight (λ) must be >= 0, got {adversarial_weight}; a negative "
                "weight would reward the model for being fragile."
            )
        super().__init__(train, text_embeddings, **kwargs)
        self.epsilon, self.adversarial_weight = float(epsilon), float(adversarial_weight)
        self.track_adversarial_terms()

    def adversarial_text_shift(
        self,
        users: tf.Tensor,
        positives: tf.Tensor,
        negatives: tf.Tensor,
        table: tf.Tensor | None = None,
        weights: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The worst shifts ``Δ`` (``[B, T]`` each) of the positives' and negatives' texts, as
        constants: ``epsilon`` times the per-item unit gradient of the clean BPR loss (weighted
        by ``weights`` float32 ``[B]`` if given; under a strategy, each replica's share of the
        global batch's loss, so the direction is the one device's)."""
        shape = [tf.shape(users)[0], self.projection.shape[0]]
        shift = (tf.zeros(shape), tf.zeros(shape))  # two tensors: one gradient each
        table = tf.stop_gradient(self.text_table() if table is None else table)
        count = tf.size(users) if weights is None else tf.reduce_sum(weights)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(shift)
            margin, _ = self.batch_margin(users, positives, negatives, shift, table)
            clean = scale_for_replicas(bpr_loss(margin, weights), count=count)
        g_pos, g_neg = tape.gradient(clean, shift)
        directions = row_normalized_directions(
            tf.concat([positives, negatives], 0), tf.concat([g_pos, g_neg], 0), self.n_items
        )
        d_pos, d_neg = tf.split(tf.stop_gradient(self.epsilon * directions), 2, axis=0)
        return d_pos, d_neg

    def pairwise_loss(self, users, positives, negatives, weights=None):
        if not self.adversarial:
            return super().pairwise_loss(users, positives, negatives, weights)
        table = self.text_table()  # once per step (tuned texts are re-encoded each time)
        margin, penalty = self.batch_margin(users, positives, negatives, None, table, weights)
        clean = bpr_loss(margin, weights)
        shift = self.adversarial_text_shift(users, positives, negatives, table, weights)
        adversarial_margin, _ = self.batch_margin(users, positives, negatives, shift, table)
        adversarial = bpr_loss(adversarial_margin, weights)
        total = clean + penalty + self.adversarial_weight * adversarial
        return total, self.report_terms(clean, adversarial, users, weights)
