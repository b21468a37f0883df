"""Two worker processes on the loopback interface train exactly like one process.

Each test starts two ``tests/multiworker_job.py`` workers of a ``MultiWorkerMirroredStrategy``
cluster (free ports on 127.0.0.1, nothing else) and one single-process reference, and compares
the final weights. Keras' own ``fit`` cannot run under this strategy (keras-team/keras#20585), so
this also tests :func:`advrec.distribute.fit_with_strategy`, which ``fit_ranker`` uses there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from loopback import free_ports

JOB = Path(__file__).with_name("multiworker_job.py")
TIMEOUT_S = 240


def _start(out: Path, tf_config: dict | None) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, str(JOB), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_two_workers_agree_with_one_process(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    outputs = [tmp_path / name for name in ("reference.npz", "worker0.npz", "worker1.npz")]
    processes = [_start(outputs[0], None)] + [
        _start(out, {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        for index, out in enumerate(outputs[1:])
    ]
    try:
        for process in processes:
            log, _ = process.communicate(timeout=TIMEOUT_S)
            assert process.returncode == 0, log[-3000:]
    finally:
        for process in processes:
            process.kill()
    reference, *results = (dict(np.load(out)) for out in outputs)
    assert int(reference["replicas"]) == 1
    for result in results:
        assert int(result["replicas"]) == 2
        for name in (name for name in reference if name != "replicas"):
            # Same batches, negatives and noise, and each replica's loss is its share of the
            # global batch's mean (advrec.losses.scale_for_replicas with the example count), so
            # even the last, uneven batch of an epoch gives one process's gradients.
            np.testing.assert_allclose(result[name], reference[name], rtol=1e-3, atol=1e-4)
