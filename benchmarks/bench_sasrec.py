"""SASRec training throughput (sequences/s) and peak memory, one device vs two, CPU or GPU.

Each configuration runs in a fresh subprocess (so its peak memory is its own): a SASRec is
trained for ``--steps`` timed steps after ``--warmup`` steps (tracing, XLA compilation), and the
subprocess reports training windows per second and its peak resident memory (CPU) or peak GPU
memory. Prints one JSON object; never fails on a number.

Data (synthetic, :func:`advrec.data.sequences.synthetic_sequences`, so no download is needed):

- ``ml-100k-sized``: 943 users, 1,682 items, about 100k interactions;
- ``ml-20m-sized``: 27,278 items and ML-20M's mean history (144 items), but only ``--users-20m``
  of its 138,493 users (default 5,000, to keep the run short). Throughput per step does not
  depend on the number of users (a step reads ``--batch-size`` windows), and a SASRec has no
  user table, so its memory does not either; the subsample is stated in the output.

CPU mode compares one logical CPU device with ``tf.distribute.MirroredStrategy`` over two logical
CPU devices carved from the same cores (a check that the distributed step runs and what it costs,
not a speed-up: both share the same physical cores). ``--gpu`` compares float32 and
``mixed_float16``, each with and without XLA, on the first GPU.

    python benchmarks/bench_sasrec.py [--steps 20] [--batch-size 128] [--users-20m 5000]
    python benchmarks/bench_sasrec.py --gpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DATASETS = {
    "ml-100k-sized": {"n_users": 943, "n_items": 1682, "mean_length": 106.0},
    "ml-20m-sized": {"n_users": None, "n_items": 27278, "mean_length": 144.4},
}


def run_one(config: dict) -> dict:
    """Runs one configuration in this process (called in a subprocess) and returns its figures."""
    import tensorflow as tf

    if config["devices"] == 2:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    import keras

    from advrec.data.sequences import leave_last_out, synthetic_sequences, training_sequences
    from advrec.models.sasrec import SASRec

    sizes = dict(DATASETS[config["dataset"]])
    if sizes["n_users"] is None:
        sizes["n_users"] = config["users_20m"]
    started = time.perf_counter()
    table = synthetic_sequences(
        sizes["n_users"], sizes["n_items"], n_clusters=50, mean_length=sizes["mean_length"], seed=0
    )
    sequences = leave_last_out(table, max_len=config["max_len"])
    data_seconds = time.perf_counter() - started
    if config["gpu"]:
        strategy = tf.distribute.OneDeviceStrategy("/GPU:0")
    elif config["devices"] == 2:
        strategy = tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("CPU")]
        )
    else:
        strategy = tf.distribute.OneDeviceStrategy("/CPU:0")
    with strategy.scope():
        model = SASRec(
            sequences, dim=config["dim"], n_blocks=2, dropout=0.2, seed=0, dtype=config["dtype"]
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=config["xla"])
    data = training_sequences(sequences.train, config["max_len"], config["batch_size"], seed=0)
    data = data.repeat()
    model.fit(data, steps_per_epoch=config["warmup"], epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=config["steps"], epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    result = {
        **config,
        "interactions": len(table),
        "parameters": int(sum(int(v.numpy().size) for v in model.trainable_variables)),
        "data_seconds": round(data_seconds, 2),
        "sequences_per_s": round(config["steps"] * config["batch_size"] / seconds, 1),
        "step_ms": round(1000 * seconds / config["steps"], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if config["gpu"]:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        result["peak_gpu_mb"] = round(peak / 2**20, 1)
    return result


def spawn(config: dict) -> dict:
    """Runs ``config`` in a fresh Python process and returns its JSON line (or the failure)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, __file__, "--one", json.dumps(config)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {**config, "not measured": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--gpu", action="store_true", help="GPU mode: precision x XLA")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--users-20m", type=int, default=5000)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return

    base = {
        "steps": args.steps,
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "max_len": args.max_len,
        "dim": args.dim,
        "users_20m": args.users_20m,
    }
    runs = []
    for dataset in args.datasets:
        if args.gpu:
            for dtype in ("float32", "mixed_float16"):
                for xla in (False, True):
                    config = {**base, "dataset": dataset, "gpu": True, "devices": 1}
                    runs.append(spawn({**config, "dtype": dtype, "xla": xla}))
        else:
            # (devices, XLA): XLA cannot compile the mirrored step over logical CPU devices (it
            # reads a replica's variable from another device: "tfvariable_on_a_different_device")
            for devices, xla in ((1, True), (1, False), (2, False)):
                config = {**base, "dataset": dataset, "gpu": False, "devices": devices}
                runs.append(spawn({**config, "dtype": "float32", "xla": xla}))
    print(
        json.dumps(
            {
                "benchmark": "sasrec_training",
                "mode": "gpu" if args.gpu else "cpu",
                "note": (
                    f"ml-20m-sized uses {args.users_20m} of ML-20M's 138,493 users (synthetic "
                    "histories, 27,278 items); throughput per step does not depend on the user "
                    "count and SASRec has no user table"
                ),
                "machine": platform.platform(),
                "cpu_count": os.cpu_count(),
                "load_average": os.getloadavg(),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
