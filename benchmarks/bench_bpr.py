"""BPR-MF training throughput and full-ranking evaluation time on ML-100K, printed as JSON.

Measures, in one run on one machine:

- ``advrec``: BPR-MF trained through the normal ``keras.Model.fit`` path (``positive_pairs``
  batches, negatives drawn in ``train_step``, Adam; the configuration of ``fit_ranker``), in
  training triples (user, positive, negative) per second; a warm-up fit is excluded and the
  median of ``--repeats`` fits of ``--epochs`` epochs is reported;
- the time of one full-ranking evaluation of all test users with
  :func:`advrec.metrics.evaluate_ranking` (warm, median);
- Cornac's Cython BPR on the same training pairs, when a Python environment with ``cornac`` is
  given (``--cornac-python`` or ``$CORNAC_PYTHON``), and the ratio advrec / Cornac.

It never fails on a number: a measurement that cannot be made is reported as
``"not measured"`` with the reason. See ``benchmarks/README.md``.

    python benchmarks/bench_bpr.py --cornac-python /tmp/cornac-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOAL_TRIPLES_PER_S = 3e6
GOAL_EVALUATION_S = 0.5

# Runs inside the Cornac environment: fits cornac.models.BPR on the pairs in argv[1] (an .npz
# with ``user``, ``item``) ``repeats`` times and prints the fit times as JSON.
CORNAC_SCRIPT = r"""
import json, sys, time
import numpy as np
import cornac
from cornac.data import Dataset

path, dim, epochs, repeats, lr, reg, threads = sys.argv[1:8]
pairs = np.load(path)
triples = [(str(u), str(i), 1.0) for u, i in zip(pairs["user"], pairs["item"])]
train_set = Dataset.from_uir(triples, seed=0)
times = []
for repeat in range(int(repeats) + 1):  # the first fit is a warm-up
    model = cornac.models.BPR(
        k=int(dim), max_iter=int(epochs), learning_rate=float(lr), lambda_reg=float(reg),
        num_threads=int(threads), seed=None, verbose=False,
    )
    start = time.perf_counter()
    model.fit(train_set)
    if repeat:
        times.append(time.perf_counter() - start)
print(json.dumps({"version": cornac.__version__, "threads": model.num_threads,
                  "fit_s": times, "n_pairs": int(train_set.num_ratings)}))
