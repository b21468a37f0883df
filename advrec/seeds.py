"""Seeds for the parts of one run, derived from the run's seed by name.

A run has one seed (it fixes the split, the initialisation and the order of the examples); every
other random choice in it -- a second player's initialisation, an attacker's surrogate, a layer's
dropout -- gets its own seed from :func:`derive_seed`, so no two parts share a stream by accident
and no part is seeded with an ad-hoc offset such as ``seed + 100``.
"""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed"]


def derive_seed(seed: int, name: str) -> int:
    """A seed in ``[0, 2**31)`` for the part ``name`` of the run seeded with ``seed``.

    Stable across processes, machines and Python versions (a SHA-256 of ``"seed/name"``, not
    Python's salted ``hash``); different names give unrelated seeds.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if not name:
        raise ValueError("name the part of the run the seed is for, e.g. 'discriminator'.")
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
