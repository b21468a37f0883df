"""BPR-MF against Cornac's BPR on ML-100K: time to quality, throughput and evaluation, as JSON.

    make bench                       # sets up Cornac in .bench-venv, then runs this
    .venv/bin/python benchmarks/bench_bpr.py [--cornac-python PATH] [--repeats 3]

What it measures, in one run on one machine (shared machines are noisy: compare within a run):

1. **Cornac tuned on validation.** Cornac's Cython BPR (``cornac.models.BPR``, all cores) on the
   same 80/10/10 split, over a grid of learning rates and l2 weights, each fitted for an
   increasing number of epochs; validation NDCG@10 by our full-ranking evaluator. Its best value
   sets the **target: 95% of it**.
2. **Time to quality**, interleaved (Cornac, advrec configurations, Cornac, ...) ``--repeats``
   times: Cornac's best setting, the wall time of the shortest fit that reaches the target;
   advrec's BPR-MF through :func:`advrec.training.fit_ranker` in each ``--advrec``
   configuration (``before``: as fit_ranker trained until the training engine, on ``tf.data``
   batches; ``engine``: one compiled call per epoch; each with or without XLA), the training
   wall time up to the first epoch whose validation NDCG@10 reaches the target -- compilation
   included, validation excluded (as for Cornac) -- and the same without compilation (the
   first epoch's excess over a warm epoch). Medians are reported.
3. **Throughput** in (user, positive, negative) triples per second: advrec's warm epochs and
   Cornac's fits of ``--cornac-epochs`` epochs, interleaved.
4. One full-ranking evaluation of all test users (warm, median).

With ``--xla-cache DIR`` the XLA configurations use TensorFlow's persistent compilation cache
in ``DIR``: a second run with the same folder measures the time to quality of a model whose
compiled epoch was cached by an earlier process (what a chapter re-run pays).

It never fails on a number: a measurement that cannot be made is reported with the reason.
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

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORNAC_PYTHON = ROOT / ".bench-venv" / "bin" / "python"

# Runs inside the Cornac environment. argv: pairs.npz, out.npz, dim, lr, reg, threads, seed and a
# comma-separated list of epoch counts; fits a fresh BPR for each count and saves its factors
# (rows in our id order) and the fit's wall time.
CORNAC_SCRIPT = r"""
import sys, time
import numpy as np
import cornac
from cornac.data import Dataset

path, out, dim, lr, reg, threads, seed, schedule = sys.argv[1:9]
pairs = np.load(path)
n_users, n_items = int(pairs["n_users"]), int(pairs["n_items"])
triples = [(str(u), str(i), 1.0) for u, i in zip(pairs["user"], pairs["item"])]
train_set = Dataset.from_uir(triples, seed=0)
users = np.array([int(u) for u in train_set.uid_map])
user_rows = np.array(list(train_set.uid_map.values()))
items = np.array([int(i) for i in train_set.iid_map])
item_rows = np.array(list(train_set.iid_map.values()))
saved = {"version": np.array(cornac.__version__)}
for k, epochs in enumerate(int(e) for e in schedule.split(",")):
    model = cornac.models.BPR(k=int(dim), max_iter=epochs, learning_rate=float(lr),
                              lambda_reg=float(reg), num_threads=int(threads), seed=int(seed),
                              verbose=False)
    start = time.perf_counter()
    model.fit(train_set)
    saved[f"seconds_{k}"] = np.array(time.perf_counter() - start)
    p = np.zeros((n_users, int(dim)), np.float32); q = np.zeros((n_items, int(dim)), np.float32)
    b = np.full(n_items, -1e9, np.float32)  # items Cornac never saw rank last
    p[users] = model.u_factors[user_rows]; q[items] = model.i_factors[item_rows]
    b[items] = model.i_biases[item_rows]
    saved[f"p_{k}"], saved[f"q_{k}"], saved[f"b_{k}"] = p, q, b
