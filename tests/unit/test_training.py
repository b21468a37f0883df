"""fit_ranker and RankingValidation: evaluation schedule, compile rules, determinism, gradients."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from advrec.distribute import dense_gradients
from advrec.models import BPRMF
from advrec.training import fit_ranker, restart_from


def test_dense_gradients_sum_repeated_rows_into_the_variables_shape():
    table = tf.Variable(tf.zeros([4, 2]))
    rows = tf.IndexedSlices(
        values=tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
        indices=tf.constant([0, 2, 0]),
        dense_shape=tf.constant([4, 2]),
    )
    bias = tf.constant([1.0, 2.0])
    dense, untouched = dense_gradients([rows, bias], [table, tf.Variable(tf.zeros(2))])
    np.testing.assert_allclose(dense.numpy(), [[6, 8], [0, 0], [3, 4], [0, 0]])
    assert dense.shape == (4, 2)  # static: every replica all-reduces the same shapes
    assert untouched is bias


def test_validation_runs_every_few_epochs_and_after_the_last(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=4, seed=0)
    validation = fit_ranker(
        model, synthetic_split, epochs=7, batch_size=1024, eval_every=3, patience=None, verbose=0
    )
    assert validation.history["epoch"] == [3, 6, 7]
    assert len(validation.history["ndcg@10"]) == 3
    assert validation.best == pytest.approx(max(validation.history["ndcg@10"]))
    assert validation.best_epoch in (3, 6, 7)


def test_optimizer_settings_for_a_compiled_model_are_refused(synthetic_split):
    model = BPRMF(synthetic_split.train, dim=4, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match="already compiled"):
        fit_ranker(model, synthetic_split, epochs=1, learning_rate=0.5, verbose=0)
    with pytest.raises(ValueError, match="either an optimizer or a learning_rate"):
        fit_ranker(
            BPRMF(synthetic_split.train, dim=4),
            synthetic_split,
            optimizer=keras.optimizers.SGD(0.1),
            learning_rate=0.1,
            verbose=0,
        )


def test_training_depends_on_the_seed_alone_not_the_global_seed(synthetic_split):
    def train(global_seed):
        tf.random.set_seed(global_seed)
        model = BPRMF(synthetic_split.train, dim=4, seed=3)
        fit_ranker(model, synthetic_split, epochs=2, batch_size=512, seed=3, verbose=0)
        return model.user_factors.numpy()

    np.testing.assert_array_equal(train(1), train(2))


def test_fit_ranker_trains_on_the_examples_it_is_given(synthetic_split):
    from advrec.data.sampling import pair_examples

    model = BPRMF(synthetic_split.train, dim=4, seed=0)
    examples = pair_examples(synthetic_split.train, 256, seed=1)
    fit_ranker(model, synthetic_split, epochs=2, examples=examples, patience=None, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2 * examples.batches_per_epoch


def test_fit_model_refuses_an_uncompiled_model_and_fractional_epochs(synthetic_split):
    from advrec.data.sampling import pair_examples
    from advrec.training import fit_model

    examples = pair_examples(synthetic_split.train, 256)
    with pytest.raises(ValueError, match="compile the BPRMF"):
        fit_model(BPRMF(synthetic_split.train, dim=4), examples, epochs=1)
    model = BPRMF(synthetic_split.train, dim=4)
    model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 2.9"):
        fit_model(model, examples, epochs=2.9)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch: int) -> None:
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")


@pytest.mark.slow  # three fits
def test_an_interrupted_run_resumes_to_the_same_weights(synthetic_split, tmp_path):
    def run(callbacks=()):
        model = BPRMF(synthetic_split.train, dim=4, seed=2)
        validation = fit_ranker(
            model,
            synthetic_split,
            epochs=5,
            batch_size=512,
            patience=2,
            seed=2,
            verbose=0,
            callbacks=callbacks,
            backup_dir=tmp_path / "backup",
        )
        return model, validation

    reference, reference_validation = run()
    backup = tmp_path / "backup"
    assert not backup.exists() or not any(backup.iterdir())  # a finished run leaves nothing
    with pytest.raises(KeyboardInterrupt):
        run(callbacks=[_Interrupt(at_epoch=3)])
    resumed, resumed_validation = run()

    def scores(history):
        return {k: v for k, v in history.items() if k != "evaluation_s"}  # timings differ

    assert scores(resumed_validation.history) == scores(reference_validation.history)
    assert resumed_validation.best_epoch == reference_validation.best_epoch
    for a, b in zip(resumed.weights, reference.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == int(reference.optimizer.iterations)


@pytest.mark.slow  # three fits
def test_restart_from_trains_like_a_fresh_model(synthetic_split):
    def fit(model):
        return fit_ranker(
            model, synthetic_split, epochs=3, batch_size=512, patience=None, seed=1, verbose=0
        )

    reused = BPRMF(synthetic_split.train, dim=4, seed=0)
    fit(reused)  # compiled, trained, its Adam moments far from zero
    restart_from(reused, BPRMF(synthetic_split.train, dim=4, seed=3))
    reused_validation = fit(reused)
    fresh = BPRMF(synthetic_split.train, dim=4, seed=3)
    fresh_validation = fit(fresh)
    assert reused_validation.history["ndcg@10"] == pytest.approx(
        fresh_validation.history["ndcg@10"]
    )
    for a, b in zip(reused.weights, fresh.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
