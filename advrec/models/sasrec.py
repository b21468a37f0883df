"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018), in Keras 3.

A user's latest ``L`` items ``s_1..s_L`` (left-padded, :mod:`advrec.data.sequences`) are embedded
with a table ``E [n_items + 1, d]`` (the last row is the padding id) plus learned positions
``P [L, d]``, passed through ``n_blocks`` causal self-attention blocks (pre-layer-norm,
multi-head scaled dot-product attention, a two-layer feed-forward net, dropout and residuals), and
the hidden state ``h_t`` at position ``t`` scores every item by ``r_{t,i} = h_t · E_i`` -- the same
table that embeds the input (shared input/output embeddings, as in the paper).

**Loss.** ``loss="bce"`` (default, the paper's): at every position the next item is a positive
and one item drawn uniformly among those the user never interacted with in training is a
negative, ``-log σ(r_pos) - log(1 - σ(r_neg))``, averaged over the non-padding positions. It
costs two dot products per position, whatever the catalogue size, which is what lets the same
step run on a catalogue of millions. ``loss="sampled_softmax"`` draws ``n_negatives`` items per
batch (shared by all positions) and uses the softmax cross-entropy of the positive against them:
more negatives per position, usually better ranking, at ``n_negatives`` dot products a position.

**Adversarial training** (``adversary``), on the *input* item embeddings of the step (the
output table is not perturbed); both add ``λ · L(perturbed input)`` to the clean loss ``L``:

- ``"apr"``: APR (He et al., SIGIR 2018) moved to a sequence model: the input embedding at each
  position moves by ``ε g / ‖g‖`` with ``g = ∂L/∂e`` normalised per position.
- ``"substitution"``: the adversarial training of Yue et al. (RecSys 2022): each input item is
  a one-hot vector ``w`` over the catalogue (its embedding is ``w E``); one normalised gradient
  ascent step of size ``ε`` on ``w``, clipped to ``w >= 0`` and renormalised to sum to one, gives
  the worst nearby *mixture of items*; a random share ``substitution_rate`` of the positions is
  replaced by its mixture. (The paper's released code takes an extra optimiser step on this loss
  after the clean one; here both terms go into one step, as in APR.)

Everything in :meth:`SASRec.train_step` is static-shaped TensorFlow (it compiles with
``jit_compile=True``); every random number (negatives, dropout masks, substituted positions)
comes from the model's :class:`keras.random.SeedGenerator` through :mod:`advrec.distribute`, so
each replica draws its own slice of one global stream (the attention is written out, not
``keras.layers.MultiHeadAttention``, whose dropout would draw the same mask on every replica);
all variables are created in ``__init__`` so the model can be built inside a
``tf.distribute.Strategy.scope()``.

**Mixed precision**: pass ``dtype="mixed_float16"`` (GPU; Keras then wraps the optimizer in a
loss-scaling optimizer at ``compile``). On a CPU, float16 matrix products are emulated and slow:
CPU runs use the default float32.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from advrec.data.sampling import NegativeSampler
from advrec.data.sequences import SequenceSplit
from advrec.distribute import global_randint, replica_dropout, replica_uniform, sum_over_replicas
from advrec.losses import scale_for_replicas
from advrec.models.saving import WeightsOnly
from advrec.seeds import derive_seed

LOSSES = ("bce", "sampled_softmax")
ADVERSARIES = (None, "apr", "substitution")


class SASRec(WeightsOnly, keras.Model):
    """SASRec with BCE or sampled-softmax training and optional adversarial training.

    ``fit`` takes batches of training windows ``(users [B], inputs [B, L], targets [B, L])``
    (:func:`advrec.data.sequences.sequence_examples`), optionally with a float ``[B]`` sample
    weight, 1 for a real window and 0 for padding. The step honours padded batches
    (:mod:`advrec.models.contract`): a window of weight 0 contributes no position to the loss or
    its normalisation, and every random draw keeps the real rows' positions, so
    :func:`advrec.training.fit_model` trains it through the engine.

    Args:
        sequences: the leave-last-out split; its training table fixes the id spaces and the
            negatives to avoid, its ``valid_context`` is the history :meth:`score_all` reads.
        dim: embedding size ``d``.
        n_blocks: self-attention blocks.
        n_heads: attention heads (``dim`` must be divisible by it).
        dropout: dropout rate (embeddings, attention, feed-forward).
        loss: ``"bce"`` or ``"sampled_softmax"`` (see the module docstring).
        n_negatives: negatives per batch for ``"sampled_softmax"``.
        adversary: ``None``, ``"apr"`` or ``"substitution"``.
        epsilon: size of the adversarial step (l2 norm per position for ``"apr"``, step on the
            item mixture for ``"substitution"``).
        adversarial_weight: λ, weight of the adversarial loss.
        substitution_rate: share of positions replaced by their adversarial mixture.
        seed: seeds initialisers, dropout and negatives.
        dtype: Keras dtype policy, e.g. ``"mixed_float16"`` on a GPU.
    """

    supports_padded_batches = True

    def __init__(
        self,
        sequences: SequenceSplit,
        dim: int = 64,
        n_blocks: int = 2,
        n_heads: int = 1,
        dropout: float = 0.2,
        loss: str = "bce",
        n_negatives: int = 256,
        adversary: str | None = None,
        epsilon: float = 0.5,
        adversarial_weight: float = 1.0,
        substitution_rate: float = 0.2,
        seed: int = 0,
        dtype=None,
        **kwargs,
    ) -> None:
        if not isinstance(sequences, SequenceSplit):
            raise TypeError(
                "SASRec needs a SequenceSplit (advrec.data.sequences.leave_last_out(...)), got "
                f"{type(sequences).__name__}."
            )
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
        if adversary not in ADVERSARIES:
            raise ValueError(f"adversary must be one of {ADVERSARIES}, got {adversary!r}.")
        from advrec.checks import check_int, check_real, check_seed  # (keeps this edit local)

        dim, n_blocks = check_int(dim, "dim", low=1), check_int(n_blocks, "n_blocks", low=1)
        n_heads = check_int(n_heads, "n_heads", low=1)
        if dim % n_heads:
            raise ValueError(
                f"need dim >= 1, n_blocks >= 1 and dim divisible by n_heads; got dim={dim}, "
                f"n_blocks={n_blocks}, n_heads={n_heads}."
            )
        dropout = check_real(dropout, "dropout", low=0, high=1, high_open=True)
        substitution_rate = check_real(substitution_rate, "substitution_rate", low=0, high=1)
        epsilon = check_real(epsilon, "epsilon", low=0)
        adversarial_weight = check_real(adversarial_weight, "adversarial_weight", low=0)
        n_negatives = check_int(n_negatives, "n_negatives", low=1, hint="negatives per batch")
        seed = check_seed(seed)
        super().__init__(dtype=dtype, **kwargs)
        self.n_users, self.n_items = sequences.n_users, sequences.n_items
        self.max_len, self.pad = sequences.max_len, sequences.pad
        self.dim, self.n_blocks, self.n_heads, self.dropout_rate = dim, n_blocks, n_heads, dropout
        self.loss_name, self.n_negatives = loss, int(n_negatives)
        self.adversary, self.epsilon = adversary, float(epsilon)
        self.adversarial_weight, self.substitution_rate = (
            float(adversarial_weight),
            substitution_rate,
        )
        self.record_training_data(sequences.train)
        self.negative_sampler = NegativeSampler(sequences.train)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.context = tf.constant(sequences.valid_context, tf.int32)  # [n_users, L]
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")

        init = keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(dim), seed=seed)
        self.item_embeddings = self.add_weight(
            shape=(self.n_items + 1, dim), initializer=init, name="item_embeddings"
        )
        self.position_embeddings = self.add_weight(
            shape=(self.max_len, dim), initializer=init, name="position_embeddings"
        )
        shape = (None, self.max_len, dim)
        policy = self.dtype_policy

        def dense(name: str, activation=None) -> keras.layers.Dense:
            init = keras.initializers.GlorotUniform(seed=derive_seed(seed, name))
            layer = keras.layers.Dense(
                dim, activation=activation, kernel_initializer=init, dtype=policy, name=name
            )
            layer.build(shape)
            return layer

        def heads_in(name: str) -> keras.layers.EinsumDense:  # [B, L, d] -> [B, L, h, d / h]
            layer = keras.layers.EinsumDense(
                "abc,cde->abde",
                output_shape=(None, n_heads, dim // n_heads),
                bias_axes="de",
                kernel_initializer=keras.initializers.GlorotUniform(seed=derive_seed(seed, name)),
                dtype=policy,
                name=name,
            )
            layer.build(shape)
            return layer

        def heads_out(name: str) -> keras.layers.EinsumDense:  # [B, L, h, d / h] -> [B, L, d]
            layer = keras.layers.EinsumDense(
                "abcd,cde->abe",
                output_shape=(None, dim),
                bias_axes="e",
                kernel_initializer=keras.initializers.GlorotUniform(seed=derive_seed(seed, name)),
                dtype=policy,
                name=name,
            )
            layer.build((None, self.max_len, n_heads, dim // n_heads))
            return layer

        self.blocks = []
        for b in range(n_blocks):
            # The attention's projections are those of keras.layers.MultiHeadAttention (the same
            # shapes and initialisers); the attention itself is written out in `attend`.
            block = {
                "attention_norm": keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy),
                **{part: heads_in(f"block{b}_{part}") for part in ("query", "key", "value")},
                "attention_output": heads_out(f"block{b}_attention_output"),
                "ffn_norm": keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy),
                "ffn_in": dense(f"block{b}_ffn_in", activation="relu"),
                "ffn_out": dense(f"block{b}_ffn_out"),
            }
            block["attention_norm"].build(shape)
            block["ffn_norm"].build(shape)
            self.blocks.append(block)
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy)
        self.final_norm.build(shape)
        # The random stream's position (negatives and every dropout mask) is training state:
        # saved with the weights, so a run resumed from a checkpoint draws what an uninterrupted
        # run would. (Keras leaves seed-generator states out of `weights`.)
        self._track_variable(self.seed_generator.state)
        self.built = True

    # -- the network ---------------------------------------------------------------------------
    def embed(self, histories: tf.Tensor) -> tf.Tensor:
        """float ``[B, L, d]`` input item embeddings of int32 ``[B, L]`` histories."""
        return tf.gather(self.item_embeddings, histories)

    def encode(
        self, item_vectors: tf.Tensor, histories: tf.Tensor, training: bool = False
    ) -> tf.Tensor:
        """Hidden states ``[B, L, d]`` from input item vectors ``[B, L, d]`` (possibly perturbed).

        ``histories`` (int32 ``[B, L]``) gives the padding mask only.
        """
        compute = self.compute_dtype
        valid = tf.not_equal(histories, self.pad)  # [B, L]
        mask = tf.cast(valid, compute)[:, :, tf.newaxis]
        x = tf.cast(item_vectors, compute) * math.sqrt(self.dim)
        x = x + tf.cast(self.position_embeddings, compute)[tf.newaxis]
        x = self.dropout(x, training) * mask
        causal = tf.linalg.band_part(tf.ones([self.max_len, self.max_len], tf.bool), -1, 0)
        attention_mask = tf.logical_and(causal[tf.newaxis], valid[:, tf.newaxis, :])  # [B, L, L]
        for block in self.blocks:
            attended = self.attend(block, block["attention_norm"](x), attention_mask, training)
            x = x + self.dropout(attended, training)
            hidden = block["ffn_out"](block["ffn_in"](block["ffn_norm"](x)))
            x = (x + self.dropout(hidden, training)) * mask
        return self.final_norm(x)

    def attend(
        self, block: dict, x: tf.Tensor, attention_mask: tf.Tensor, training: bool
    ) -> tf.Tensor:
        """Multi-head scaled dot-product self-attention of ``x`` ``[B, L, d]``: position ``t``
        attends to the positions ``attention_mask[b, t]`` allows (bool ``[B, L, L]``), with
        dropout on the attention weights; returns ``[B, L, d]``."""
        query, key, value = (block[p](x) for p in ("query", "key", "value"))  # [B, L, h, d/h]
        query = query / math.sqrt(self.dim // self.n_heads)
        scores = tf.einsum("bqhd,bkhd->bhqk", query, key)  # [B, h, L, L]
        allowed = attention_mask[:, tf.newaxis]
        scores = tf.where(allowed, scores, tf.constant(-1e9, scores.dtype))
        weights = self.dropout(tf.nn.softmax(scores, axis=-1), training)
        return block["attention_output"](tf.einsum("bhqk,bkhd->bqhd", weights, value))

    def dropout(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Dropout at ``dropout`` in training (:func:`advrec.distribute.replica_dropout`)."""
        if not training:
            return x
        return replica_dropout(x, self.dropout_rate, self.seed_generator)

    def output_table(self) -> tf.Tensor:
        """float ``[n_items, d]``: the item embeddings without the padding row."""
        return tf.cast(self.item_embeddings[: self.n_items], self.compute_dtype)

    def score_histories(self, histories: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` next-item scores after each int32 ``[B, L]`` history."""
        histories = tf.convert_to_tensor(histories, tf.int32)
        if histories.shape.rank != 2 or histories.shape[1] != self.max_len:
            raise ValueError(
                f"histories must be int32 [batch, {self.max_len}] (left-padded with "
                f"{self.pad}); got shape {histories.shape}."
            )
        return self._score_histories(histories)

    @tf.function(reduce_retracing=True)
    def _score_histories(self, histories: tf.Tensor) -> tf.Tensor:
        last = self.encode(self.embed(histories), histories)[:, -1, :]  # [B, d]
        return tf.cast(tf.matmul(last, self.output_table(), transpose_b=True), tf.float32)

    def score_all(self, users: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, n_items]`` scores of int32 ``[B]`` users from their stored history.

        The stored history is the training context (for validation); :meth:`scorer` scores
        from another one, e.g. ``sequences.test_context`` for test.
        """
        return self.score_histories(tf.gather(self.context, users))

    def scorer(self, context: np.ndarray):
        """A ``score_fn(users)`` that reads histories from ``context`` (int32 ``[n_users, L]``)."""
        context = np.asarray(context)
        if context.shape != (self.n_users, self.max_len):
            raise ValueError(
                f"context must have shape ({self.n_users}, {self.max_len}), got {context.shape}."
            )
        table = tf.constant(context, tf.int32)
        return lambda users: self.score_histories(tf.gather(table, users))

    def call(self, histories, training: bool = False) -> tf.Tensor:
        """Next-item scores ``[B, n_items]`` of int32 ``[B, L]`` histories."""
        return self.score_histories(histories)

    # -- training ------------------------------------------------------------------------------
    def sequence_loss(
        self,
        item_vectors: tf.Tensor,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        negatives: tf.Tensor,
        training: bool = True,
        weights: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Scalar next-item loss, mean over non-padding positions (float32).

        Args:
            item_vectors: float ``[B, L, d]`` input item embeddings (perhaps perturbed).
            inputs, targets: int32 ``[B, L]``.
            negatives: int32 ``[B, L]`` (``"bce"``) or ``[n_negatives]`` (``"sampled_softmax"``).
            weights: float32 ``[B]`` 0/1 row weights (``None``: all 1); the positions of a row
                of weight 0 (a padding window) are not counted.
        """
        hidden = self.encode(item_vectors, inputs, training=training)  # [B, L, d]
        table = tf.cast(self.item_embeddings, self.compute_dtype)
        valid = self.target_positions(targets, weights)
        positive = tf.cast(tf.reduce_sum(hidden * tf.gather(table, targets), -1), tf.float32)
        if self.loss_name == "bce":
            negative = tf.cast(tf.reduce_sum(hidden * tf.gather(table, negatives), -1), tf.float32)
            per_position = tf.nn.softplus(-positive) + tf.nn.softplus(negative)
        else:
            negative = tf.cast(
                tf.einsum("bld,nd->bln", hidden, tf.gather(table, negatives)), tf.float32
            )  # [B, L, N]
            collides = tf.equal(targets[:, :, tf.newaxis], negatives[tf.newaxis, tf.newaxis, :])
            negative = tf.where(collides, tf.constant(-1e9, tf.float32), negative)
            logits = tf.concat([positive[:, :, tf.newaxis], negative], axis=-1)
            per_position = tf.reduce_logsumexp(logits, axis=-1) - positive
        return tf.reduce_sum(per_position * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)

    def target_positions(self, targets: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
        """float32 ``[B, L]``: 1 where ``targets`` (int32 ``[B, L]``) holds an item, not the
        padding id, in a row of weight 1 (``weights`` float32 ``[B]``; ``None``: every row)."""
        valid = tf.cast(tf.not_equal(targets, self.pad), tf.float32)
        return valid if weights is None else valid * weights[:, tf.newaxis]

    def draw_negatives(self, users: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Negatives for a batch: int32 ``[B, L]`` (``"bce"``) or ``[n_negatives]``."""
        if self.loss_name == "bce":
            shape = tf.shape(targets)
            per_position = tf.repeat(users, shape[1])
            return tf.reshape(self.negative_sampler(per_position, self.seed_generator), shape)
        return global_randint((self.n_negatives,), self.n_items, self.seed_generator)

    def adversarial_inputs(
        self, item_vectors: tf.Tensor, gradient: tf.Tensor, inputs: tf.Tensor
    ) -> tf.Tensor:
        """Perturbed input embeddings ``[B, L, d]`` (a constant) from the clean loss's gradient.

        ``gradient`` is ``∂L/∂item_vectors`` ``[B, L, d]``.
        """
        valid = tf.cast(tf.not_equal(inputs, self.pad), item_vectors.dtype)[:, :, tf.newaxis]
        if self.adversary == "apr":
            direction = tf.math.l2_normalize(tf.cast(gradient, tf.float32), axis=-1)
            delta = self.epsilon * tf.cast(direction, item_vectors.dtype) * valid
            return tf.stop_gradient(item_vectors + delta)
        # substitution: one ascent step on the one-hot item weights w, with ∂L/∂w = ∂L/∂e · E^T
        table = tf.cast(self.item_embeddings[: self.n_items], tf.float32)  # [V, d]
        weight_gradient = tf.einsum("bld,vd->blv", tf.cast(gradient, tf.float32), table)
        step = self.epsilon * tf.math.l2_normalize(weight_gradient, axis=-1)
        one_hot = tf.one_hot(tf.minimum(inputs, self.n_items - 1), self.n_items)
        mixture = tf.nn.relu(one_hot + step)
        mixture = mixture / tf.maximum(tf.reduce_sum(mixture, -1, keepdims=True), 1e-9)
        mixed = tf.einsum("blv,vd->bld", mixture, table)
        draw = replica_uniform((tf.shape(inputs)[0], tf.shape(inputs)[1]), self.seed_generator)
        switch = tf.cast(draw < self.substitution_rate, tf.float32)[:, :, tf.newaxis]
        switch = switch * tf.cast(valid, tf.float32)
        perturbed = switch * mixed + (1.0 - switch) * tf.cast(item_vectors, tf.float32)
        return tf.stop_gradient(tf.cast(perturbed, item_vectors.dtype))

    @property
    def metrics(self):
        return [self.loss_tracker, self.adversarial_tracker]

    def train_step(self, data):
        """One update on a batch of windows; a window of sample weight 0 changes nothing.

        The trackers hold, over an epoch, the mean over its batches of each (global) batch's
        loss per real target position: what Keras ``fit`` reported before the engine.
        """
        (users, inputs, targets), _, weights = keras.utils.unpack_x_y_sample_weight(data)
        weights = None if weights is None else tf.cast(weights, tf.float32)
        negatives = self.draw_negatives(users, targets)
        adversarial = self.adversary is not None and self.adversarial_weight > 0
        with tf.GradientTape() as tape:
            item_vectors = self.embed(inputs)
            if adversarial:
                with tf.GradientTape(watch_accessed_variables=False) as inner:
                    inner.watch(item_vectors)
                    clean = self.sequence_loss(
                        item_vectors, inputs, targets, negatives, weights=weights
                    )
                gradient = tf.stop_gradient(inner.gradient(clean, item_vectors))
                perturbed = self.adversarial_inputs(item_vectors, gradient, inputs)
                adversarial_loss = self.sequence_loss(
                    perturbed, inputs, targets, negatives, weights=weights
                )
                loss = clean + self.adversarial_weight * adversarial_loss
            else:
                loss = self.sequence_loss(item_vectors, inputs, targets, negatives, weights=weights)
                adversarial_loss = tf.constant(0.0)
            positions = tf.reduce_sum(self.target_positions(targets, weights))
            scaled = self.optimizer.scale_loss(scale_for_replicas(loss, count=positions))
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        # The global batch's losses per real position (this replica's losses on one device):
        # every replica tracks the same values, however its positions and padding fall.
        losses = tf.stack([loss, tf.cast(adversarial_loss, tf.float32)])
        batch_loss, batch_adversarial = tf.unstack(
            sum_over_replicas(scale_for_replicas(losses, count=positions))
        )
        self.loss_tracker.update_state(batch_loss)
        self.adversarial_tracker.update_state(batch_adversarial)
        return {
            "loss": self.loss_tracker.result(),
            "adversarial_loss": self.adversarial_tracker.result(),
        }

    def initialize_from(self, other: SASRec) -> SASRec:
        """Copies another SASRec's weights (same architecture); returns self."""
        mine, theirs = self.trainable_variables, other.trainable_variables
        if [tuple(v.shape) for v in mine] != [tuple(v.shape) for v in theirs]:
            raise ValueError("initialize_from needs a SASRec with the same sizes and blocks.")
        for target, source in zip(mine, theirs, strict=True):
            target.assign(source)
        return self