np.savez(out, **saved)
"""


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def not_measured(reason: str) -> dict:
    return {"status": "not measured", "reason": reason}


def cornac_fits(python: str, split, dim, lr, reg, schedule, seed, threads=0) -> list[dict]:
    """Fresh Cornac BPR fits of each epoch count in ``schedule``: ``[{epochs, seconds, ndcg}]``."""
    import numpy as np
    import tensorflow as tf

    from advrec.protocol import evaluate_split

    with tempfile.TemporaryDirectory() as tmp:
        pairs, out = Path(tmp) / "pairs.npz", Path(tmp) / "out.npz"
        np.savez(
            pairs,
            user=split.train.user,
            item=split.train.item,
            n_users=split.n_users,
            n_items=split.n_items,
        )
        arguments = [pairs, out, dim, lr, reg, threads, seed, ",".join(map(str, schedule))]
        run = subprocess.run(
            [python, "-c", CORNAC_SCRIPT, *map(str, arguments)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if run.returncode != 0:
            raise RuntimeError(f"Cornac failed: {run.stderr.strip()[-800:]}")
        saved = dict(np.load(out))
    fits = []
    for k, epochs in enumerate(schedule):
        p, q, b = (tf.constant(saved[f"{name}_{k}"]) for name in "pqb")

        def score_all(users, p=p, q=q, b=b):
            return tf.matmul(tf.gather(p, users), q, transpose_b=True) + b

        ndcg = evaluate_split(score_all, split, "valid")["ndcg@10"]
        fits.append({"epochs": epochs, "seconds": float(saved[f"seconds_{k}"]), "ndcg": ndcg})
    return fits


def tune_cornac(python, split, args) -> dict:
    """Cornac's best validation NDCG@10 over a learning-rate x l2 grid and epoch schedule."""
    results = []
    for lr in args.cornac_learning_rates:
        for reg in args.cornac_l2s:
            fits = cornac_fits(python, split, args.dim, lr, reg, args.cornac_schedule, args.seed)
            best = max(fits, key=lambda fit: fit["ndcg"])
            results.append({"learning_rate": lr, "l2": reg, "best": best, "fits": fits})
    chosen = max(results, key=lambda r: r["best"]["ndcg"])
    edges = (
        chosen["learning_rate"] in (args.cornac_learning_rates[0], args.cornac_learning_rates[-1])
        and len(args.cornac_learning_rates) > 1,
        chosen["l2"] in (args.cornac_l2s[0], args.cornac_l2s[-1]) and len(args.cornac_l2s) > 1,
    )
    return {"grid": results, "chosen": chosen, "chosen_at_grid_edge": list(edges)}


