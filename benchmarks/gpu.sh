#!/usr/bin/env bash
# The training engine on a GPU: BPR-MF's time to quality and throughput (before the engine, the
# engine without and with XLA), seconds per epoch of every pairwise ranker and of every other model
# family (bench_families.py), and the compile cost of a run over seeds; one JSON object per line.
# Run from the repository root on a machine with an NVIDIA GPU and the project's .venv:
#     bash benchmarks/gpu.sh > gpu.jsonl
# Cornac does not run on a GPU; its CPU figures come from `make bench` on the same machine.
# (BPR-MF keeps its tables and arithmetic in float32: a mixed-precision policy would change
# nothing in its step, so no mixed-precision run is made.) About 15 minutes on one GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
export PYTHONPATH=${PYTHONPATH:-$PWD}
$python -c "import tensorflow as tf; assert tf.config.list_physical_devices('GPU'), 'no GPU visible'"
oneline() { $python -c "import json,sys; print(json.dumps(json.load(sys.stdin)))"; }
for batch in 2048 16384; do
  $python benchmarks/bench_bpr.py --cornac-python "" --repeats 2 --batch-size "$batch" \
    --optimizer adagrad --learning-rate 0.1 --throughput-epochs 10 \
    --advrec before:false engine:false engine:true | oneline
done
$python benchmarks/bench_rankers.py --batch-sizes 8192 2048 --rounds 2 | oneline
$python benchmarks/bench_compile.py --seeds 3 | oneline
$python benchmarks/bench_families.py --rounds 2 | oneline
