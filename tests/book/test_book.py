"""The book's structure: every chapter is in the table of contents, every citation resolves."""

import json
import re
from pathlib import Path

from toc import toc_files, toc_notebooks

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _bib_keys() -> set[str]:
    text = (ROOT / "book" / "references.bib").read_text()
    return set(re.findall(r"^@\w+\{([^,]+),", text, flags=re.M))


def _book_texts():
    for name in toc_files(ROOT / "_toc.yml"):
        for suffix in (".md", ".ipynb"):
            path = (ROOT / name).with_suffix(suffix)
            if path.is_file():
                if suffix == ".md":
                    yield path, path.read_text()
                else:
                    cells = json.loads(path.read_text())["cells"]
                    yield path, "\n".join("".join(c["source"]) for c in cells)


def test_every_notebook_is_in_the_table_of_contents():
    listed = {p.resolve() for p in toc_notebooks(ROOT / "_toc.yml")}
    on_disk = {p.resolve() for p in (ROOT / "book").glob("*.ipynb")}
    assert on_disk == listed, "add each chapter to _toc.yml (or delete it)"


def test_every_toc_entry_exists():
    for name in toc_files(ROOT / "_toc.yml"):
        assert any((ROOT / name).with_suffix(s).is_file() for s in (".md", ".ipynb")), name


def test_every_citation_is_in_the_bibliography():
    keys = _bib_keys()
    for path, text in _book_texts():
        for group in CITE.findall(text):
            for key in (k.strip() for k in group.split(",")):
                assert key in keys, f"{path.name} cites {key!r}, missing from references.bib"


def test_bibliography_keys_are_unique():
    text = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", text, flags=re.M)
    assert len(keys) == len(set(keys))


def test_notebooks_are_committed_with_outputs_and_no_errors():
    for notebook in toc_notebooks(ROOT / "_toc.yml"):
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        assert any(c.get("outputs") for c in cells), f"{notebook.name} has no stored outputs"
        errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{notebook.name} stores an error output"


def test_glued_numbers_are_plain_numbers():
    # myst-nb formats {glue:text}`name:.3f` by parsing the stored text; a numpy scalar is stored
    # as "np.float64(...)", which fails the book build. Glue float(x) instead.
    for notebook in toc_notebooks(ROOT / "_toc.yml"):
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                text = "".join(
                    output.get("data", {}).get("application/papermill.record/text/plain", "")
                )
                assert not text.startswith(("np.", "array(")), f"{notebook.name}: glued {text}"
