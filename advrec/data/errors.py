"""Typed errors for dataset loading: each names the file, what was expected and how to fix it."""

from __future__ import annotations


class DataError(Exception):
    """Base class of every error raised while locating, verifying or parsing a dataset."""


class MissingFileError(DataError):
    """A file the dataset needs is not where it should be."""


class ChecksumError(DataError):
    """A file's sha256 differs from the published one (truncated, modified or wrong version)."""


class MalformedFileError(DataError):
    """A file has the wrong shape or content: column count, non-numeric id, bad value, duplicate."""


class EmptyFileError(MalformedFileError):
    """A file holds no data rows."""


class TruncatedFileError(MalformedFileError):
    """A file has fewer rows than the dataset is known to have, or ends in the middle of a row."""


class DataUnavailableError(DataError):
    """No source could provide the dataset; the message lists every source tried and why."""
