"""BPR-MF under ``tf.distribute.ParameterServerStrategy``: what trains, and the limit.

Each test starts this file as a subprocess (``tf.distribute.Server``\\ s cannot be stopped in a
process): an in-process cluster on the loopback interface -- the coordinator, two workers and two
parameter servers on free 127.0.0.1 ports -- trains BPR-MF with its own ``train_step`` through
:func:`advrec.distribute.train_with_coordinator`.

* Without a variable partitioner every table lives whole on one parameter server (round-robin):
  BPR-MF trains and its loss falls. This spreads the tables over servers but splits none.
* With ``FixedShardsPartitioner(2)`` the item table is a ``ShardedVariable`` of two shards on the
  two servers, and the step fails (TF 2.21, Keras 3.15) in ``tape.gradient`` with
  ``AttributeError: 'ShardedVariable' object has no attribute 'handle'``: the Keras variable's
  ``handle`` is its value's, and a sharded value has one handle per shard. A sound fix would
  need a second step (differentiating the shards) or a change inside Keras, so the test asserts
  the error and fails -- telling us -- the day upstream fixes it.

What a reader uses instead: ``MirroredStrategy`` / ``MultiWorkerMirroredStrategy`` while the
tables fit one device. The memory arithmetic: a float32 table of ``n`` rows of ``dim`` factors
takes ``4 n dim`` bytes (10 M items x 128 factors: 5.1 GB), and a step needs about three times
that on each replica (the table, its dense gradient, the optimizer's update; more for Adam's two
slots), so tens of millions of items fit one 80 GB accelerator. Even the unpartitioned
parameter-server path does not lift that bound: each worker reads whole tables and builds dense
gradients of their full shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from loopback import free_ports

TIMEOUT_S = 240
SHARDED_ERROR = "'ShardedVariable' object has no attribute 'handle'"


def _run_job(shards: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    result = subprocess.run(
        [sys.executable, __file__, str(shards)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_unpartitioned_tables_on_parameter_servers_train():
    result = _run_job(shards=1)
    assert result["error"] is None, result["error"]
    # Every table whole on one of the two servers, and both servers used.
    assert all(len(devices) == 1 for devices in result["placement"].values())
    assert {d for devices in result["placement"].values() for d in devices} == {
        "/job:ps/replica:0/task:0/device:CPU:0",
        "/job:ps/replica:0/task:1/device:CPU:0",
    }
    assert result["loss_after"] < result["loss_before"] - 0.05, result


@pytest.mark.slow
def test_sharded_item_table_fails_in_the_gradient_tape():
    result = _run_job(shards=2)
    assert result["placement"]["item_factors"] == [
        "/job:ps/replica:0/task:0/device:CPU:0",
        "/job:ps/replica:0/task:1/device:CPU:0",
    ]
    # If this fails because the error is gone, upstream fixed the path: train with the
    # partitioner (and turn this into a test that the loss falls).
    assert result["error"] == {
        "type": "AttributeError",
        "last_line": f"AttributeError: {SHARDED_ERROR}",
    }, result


# -- the job, run in a subprocess ------------------------------------------------------------
def _job(shards: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from advrec.data import positive_pairs, random_holdout, synthetic_movielens
    from advrec.distribute import train_with_coordinator
    from advrec.models import BPRMF

    cluster = tf.train.ClusterSpec(
        {
            "worker": [f"127.0.0.1:{port}" for port in free_ports(2)],
            "ps": [f"127.0.0.1:{port}" for port in free_ports(2)],
        }
    )
    # With the default pools (one thread per core) a 2-core machine deadlocks: the workers'
    # functions wait on the parameter servers' while holding every thread (as in TensorFlow's
    # "Parameter server training" tutorial, give them more).
    config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=8)
    servers = [  # noqa: F841 -- kept alive until the process ends
        tf.distribute.Server(cluster, job_name=job, task_index=i, config=config, start=True)
        for job in ("worker", "ps")
        for i in range(2)
    ]
    partitioner = (
        tf.distribute.experimental.partitioners.FixedShardsPartitioner(shards)
        if shards > 1
        else None
    )
    strategy = tf.distribute.ParameterServerStrategy(
        tf.distribute.cluster_resolver.SimpleClusterResolver(cluster, rpc_layer="grpc"),
        variable_partitioner=partitioner,
    )
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
    split = random_holdout(synthetic_movielens(n_users=120, n_items=90, seed=0).interactions)
    with strategy.scope():
        model = BPRMF(split.train, dim=8, l2=1e-3, seed=1)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    placement = {
        name: [v.device for v in getattr(value, "variables", [value])]
        for name, value in (
            (name, getattr(model, name).value)
            for name in ("user_factors", "item_factors", "item_bias")
        )
    }

    # The loss of fixed triples, computed on the coordinator from the servers' variables.
    rng = np.random.default_rng(3)
    users = split.train.user.astype(np.int32)
    positives = split.train.item.astype(np.int32)
    negatives = rng.integers(0, split.train.n_items, size=users.size).astype(np.int32)

    def loss() -> float:
        return float(model.pairwise_loss(users, positives, negatives)[0])

    loss_before, error = loss(), None
    start = time.perf_counter()
    try:
        train_with_coordinator(
            model,
            coordinator,
            lambda: positive_pairs(split.train, 256, seed=0, epochs=None),
            steps=100,
        )
    except Exception as e:  # the error the limit documents, reported to the test
        # Autograph's message ends with the original "Type: message" line.
        error = {"type": type(e).__name__, "last_line": str(e).strip().splitlines()[-1].strip()}
    return {
        "placement": placement,
        "loss_before": loss_before,
        "loss_after": loss() if error is None else None,
        "error": error,
        "train_s": time.perf_counter() - start,
    }


if __name__ == "__main__":
    print(json.dumps(_job(int(sys.argv[1]))), flush=True)
