"""Stored runs and the recipes that made them stay tied: every ``results/NAME.json`` was made by
the recipe's config of today, and a live prefix of its recipe reproduces its first epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advrec.recipes import stored
from advrec.recipes.base import with_settings
from advrec.recipes.ranking import BPRMFConfig
from advrec.recipes.stored import (
    RESULTS_DIR,
    STORED_RUNS,
    StoredRun,
    config_record,
    load_stored,
    prefix_matches,
    reproduce,
    run_prefix,
)

BOOK = Path(__file__).resolve().parents[2] / "book"
COMPUTED = sorted(n for n in STORED_RUNS if (RESULTS_DIR / f"{n}.json").exists())
"""Stored runs whose file exists; a registered run without one is a schedule not yet computed."""


@pytest.mark.parametrize("name", COMPUTED)
def test_the_stored_config_is_the_recipes_config_today(name):
    result = load_stored(name)
    document = result.document
    assert document["recipe"] == STORED_RUNS[name].recipe
    assert document["config"] == config_record(STORED_RUNS[name].config), (
        f"results/{name}.json was made with another config than advrec.recipes.stored's; "
        f"run `make reproduce NAME={name}` again"
    )
    assert result.seeds == list(STORED_RUNS[name].seeds)
    for key in ("commit", "versions", "device", "wall_seconds", "created"):
        assert document[key], key


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPUTED)
def test_a_live_prefix_reproduces_the_stored_first_epochs(name):
    spec = STORED_RUNS[name]
    live = run_prefix(name)
    problems = prefix_matches(live, load_stored(name), spec.prefix_seed, spec.tolerance)
    assert not problems, "\n".join(problems)


def test_every_stored_run_a_chapter_reads_has_its_file():
    texts = {path.name: path.read_text() for path in BOOK.glob("*.ipynb")}
    read = {n for n in STORED_RUNS if any(f'"{n}' in text for text in texts.values())}
    assert read, "no chapter reads a stored run: is the book folder where this test looks?"
    missing = sorted(read - set(COMPUTED))
    assert not missing, f"chapters read them; make them with `make reproduce NAME=...`: {missing}"


@pytest.fixture
def tiny(monkeypatch):
    """A stored run of BPR-MF on the synthetic data set, registered for the test only."""
    config = BPRMFConfig(dim=8, batch_size=1024, epochs=6, patience=2)
    run = StoredRun(
        "tiny", "bpr", config, about="test", dataset="synthetic", seeds=(0, 1),
        prefix=(("epochs", 2),),
    )  # fmt: skip
    monkeypatch.setitem(STORED_RUNS, "tiny", run)
    return run


@pytest.mark.slow
def test_reproduce_writes_a_readable_record_and_the_link_tests_can_fail(tiny, tmp_path):
    path = reproduce("tiny", directory=tmp_path, progress=lambda line: None)
    document = json.loads(path.read_text())
    assert [r["seed"] for r in document["runs"]] == [0, 1]
    assert document["versions"]["tensorflow"] and document["device"]["kind"] in ("CPU", "GPU")
    result = load_stored("tiny", tmp_path)
    assert result.test("ndcg@10").shape == (2,)
    history = result.history(0, "train")
    assert history["epoch"][0] == 1 and len(history["ndcg@10"]) == len(history["epoch"])

    live = run_prefix("tiny")
    assert prefix_matches(live, result, seed=0, tolerance=tiny.tolerance) == []
    # The test can fail: a prefix with another learning rate departs from the stored run.
    other = STORED_RUNS["tiny"].run(0, with_settings(tiny.config, epochs=2, learning_rate=0.05))
    assert prefix_matches(other, result, seed=0, tolerance=tiny.tolerance)


def test_a_missing_stored_run_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce NAME=bpr-ml100k"):
        load_stored("bpr-ml100k", tmp_path)
    with pytest.raises(ValueError, match="no stored run 'nope'"):
        stored.stored_run("nope")
