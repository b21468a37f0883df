"""Fitting a ranking model: ``keras.Model.fit`` plus validation by full ranking.

:class:`RankingValidation` evaluates the model on the validation pairs every few epochs, keeps
the best weights by the monitored metric, stops after ``patience`` evaluations without
improvement, and restores the best weights at the end. :func:`fit_ranker` wires it up.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from advrec.data.sampling import positive_pairs
from advrec.data.splits import Split
from advrec.metrics import evaluate_ranking


class RankingValidation(keras.callbacks.Callback):
    """Validation by full ranking, early stopping and best-weight restoring in one callback.

    Args:
        split: its ``valid`` pairs are the targets; its ``train`` pairs are excluded.
        monitor: metric to maximise, e.g. ``"ndcg@10"``.
        ks: cut-offs to compute.
        every: evaluate every this many epochs (and after the last one).
        patience: evaluations without improvement before stopping (``None``: never stop early).

    After training, ``history`` holds ``{"epoch": [...], "ndcg@10": [...], ...}`` and
    ``best_epoch``/``best`` the selected epoch (1-based) and its score.
    """

    def __init__(
        self,
        split: Split,
        monitor: str = "ndcg@10",
        ks: Sequence[int] = (10, 20),
        every: int = 1,
        patience: int | None = 5,
    ) -> None:
        super().__init__()
        self.split, self.monitor, self.ks = split, monitor, tuple(ks)
        self.every, self.patience = max(1, int(every)), patience
        self.history: dict[str, list[float]] = {"epoch": []}
        self.best, self.best_epoch, self._best_weights, self._waited = -np.inf, 0, None, 0
        self._last_evaluated = 0

    def evaluate(self) -> dict[str, float]:
        return evaluate_ranking(
            self.model.score_all, self.split.valid, exclude=self.split.train, ks=self.ks
        )

    def _record(self, epoch: int, logs: dict | None) -> None:
        scores = self.evaluate()
        if self.monitor not in scores:
            raise ValueError(f"monitor {self.monitor!r} is not one of {sorted(scores)}.")
        self._last_evaluated = epoch
        self.history["epoch"].append(epoch)
        for name, value in scores.items():
            self.history.setdefault(name, []).append(value)
            if logs is not None:
                logs[f"val_{name}"] = value
        if scores[self.monitor] > self.best:
            self.best, self.best_epoch, self._waited = scores[self.monitor], epoch, 0
            self._best_weights = [w.numpy() for w in self.model.weights]
        else:
            self._waited += 1
            if self.patience is not None and self._waited >= self.patience:
                self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            self._record(epoch + 1, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        epochs_run = len(self.model.history.epoch) if self.model.history else 0
        if epochs_run and self._last_evaluated != epochs_run:
            self._record(epochs_run, None)
        if self._best_weights is not None:
            for variable, value in zip(self.model.weights, self._best_weights, strict=True):
                variable.assign(value)


def fit_ranker(
    model: keras.Model,
    split: Split,
    epochs: int = 100,
    batch_size: int = 8192,
    learning_rate: float = 0.01,
    optimizer: keras.optimizers.Optimizer | None = None,
    monitor: str = "ndcg@10",
    eval_every: int = 1,
    patience: int | None = 5,
    seed: int = 0,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RankingValidation:
    """Trains ``model`` on ``split.train`` with early stopping on validation ``monitor``.

    The model ends with its best validation weights. Returns the validation callback, whose
    ``history``, ``best_epoch`` and ``best`` describe the run; the Keras loss history is on
    ``model.history``.

    Args:
        model: a :class:`advrec.models.PairwiseRanker`.
        split: train/valid/test; only train and valid are used.
        epochs: maximum number of passes over the training pairs.
        batch_size: training pairs per step.
        learning_rate: for the default Adam optimizer.
        optimizer: overrides the default optimizer.
        monitor, eval_every, patience: see :class:`RankingValidation`.
        seed: shuffling seed.
        verbose: passed to ``fit`` (``"auto"`` shows a progress bar).
        callbacks: more Keras callbacks.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if len(split.valid) == 0:
        raise ValueError("the split has no validation pairs: model selection needs them.")
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate))
    validation = RankingValidation(split, monitor=monitor, every=eval_every, patience=patience)
    data = positive_pairs(split.train, batch_size, seed=seed)
    model.fit(
        data, epochs=epochs, callbacks=[validation, *callbacks], verbose=verbose, shuffle=False
    )
    return validation
