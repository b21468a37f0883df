"""The Keras encoder computes what the published all-MiniLM-L6-v2 computes.

Three checks, from the inside out: (1) it equals an independent forward pass written here in
plain numpy (float64) from the same safetensors file, within 1e-6 per coordinate of the unit
vectors (float32 against float64; we measured 1e-7); (2) it reproduces the similarities that the
sentence-transformers documentation prints for this model (sbert.net, pages
docs/sentence_transformer/usage/usage.html and .../usage/semantic_textual_similarity.html),
within 1e-4 (they are printed with four decimals); (3) paraphrases score higher than unrelated
sentences. Then: XLA, padding, and clear errors for a broken checkpoint.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf
from text_fixtures import encoder_files_or_skip, pretrained_encoder_or_skip
from threadpoolctl import threadpool_limits

from advrec.data import sources
from advrec.data.errors import ChecksumError, MalformedFileError
from advrec.text.encoder import EncoderConfig, SentenceEncoder, load_sentence_encoder
from advrec.text.safetensors import read_safetensors
from advrec.text.weights import FOLDER

SENTENCES = [
    "The weather is lovely today.",
    "He drove to the stadium.",
    "The Usual Suspects. 1995. Crime, Thriller.",
    "Café Müller — naïve façade, résumé; 東京 and a much longer tail of words to pad the others",
]


@pytest.fixture(scope="module")
def encoder():
    return pretrained_encoder_or_skip()


def numpy_forward(tensors: dict, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT + masked mean pooling + l2 normalisation in float64 numpy, from the checkpoint's
    tensor names (Hugging Face ``BertModel`` and sentence-transformers ``Pooling``)."""

    class Float64(dict):  # converts a tensor when first used (the word table only in part)
        def __missing__(self, name):
            self[name] = np.asarray(tensors[name], np.float64)
            return self[name]

    w = Float64()

    def layer_norm(x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]

    def linear(x, name):  # 2-D products: numpy's batched matmul would skip BLAS here
        out = x.reshape(-1, x.shape[-1]) @ w[name + ".weight"].T + w[name + ".bias"]
        return out.reshape(*x.shape[:-1], -1)

    batch, length = ids.shape
    h = (
        np.asarray(tensors["embeddings.word_embeddings.weight"][ids], np.float64)
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    h = layer_norm(h, "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float64).min)
    for i in range(6):
        p = f"encoder.layer.{i}."

        def heads(x):
            return x.reshape(batch, length, 12, 32).transpose(0, 2, 1, 3)

        q, k, v = (heads(linear(h, p + "attention.self." + n)) for n in ("query", "key", "value"))
        logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32) + bias
        logits -= logits.max(-1, keepdims=True)
        attention = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, 384)
        h = layer_norm(
            h + linear(context, p + "attention.output.dense"), p + "attention.output.LayerNorm"
        )
        f = linear(h, p + "intermediate.dense")
        f = 0.5 * f * (1.0 + erf(f / np.sqrt(2.0)))
        h = layer_norm(h + linear(f, p + "output.dense"), p + "output.LayerNorm")
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_the_keras_encoder_equals_an_independent_numpy_forward_pass(encoder):
    batch = encoder.tokenizer(SENTENCES)  # padded: the masks differ between rows
    assert batch.mask.sum(1).min() < batch.mask.shape[1]
    with threadpool_limits(1):  # small products; BLAS threads next to TensorFlow's only spin
        reference = numpy_forward(
            read_safetensors(encoder_files_or_skip().weights), batch.token_ids, batch.mask
        )
    ours = encoder((batch.token_ids, batch.mask)).numpy()
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


def test_it_reproduces_the_similarities_published_for_the_model(encoder):
    # sbert.net, "Computing Embeddings": model.similarity of these three sentences.
    e = encoder.encode_texts(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    published = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]
    np.testing.assert_allclose(e @ e.T, published, atol=1e-4)
    # sbert.net, "Semantic Textual Similarity": two lists, all pairs.
    first = encoder.encode_texts(
        ["The new movie is awesome", "The cat sits outside", "A man is playing guitar"]
    )
    second = encoder.encode_texts(
        ["The dog plays in the garden", "The new movie is so great", "A woman watches TV"]
    )
    published = [
        [0.0543, 0.8939, -0.0502],
        [0.2838, -0.0029, 0.1310],
        [0.2277, -0.0136, -0.0327],
    ]
    np.testing.assert_allclose(first @ second.T, published, atol=1e-4)


