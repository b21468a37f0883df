"""Joining stored-run parts computed for disjoint seeds (on several machines) into one file."""

from __future__ import annotations

import json

import pytest

from advrec.__main__ import main
from advrec.recipes.stored import STORED_RUNS, config_record, load_stored, merge_parts

NAME = "bpr-ml100k"


def part(directory, seeds, wall=10.0, created="2026-12-04T10:00:00+00:00", **changes):
    """A file as :func:`advrec.recipes.stored.reproduce` writes it for ``seeds``."""
    document = {
        "name": NAME,
        "recipe": "bpr",
        "about": "",
        "dataset": "ml-100k",
        "protocol": None,
        "config": config_record(STORED_RUNS[NAME].config),
        "seeds": list(seeds),
        "commit": "abc",
        "versions": {"advrec": "1"},
        "device": {"kind": "CPU"},
        "created": created,
        "wall_seconds": wall,
        "runs": [{"seed": s, "test": {"ndcg@10": 0.1 * s}} for s in seeds],
        **changes,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{NAME}.json"
    path.write_text(json.dumps(document))
    return path


def test_parts_join_in_seed_order_with_their_times_summed(tmp_path):
    second = part(tmp_path / "b", [3, 1], wall=5.5, created="2026-12-04T11:00:00+00:00")
    first = part(tmp_path / "a", [0, 2, 4], wall=10.0)
    path = merge_parts(NAME, [second, first], tmp_path / "out")
    merged = load_stored(NAME, tmp_path / "out")
    assert merged.seeds == [0, 1, 2, 3, 4]
    assert merged.test("ndcg@10").tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert merged.document["wall_seconds"] == 15.5
    assert merged.document["created"] == "2026-12-04T11:00:00+00:00"
    assert path == tmp_path / "out" / f"{NAME}.json"


def test_overlapping_or_mismatched_parts_are_refused(tmp_path):
    a = part(tmp_path / "a", [0, 1])
    with pytest.raises(ValueError, match="overlap"):
        merge_parts(NAME, [a, part(tmp_path / "b", [1, 2])], tmp_path / "out")
    with pytest.raises(ValueError, match="'commit'"):
        merge_parts(NAME, [a, part(tmp_path / "c", [2], commit="def")], tmp_path / "out")
    stale = dict(config_record(STORED_RUNS[NAME].config), epochs=1)
    old = [part(tmp_path / "d", [2], config=stale), part(tmp_path / "e", [3], config=stale)]
    with pytest.raises(ValueError, match="today's"):
        merge_parts(NAME, old, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_line_merges_parts(tmp_path):
    parts = [str(part(tmp_path / "a", [0])), str(part(tmp_path / "b", [1]))]
    out = tmp_path / "out"
    assert main(["reproduce", NAME, "--merge", *parts, "--out", str(out)]) == 0
    assert load_stored(NAME, out).seeds == [0, 1]
