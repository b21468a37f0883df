"""The numpy safetensors reader: round trip, and a clear error for every kind of broken file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from advrec.data.errors import MalformedFileError
from advrec.text.safetensors import read_safetensors, write_safetensors

TENSORS = {
    "embeddings.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
    "position_ids": np.arange(5, dtype=np.int64)[np.newaxis],
    "half": np.array([1.5, -2.0], np.float16),
    "scalar": np.array(3.25, np.float64),
}


def _file(header: dict, body: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    path = write_safetensors(TENSORS, tmp_path / "t.safetensors")
    read = read_safetensors(path)
    assert list(read) == list(TENSORS)
    for name, array in TENSORS.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    assert read_safetensors(path.read_bytes())["half"][0] == np.float16(1.5)


def test_the_layout_is_the_published_one():
    # 8-byte little-endian header length, JSON header, then the raw little-endian bytes.
    body = np.array([1.0, 2.0], "<f4").tobytes()
    data = _file(
        {
            "__metadata__": {"format": "pt"},
            "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        },
        body,
    )
    read = read_safetensors(data)
    assert list(read) == ["x"]  # metadata is not a tensor
    np.testing.assert_array_equal(read["x"], [1.0, 2.0])


BROKEN = {
    "too short": (b"\x01\x02", "fewer than the 8 of the header length"),
    "header longer than the file": (struct.pack("<Q", 1000) + b"{}", "exceeds"),
    "header not JSON": (struct.pack("<Q", 3) + b"{x}", "not JSON"),
    "header not an object": (_file([1, 2]), "not a JSON object"),  # type: ignore[arg-type]
    "entry without offsets": (_file({"x": {"dtype": "F32", "shape": [1]}}), "lacks dtype"),
    "unsupported dtype": (
        _file({"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0"),
        "has dtype BF16",
    ),
    "offsets disagree with the shape": (
        _file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 8),
        "needs 8 bytes",
    ),
    "offsets past the end": (
        _file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 8),
        "needs 8 bytes but its offsets are [4, 12)",
    ),
    "overlapping tensors": (
        _file(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
            },
            b"\0" * 8,
        ),
        "overlap",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_raise_a_typed_error_that_names_the_problem(case):
    data, message = BROKEN[case]
    with pytest.raises(MalformedFileError, match="weights.bin: not a valid safetensors") as error:
        read_safetensors(data, where="weights.bin", fix="Fetch it again.")
    assert message in str(error.value) and str(error.value).endswith("Fetch it again.")
