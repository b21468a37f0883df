"""Every chapter runs top to bottom on small synthetic data: quick feedback (``make smoke``) on
whether a change to the library broke a chapter's code, before the full run under nbval.

A chapter lists its smoke settings in its notebook metadata, ``{"advrec": {"smoke": {NAME:
value, ...}}}``: values that replace those of its ``parameters`` cell (usually
``DATASET = "synthetic"``, one or two seeds, a few epochs). The smoke run sets
``ADVREC_SMOKE=1``, under which :func:`advrec.book.claim` reports a claim about a MovieLens result
instead of failing on it; plain ``assert`` statements (invariants true on any data) still fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from toc import toc_notebooks

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = toc_notebooks(ROOT / "_toc.yml")


def smoke_notebook(path: Path) -> nbformat.NotebookNode:
    """The chapter with a cell of its smoke settings right after its ``parameters`` cell."""
    notebook = nbformat.read(path, as_version=4)
    settings = notebook.metadata.get("advrec", {}).get("smoke")
    if settings is None:
        raise AssertionError(
            f"{path.name}: give the chapter smoke settings in its metadata "
            '({"advrec": {"smoke": {"DATASET": "synthetic", ...}}}), see this test\'s docstring'
        )
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise AssertionError(f"{path.name}: tag exactly one cell `parameters` (found {tagged})")
    lines = [f"{name} = {json.dumps(value)}" for name, value in settings.items()]
    cell = nbformat.v4.new_code_cell("\n".join(["# smoke settings", *lines]))
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


@pytest.mark.smoke
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_runs_on_synthetic_data(path, monkeypatch):
    monkeypatch.setenv("ADVREC_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = smoke_notebook(path)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        env=dict(os.environ),
    ).execute()
