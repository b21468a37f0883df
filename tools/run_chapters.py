"""Executes chapters in place, so the committed notebooks carry the outputs of the shipped code.

    .venv/bin/python tools/run_chapters.py book/apr.ipynb [book/privacy.ipynb ...]

Each notebook runs top to bottom in a fresh kernel started in ``book/`` (as Jupyter Book and nbval
run it); its outputs replace the stored ones, except the kernel's stderr (TensorFlow's start-up
lines), which a reader never sees. Prints each chapter's wall time: the budget is 6 minutes on a
2-core machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(notebook: nbformat.NotebookNode, folder: Path, timeout_s: int = 1200) -> float:
    """Runs ``notebook`` top to bottom in a fresh kernel started in ``folder`` (its outputs
    replace the stored ones in memory); returns the wall seconds."""
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": folder}},
    ).execute()
    return time.perf_counter() - start


def run(path: Path, timeout_s: int = 1200) -> float:
    notebook = nbformat.read(path, as_version=4)
    seconds = execute(notebook, path.parent, timeout_s)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
    nbformat.write(notebook, path)
    return seconds


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {run(Path(name)):.0f} s", flush=True)
