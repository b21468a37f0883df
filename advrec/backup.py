"""Resuming an interrupted run: its whole state after every epoch, saved as one atomic file.

:class:`RunBackup` is the callback :func:`advrec.training.fit_model` adds for ``backup_dir``. After
every epoch -- after the validation has scored it and decided whether to stop -- it writes one
file, ``<backup_dir>/state.npz``, holding everything the rest of the run depends on: the model's
weights (random-stream positions included), its optimizers' variables, the number of epochs
done, whether training stopped, and the validation's state (history, best score and weights,
patience used). The file is written beside its final name and renamed over it (``os.replace``,
atomic), so a process killed at any moment leaves either the previous epoch's complete state or
this one's, never a mixture: a resumed run repeats at most the epoch that was interrupted, from
exactly the state an uninterrupted run had, and ends with the same weights and history.

A file that cannot be read, or that another model or another training table wrote, is refused
with an error that names the folder and says to delete it (:class:`BackupError`).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np

STATE_FILE = "state.npz"
"""The one file a backup folder holds while a run is under way."""


class BackupError(ValueError):
    """A backup folder that cannot be resumed from (damaged, or written by another run)."""


class RunBackup(keras.callbacks.Callback):
    """Saves the run's state after every epoch into ``folder``; restores it when training begins.

    Put it *last* among the callbacks, so that the state it saves includes what the others
    (the validation, early stopping) did at the end of the epoch.

    Args:
        folder: the backup folder (created when first needed, removed when training completes).
        validation: the run's :class:`advrec.training.RankingValidation`, whose state is saved
            with the weights, or ``None``.
        identity: what the run must match to be resumed (e.g. the training table's size and
            batch size); the model's class, variable names and shapes are added here.
    """

    def __init__(self, folder: str | Path, validation=None, identity: dict | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.path = self.folder / STATE_FILE
        self.validation = validation
        self.identity = dict(identity or {})

    # -- what is saved ------------------------------------------------------------------------
    def _variables(self) -> list:
        """The model's weights and its optimizers' variables, in a fixed order."""
        variables = list(self.model.weights)
        for optimizer in optimizers_of(self.model):
            variables += list(optimizer.variables)
        return variables

    def _identity(self) -> dict:
        """The model's class and its variables' shapes (not names: Keras numbers the names of
        a second instance of a model), and what was given as ``identity``."""
        shapes = [[str(v.dtype), *map(int, v.shape)] for v in self._variables()]
        return {"model": type(self.model).__name__, "variables": shapes, **self.identity}

    # -- callback hooks -----------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        for optimizer in optimizers_of(self.model):  # their variables exist before a restore
            if not optimizer.built:
                optimizer.build(self.model.trainable_variables)
        if not self.path.exists():
            return
        state, arrays = read_state(self.folder)
        if state.get("identity") != self._identity():
            raise BackupError(
                f"the backup in {self.folder} was written by another model or training setup "
                f"than this run ({describe_difference(state.get('identity'), self._identity())}); "
                "delete the folder to start afresh, or pass another backup_dir."
            )
        try:
            for index, variable in enumerate(self._variables()):
                variable.assign(arrays[f"variable_{index}"])
            if self.validation is not None:
                best = [arrays[f"best_{i}"] for i in range(state["validation"]["n_best_weights"])]
                self.validation.set_state(state["validation"], best)
        except (KeyError, ValueError) as error:
            raise damaged(self.folder, error) from error
        epochs = self.params.get("epochs")
        self.model._initial_epoch = epochs if state["stopped"] else state["epoch"]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        arrays = {f"variable_{i}": np.asarray(v.numpy()) for i, v in enumerate(self._variables())}
        state = {
            "identity": self._identity(),
            "epoch": epoch + 1,
            "stopped": bool(self.model.stop_training),
        }
        if self.validation is not None:
            validation_state, best = self.validation.get_state()
            state["validation"] = {**validation_state, "n_best_weights": len(best)}
            arrays |= {f"best_{i}": w for i, w in enumerate(best)}
        write_state(self.folder, state, arrays)

    def on_train_end(self, logs: dict | None = None) -> None:
        remove_backup(self.folder)  # training completed: nothing left to resume


def optimizers_of(model: keras.Model) -> list[keras.optimizers.Optimizer]:
    """``model.optimizer`` and any other optimizer the model holds as an attribute (a GAN's
    players), each once, in attribute order."""
    found = [getattr(model, "optimizer", None)]
    attributes = sorted(vars(model).items())
    found += [value for _, value in attributes if isinstance(value, keras.optimizers.Optimizer)]
    unique = []
    for optimizer in found:
        if optimizer is not None and all(optimizer is not o for o in unique):
            unique.append(optimizer)
    return unique


def write_state(folder: Path, state: dict, arrays: dict[str, np.ndarray]) -> None:
    """Writes ``state`` (JSON) and ``arrays`` as ``folder/state.npz`` in one atomic step."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (STATE_FILE + ".partial")
    with open(partial, "wb") as file:
        np.savez(file, state=np.array(json.dumps(state)), **arrays)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, folder / STATE_FILE)


def read_state(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(state, arrays)`` from ``folder/state.npz``, or :class:`BackupError` naming the folder."""
    folder = Path(folder)
    try:
        with np.load(folder / STATE_FILE, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        state = json.loads(str(arrays.pop("state")))
        if not isinstance(state, dict) or not {"epoch", "stopped", "identity"} <= set(state):
            raise ValueError("the saved state lacks epoch, stopped or identity")
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise damaged(folder, error) from error
    return state, arrays


def saved_epoch(folder: str | Path | None) -> int:
    """The number of epochs a backup folder says were completed (0 if it holds no state)."""
    if folder is None or not (Path(folder) / STATE_FILE).exists():
        return 0
    return int(read_state(folder)[0]["epoch"])


def remove_backup(folder: Path) -> None:
    """Deletes the state file (and its partial copy), and the folder if nothing else is in it."""
    for name in (STATE_FILE, STATE_FILE + ".partial"):
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def damaged(folder: Path, error: Exception) -> BackupError:
    return BackupError(
        f"the backup in {folder} cannot be read ({type(error).__name__}: {error}); it is damaged "
        "or from another version of advrec. Delete the folder to start the run afresh."
    )


def describe_difference(saved: dict | None, current: dict) -> str:
    """A short note on the first field in which two identities differ."""
    if not isinstance(saved, dict):
        return "no identity saved"
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            shown = [str(x)[:80] for x in (saved.get(key), current.get(key))]
            return f"{key}: saved {shown[0]}, now {shown[1]}"
    return "no difference found"
