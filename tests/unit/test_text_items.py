"""MovieLens item texts and their cached embeddings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from text_fixtures import encoder_files_or_skip

from advrec.data.interactions import ItemFeatures
from advrec.text.items import item_text_embeddings, item_texts, natural_title

ITEMS = ItemFeatures(
    title=np.array(["Usual Suspects, The", "Tin Drum, The (Blechtrommel, Die)", "unknown", "Babe"]),
    year=np.array([1995, 1979, 0, 1995]),
    genres=np.array([[0, 1, 1], [0, 0, 1], [1, 0, 0], [0, 0, 0]], bool),
    genre_names=("unknown", "Crime", "Drama"),
)


def test_titles_get_their_articles_back_in_front():
    assert natural_title("Usual Suspects, The") == "The Usual Suspects"
    assert natural_title("Appartement, L'") == "L'Appartement"
    assert natural_title("Postino, Il (Postman, The)") == "Il Postino (The Postman)"
    assert natural_title("Crumb") == "Crumb"
    assert natural_title("Love, Actually") == "Love, Actually"  # not an article


def test_item_text_is_title_year_genres_without_placeholders():
    assert item_texts(ITEMS) == [
        "The Usual Suspects. 1995. Crime, Drama.",
        "The Tin Drum (Die Blechtrommel). 1979. Drama.",
        "unknown.",  # year 0 and the genre "unknown" are left out
        "Babe. 1995.",
    ]


class CountingEncoder:
    """Stands in for the sentence encoder: row i is (i, len(text)), and counts its calls."""

    def __init__(self, weights_sha256="ab" * 32):
        self.weights_sha256, self.calls = weights_sha256, 0
        self.tokenizer = type("T", (), {"max_length": 256})()

    def encode_texts(self, texts, batch_size=128):
        self.calls += 1
        return np.array([[i, len(t)] for i, t in enumerate(texts)], np.float32)


def _dataset(synthetic_dataset, items=ITEMS):
    n = len(items.title)
    interactions = synthetic_dataset.interactions
    interactions = interactions.select(interactions.item < n)
    interactions = dataclasses.replace(interactions, n_items=n)
    return dataclasses.replace(synthetic_dataset, interactions=interactions, items=items)


def test_embeddings_are_computed_once_then_read_from_the_cache(tmp_path, synthetic_dataset):
    dataset = _dataset(synthetic_dataset)
    encoder = CountingEncoder()
    first = item_text_embeddings(dataset, encoder, cache=tmp_path)
    assert first.shape == (4, 2) and first.dtype == np.float32 and encoder.calls == 1
    second = item_text_embeddings(dataset, encoder, cache=tmp_path)
    np.testing.assert_array_equal(first, second)
    assert encoder.calls == 1  # from the cache
    assert len(list((tmp_path / "text-embeddings").glob("*.npy"))) == 1

    # Another text, or another checkpoint, is another key.
    renamed = ItemFeatures(ITEMS.title.copy(), ITEMS.year, ITEMS.genres, ITEMS.genre_names)
    renamed.title[3] = "Babe 2"
    item_text_embeddings(_dataset(synthetic_dataset, renamed), encoder, cache=tmp_path)
    item_text_embeddings(dataset, CountingEncoder("cd" * 32), cache=tmp_path)
    assert len(list((tmp_path / "text-embeddings").glob("*.npy"))) == 3

    # Random weights (no digest) are never cached.
    random = CountingEncoder(weights_sha256=None)
    item_text_embeddings(dataset, random, cache=tmp_path)
    item_text_embeddings(dataset, random, cache=tmp_path)
    assert random.calls == 2


def test_a_dataset_without_titles_is_refused(synthetic_dataset):
    with pytest.raises(ValueError, match="has no item side information"):
        item_text_embeddings(dataclasses.replace(synthetic_dataset, items=None), CountingEncoder())


def test_ml100k_embeddings_by_item_id():
    """One line gives the cold-start models their content features: [n_items, 384] by item id."""
    encoder_files_or_skip()
    from advrec.data import load_movielens
    from advrec.data.errors import DataUnavailableError

    try:
        dataset = load_movielens("ml-100k", download_missing=False)
    except DataUnavailableError:
        pytest.skip("ML-100K not prepared: run `python -m advrec.data.prepare`")
    features = item_text_embeddings(dataset)
    assert features.shape == (1682, 384) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    texts = item_texts(dataset.items)
    assert texts[0] == "Toy Story. 1995. Animation, Children's, Comedy."
    assert texts[11] == "The Usual Suspects. 1995. Crime, Thriller."
    # Row i is item i's text: Toy Story's nearest neighbours by text are animated films.
    neighbours = np.argsort(-(features @ features[0]))[1:6]
    assert sum("Animation" in texts[i] for i in neighbours) >= 3, [texts[i] for i in neighbours]
