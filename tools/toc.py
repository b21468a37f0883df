"""Lists the chapter notebooks of the book in ``_toc.yml`` order (used by ``make notebooks``).

Run as ``python tools/toc.py [TOC]``; prints one path per line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def toc_files(toc_path: str | Path = "_toc.yml") -> list[str]:
    """Every ``file:`` entry of a Jupyter Book 1 table of contents, in order, without suffix."""
    toc_path = Path(toc_path)
    if not toc_path.is_file():
        raise FileNotFoundError(f"{toc_path} not found: run from the repository root.")
    toc = yaml.safe_load(toc_path.read_text())
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    found.append(str(toc["root"]))
    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def toc_notebooks(toc_path: str | Path = "_toc.yml") -> list[Path]:
    """The ``.ipynb`` chapters named in the table of contents, relative to its folder."""
    root = Path(toc_path).parent
    return [
        (root / name).with_suffix(".ipynb")
        for name in toc_files(toc_path)
        if (root / name).with_suffix(".ipynb").is_file()
    ]


if __name__ == "__main__":
    print("\n".join(str(p) for p in toc_notebooks(*sys.argv[1:])))
