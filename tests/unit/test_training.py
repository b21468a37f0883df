"""fit_ranker and RankingValidation: evaluation schedule, compile rules, determinism, gradients."""

from __future__ import annotations

from pathlib import Path

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
    """Raises at the start of an epoch or at its end (before the backup saves it)."""

    def __init__(self, at_epoch: int, where: str = "begin") -> None:
        super().__init__()
        self.at_epoch, self.where = at_epoch, where

    def on_epoch_begin(self, epoch, logs=None):
        if self.where == "begin" and epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")

    def on_epoch_end(self, epoch, logs=None):
        if self.where == "end" and epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")


def _resumable_run(split, backup, callbacks=(), dim=4, batch_size=512):
    model = BPRMF(split.train, dim=dim, l2=0.0, seed=2)
    validation = fit_ranker(  # stops early: best epoch 4 of 5 run (of 8 planned)
        model,
        split,
        epochs=8,
        batch_size=batch_size,
        learning_rate=0.1,
        patience=1,  # the setting under which a repeated epoch changed the selection (issue 24)
        seed=2,
        verbose=0,
        callbacks=callbacks,
        backup_dir=backup,
    )
    return model, validation


def _kill_on_call(monkeypatch, target: str, call: int, after: bool = False):
    """Makes ``advrec.backup.<target>`` raise on its ``call``-th call (before or after it runs)."""
    import advrec.backup

    module, name = (advrec.backup.os, "replace") if target == "replace" else (advrec.backup, target)
    original, calls = getattr(module, name), []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == call and not after:
            if target == "write_state":  # half a file, as a process killed while writing leaves
                folder = args[0]
                (folder / "state.npz.partial").write_bytes(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt("simulated kill")
        result = original(*args, **kwargs)
        if len(calls) == call:
            raise KeyboardInterrupt("simulated kill")
        return result

    monkeypatch.setattr(module, name, dying)


KILLS = {
    "during an epoch": lambda mp: [_Interrupt(3)],
    "after validation, before the save": lambda mp: [_Interrupt(2, "end")],
    "while writing the state": lambda mp: _kill_on_call(mp, "write_state", 3) or [],
    "before the rename": lambda mp: _kill_on_call(mp, "replace", 3) or [],
    "after the rename": lambda mp: _kill_on_call(mp, "replace", 3, after=True) or [],
    "at the end, before the folder is removed": lambda mp: (
        _kill_on_call(mp, "remove_backup", 1) or []
    ),
}


@pytest.mark.slow  # two fits per case
@pytest.mark.parametrize("kill", sorted(KILLS))
def test_a_run_killed_at_any_moment_resumes_to_the_same_weights(
    kill, synthetic_split, tmp_path, monkeypatch
):
    reference, reference_validation = _resumable_run(synthetic_split, tmp_path / "reference")
    assert not (tmp_path / "reference").exists()  # a finished run leaves nothing
    backup = tmp_path / "backup"
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        _resumable_run(synthetic_split, backup, callbacks=KILLS[kill](patch))
    resumed, resumed_validation = _resumable_run(synthetic_split, backup)

    def scores(history):
        return {k: v for k, v in history.items() if k != "evaluation_s"}  # timings differ

    assert scores(resumed_validation.history) == scores(reference_validation.history)
    assert reference_validation.history["epoch"] == [1, 2, 3, 4, 5]  # stopped early
    assert resumed_validation.best_epoch == reference_validation.best_epoch
    for a, b in zip(resumed.weights, reference.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert not backup.exists()


def _interrupted_backup(split, tmp_path) -> Path:
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(split, backup, callbacks=[_Interrupt(2)])
    assert (backup / "state.npz").exists()
    return backup


def test_a_damaged_backup_is_refused_naming_the_folder(synthetic_split, tmp_path):
    from advrec.backup import BackupError

    backup = _interrupted_backup(synthetic_split, tmp_path)
    state = backup / "state.npz"
    state.write_bytes(state.read_bytes()[:200])  # truncated
    with pytest.raises(BackupError, match=f"{backup}.*Delete the folder"):
        _resumable_run(synthetic_split, backup)
    state.write_text("{not a zip}")
    with pytest.raises(BackupError, match=f"{backup}.*Delete the folder"):
        _resumable_run(synthetic_split, backup)


def test_a_backup_of_another_run_is_refused_naming_the_folder(synthetic_split, tmp_path):
    from advrec.backup import BackupError

    backup = _interrupted_backup(synthetic_split, tmp_path)
    with pytest.raises(BackupError, match=f"{backup} was written by another .*delete the folder"):
        _resumable_run(synthetic_split, backup, dim=8)  # another model
    with pytest.raises(BackupError, match="examples"):
        _resumable_run(synthetic_split, backup, batch_size=256)  # another training setup
    _resumable_run(synthetic_split, backup)  # the run itself still resumes
    assert not backup.exists()


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