def epoch_clock():
    """Keras callback recording the wall time at the end of each epoch since ``fit`` began."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.ends = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter() - self.start)

    return EpochClock()


def make_optimizer(args):
    import keras

    from advrec.optimizers import RowAdagrad

    return {
        "adam": lambda: keras.optimizers.Adam(args.learning_rate),
        # Keras' default initial accumulator (0.1) dwarfs the squared gradients of a mean loss
        # over thousands of triples (a row's gradient is ~1e-4) and shrinks every step ~1000x;
        # a tiny one gives Adagrad's scale-free steps (the APR paper's optimizer).
        "adagrad": lambda: keras.optimizers.Adagrad(
            args.learning_rate, initial_accumulator_value=1e-8
        ),
        "row-adagrad": lambda: RowAdagrad(args.learning_rate, initial_accumulator_value=1e-8),
        "sgd": lambda: keras.optimizers.SGD(args.learning_rate),
    }[args.optimizer]()


def advrec_model(split, args, path: str, jit: bool):
    """BPR-MF compiled as ``fit_ranker`` compiles it; ``path="before"`` trains it as fit_ranker
    did before the engine (main at a8236bd): Keras ``fit`` on ``tf.data`` batches, an epoch of
    steps per call, the last batch traced apart, and the binary-search negative sampler."""
    from advrec.data.sampling import NegativeSampler
    from advrec.models import BPRMF

    model = BPRMF(split.train, dim=args.dim, l2=args.l2, seed=args.seed)
    steps = {}
    if path == "before":
        model.supports_padded_batches = False
        model.negative_sampler = NegativeSampler(split.train, max_free_list_bytes=0)
        steps = {"steps_per_execution": -(-len(split.train) // args.batch_size)}
    model.compile(optimizer=make_optimizer(args), jit_compile=jit, **steps)
    return model


def advrec_fit(split, args, path: str, jit: bool) -> dict:
    """One BPR-MF fit with validation every epoch: training seconds and NDCG after each epoch."""
    import numpy as np

    from advrec.training import fit_ranker

    clock = epoch_clock()
    model = advrec_model(split, args, path, jit)
    validation = fit_ranker(
        model,
        split,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=args.seed,
        verbose=0,
        callbacks=[clock],
    )
    # The clock stops after each epoch's validation (fit_ranker runs it first): subtract the
    # evaluations so far, so the times are training alone, compilation included.
    evaluations = np.cumsum(validation.history["evaluation_s"])
    train_s = [float(end - spent) for end, spent in zip(clock.ends, evaluations, strict=True)]
    epochs = np.diff([0.0, *train_s])
    warm = float(np.median(epochs[1:])) if len(epochs) > 1 else float(epochs[0])
    return {
        "train_s": train_s,
        "ndcg": validation.history["ndcg@10"],
        "best": validation.best,
        "first_epoch_s": float(epochs[0]),
        "warm_epoch_s": warm,
        "compile_s": max(float(epochs[0]) - warm, 0.0),  # tracing and compilation
        "model": model,
    }


def first_reaching(times: list[float], scores: list[float], target: float) -> float | None:
    for seconds, score in zip(times, scores, strict=True):
        if score >= target:
            return seconds
    return None


def measure_throughput(split, args, model) -> dict:
    """Warm advrec epochs (compiled step already built) in triples per second."""
    from advrec.data.sampling import pair_examples
    from advrec.training import fit_model

    examples = pair_examples(split.train, args.batch_size, seed=args.seed)
    start = time.perf_counter()
    fit_model(model, examples, epochs=args.throughput_epochs)
    seconds = time.perf_counter() - start
    return {"triples_per_s": args.throughput_epochs * len(split.train) / seconds}


def measure_evaluation(model, split, repeats: int) -> dict:
    from advrec.protocol import evaluate_split

    evaluate_split(model, split, "test")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate_split(model, split, "test")
        seconds.append(time.perf_counter() - start)
    return {"seconds": median(seconds), "seconds_all": seconds}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cornac-python", default=os.environ.get("CORNAC_PYTHON"))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved fits per system")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument(
        "--optimizer", choices=("adam", "adagrad", "row-adagrad", "sgd"), default="adam"
    )
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--l2", type=float, default=1e-2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument(
        "--advrec",
        nargs="+",
        default=["before:false", "engine:false", "engine:true"],
        help="advrec configurations PATH:XLA, PATH 'before' (fit_ranker until the engine) or "
        "'engine', XLA 'true' or 'false'; all interleaved with Cornac",
    )
    parser.add_argument("--throughput-epochs", type=int, default=20)
    parser.add_argument("--cornac-learning-rates", type=float, nargs="+", default=[0.01, 0.05, 0.1])
    parser.add_argument("--cornac-l2s", type=float, nargs="+", default=[0.0001, 0.001, 0.01, 0.1])
    parser.add_argument(
        "--cornac-schedule", type=int, nargs="+", default=[1, 2, 3, 5, 8, 12, 20, 30, 50, 80]
    )
    parser.add_argument("--cornac-epochs", type=int, default=50, help="for the throughput")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--xla-cache",
        default=None,
        help="folder of TensorFlow's persistent XLA compilation cache (run twice with the same "
        "folder: the second run's XLA configurations compile from the cache)",
    )
    args = parser.parse_args(argv)
    if args.xla_cache:  # read when TensorFlow starts, so set before it is imported
        flag = f"--tf_xla_persistent_cache_directory={args.xla_cache}"
        os.environ["TF_XLA_FLAGS"] = f"{os.environ.get('TF_XLA_FLAGS', '')} {flag}".strip()
    python = args.cornac_python or (
        str(DEFAULT_CORNAC_PYTHON) if DEFAULT_CORNAC_PYTHON.exists() else None
    )

    import tensorflow as tf

    from advrec.protocol import load_split

    split = load_split("ml-100k", seed=args.seed)
    report: dict = {
        "benchmark": "BPR-MF: advrec vs Cornac, ML-100K, 80/10/10 split, validation NDCG@10",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "tensorflow": tf.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "load_average_at_start": list(os.getloadavg()),
        },
        "advrec_config": {k: v for k, v in vars(args).items() if not k.startswith("cornac")},
    }
    advrec_runs: dict[str, list[dict]] = {}
    cornac_runs: list[dict] = []
    if python is None:
        report["cornac"] = not_measured("no Cornac environment: run `make bench-setup`")
        target = None
    else:
        tuning = tune_cornac(python, split, args)
        chosen = tuning["chosen"]
        target = 0.95 * chosen["best"]["ndcg"]
        report["cornac_tuning"] = {
            "chosen": {k: chosen[k] for k in ("learning_rate", "l2", "best")},
            "chosen_at_grid_edge": tuning["chosen_at_grid_edge"],
            "grid_best": [
                {"learning_rate": r["learning_rate"], "l2": r["l2"], "ndcg": r["best"]["ndcg"]}
                for r in tuning["grid"]
            ],
        }
        report["target_ndcg@10"] = target
    for _ in range(args.repeats):
        if python is not None:
            fits = cornac_fits(
                python,
                split,
                args.dim,
                chosen["learning_rate"],
                chosen["l2"],
                args.cornac_schedule,
                args.seed,
            )
            reached = [fit["seconds"] for fit in fits if fit["ndcg"] >= target]
            cornac_runs.append({"seconds_to_target": min(reached) if reached else None})
            long_fit = cornac_fits(
                python, split, args.dim, chosen["learning_rate"], chosen["l2"],
                [args.cornac_epochs], args.seed,
            )[0]  # fmt: skip
            cornac_runs[-1]["triples_per_s"] = (
                args.cornac_epochs * len(split.train) / long_fit["seconds"]
            )
        for config in args.advrec:
            path, jit = config.split(":")
            run = advrec_fit(split, args, path, jit == "true")
            model = run.pop("model")
            if target is not None:
                reached = first_reaching(run["train_s"], run["ndcg"], target)
                run["seconds_to_target"] = reached
                if reached is not None:
                    run["seconds_to_target_excl_compile"] = reached - run["compile_s"]
            run.update(measure_throughput(split, args, model))
            advrec_runs.setdefault(config, []).append(run)

    def summary(runs: list[dict], key: str):
        values = [r[key] for r in runs if r.get(key) is not None]
        return median(values) if len(values) == len(runs) and values else None

    report["advrec"] = {
        config: {
            "best_valid_ndcg@10": summary(runs, "best"),
            "seconds_to_target": summary(runs, "seconds_to_target"),
            "seconds_to_target_excl_compile": summary(runs, "seconds_to_target_excl_compile"),
            "seconds_to_target_all": [r.get("seconds_to_target") for r in runs],
            "epochs_to_target": summary(
                [
                    {"e": next((i + 1 for i, v in enumerate(r["ndcg"]) if v >= target), None)}
                    for r in runs
                ]
                if target is not None
                else [],
                "e",
            ),
            "first_epoch_s_incl_compile": summary(runs, "first_epoch_s"),
            "compile_s": summary(runs, "compile_s"),
            "warm_epoch_s": summary(runs, "warm_epoch_s"),
            "triples_per_s": summary(runs, "triples_per_s"),
            "triples_per_s_all": [r["triples_per_s"] for r in runs],
        }
        for config, runs in advrec_runs.items()
    }
    if cornac_runs:
        report["cornac"] = {
            "best_valid_ndcg@10": chosen["best"]["ndcg"],
            "seconds_to_target": summary(cornac_runs, "seconds_to_target"),
            "seconds_to_target_all": [r["seconds_to_target"] for r in cornac_runs],
            "triples_per_s": summary(cornac_runs, "triples_per_s"),
            "triples_per_s_all": [r["triples_per_s"] for r in cornac_runs],
        }
        theirs = report["cornac"]

        def ratio(ours, key):
            if ours.get(key) and theirs.get("seconds_to_target"):
                return ours[key] / theirs["seconds_to_target"]
            return None

        report["goals"] = {
            config: {
                "time_to_target_vs_cornac_excl_compile (<= 1.0)": ratio(
                    ours, "seconds_to_target_excl_compile"
                ),
                "time_to_target_vs_cornac_incl_compile (<= 3.0)": ratio(ours, "seconds_to_target"),
                "compile_s (<= 3)": ours["compile_s"],
                "best_ndcg_at_least_cornac": bool(
                    (ours["best_valid_ndcg@10"] or 0) >= theirs["best_valid_ndcg@10"]
                ),
                "throughput_vs_cornac": (ours["triples_per_s"] or 0) / theirs["triples_per_s"],
            }
            for config, ours in report["advrec"].items()
        }
    report["evaluation_all_test_users"] = measure_evaluation(model, split, 5)
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
