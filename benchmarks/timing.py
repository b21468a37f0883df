"""What the benchmark scripts share: a Keras callback timing each epoch.

The scripts run as ``python benchmarks/<script>.py``, so this folder is on their import path.
"""

from __future__ import annotations

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
