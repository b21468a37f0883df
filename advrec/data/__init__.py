"""Datasets, splits and training batches.

TensorFlow is imported only when a sampler is asked for, so that the data set-up step
(``python -m advrec.data.prepare``) stays fast.
"""

import importlib

from advrec.data.errors import (
    ChecksumError,
    DataError,
    DataUnavailableError,
    EmptyFileError,
    MalformedFileError,
    MissingFileError,
    TruncatedFileError,
)
from advrec.data.interactions import Dataset, Interactions, ItemFeatures, UserFeatures
from advrec.data.movielens import (
    GENRES_1M,
    GENRES_100K,
    GROUPLENS_TERMS,
    MOVIELENS_BIBTEX,
    MOVIELENS_CITATION,
    load_movielens,
    locate_movielens,
)
from advrec.data.splits import Split, leave_one_out, random_holdout
from advrec.data.synthetic import synthetic_at_scale, synthetic_movielens

_NEEDS_TENSORFLOW = {
    "NegativeSampler": "advrec.data.sampling",
    "positive_pairs": "advrec.data.sampling",
}


def __getattr__(name: str):
    if name in _NEEDS_TENSORFLOW:
        return getattr(importlib.import_module(_NEEDS_TENSORFLOW[name]), name)
    raise AttributeError(f"module 'advrec.data' has no attribute {name!r}")


__all__ = [
    "GENRES_100K",
    "GENRES_1M",
    "GROUPLENS_TERMS",
    "MOVIELENS_BIBTEX",
    "MOVIELENS_CITATION",
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "Dataset",
    "EmptyFileError",
    "Interactions",
    "ItemFeatures",
    "MalformedFileError",
    "MissingFileError",
    "NegativeSampler",
    "Split",
    "TruncatedFileError",
    "UserFeatures",
    "leave_one_out",
    "load_movielens",
    "locate_movielens",
    "positive_pairs",
    "random_holdout",
    "synthetic_at_scale",
    "synthetic_movielens",
]
