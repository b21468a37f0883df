"""Each chapter's wall time at its shipped settings, for two checkouts of the project.

    .venv/bin/python benchmarks/bench_chapters.py --before /tmp/before-checkout [--rounds 1]

Every chapter of ``book/`` runs top to bottom in a fresh kernel started in its checkout's
``book/`` folder (as Jupyter Book and nbval run it), with that checkout first on the import path,
so the kernel imports that checkout's ``advrec`` and reads its stored runs; the notebooks are
not written back. The two checkouts alternate chapter by chapter (``before``, ``after``,
``before``, ...), so load from other processes hits both alike. Make the ``before`` checkout with
``git worktree add --detach DIR COMMIT``. Prints one JSON object: per chapter, the seconds of
each run and the ratio of the medians, and the seconds of a notebook that only starts a
kernel and imports what every chapter imports (the floor of a chapter's time). A chapter that
fails is reported with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tools"))
from run_chapters import execute  # noqa: E402 -- the chapters' runner, in tools/

IMPORTS = "import matplotlib.pyplot\nimport tensorflow\nimport keras\nimport advrec.recipes"
"""What every chapter imports before it computes anything: its floor, which no engine lowers."""


def run_chapter(checkout: Path, name: str, timeout_s: int = 1200) -> float:
    """Seconds to execute ``checkout/book/name`` in a fresh kernel importing that checkout
    (``name`` ``None``: a notebook of the chapters' imports alone)."""
    path = checkout / "book" / (name or "imports.ipynb")
    if name is None:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(IMPORTS)])
        notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    else:
        notebook = nbformat.read(path, as_version=4)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(checkout) + ("" if saved is None else os.pathsep + saved)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return execute(notebook, path.parent, timeout_s)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = saved


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old commit")
    parser.add_argument("--after", type=Path, default=HERE, help="checkout of the new commit")
    parser.add_argument("--chapters", nargs="+", default=None, help="default: every chapter")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted(p.name for p in (args.after / "book").glob("*.ipynb"))
    report = {
        "benchmark": "chapter wall time at shipped settings, before vs after",
        "before": str(args.before),
        "after": str(args.after),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "chapters": {},
    }
    floor = [round(run_chapter(args.after, None), 1) for _ in range(args.rounds)]
    report["imports_only_s"] = floor  # a kernel's start and the chapters' imports
    for name in chapters:
        seconds: dict[str, list[float]] = {"before": [], "after": []}
        row: dict = {}
        for _ in range(args.rounds):
            for label in ("before", "after"):
                try:
                    seconds[label].append(round(run_chapter(getattr(args, label), name), 1))
                except Exception as error:  # noqa: BLE001 -- reported, never fatal
                    row[f"{label}_error"] = f"{type(error).__name__}: {str(error)[-300:]}"
        row |= {"before_s": seconds["before"], "after_s": seconds["after"]}
        if seconds["before"] and seconds["after"]:
            before, after = (statistics.median(seconds[k]) for k in ("before", "after"))
            row["speedup"] = round(before / after, 2)
        report["chapters"][name] = row
        print(json.dumps({name: row}), flush=True)
    report["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
