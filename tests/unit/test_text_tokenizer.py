"""BERT's WordPiece tokenizer in plain Python: the three steps on a toy vocabulary, then exact ids
from the real ``tokenizer.json``.

The pinned ids were cross-checked once, during development, against Hugging Face ``tokenizers``
0.23.3 (``Tokenizer.from_file(tokenizer.json).encode(text).ids``, no truncation): identical for
these sentences, for all 1,682 ML-100K titles and for 3,000 random strings of ASCII, Latin,
combining, CJK, control and space characters. The library is not a dependency, so the test pins
the numbers instead of calling it.
"""

from __future__ import annotations

import numpy as np
import pytest
from text_fixtures import encoder_files_or_skip

from advrec.data.errors import MalformedFileError
from advrec.text.tokenizer import WordPieceTokenizer

TOY_VOCAB = {
    p: i
    for i, p in enumerate(
        [
            "[PAD]",
            "[UNK]",
            "[CLS]",
            "[SEP]",
            "[MASK]",
            "un",
            "##aff",
            "##able",
            "aff",
            "able",
            "cafe",
            ",",
            "!",
            "the",
            "##s",
            "run",
            "##ning",
            "[unused0]",
        ]  # fmt: skip
    )
}


@pytest.fixture
def toy() -> WordPieceTokenizer:
    return WordPieceTokenizer(TOY_VOCAB, max_length=6)


def test_normalisation_cleans_lowercases_and_strips_accents(toy):
    assert toy.normalize("Café\tRÉSUMÉ\x00\u200b\n") == "cafe resume "  # NUL, ZWSP dropped
    assert toy.normalize("東京") == " 東  京 "  # CJK ideographs become words of their own


def test_words_are_split_at_whitespace_and_every_punctuation_character(toy):
    assert toy.split_words("hello,world!! $5 e-mail") == [
        "hello", ",", "world", "!", "!", "$", "5", "e", "-", "mail"
    ]  # fmt: skip


def test_word_pieces_are_greedy_longest_match_first(toy):
    assert toy.word_pieces("unaffable") == ["un", "##aff", "##able"]
    assert toy.word_pieces("running") == ["run", "##ning"]
    assert toy.word_pieces("unx") == ["[UNK]"]  # a word that cannot be cut is one [UNK]
    assert toy.word_pieces("x" * 101) == ["[UNK]"]


def test_encode_adds_cls_and_sep_and_truncates_to_max_length(toy):
    assert toy.encode("Unaffable, the runs!") == [2, 5, 6, 7, 11, 3]  # 6 ids: truncated
    batch = toy(["the", "runs !"])
    np.testing.assert_array_equal(batch.token_ids, [[2, 13, 3, 0, 0], [2, 15, 14, 12, 3]])
    np.testing.assert_array_equal(batch.mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="needs 5 ids but length is 4"):
        toy(["runs !"], length=4)
    with pytest.raises(ValueError, match="list of texts"):
        toy("the")


def test_decode_joins_pieces_and_specials_are_listed(toy):
    assert toy.decode([2, 5, 6, 7, 11, 13, 15, 14, 12, 3, 0]) == "unaffable, the runs!"
    assert set(toy.special_ids()) == {0, 1, 2, 3, 4, 17}


def test_a_tokenizer_json_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": {"type": "BPE"}, "normalizer": {"type": "NFC"}, '
                    '"pre_tokenizer": {"type": "ByteLevel"}}')  # fmt: skip
    with pytest.raises(MalformedFileError, match="only knows BERT's tokenizer"):
        WordPieceTokenizer.from_json(path)
    path.write_text("{not json")
    with pytest.raises(MalformedFileError, match="not a readable tokenizer.json"):
        WordPieceTokenizer.from_json(path)


PINNED = {
    "The weather is lovely today.": [101, 1996, 4633, 2003, 8403, 2651, 1012, 102],
    "Café Müller — naïve façade, résumé; 東京": [
        101, 7668, 12304, 1517, 15743, 8508, 1010, 13746, 1025, 1879, 1755, 102
    ],
    "unaffable $100+ tax e-mail@x.org": [
        101, 14477, 20961, 3468, 1002, 2531, 1009, 4171, 1041, 1011, 5653, 1030, 1060, 1012,
        8917, 102,
    ],
    "The Usual Suspects. 1995. Crime, Thriller.": [
        101, 1996, 5156, 13172, 1012, 2786, 1012, 4126, 1010, 10874, 1012, 102
    ],
    "Shadows (Cienie). 1988. Drama.": [
        101, 6281, 1006, 25022, 18595, 2063, 1007, 1012, 2997, 1012, 3689, 1012, 102
    ],
    "Don't stop-believin' #1": [
        101, 2123, 1005, 1056, 2644, 1011, 19337, 2666, 6371, 1005, 1001, 1015, 102
    ],
    "x" * 101 + " ok": [101, 100, 7929, 102],
}  # fmt: skip


def test_ids_equal_those_of_the_reference_tokenizer():
    tokenizer = WordPieceTokenizer.from_json(encoder_files_or_skip().tokenizer)
    assert tokenizer.vocab_size == 30522 and tokenizer.max_length == 256
    for text, ids in PINNED.items():
        assert tokenizer.encode(text) == ids, text
    assert tokenizer.decode(PINNED["The Usual Suspects. 1995. Crime, Thriller."]) == (
        "the usual suspects. 1995. crime, thriller."
    )
