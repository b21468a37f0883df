"""What compiling costs a run of several seeds, and the two ways to pay it once (ML-100K BPR-MF).

    .venv/bin/python benchmarks/bench_compile.py [--seeds 3] [--epochs 3]

Every configuration runs in a fresh Python process (as a chapter or ``make test`` would), trains
BPR-MF through :func:`advrec.training.fit_model` for ``--epochs`` epochs per seed, and reports,
per seed, the first epoch (tracing and compilation included) in wall and process-CPU seconds,
and the warm epochs:

- ``new_model_per_seed``: a new model for each seed, with and without XLA -- every model traces
  and compiles its epoch again;
- ``restart_from``: one model, put back at the start for each seed with
  :func:`advrec.training.restart_from` -- the compiled epoch (kept on the model) is reused;
- ``persistent_cache_cold`` / ``_warm``: a new model per seed with TensorFlow's persistent XLA
  compilation cache (``TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=DIR``), first with an
  empty folder, then again in a second process with the folder the first one filled.

Prints one JSON object and never fails on a number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def child(mode: str, seeds: int, epochs: int, jit: bool) -> dict:
    """Runs in the fresh process: the per-seed timings of one configuration."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from advrec.data.sampling import pair_examples
    from advrec.models import BPRMF
    from advrec.protocol import load_split
    from advrec.training import fit_model, restart_from

    split = load_split("ml-100k", seed=0)
    runs, model = [], None
    for seed in range(seeds):
        fresh = BPRMF(split.train, dim=64, seed=seed)
        if mode == "restart_from" and model is not None:
            restart_from(model, fresh)
        else:
            model = fresh
            model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=jit)
        examples = pair_examples(split.train, 8192, seed=seed)
        wall, cpu = time.perf_counter(), time.process_time()
        fit_model(model, examples, epochs=1)
        first = (time.perf_counter() - wall, time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        fit_model(model, examples, epochs=epochs)
        warm = ((time.perf_counter() - wall) / epochs, (time.process_time() - cpu) / epochs)
        runs.append(
            {
                "seed": seed,
                "first_epoch_s": round(first[0], 3),
                "first_epoch_cpu_s": round(first[1], 3),
                "warm_epoch_s": round(warm[0], 4),
                "warm_epoch_cpu_s": round(warm[1], 4),
            }
        )
    compile_cpu = [r["first_epoch_cpu_s"] - r["warm_epoch_cpu_s"] for r in runs]
    return {
        "runs": runs,
        "compile_cpu_s_per_seed": [round(c, 3) for c in compile_cpu],
        "compile_cpu_s_total": round(float(np.sum(compile_cpu)), 3),
    }


def run_child(mode: str, args, jit: bool, env_extra: dict | None = None) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    command = [sys.executable, __file__, "--child", mode, "--seeds", str(args.seeds)]
    command += ["--epochs", str(args.epochs), "--jit", "true" if jit else "false"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        return {"status": "not measured", "reason": done.stderr.strip()[-600:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - start, 2)
    result["load_average"] = list(os.getloadavg())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--child", default=None)
    parser.add_argument("--jit", default="true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seeds, args.epochs, args.jit == "true")))
        return
    report = {
        "benchmark": "compile cost of a run over seeds: new models, restart_from, XLA cache",
        "seeds": args.seeds,
        "epochs_per_seed": args.epochs,
        "load_average_at_start": list(os.getloadavg()),
        "configurations": {},
    }
    configs = report["configurations"]
    configs["new_model_per_seed_no_xla"] = run_child("new_model", args, jit=False)
    configs["new_model_per_seed_xla"] = run_child("new_model", args, jit=True)
    configs["restart_from_xla"] = run_child("restart_from", args, jit=True)
    with tempfile.TemporaryDirectory() as cache:
        flags = {"TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={cache}"}
        configs["persistent_cache_cold_xla"] = run_child("new_model", args, True, flags)
        configs["persistent_cache_warm_xla"] = run_child("new_model", args, True, flags)
        report["persistent_cache_files"] = len(os.listdir(cache))
    report["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
