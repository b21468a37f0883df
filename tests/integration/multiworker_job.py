"""One process of the multi-worker tests: trains a small model and saves its weights.

    python tests/multiworker_job.py OUT.npz

With ``TF_CONFIG`` set (see ``test_multiworker.py``) it is one worker of a
``MultiWorkerMirroredStrategy`` cluster on the loopback interface; without it, the single-process
reference. Both train the same model on the same global batches from the same seeds.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(out: str) -> None:
    if "TF_CONFIG" in os.environ:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    weights = {f"bpr_{i}": w for i, w in enumerate(train_bpr(strategy))}
    weights |= {f"gan_{i}": w for i, w in enumerate(train_gan(strategy))}
    weights |= {f"sasrec_{i}": w for i, w in enumerate(train_sasrec(strategy))}
    np.savez(out, **weights, replicas=strategy.num_replicas_in_sync)


def train_bpr(strategy) -> list[np.ndarray]:
    from advrec.data import random_holdout, synthetic_movielens
    from advrec.models import BPRMF
    from advrec.training import fit_ranker

    split = random_holdout(synthetic_movielens(n_users=120, n_items=90, seed=0).interactions)
    with strategy.scope():
        model = BPRMF(split.train, dim=8, l2=1e-3, seed=1)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    validation = fit_ranker(model, split, epochs=2, batch_size=256, patience=None, verbose=0)
    assert len(validation.history["epoch"]) == 2
    return [w.numpy() for w in model.trainable_weights] + [np.array(validation.best)]


def train_sasrec(strategy) -> list[np.ndarray]:
    from advrec.data.sequences import leave_last_out, synthetic_sequences
    from advrec.models.sasrec import SASRec
    from advrec.recipes.base import with_settings
    from advrec.recipes.sequences import SASRecConfig, fit_sasrec

    # uneven histories: the replicas hold different numbers of real (non-padding) positions
    sequences = leave_last_out(synthetic_sequences(90, 40, mean_length=10, seed=0), max_len=8)
    with strategy.scope():
        model = SASRec(sequences, dim=8, n_heads=2, dropout=0.0, seed=3)  # BCE, sampled negatives
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    schedule = with_settings(SASRecConfig(), epochs=2, batch_size=32, eval_every=1, patience=None)
    validation = fit_sasrec(model, sequences, schedule)
    assert len(validation.history["epoch"]) == 2
    return [w.numpy() for w in model.trainable_weights] + [np.array(validation.best)]


def train_gan(strategy) -> list[np.ndarray]:
    from advrec.data.sampling import Examples
    from advrec.gan import GAN, mlp_discriminator, mlp_generator
    from advrec.training import fit_model

    with strategy.scope():
        generator = mlp_generator(3, (2,), hidden_units=(8,))
        discriminator = mlp_discriminator((2,), hidden_units=(8,))
        for model, seed in ((generator, 1), (discriminator, 2)):
            rng = np.random.default_rng(seed)
            model.set_weights(
                [rng.normal(0, 0.3, w.shape).astype("float32") for w in model.weights]
            )
        gan = GAN(generator, discriminator, latent_dim=3, seed=5)
        gan.compile(keras.optimizers.Adam(0.01), keras.optimizers.Adam(0.01))
    real = np.random.default_rng(0).normal(size=(128, 2)).astype("float32")
    # through the engine (fit_with_strategy under several workers); batches of 48: the last one
    # holds 32 real rows, so the replicas hold different numbers of real examples
    history = fit_model(gan, Examples((real,), 48, seed=4), epochs=2).history
    logs = [np.array(history[name]) for name in ("d_loss", "g_loss")]
    return [w.numpy() for w in generator.weights + discriminator.weights] + logs


if __name__ == "__main__":
    main(sys.argv[1])