"""


def not_measured(reason: str) -> dict:
    return {"status": "not measured", "reason": reason}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def measure_advrec_training(split, args) -> dict:
    """Median triples/s of ``model.fit`` over ``args.repeats`` fits of ``args.epochs`` epochs."""
    import keras

    from advrec.data import positive_pairs
    from advrec.models import BPRMF

    model = BPRMF(split.train, dim=args.dim, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    data = positive_pairs(split.train, args.batch_size, seed=args.seed)
    model.fit(data, epochs=2, verbose=0)  # warm-up: tracing, first iterator
    n_pairs = len(split.train)
    fit_s = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.fit(data, epochs=args.epochs, verbose=0)
        fit_s.append(time.perf_counter() - start)
    per_s = [args.epochs * n_pairs / s for s in fit_s]
    return {
        "status": "measured",
        "triples_per_s": median(per_s),
        "triples_per_s_all": per_s,
        "epoch_s": median(fit_s) / args.epochs,
        "epochs_per_fit": args.epochs,
        "repeats": args.repeats,
        "model": model,
    }


def measure_evaluation(model, split, args) -> dict:
    """Median seconds of one full-ranking evaluation of all test users (warm)."""
    from advrec.metrics import evaluate_ranking

    def evaluate() -> dict:
        return evaluate_ranking(
            model.score_all, split.test, exclude=[split.train, split.valid], ks=(10, 20)
        )

    scores = evaluate()  # warm-up: tracing
    seconds = []
    for _ in range(args.eval_repeats):
        start = time.perf_counter()
        evaluate()
        seconds.append(time.perf_counter() - start)
    return {
        "status": "measured",
        "seconds": median(seconds),
        "seconds_all": seconds,
        "n_users": int(len(set(split.test.user.tolist()))),
        "n_items": int(split.test.n_items),
        "test_ndcg@10_after_timing_fits": scores["ndcg@10"],
    }


def measure_cornac(split, args) -> dict:
    """Cornac BPR triples/s on the same pairs, run in the Cornac environment."""
    import numpy as np

    python = args.cornac_python or os.environ.get("CORNAC_PYTHON")
    if not python:
        return not_measured("no Cornac environment: pass --cornac-python or set CORNAC_PYTHON")
    if not Path(python).exists():
        return not_measured(f"Cornac python {python!r} does not exist")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.npz"
        np.savez(path, user=split.train.user, item=split.train.item)
        command = [
            python,
            "-c",
            CORNAC_SCRIPT,
            str(path),
            str(args.dim),
            str(args.cornac_epochs),
            str(args.repeats),
            str(args.learning_rate),
            str(args.cornac_reg),
            str(args.cornac_threads),
        ]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            return not_measured(f"Cornac run failed: {error}")
    if run.returncode != 0:
        return not_measured(f"Cornac run failed: {run.stderr.strip()[-500:]}")
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return not_measured(f"unreadable Cornac output: {run.stdout[-500:]!r}")
    per_s = [args.cornac_epochs * result["n_pairs"] / s for s in result["fit_s"]]
    return {
        "status": "measured",
        "triples_per_s": median(per_s),
        "triples_per_s_all": per_s,
        "epochs_per_fit": args.cornac_epochs,
        "version": result["version"],
        "threads": result["threads"],
        "note": "fit time includes Cornac's own set-up (building its sparse matrix)",
    }


def guarded(function, *arguments) -> dict:
    try:
        return function(*arguments)
    except Exception as error:  # a benchmark reports, it does not fail
        return not_measured(f"{type(error).__name__}: {error}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=10, help="epochs per timed fit")
    parser.add_argument("--repeats", type=int, default=5, help="timed fits (median)")
    parser.add_argument("--eval-repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cornac-python", default=None, help="python with cornac installed")
    parser.add_argument("--cornac-epochs", type=int, default=50)
    parser.add_argument("--cornac-reg", type=float, default=0.01)
    parser.add_argument("--cornac-threads", type=int, default=0, help="0: all cores")
    args = parser.parse_args(argv)

    report: dict = {
        "benchmark": "bpr-mf training throughput and full-ranking evaluation, ML-100K",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "config": {
            "batch_size": args.batch_size,
            "dim": args.dim,
            "optimizer": f"Adam({args.learning_rate})",
            "epochs_per_fit": args.epochs,
            "repeats": args.repeats,
            "seed": args.seed,
        },
    }
    try:
        import tensorflow as tf

        from advrec.data import load_movielens, random_holdout

        report["machine"]["tensorflow"] = tf.__version__
        report["machine"]["gpus"] = len(tf.config.list_physical_devices("GPU"))
        split = random_holdout(load_movielens("ml-100k").interactions, seed=args.seed)
        report["data"] = {
            "n_users": split.n_users,
            "n_items": split.n_items,
            "n_train_pairs": len(split.train),
        }
    except Exception as error:
        report["error"] = f"could not load ML-100K: {type(error).__name__}: {error}"
        print(json.dumps(report, indent=2))
        return report

    training = guarded(measure_advrec_training, split, args)
    model = training.pop("model", None)
    report["advrec_training"] = training
    report["evaluation_all_users"] = (
        guarded(measure_evaluation, model, split, args)
        if model is not None
        else not_measured("training failed")
    )
    report["cornac_bpr"] = guarded(measure_cornac, split, args)
    ours, theirs = training.get("triples_per_s"), report["cornac_bpr"].get("triples_per_s")
    report["ratio_advrec_to_cornac"] = ours / theirs if ours and theirs else "not measured"
    evaluation_s = report["evaluation_all_users"].get("seconds")
    report["goals"] = {
        "training_triples_per_s": GOAL_TRIPLES_PER_S,
        "training_met": bool(ours and ours >= GOAL_TRIPLES_PER_S),
        "evaluation_s": GOAL_EVALUATION_S,
        "evaluation_met": bool(evaluation_s and evaluation_s <= GOAL_EVALUATION_S),
    }
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
