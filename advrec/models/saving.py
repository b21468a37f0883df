"""Saving a model that is built from training data: weights only, and never onto other data.

Every trained recommender here is built from its training table (an ``Interactions``): the table
fixes the id spaces (the shapes of the embedding tables) and the pairs the negative sampler
avoids. A table is not a configuration value, so Keras' whole-model format
(``model.save("m.keras")``, which rebuilds a model from ``get_config()``) cannot rebuild such a
model; and writing the table into the file would copy the data set into every saved model
(MovieLens may not be redistributed; the privacy models also hold users' private attributes).
The supported way is Keras' weights format::

    model.save_weights("m.weights.h5")
    restored = BPRMF(split.train, dim=64)  # same class, training data and hyper-parameters
    restored.load_weights("m.weights.h5")  # identical scores

:class:`WeightsOnly`, a mixin for such ``keras.Model`` subclasses, makes that the one way and a
safe one:

- ``save`` and ``get_config`` raise :class:`WholeModelSavingError` (a ``NotImplementedError``,
  the type Keras' own code expects from a ``get_config`` it cannot use), which says the above;
- ``save_weights`` also records the training data's sizes and a digest of its pairs, and
  ``load_weights`` refuses a file saved from a model built for other data (another catalogue,
  another split or seed) or with other variable shapes (another ``dim``) with a
  :class:`WeightsMismatchError` that names the file, both sides and the fix, before any weight
  changes. Files without the record (saved by other models) are checked by shape only.
"""

from __future__ import annotations

import numpy as np

from advrec.data.interactions import Interactions

TRAINING_DATA_KEY = "advrec_training_data"
"""Name of the record in the weights file: int64 ``[5]`` = n_users, n_items, number of training
pairs and two 64-bit hashes of the pairs (see :func:`training_data_record`)."""


class WholeModelSavingError(NotImplementedError):
    """The model cannot be saved whole (``.keras``); save its weights instead."""


class WeightsMismatchError(ValueError):
    """A weights file was saved from a model built for other data or with other shapes."""


def _mix(values: np.ndarray, constant: int) -> np.ndarray:
    """splitmix64 of uint64 ``values`` offset by ``constant`` (wrapping arithmetic)."""
    z = values + np.uint64(constant)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def training_data_record(train: Interactions) -> np.ndarray:
    """int64 ``[5]``: ``n_users``, ``n_items``, ``len(train)`` and two hashes of its (user, item)
    pairs that do not depend on the row order (sums of a 64-bit mix of each pair's key).

    One pass over the keys, no sort (a fraction of a second for 20M pairs).
    """
    keys = train.keys().astype(np.uint64)
    with np.errstate(over="ignore"):
        first = _mix(keys, 0x9E3779B97F4A7C15).sum(dtype=np.uint64)
        second = _mix(keys, 0xD1B54A32D192ED03).sum(dtype=np.uint64)
    hashes = np.array([first, second], np.uint64).view(np.int64)
    return np.concatenate([[train.n_users, train.n_items, len(train)], hashes]).astype(np.int64)


def _describe(record: np.ndarray) -> str:
    n_users, n_items, n_pairs = (int(v) for v in record[:3])
    return f"{n_users:,} users x {n_items:,} items ({n_pairs:,} training pairs)"


class WeightsOnly:
    """Mixin for a ``keras.Model`` built from training data (list it before ``keras.Model``).

    The subclass calls :meth:`record_training_data` in ``__init__`` with its training table.
    """

    _training_data: np.ndarray | None = None
    _load_problem: str | None = None

    def record_training_data(self, train: Interactions) -> None:
        """Remembers what ``train`` is (sizes and a digest; not the table itself)."""
        self._training_data = training_data_record(train)

    def _rebuild_advice(self) -> str:
        name = type(self).__name__
        return (
            f"build a {name} from the same training data (same data set, split and seed) with "
            "the same hyper-parameters, then call load_weights"
        )

    # -- whole-model saving: refused, with the supported way --------------------------------
    def get_config(self):
        name = type(self).__name__
        raise WholeModelSavingError(
            f"{name} is built from its training data (an Interactions table), which is not a "
            f"config value, so Keras cannot save it whole (.keras) or rebuild it from a config. "
            f'Save its weights: model.save_weights("model.weights.h5"); to restore, '
            f"{self._rebuild_advice()} (see advrec.models.saving)."
        )

    def save(self, filepath, *args, **kwargs):
        """Refused (see :meth:`get_config`): use ``save_weights``."""
        self.get_config()

    # -- the weights file: a record of the training data, checked on load -----------------------
    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        if self._training_data is not None:
            store[TRAINING_DATA_KEY] = self._training_data

    def load_own_variables(self, store) -> None:
        own = {key: store[key] for key in store.keys() if key != TRAINING_DATA_KEY}
        saved = store[TRAINING_DATA_KEY] if TRAINING_DATA_KEY in store.keys() else None
        problem = self._mismatch(saved, own)
        if problem is not None:
            self._load_problem = problem
            raise WeightsMismatchError(problem)
        super().load_own_variables(own)

    def load_weights(self, filepath, *args, **kwargs) -> None:
        """Keras' ``load_weights``, refusing (with nothing changed) weights of another data set
        or shape, and saying so in one message."""
        self._load_problem = None
        try:
            super().load_weights(filepath, *args, **kwargs)
        except ValueError as error:
            if self._load_problem is not None:
                raise WeightsMismatchError(f"{filepath}: {self._load_problem}") from None
            first_lines = " ".join(str(error).strip().splitlines()[:3])
            raise WeightsMismatchError(
                f"{filepath} does not fit this {type(self).__name__} ({first_lines[:300]}). "
                f"Load weights saved by the same class: {self._rebuild_advice()}."
            ) from None
        finally:
            self._load_problem = None

    def _mismatch(self, saved: np.ndarray | None, own: dict) -> str | None:
        """Why the stored record or variables do not fit this model, or None if they do."""
        name = type(self).__name__
        mine = self._training_data
        if saved is not None and mine is not None:
            saved = np.asarray(saved, np.int64)
            if not np.array_equal(saved[:2], mine[:2]):
                return (
                    f"these weights were saved from a model built for another catalogue, "
                    f"{_describe(saved)}, but this {name} was built for {_describe(mine)}; "
                    f"{self._rebuild_advice()}."
                )
            if not np.array_equal(saved, mine):
                return (
                    f"these weights were trained on other data: the same {int(mine[0]):,} users x "
                    f"{int(mine[1]):,} items, but other (user, item) pairs ({int(saved[2]):,} "
                    f"there, {int(mine[2]):,} here) -- another split or seed? Evaluating them on "
                    f"this split could test them on their own training pairs; "
                    f"{self._rebuild_advice()}."
                )
        variables = self._trainable_variables + self._non_trainable_variables
        if len(own) != len(variables):
            return (
                f"the file holds {len(own)} variables for the model itself, this {name} has "
                f"{len(variables)}: it was saved by another model class; "
                f"{self._rebuild_advice()}."
            )
        for index, variable in enumerate(variables):
            shape = tuple(np.shape(own[str(index)]))
            if shape != tuple(variable.shape):
                return (
                    f"{variable.name} has shape {shape} in the file but {tuple(variable.shape)} "
                    f"in this {name}: the weights were saved from a model with other "
                    f"hyper-parameters (e.g. dim) or sizes; {self._rebuild_advice()}."
                )
        return None
