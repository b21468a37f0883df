"""The real sentence encoder for the text tests, or a skip that says how to prepare it."""

from __future__ import annotations

import functools

import pytest

from advrec.data.errors import DataUnavailableError
from advrec.text.weights import locate_encoder_files


def encoder_files_or_skip():
    """The cached, verified all-MiniLM-L6-v2 files; skips the test where they were not fetched
    (``make test`` fetches them first, through ``python -m advrec.data.prepare``)."""
    try:
        return locate_encoder_files(download_missing=False)
    except DataUnavailableError:
        pytest.skip("the sentence encoder is not prepared: run `python -m advrec.data.prepare`")


@functools.cache
def _pretrained_encoder():
    from advrec.text.encoder import load_sentence_encoder

    return load_sentence_encoder(download_missing=False)


def pretrained_encoder_or_skip():
    """The pretrained encoder, loaded once per test session (it is frozen, so tests share it)."""
    encoder_files_or_skip()
    return _pretrained_encoder()
