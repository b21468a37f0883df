"""A reader of the safetensors format in numpy: the whole format fits on one screen.

A ``.safetensors`` file is an 8-byte little-endian header length ``N``, a JSON header of ``N``
bytes mapping each tensor's name to its ``dtype``, ``shape`` and ``data_offsets`` (begin and
end, counted from the first byte after the header), then the raw little-endian bytes. An optional
``"__metadata__"`` entry holds strings. Nothing in it is executed (unlike a pickled checkpoint),
which is why the format exists. Specification: https://github.com/huggingface/safetensors.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from advrec.data.errors import MalformedFileError

DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
"""The safetensors dtypes this reader supports (bfloat16 and float8 have no numpy dtype)."""

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header longer than this is refused (the reference implementation's limit)."""


def read_safetensors(
    source: bytes | str | os.PathLike, where: str = "", fix: str = ""
) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file, as read-only numpy arrays viewing its bytes.

    Args:
        source: the file's bytes, or its path.
        where: how to name the file in error messages (default: the path, or "safetensors data").
        fix: what to do about a broken file, appended to error messages.

    Returns:
        ``{name: array}`` in the header's order; ``"__metadata__"`` is left out.

    Raises:
        MalformedFileError: truncated data, a header that is not JSON, an unsupported dtype, or
            offsets that do not match the shape or overlap (the message names the tensor).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        where = where or "safetensors data"
    else:
        data = Path(source).read_bytes()
        where = where or str(source)
    tail = f" {fix}" if fix else ""

    def broken(problem: str) -> MalformedFileError:
        return MalformedFileError(f"{where}: not a valid safetensors file: {problem}.{tail}")

    if len(data) < 8:
        raise broken(f"{len(data)} bytes, fewer than the 8 of the header length")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise broken(f"header length {header_size:,} exceeds the {len(data) - 8:,} bytes after it")
    try:
        header = json.loads(data[8 : 8 + header_size])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise broken(f"the header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise broken("the header is not a JSON object")
    body = memoryview(data)[8 + header_size :]
    tensors: dict[str, np.ndarray] = {}
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype_name, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise broken(f"tensor {name!r} lacks dtype, shape or data_offsets: {entry!r}") from None
        if dtype_name not in DTYPES:
            raise broken(
                f"tensor {name!r} has dtype {dtype_name}; this reader supports {', '.join(DTYPES)}"
            )
        dtype = DTYPES[dtype_name]
        expected = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(body) or end - begin != expected:
            raise broken(
                f"tensor {name!r} ({dtype_name} {shape}) needs {expected:,} bytes but its "
                f"offsets are [{begin}, {end}) in a body of {len(body):,} bytes"
            )
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
    spans.sort()
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise broken(f"tensors {first!r} and {second!r} overlap")
    return tensors


def write_safetensors(tensors: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Writes ``tensors`` as a safetensors file (for tests and small exports); returns the path."""
    names = {dtype: name for name, dtype in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.asarray(array)  # tobytes() writes C order whatever the layout
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in names:
            raise ValueError(f"tensor {name!r}: dtype {array.dtype} has no safetensors name.")
        raw = array.astype(dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": names[dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)  # the body starts 8-byte aligned, as the spec advises
    path = Path(path)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))
    return path
