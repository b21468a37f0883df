"""BERT's uncased WordPiece tokenizer in plain Python, read from a ``tokenizer.json``.

Three steps turn a string into the ids the encoder reads (Devlin et al., 2019; the rules are
those of Hugging Face ``tokenizers``' ``BertNormalizer``, ``BertPreTokenizer`` and ``WordPiece``):

1. **normalise**: drop control characters, turn every whitespace into a space, put spaces around
   CJK ideographs, strip accents (Unicode NFD, then drop the combining marks) and lower-case;
2. **split** on whitespace, and cut every punctuation character out as a word of its own;
3. **WordPiece**: cut each word greedily into the longest vocabulary entries from the left, the
   pieces after the first carrying the ``##`` prefix ("unaffable" -> "una ##ffa ##ble"); a word
   that cannot be cut (or is longer than 100 characters) becomes ``[UNK]``.

Then ``[CLS]`` goes in front and ``[SEP]`` behind, the ids are truncated to ``max_length``, and a
batch is padded with ``[PAD]`` (id 0) behind an attention mask.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advrec.data.errors import MalformedFileError

NO_SPACE_BEFORE = frozenset(".,;:!?)]}%")
NO_SPACE_AFTER = frozenset("([{$#")
NO_SPACE_AROUND = frozenset("-'/")


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) in ("Zs", "Zl", "Zp")


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Cn", "Co")


def _is_punctuation(char: str) -> bool:
    """ASCII punctuation (symbols such as ``$`` and ``+`` included) and Unicode ``P*``."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


@dataclass(frozen=True)
class Batch:
    """Token ids of a batch of texts, padded to one length.

    Attributes:
        token_ids: int32 ``[B, L]``, ``[CLS] ... [SEP]`` then ``[PAD]`` (0).
        mask: int32 ``[B, L]``, 1 on real tokens and 0 on padding.
    """

    token_ids: np.ndarray
    mask: np.ndarray


