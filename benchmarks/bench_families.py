"""Seconds per epoch of every model family, before the training engine and with it (ML-100K).

    .venv/bin/python benchmarks/bench_families.py [--families cfgan sasrec] [--rounds 3]

Each family is built at the settings its recipe ships (the stored run's config and data, seed 0)
and trained two ways, each with and without XLA, all in one process, the configurations'
epochs interleaved so that load from other processes hits them alike:

- ``before``: Keras ``fit`` on ``tf.data`` batches (``supports_padded_batches = False``), how
  every family but the pairwise rankers trained until the engine covered it: one launch of the
  step per batch, the smaller last batch of an epoch traced (and compiled) a second time;
- ``engine``: :func:`advrec.training.fit_model` today: one compiled call per epoch over padded
  batches (:mod:`advrec.engine`), the step traced once.

Families: the ring GAN and the digit GAN of the GAN-theory chapter; IRGAN's discriminator
phase (a table of ``--irgan-passes`` passes over u1's pairs, one ``fit`` epoch as in the recipe)
and its generator phase (all users in one batch: an epoch is one step); CFGAN (item vectors, 64
per step); the three learned cold-start models (warm tables drawn at random at the warm
model's size: the cost of a step does not depend on their values); the shilling profile GAN;
SASRec plainly and with each adversarial phase.

Reported per configuration: the first epoch (tracing and compilation included; wall and
process CPU seconds), the warm epoch -- the wall time of a whole ``fit_model`` call of ``--epochs``
epochs divided by them, median over ``--rounds`` calls, so that what a call costs besides its
epochs (a ``tf.data`` iterator before the engine, Keras' loop) counts as it does in a recipe --
and the median epoch as Keras' callbacks see it (``epoch_in_fit_s``, without that), and each
engine configuration's speed-up over ``before`` without XLA (the CPU default). The first
``--quality-epochs`` epochs' training logs of both paths are printed from fresh models, to show
that they train alike. Where an epoch is compute-bound no engine can make it much faster: each
row gives the step's floating-point operations (TensorFlow's graph profiler, a lower bound)
and the rate the epoch achieves, against the rate of a dense matrix product measured at the
start (``machine.matmul_gflop_per_s``). Prints one JSON object and never fails on a number: a
configuration that cannot run is reported with its error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import EpochTimer  # noqa: E402

from advrec.data.sampling import Examples, pair_examples  # noqa: E402
from advrec.recipes.stored import STORED_RUNS  # noqa: E402
from advrec.training import fit_model  # noqa: E402


@dataclass
class Case:
    """A compiled model, the examples of one of its epochs and the context it trains in (a
    function that makes a fresh context manager, e.g. IRGAN's ``model.phase``)."""

    model: keras.Model
    examples: Examples
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext


def ring_gan(jit: bool) -> Case:
    from advrec.recipes.toy_gans import RING_GAN, ring_data

    return _gan(ring_data().samples, RING_GAN, jit)


def digits_gan(jit: bool) -> Case:
    from advrec.recipes.toy_gans import DIGITS_GAN, load_digit_images

    return _gan(load_digit_images().x_train, DIGITS_GAN, jit)


def _gan(samples, config, jit: bool) -> Case:
    from advrec.recipes.toy_gans import compiled_gan

    samples = np.asarray(samples, np.float32)
    gan = compiled_gan(samples, config, seed=0, jit_compile=jit)
    return Case(gan, Examples((samples,), config.batch_size, 0))


def _irgan(jit: bool):
    from advrec.recipes.gan_recommenders import compiled_irgan

    spec = STORED_RUNS["irgan-ml100k"]
    config, split = spec.config, spec.data(0)
    return compiled_irgan(split.train, config, seed=0, jit_compile=jit), config, split


def irgan_discriminator(jit: bool, passes: int = 5) -> Case:
    model, config, split = _irgan(jit)
    rng = np.random.default_rng(0)
    users, items = split.train.user.astype(np.int32), split.train.item.astype(np.int32)
    negatives = model.sample_negatives(users, rng)
    orders = [rng.permutation(len(users)) for _ in range(passes)]
    table = tuple(np.concatenate([c[o] for o in orders]) for c in (users, items, negatives))
    examples = Examples(table, config.discriminator_batch, 0, shuffle=False)
    return Case(model, examples, lambda: model.phase("discriminator"))


def irgan_generator(jit: bool) -> Case:
    model, config, split = _irgan(jit)
    users = np.unique(split.train.user).astype(np.int32)
    return Case(
        model, Examples((users,), config.generator_batch, 0), lambda: model.phase("generator")
    )


def cfgan(jit: bool) -> Case:
    from advrec.recipes.gan_recommenders import compiled_cfgan

    spec = STORED_RUNS["cfgan-ml100k"]
    config = spec.config
    model = compiled_cfgan(spec.data(0).train, config, seed=0, jit_compile=jit)
    return Case(model, model.row_examples(config.batch_size, seed=0))


def _cold_start(kind: str):
    def build(jit: bool) -> Case:
        from advrec.recipes.base import with_settings
        from advrec.recipes.coldstart import compiled_generator

        spec = STORED_RUNS["coldstart-items-ml100k"]
        config, data = spec.config, spec.data(0)
        generator = with_settings(  # the comparison's first grid point
            config.generator,
            kind=kind,
            hidden=(config.hidden_grid[0],),
            beta=config.beta_grid[0],
            tower_hidden=(config.tower_grid[0],),
        )
        split = data.split
        warm = split.warm_space().train
        sizes = (warm.n_items, warm.n_users)  # the warm space: warm entities only
        counts = sizes if split.side == "items" else sizes[::-1]
        rng = np.random.default_rng(0)
        tables = [rng.normal(0, 0.1, (n, config.warm.dim)).astype(np.float32) for n in counts]
        model = compiled_generator(data, tables, generator, seed=0, jit_compile=jit)
        return Case(model, pair_examples(warm, generator.batch_size, seed=0))

    return build


def profile_gan(jit: bool) -> Case:
    from advrec.attacks.shilling import gan_templates
    from advrec.recipes.shilling import compiled_profile_gan

    spec = STORED_RUNS["shilling-attacks-ml100k"]
    attacker, train = spec.config.attacker, spec.data(0).train
    target = int(np.argsort(np.bincount(train.item, minlength=train.n_items))[train.n_items // 2])
    templates = gan_templates(train, target, attacker.filler_size)
    value = np.random.default_rng(0).normal(size=train.n_items).astype(np.float32)
    model = compiled_profile_gan(train.n_items, target, value, attacker, seed=0, jit_compile=jit)
    return Case(model, Examples((templates,), attacker.gan.batch_size, 0))


def _sasrec(adversary: str | None):
    def build(jit: bool) -> Case:
        from advrec.data.sequences import sequence_examples
        from advrec.models.sasrec import SASRec
        from advrec.recipes.sequences import sasrec_architecture

        spec = STORED_RUNS["sasrec-study-ml100k"]
        config, sequences = spec.config, spec.data(0)
        plain = config.sasrec
        options = sasrec_architecture(plain)
        schedule = plain
        if adversary is not None:
            schedule = config.adversarial
            options |= {
                "adversary": adversary,
                "epsilon": schedule.epsilon,
                "adversarial_weight": schedule.adversarial_weight,
                "substitution_rate": schedule.substitution_rate,
            }
        model = SASRec(sequences, **options, seed=0)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule.learning_rate, beta_2=0.98), jit_compile=jit
        )
        examples = sequence_examples(sequences.train, model.max_len, schedule.batch_size, 0)
        return Case(model, examples)

    return build


FAMILIES = {
    "gan-ring": ring_gan,
    "gan-digits": digits_gan,
    "irgan-discriminator": irgan_discriminator,
    "irgan-generator": irgan_generator,
    "cfgan": cfgan,
    "coldstart-regression": _cold_start("regression"),
    "coldstart-dropoutnet": _cold_start("dropoutnet"),
    "coldstart-adversarial": _cold_start("adversarial"),
    "profile-gan": profile_gan,
    "sasrec": _sasrec(None),
    "sasrec-apr": _sasrec("apr"),
    "sasrec-substitution": _sasrec("substitution"),
}


def build(family: str, path: str, jit: bool) -> Case:
    """A fresh, compiled case that trains the ``path`` way (see the module docstring)."""
    case = FAMILIES[family](jit)
    if path == "before":
        case.model.supports_padded_batches = False  # fit_model then feeds tf.data to fit
    elif not getattr(case.model, "supports_padded_batches", False):
        raise ValueError(f"{type(case.model).__name__} does not train through the engine")
    return case


def step_float_ops(case: Case) -> int:
    """Floating-point operations of one step on a full batch (forward, gradients, updates), as
    TensorFlow's graph profiler counts them: ops with registered statistics (matrix products,
    element-wise arithmetic); a lower bound, since some ops (e.g. ``Einsum``) have none."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    rows = case.examples.batch_size
    batch = tuple(tf.constant(a[:rows]) for a in case.examples.arrays)
    with case.context():
        step = tf.function(case.model.train_step)
        graph = step.get_concrete_function((batch if len(batch) > 1 else batch[0],)).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(model_analyzer.profile(graph, options=options).total_float_ops)


def matmul_gflop_per_s(size: int = 1024, repeats: int = 20) -> float:
    """The rate of a dense float32 ``size x size`` matrix product on this machine: what a step
    that is all matrix products could reach, at best."""
    a = tf.random.normal([size, size])
    product = tf.function(lambda a: tf.matmul(a, a), autograph=False)
    product(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product(a).numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def fit(case: Case, epochs: int, callbacks=()) -> dict:
    with case.context():
        return fit_model(case.model, case.examples, epochs, callbacks=list(callbacks)).history


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--paths", nargs="+", default=["before", "engine"])
    parser.add_argument("--jit", nargs="+", default=["false", "true"])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per fit")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved fits per config")
    parser.add_argument("--quality-epochs", type=int, default=2)
    args = parser.parse_args(argv)

    report = {
        "benchmark": "seconds per epoch of every model family, before vs the engine",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "load_average_at_start": list(os.getloadavg()),
        },
        "results": [],
    }
    report["machine"]["matmul_gflop_per_s"] = round(matmul_gflop_per_s(), 1)
    for family in args.families:
        cases, first, timers, fits, errors = {}, {}, {}, {}, {}
        for path in args.paths:
            for jit in (j == "true" for j in args.jit):
                key = (path, jit)
                try:
                    cases[key] = case = build(family, path, jit)
                    wall, cpu = time.perf_counter(), time.process_time()
                    fit(case, 1)
                    first[key] = (time.perf_counter() - wall, time.process_time() - cpu)
                    timers[key], fits[key] = EpochTimer(), []
                except Exception as error:  # noqa: BLE001 -- reported, never fatal
                    errors[key] = f"{type(error).__name__}: {str(error)[:300]}"
                    cases.pop(key, None)
        for _ in range(args.rounds):
            for key, case in cases.items():
                start = time.perf_counter()
                fit(case, args.epochs, [timers[key]])
                fits[key].append((time.perf_counter() - start) / args.epochs)
        quality = {}
        for key in cases:  # the same seed's training logs, from a fresh model
            logs = fit(build(family, *key), args.quality_epochs)
            quality[key] = {
                name: [round(float(v), 5) for v in values] for name, values in logs.items()
            }
        try:
            step_flop = step_float_ops(build(family, "engine", False))
        except Exception as error:  # noqa: BLE001 -- reported, never fatal
            step_flop = f"not measured: {type(error).__name__}: {str(error)[:300]}"
        base = fits.get(("before", False))
        for key in [*cases, *errors]:
            path, jit = key
            row = {"family": family, "path": path, "xla": jit}
            if key in errors:
                row["error"] = errors[key]
            else:
                epoch = float(np.median(fits[key]))
                row |= {
                    "examples_per_epoch": len(cases[key].examples),
                    "batches_per_epoch": cases[key].examples.batches_per_epoch,
                    "first_epoch_s": round(first[key][0], 3),
                    "first_epoch_cpu_s": round(first[key][1], 3),
                    "epoch_s": round(epoch, 4),
                    "epoch_s_all": [round(s, 4) for s in fits[key]],
                    "epoch_in_fit_s": round(float(np.median(timers[key].seconds)), 4),
                    "epoch_cpu_s": round(float(np.median(timers[key].cpu_seconds)), 4),
                    "logs_per_epoch": quality[key],
                }
                if isinstance(step_flop, str):
                    row["step_gflop"] = step_flop
                else:
                    epoch_flop = step_flop * cases[key].examples.batches_per_epoch
                    row["step_gflop"] = round(step_flop / 1e9, 4)
                    row["achieved_gflop_per_s"] = round(epoch_flop / epoch / 1e9, 1)
                if base is not None:
                    row["speedup_vs_before_without_xla"] = round(float(np.median(base)) / epoch, 2)
            report["results"].append(row)
        progress = {"done": family, "load": list(os.getloadavg())}
        print(json.dumps(progress), file=sys.stderr, flush=True)
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
