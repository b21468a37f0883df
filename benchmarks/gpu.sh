#!/usr/bin/env bash
# BPR-MF on a GPU: throughput and time to quality, XLA on and off, printed as JSON lines.
# Run from the repository root on a machine with an NVIDIA GPU and the project's .venv:
#     bash benchmarks/gpu.sh > gpu.jsonl
# Cornac does not run on a GPU; its CPU figures come from `make bench` on the same machine.
# (BPR-MF keeps its tables and arithmetic in float32: a mixed-precision policy would change
# nothing in its step, so no mixed-precision run is made.)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
$python -c "import tensorflow as tf; assert tf.config.list_physical_devices('GPU'), 'no GPU visible'"
for jit in true false; do
  for batch in 2048 16384; do
    $python benchmarks/bench_bpr.py --cornac-python "" --repeats 3 --jit-compile "$jit" \
      --batch-size "$batch" | $python -c "import json,sys; print(json.dumps(json.load(sys.stdin)))"
  done
done
