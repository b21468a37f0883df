"""Put a copy of MathJax 3 where the book's HTML loads it from, so the site renders offline.

The copy comes from a package registry, never from a CDN at reading time: PyPI's
``django-static-mathjax`` wheel bundles MathJax 3.2.2 unchanged (Apache-2.0; the Django part is
just the folder layout and is not used). The wheel is downloaded once with ``pip download`` into
``.mathjax/`` (git-ignored); the CommonHTML component, its fonts and the pieces it loads on demand
(TeX extensions, accessibility, menu) are unpacked into ``.mathjax/site/mathjax/``, which
``_config.yml`` adds to Sphinx's ``html_static_path`` and names in ``mathjax_path``.

Usage: ``python tools/fetch_mathjax.py`` (idempotent; ``make book`` and ``make site-check`` run it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "django-static-mathjax"
VERSION = "3.2.2.1"  # MathJax 3.2.2
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".mathjax"
SITE = CACHE / "site" / "mathjax"
STAMP = SITE / ".version"
PREFIX = "mathjax/static/mathjax/"
# What tex-chtml.js needs in the browser: itself, its fonts, and what its loader fetches on demand.
KEEP = (
    "es5/tex-chtml.js",
    "es5/output/chtml/",
    "es5/input/tex/extensions/",
    "es5/a11y/",
    "es5/ui/",
    "LICENSE",
)


def wheel() -> Path:
    """The cached wheel, downloaded from PyPI the first time."""
    found = sorted(CACHE.glob(f"django_static_mathjax-{VERSION}-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    cmd += ["--dest", str(CACHE), f"{PACKAGE}=={VERSION}"]
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError as err:
        raise SystemExit(
            f"Could not download {PACKAGE}=={VERSION} from PyPI (MathJax for the offline book): "
            f"{err}. Connect to the package index once, or put the wheel into {CACHE}/."
        ) from err
    return next(CACHE.glob(f"django_static_mathjax-{VERSION}-*.whl"))


def main() -> None:
    if STAMP.is_file() and STAMP.read_text().strip() == VERSION:
        return
    if SITE.exists():
        shutil.rmtree(SITE)
    with zipfile.ZipFile(wheel()) as whl:
        for member in whl.infolist():
            name = member.filename.removeprefix(PREFIX)
            if member.is_dir() or name == member.filename or not name.startswith(KEEP):
                continue
            target = SITE / name.removeprefix("es5/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(whl.read(member))
    if not (SITE / "tex-chtml.js").is_file():
        raise SystemExit(f"{PACKAGE}=={VERSION} holds no es5/tex-chtml.js; MathJax not installed")
    STAMP.write_text(VERSION + "\n")
    print(f"MathJax {VERSION.rsplit('.', 1)[0]} for the offline book: {SITE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
