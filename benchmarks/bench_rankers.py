"""Seconds per epoch of every pairwise ranker, before the training engine and with it (ML-100K).

    .venv/bin/python benchmarks/bench_rankers.py [--batch-sizes 8192 2048] [--epochs 3]

Each model family -- BPR-MF, AMF (APR) and the privacy model (``AdversarialBPRMF``, confusion) --
is trained two ways, each with and without XLA, all in one process, their epochs interleaved so
that load from other processes hits every configuration alike:

- ``before``: how ``fit_ranker`` trained until the engine (main at a8236bd): Keras ``fit`` on
  ``tf.data`` batches, one epoch of steps per call (``steps_per_execution``), the smaller last
  batch traced (and compiled) a second time, and the binary-search negative sampler;
- ``engine``: :func:`advrec.training.fit_model` today: one compiled call per epoch over padded
  batches, the free-list sampler.

Reported per configuration: the first epoch (tracing and compilation included; wall and process
CPU seconds, the latter less sensitive to other processes on a shared machine), the median of
the warm epochs (``--epochs`` per round, ``--rounds`` rounds), triples per second, and the
speed-up of each engine configuration over ``before`` without XLA (today's CPU default). The
first validation scores after ``--quality-epochs`` epochs of both paths are printed too, to show
that they train alike (the same seed gives the same curve up to float rounding). Prints one JSON
object and never fails on a number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import EpochTimer  # noqa: E402

from advrec.data.sampling import NegativeSampler, pair_examples  # noqa: E402
from advrec.models import AMF, BPRMF, AdversarialBPRMF  # noqa: E402
from advrec.protocol import evaluate_split, load_split  # noqa: E402
from advrec.training import fit_model  # noqa: E402


def families(train) -> dict:
    labels = (np.arange(train.n_users) % 2).astype(np.int32)  # a stand-in attribute
    return {
        "bprmf": lambda: BPRMF(train, dim=64, seed=0),
        "amf": lambda: AMF(train, epsilon=0.5, dim=64, seed=0),
        "privacy": lambda: AdversarialBPRMF(train, labels, objective="confusion", dim=64, seed=0),
    }


def build(make, train, path: str, jit: bool, examples) -> keras.Model:
    """A compiled model that trains the ``path`` way (see the module docstring)."""
    model = make()
    if path == "before":
        model.supports_padded_batches = False  # fit_model then feeds tf.data batches to fit
        model.negative_sampler = NegativeSampler(train, max_free_list_bytes=0)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            jit_compile=jit,
            steps_per_execution=examples.batches_per_epoch,
        )
    else:
        model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=jit)
    return model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--families", nargs="+", default=["bprmf", "amf", "privacy"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8192])
    parser.add_argument("--paths", nargs="+", default=["before", "engine"])
    parser.add_argument("--jit", nargs="+", default=["false", "true"])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per fit")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved fits per config")
    parser.add_argument("--quality-epochs", type=int, default=3)
    args = parser.parse_args(argv)

    split = load_split(args.dataset, seed=0)
    makers = families(split.train)
    report = {
        "benchmark": "seconds per epoch of the pairwise rankers, before vs the engine",
        "dataset": args.dataset,
        "training_pairs": len(split.train),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "tensorflow": tf.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "load_average_at_start": list(os.getloadavg()),
        },
        "results": [],
    }
    for batch_size in args.batch_sizes:
        examples = pair_examples(split.train, batch_size, seed=0)
        configs = {
            (family, path, jit == "true"): None
            for family in args.families
            for path in args.paths
            for jit in args.jit
        }
        first, timers, quality = {}, {}, {}
        for key in configs:  # the first epoch: tracing and compilation
            family, path, jit = key
            configs[key] = model = build(makers[family], split.train, path, jit, examples)
            wall, cpu = time.perf_counter(), time.process_time()
            fit_model(model, examples, epochs=1)
            first[key] = (time.perf_counter() - wall, time.process_time() - cpu)
            timers[key] = EpochTimer()
        for _ in range(args.rounds):
            for key, model in configs.items():
                fit_model(model, examples, epochs=args.epochs, callbacks=[timers[key]])
        for key in configs:  # the same seed's validation curve, from a fresh model
            family, path, jit = key
            model, scores = build(makers[family], split.train, path, jit, examples), []
            for _ in range(args.quality_epochs):
                fit_model(model, examples, epochs=1)
                scores.append(round(evaluate_split(model, split, "valid")["ndcg@10"], 5))
            quality[key] = scores
        baselines, cpu_baselines = {}, {}
        for key, timer in timers.items():
            family, path, jit = key
            epoch = float(np.median(timer.seconds))
            if path == "before" and not jit:
                baselines[family] = epoch
                cpu_baselines[family] = float(np.median(timer.cpu_seconds))
            report["results"].append(
                {
                    "family": family,
                    "path": path,
                    "xla": jit,
                    "batch_size": batch_size,
                    "first_epoch_s": round(first[key][0], 3),
                    "first_epoch_cpu_s": round(first[key][1], 3),
                    "epoch_s": round(epoch, 4),
                    "epoch_s_all": [round(s, 4) for s in timer.seconds],
                    "epoch_cpu_s": round(float(np.median(timer.cpu_seconds)), 4),
                    "triples_per_s": round(len(split.train) / epoch),
                    "valid_ndcg@10_per_epoch": quality[key],
                }
            )
        for result in report["results"]:
            base = baselines.get(result["family"])
            if result["batch_size"] == batch_size and base:
                result["speedup_vs_before_without_xla"] = round(base / result["epoch_s"], 2)
            base_cpu = cpu_baselines.get(result["family"])
            if result["batch_size"] == batch_size and base_cpu:
                result["cpu_speedup_vs_before_without_xla"] = round(
                    base_cpu / result["epoch_cpu_s"], 2
                )
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