class WordPieceTokenizer:
    """BERT uncased WordPiece (see the module note).

    Args:
        vocab: ``{piece: id}``.
        max_length: the longest id sequence produced, ``[CLS]`` and ``[SEP]`` included
            (sentence-transformers uses 256 for all-MiniLM-L6-v2).
        lowercase, strip_accents: normalisation switches (both on for uncased BERT).
        max_chars_per_word: longer words become ``[UNK]``.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        max_length: int = 256,
        lowercase: bool = True,
        strip_accents: bool = True,
        max_chars_per_word: int = 100,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}.")
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}.")
        self.vocab = dict(vocab)
        self.pieces = [""] * (max(vocab.values()) + 1)
        for piece, index in vocab.items():
            self.pieces[index] = piece
        self.max_length = int(max_length)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.max_chars_per_word = max_chars_per_word
        self.pad_id, self.unk_id = vocab["[PAD]"], vocab["[UNK]"]
        self.cls_id, self.sep_id = vocab["[CLS]"], vocab["[SEP]"]

    @classmethod
    def from_json(cls, path: str | os.PathLike, max_length: int = 256) -> WordPieceTokenizer:
        """Reads a Hugging Face ``tokenizer.json`` of a BERT WordPiece model.

        Raises:
            MalformedFileError: not a BERT WordPiece tokenizer (the message says what differs).
        """
        path = Path(path)
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            model, normalizer = spec["model"], spec["normalizer"]
            kind = (model["type"], normalizer["type"], spec["pre_tokenizer"]["type"])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise MalformedFileError(
                f"{path}: not a readable tokenizer.json ({type(error).__name__}: {error})."
            ) from None
        if kind != ("WordPiece", "BertNormalizer", "BertPreTokenizer"):
            raise MalformedFileError(
                f"{path}: model/normalizer/pre-tokenizer are {kind}, expected "
                "('WordPiece', 'BertNormalizer', 'BertPreTokenizer'): this reader only knows "
                "BERT's tokenizer."
            )
        lowercase = bool(normalizer.get("lowercase", True))
        strip = normalizer.get("strip_accents")
        return cls(
            model["vocab"],
            max_length=max_length,
            lowercase=lowercase,
            strip_accents=lowercase if strip is None else bool(strip),  # None: follow lowercase
            max_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
        )

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def normalize(self, text: str) -> str:
        """Step 1: clean, space out CJK, strip accents, lower-case."""
        chars = []
        for char in text:
            code = ord(char)
            if code == 0 or code == 0xFFFD or _is_control(char):
                continue
            if _is_whitespace(char):
                chars.append(" ")
            elif _is_cjk(code):
                chars.append(f" {char} ")
            else:
                chars.append(char)
        text = "".join(chars)
        if self.strip_accents:
            text = "".join(
                c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
            )
        return text.lower() if self.lowercase else text

    @staticmethod
    def split_words(text: str) -> list[str]:
        """Step 2: whitespace-separated words, each punctuation character a word of its own."""
        words: list[str] = []
        for chunk in text.split():
            start = 0
            for i, char in enumerate(chunk):
                if _is_punctuation(char):
                    if start < i:
                        words.append(chunk[start:i])
                    words.append(char)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def word_pieces(self, word: str) -> list[str]:
        """Step 3: greedy longest-match-first WordPiece of one word (``["[UNK]"]`` if none)."""
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text``, without ``[CLS]``/``[SEP]`` and not truncated."""
        return [p for w in self.split_words(self.normalize(text)) for p in self.word_pieces(w)]

    def encode(self, text: str) -> list[int]:
        """``[CLS] pieces [SEP]`` ids, the pieces truncated to fit ``max_length``."""
        ids = [self.vocab[p] for p in self.tokenize(text)][: self.max_length - 2]
        return [self.cls_id, *ids, self.sep_id]

    def __call__(self, texts: Sequence[str], length: int | None = None) -> Batch:
        """Encodes and pads ``texts`` to ``length`` (default: the longest of the batch).

        Raises:
            ValueError: ``texts`` is a single string, or a text needs more than ``length`` ids.
        """
        if isinstance(texts, str):
            raise ValueError("pass a list of texts (a single string would be split in letters).")
        encoded = [self.encode(text) for text in texts]
        longest = max((len(ids) for ids in encoded), default=2)
        length = longest if length is None else int(length)
        if longest > length:
            raise ValueError(
                f"a text needs {longest} ids but length is {length}; pass a larger length (at "
                f"most max_length={self.max_length}) or None."
            )
        token_ids = np.full((len(texts), length), self.pad_id, np.int32)
        mask = np.zeros((len(texts), length), np.int32)
        for row, ids in enumerate(encoded):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        return Batch(token_ids, mask)

    def decode(self, ids: Sequence[int]) -> str:
        """Readable text of ids: special tokens dropped, ``##`` pieces joined to the piece before
        them, and the usual spacing around punctuation (no space before ``.,;:!?)``, none after
        ``(``, none around ``-'/``). Lower-cased and accent-free, as the encoder saw it."""
        text = ""
        glue_next = True  # no space before the first piece
        for index in ids:
            piece = self.pieces[int(index)]
            if piece in ("[PAD]", "[CLS]", "[SEP]"):
                continue
            if piece.startswith("##"):
                piece, glue = piece[2:], True
            else:
                glue = glue_next or piece in NO_SPACE_BEFORE or piece in NO_SPACE_AROUND
            text += piece if glue else " " + piece
            glue_next = piece in NO_SPACE_AFTER or piece in NO_SPACE_AROUND
        return text

    def special_ids(self) -> np.ndarray:
        """int32 ids of every bracketed entry (``[PAD]``, ``[CLS]``, ``[unused0]``, ...): pieces
        that no text produces, which an editor of texts should not be offered."""
        return np.array(
            [i for i, p in enumerate(self.pieces) if p.startswith("[") and p.endswith("]")],
            np.int32,
        )
