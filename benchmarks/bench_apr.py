"""Cost of one APR (AMF) training epoch relative to one BPR-MF epoch, measured in one run.

Both models train on the same ML-100K split with the same batch size and optimizer, through
:func:`advrec.training.fit_model` (one compiled call per epoch); after a warm-up epoch (tracing),
epochs of the two models alternate, so load from other processes hits both alike, and the
median epoch time of each is compared. Prints one JSON object; never fails
on a number (the issue's target is a ratio of at most 2.5).

    python benchmarks/bench_apr.py [--dataset ml-100k] [--epochs 5] [--batch-size 8192]
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

from advrec.data.sampling import pair_examples  # noqa: E402
from advrec.models import BPRMF  # noqa: E402
from advrec.models.apr import AMF  # noqa: E402
from advrec.protocol import load_split  # noqa: E402
from advrec.training import fit_model  # noqa: E402

TARGET_RATIO = 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k", choices=("ml-100k", "ml-1m", "synthetic"))
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per model")
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--jit-compile", type=lambda s: s == "true", default=True)
    args = parser.parse_args()

    split = load_split(args.dataset, None, seed=0)
    examples = pair_examples(split.train, args.batch_size, seed=0)
    models = {
        "bpr": BPRMF(split.train, seed=0),
        "apr": AMF(split.train, epsilon=args.epsilon, adversarial_weight=1.0, seed=0),
    }
    timers = {name: EpochTimer() for name in models}
    for model in models.values():  # compiled as fit_ranker compiles them
        model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=args.jit_compile)
        fit_model(model, examples, epochs=1)  # warm-up: traces (and compiles) the epoch
    for _ in range(args.epochs):
        for name, model in models.items():
            fit_model(model, examples, epochs=1, callbacks=[timers[name]])
    median = {name: float(np.median(timer.seconds)) for name, timer in timers.items()}
    ratio = median["apr"] / median["bpr"]
    print(
        json.dumps(
            {
                "benchmark": "apr_epoch_vs_bpr_epoch",
                "dataset": args.dataset,
                "training_pairs": len(split.train),
                "batch_size": args.batch_size,
                "jit_compile": args.jit_compile,
                "timed_epochs_per_model": args.epochs,
                "bpr_epoch_seconds": round(median["bpr"], 4),
                "apr_epoch_seconds": round(median["apr"], 4),
                "ratio": round(ratio, 3),
                "target_ratio_at_most": TARGET_RATIO,
                "within_target": bool(ratio <= TARGET_RATIO),
                "devices": [d.device_type for d in tf.config.list_logical_devices()],
                "machine": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
