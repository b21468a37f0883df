"""MovieLens items as text, and their sentence embeddings, computed once and cached.

An item's text is ``"Title. Year. Genre, Genre."``, e.g. ``"The Usual Suspects. 1995. Crime,
Thriller."``: MovieLens writes "Usual Suspects, The", which we turn back into English word order
(also inside the parenthesised original titles), a year of 0 (unknown) is left out and so is the
placeholder genre "unknown".

:func:`item_text_embeddings` returns the float32 ``[n_items, 384]`` matrix by item id -- the
content features of a text-aware or cold-start recommender in one line::

    features = item_text_embeddings("ml-100k")

The matrix is cached as ``.npy`` in ``$ADVREC_CACHE_DIR/text-embeddings/`` under a key made of
the texts and the weight file's sha256, so a changed text or another checkpoint never reuses a
stale file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from advrec.data.interactions import Dataset, ItemFeatures
from advrec.data.sources import cache_dir, cache_problem
from advrec.text.weights import DEFAULT_MAX_LENGTH, WEIGHTS_SHA256

TRAILING_ARTICLE = re.compile(
    r"^(?P<rest>.+), (?P<article>The|A|An|L'|La|Le|Les|Il|El|Lo|Los|Las|Der|Die|Das|Det|Den)$"
)
"""``"Usual Suspects, The"``: MovieLens' library-catalogue order, with the article at the end."""
PARENTHESES = re.compile(r"\(([^()]*)\)")


def natural_title(title: str) -> str:
    """``"Usual Suspects, The"`` -> ``"The Usual Suspects"``; also inside parentheses
    (``"Tin Drum, The (Blechtrommel, Die)"`` -> ``"The Tin Drum (Die Blechtrommel)"``)."""

    def reorder(part: str) -> str:
        match = TRAILING_ARTICLE.match(part.strip())
        if match is None:
            return part
        article = match["article"]
        return f"{article}{'' if article.endswith(chr(39)) else ' '}{match['rest']}"

    outside = PARENTHESES.sub("", title).strip()
    inner = [reorder(p) for p in PARENTHESES.findall(title)]
    return " ".join([reorder(outside), *(f"({p})" for p in inner)])


def item_texts(items: ItemFeatures) -> list[str]:
    """One ``"Title. Year. Genre, Genre."`` per item, in item-id order."""
    texts = []
    for title, year, flags in zip(items.title, items.year, items.genres, strict=True):
        named = zip(items.genre_names, flags, strict=True)
        genres = [g for g, on in named if on and g != "unknown"]
        parts = [natural_title(str(title))]
        if int(year) > 0:
            parts.append(str(int(year)))
        if genres:
            parts.append(", ".join(genres))
        texts.append(" ".join(f"{p.rstrip('.')}." for p in parts))
    return texts


def embedding_key(texts: list[str], weights_sha256: str, max_length: int) -> str:
    """16 hex digits of sha256 over the weight file's digest, ``max_length`` and the texts."""
    digest = hashlib.sha256(f"{weights_sha256}\n{max_length}\n".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def item_text_embeddings(
    dataset: Dataset | str = "ml-100k",
    encoder=None,
    cache: str | os.PathLike | None = None,
    batch_size: int = 128,
) -> np.ndarray:
    """float32 ``[n_items, 384]``: the unit-length sentence embedding of each item's text.

    Args:
        dataset: a loaded MovieLens :class:`~advrec.data.Dataset`, or its name (loaded with
            :func:`advrec.data.load_movielens`).
        encoder: a :class:`~advrec.text.encoder.SentenceEncoder` (default: the pretrained one,
            loaded only when the embeddings are not cached yet). One without a
            ``weights_sha256`` (random weights) is never cached.
        cache: the cache folder (default ``$ADVREC_CACHE_DIR``, else ``~/.cache/advrec``); an
            unusable one only means the embeddings are computed again next time.

    Raises:
        ValueError: the dataset has no item texts (e.g. a synthetic one).
    """
    if isinstance(dataset, str):
        from advrec.data import load_movielens

        dataset = load_movielens(dataset, cache=cache)
    if dataset.items is None:
        raise ValueError(
            f"dataset {dataset.name!r} has no item side information (titles), so it has no item "
            "texts; use MovieLens (load_movielens('ml-100k'))."
        )
    texts = item_texts(dataset.items)
    weights = WEIGHTS_SHA256 if encoder is None else encoder.weights_sha256
    max_length = DEFAULT_MAX_LENGTH if encoder is None else encoder.tokenizer.max_length
    root = cache_dir(cache)
    path = None
    if weights is not None:
        key = embedding_key(texts, weights, max_length)
        path = root / "text-embeddings" / f"{dataset.name}-{key}.npy"
        if path.is_file():
            cached = np.load(path)
            if cached.ndim == 2 and len(cached) == len(texts) and cached.dtype == np.float32:
                return cached
    if encoder is None:
        from advrec.text.encoder import load_sentence_encoder

        encoder = load_sentence_encoder(cache)
    embeddings = encoder.encode_texts(texts, batch_size=batch_size)
    if path is not None and cache_problem(root) is None:
        _save_atomically(path, embeddings)
    return embeddings


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as scratch:
        np.save(scratch, array)
    Path(scratch.name).replace(path)