def test_paraphrases_score_higher_than_unrelated_sentences(encoder):
    pairs = [
        ("A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell."),
        (
            "Toy Story. 1995. Animation, Children's, Comedy.",
            "Toy Story 2. 1999. Animation, Children's, Comedy.",
            "Schindler's List. 1993. Drama, War.",
        ),
        ("How do I bake bread?", "What is a recipe for bread?", "Where is the train station?"),
    ]
    for anchor, paraphrase, unrelated in pairs:
        a, p, u = encoder.encode_texts([anchor, paraphrase, unrelated])
        assert a @ p > a @ u + 0.2, (anchor, a @ p, a @ u)


def test_padding_and_batch_company_do_not_change_an_embedding(encoder):
    together = encoder.encode_texts(SENTENCES, batch_size=4)
    alone = np.concatenate([encoder.encode_texts([s]) for s in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-6)


@pytest.mark.slow  # XLA compiles six layers and their gradient: about 10 s on a CPU
def test_it_compiles_with_xla_and_gives_the_same_embeddings_and_gradients(encoder):
    batch = encoder.tokenizer(SENTENCES[:3], length=16)
    ids, mask = tf.constant(batch.token_ids), tf.constant(batch.mask)

    def embeddings_and_gradient(ids, mask):
        vectors = encoder.embed_tokens(ids)
        with tf.GradientTape() as tape:
            tape.watch(vectors)
            out = encoder.encode_embeddings(vectors, mask)
            total = tf.reduce_sum(out[:, :5])
        return out, tape.gradient(total, vectors)

    eager = embeddings_and_gradient(ids, mask)
    compiled = tf.function(embeddings_and_gradient, jit_compile=True)(ids, mask)
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(compiled[1].numpy(), eager[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(eager[0].numpy(), encoder((ids, mask)).numpy(), atol=1e-6)
    assert float(tf.reduce_max(tf.abs(eager[1]))) > 0
    assert encoder.word_embeddings.shape == (30522, 384)


SMALL = EncoderConfig(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=16, max_position_embeddings=10)  # fmt: skip


def test_a_checkpoint_that_does_not_fit_is_refused_with_every_problem_named():
    model = SentenceEncoder(SMALL)
    tensors = {
        name: np.zeros(variable.shape[::-1] if transpose else variable.shape, np.float32)
        for name, (variable, transpose) in model.weight_names().items()
    }
    model.load_tensors(tensors)  # the complete set loads
    del tensors["encoder.layer.1.output.dense.bias"]
    tensors["embeddings.word_embeddings.weight"] = np.zeros((21, 8), np.float32)
    with pytest.raises(MalformedFileError, match="ckpt does not fit this encoder") as error:
        model.load_tensors(tensors, where="ckpt")
    assert "word_embeddings.weight has shape (21, 8), expected (20, 8)" in str(error.value)
    assert "encoder.layer.1.output.dense.bias missing" in str(error.value)


def test_a_config_of_another_architecture_is_refused():
    with pytest.raises(MalformedFileError, match="exact GELU"):
        EncoderConfig.from_json({"model_type": "bert", "hidden_act": "gelu_new"})
    with pytest.raises(MalformedFileError, match="lacks"):
        EncoderConfig.from_json({"model_type": "bert", "hidden_act": "gelu"})


def test_an_altered_weight_file_stops_the_loader(tmp_path, monkeypatch):
    files = encoder_files_or_skip()
    copy = tmp_path / FOLDER
    shutil.copytree(files.folder, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one weight
    (copy / "model.safetensors").write_bytes(bytes(data))
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path))
    with pytest.raises(ChecksumError, match="model.safetensors: sha256 is .* Delete the folder"):
        load_sentence_encoder(download_missing=False)
