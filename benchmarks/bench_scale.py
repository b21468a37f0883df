"""How BPR-MF's cost grows with the data: seconds per epoch and peak memory, advrec and Cornac.

    .venv/bin/python benchmarks/bench_scale.py [--sizes ml-1m ml-20m] [--cornac-python PATH]

Synthetic interactions of MovieLens' sizes (:func:`advrec.data.synthetic_at_scale`: 6k users x
3.7k items x 1M pairs; 138k x 27k x 20M) are trained for ``--epochs`` timed epochs after one
warm-up epoch (compilation), each system in a fresh process so its peak resident memory is its
own. Prints one JSON object; a run that fails is reported with its reason.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"ml-1m": (6_040, 3_706, 1_000_209), "ml-20m": (138_493, 26_744, 20_000_263)}
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORNAC_PYTHON = ROOT / ".bench-venv" / "bin" / "python"

CORNAC_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
import cornac
from cornac.data import Dataset

pairs = np.load(sys.argv[1]); epochs = int(sys.argv[2])
train_set = Dataset.from_uir(zip(pairs["user"].astype(str), pairs["item"].astype(str),
                                 np.ones(len(pairs["user"]))), seed=0)
cornac.models.BPR(k=64, max_iter=1, verbose=False).fit(train_set)  # warm-up
start = time.perf_counter()
cornac.models.BPR(k=64, max_iter=epochs, verbose=False).fit(train_set)
seconds = (time.perf_counter() - start) / epochs
print(json.dumps({"seconds_per_epoch": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


OPTIMIZERS = ("adam", "row-adagrad")
"""Adam (dense: every row of the tables at every step) or :class:`advrec.optimizers.RowAdagrad`
(the touched rows only); both XLA-compiled."""


def advrec_run(size: str, epochs: int, batch_size: int, optimizer: str = "adam") -> dict:
    """Runs in its own process (``--child``): one warm-up epoch, then ``epochs`` timed ones."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from advrec.data import positive_pairs, synthetic_at_scale
    from advrec.models import BPRMF
    from advrec.optimizers import RowAdagrad

    table = synthetic_at_scale(*SIZES[size])
    model = BPRMF(table, dim=64)
    n_batches = -(-len(table) // batch_size)
    optimizers = {
        "adam": lambda: keras.optimizers.Adam(0.01),
        "row-adagrad": lambda: RowAdagrad(0.1, initial_accumulator_value=1e-8),
    }
    model.compile(
        optimizer=optimizers[optimizer](), jit_compile=True, steps_per_execution=n_batches
    )
    data = positive_pairs(table, batch_size, epochs=None)
    model.fit(data, epochs=1, steps_per_epoch=n_batches, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=epochs, steps_per_epoch=n_batches, verbose=0)
    seconds = (time.perf_counter() - start) / epochs
    return {
        "optimizer": optimizer,
        "pairs": len(table),
        "seconds_per_epoch": seconds,
        "triples_per_s": len(table) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_subprocess(command: list[str], timeout_s: int = 3600) -> dict:
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "not measured", "reason": f"timed out after {timeout_s} s"}
    if run.returncode != 0:
        return {"status": "not measured", "reason": run.stderr.strip()[-600:]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["ml-1m"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    parser.add_argument("--cornac-python", default=os.environ.get("CORNAC_PYTHON"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        optimizer = args.optimizers[0]
        print(json.dumps(advrec_run(args.child, args.epochs, args.batch_size, optimizer)))
        return
    python = args.cornac_python or (
        str(DEFAULT_CORNAC_PYTHON) if DEFAULT_CORNAC_PYTHON.exists() else None
    )
    report = {"load_average_at_start": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    for size in args.sizes:
        ours = [sys.executable, __file__, "--child", size, "--epochs", str(args.epochs)]
        ours += ["--batch-size", str(args.batch_size)]
        report[size] = {
            f"advrec_{name}": in_subprocess([*ours, "--optimizers", name])
            for name in args.optimizers
        }
        if python:
            import numpy as np

            sys.path.insert(0, str(ROOT))
            from advrec.data import synthetic_at_scale

            table = synthetic_at_scale(*SIZES[size])
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "pairs.npz"
                np.savez(path, user=table.user, item=table.item)
                cornac = [python, "-c", CORNAC_SCRIPT, str(path), str(args.epochs)]
                report[size]["cornac"] = in_subprocess(cornac)
    report["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
