"""Seconds per training epoch of IRGAN and CFGAN on ML-100K, on each paper's protocol.

IRGAN trains on GroupLens' u1 positives (5 factors, batches of 4096 pairs, one discriminator
and one generator update per batch); CFGAN on its 80/20 split in the released item-based
setting (batches of 64 item vectors, 2 discriminator and 4 generator updates per batch). After
one warm-up epoch (tracing), epochs of the two models alternate, so load from other processes
hits both alike; the median epoch of each is printed as one JSON object. Never fails on a number.

    python benchmarks/bench_gan_recs.py [--epochs 3] [--jit]
"""

from __future__ import annotations

import argparse
import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import EpochTimer  # noqa: E402

from advrec.data import load_movielens, positive_pairs  # noqa: E402
from advrec.data.paper_splits import cfgan_split, u1_split  # noqa: E402
from advrec.models.cfgan import CFGAN  # noqa: E402
from advrec.models.irgan import IRGAN  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model")
    parser.add_argument("--jit", action="store_true", help="compile the steps with XLA")
    args = parser.parse_args()

    interactions = load_movielens("ml-100k").interactions
    u1, cf = u1_split(interactions, seed=0), cfgan_split(interactions, seed=0)
    irgan = IRGAN(u1.train, dim=5, seed=0)
    irgan.compile(keras.optimizers.Adam(0.01), keras.optimizers.SGD(0.05), jit_compile=args.jit)
    cfgan = CFGAN(cf.train, mode="item", seed=0)
    cfgan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=args.jit)
    runs = {
        "irgan": (irgan, positive_pairs(u1.train, 4096, seed=0)),
        "cfgan": (cfgan, cfgan.row_examples(64, seed=0).dataset()),
    }
    timers = {name: EpochTimer() for name in runs}
    for model, data in runs.values():
        model.fit(data, epochs=1, verbose=0)  # warm-up: traces the step
    for _ in range(args.epochs):
        for name, (model, data) in runs.items():
            model.fit(data, epochs=1, verbose=0, callbacks=[timers[name]])
    print(
        json.dumps(
            {
                "benchmark": "gan_recommenders_epoch_seconds",
                "dataset": "ml-100k",
                "irgan": {
                    "protocol": u1.protocol,
                    "training_pairs": len(u1.train),
                    "batch_size": 4096,
                    "epoch_seconds": round(float(np.median(timers["irgan"].seconds)), 3),
                },
                "cfgan": {
                    "protocol": cf.protocol,
                    "vectors": cfgan.n_rows,
                    "batch_size": 64,
                    "epoch_seconds": round(float(np.median(timers["cfgan"].seconds)), 3),
                },
                "timed_epochs_per_model": args.epochs,
                "jit_compile": args.jit,
                "devices": [d.device_type for d in tf.config.list_logical_devices()],
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
