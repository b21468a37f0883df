"""Stored runs: a recipe at its published schedule, for every seed, kept in ``results/NAME.json``.

A chapter must run in minutes on a laptop CPU; a method must not be judged on a schedule shorter
than its published one. Where the two disagree, the chapter shows a stored run -- made by the
same recipe at the published schedule with ``python -m advrec reproduce NAME`` (``make reproduce
NAME=...``) -- beside a live, short prefix of the same recipe. Two tests tie them
(``tests/integration/test_stored_runs.py``): the stored config equals the recipe's config for
that name today (a changed default cannot leave a stale result), and a live run of the first
epochs of one seed reproduces the stored history's first epochs within the stated tolerance.

The file holds the config, the commit, the library and framework versions, the device, the wall
time, and per seed the validation history of every phase, the best epochs, the losses and the
final validation and test metrics (:meth:`advrec.recipes.base.Run.record`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advrec.recipes.base import Run, with_settings

__all__ = [
    "RESULTS_DIR",
    "STORED_RUNS",
    "StoredResult",
    "StoredRun",
    "load_stored",
    "prefix_matches",
    "reproduce",
    "run_prefix",
]

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"
"""``results/`` at the top of the repository (``ADVREC_RESULTS_DIR`` overrides it)."""


@dataclass(frozen=True)
class StoredRun:
    """A recipe at a published schedule, run for several seeds and kept in ``results/``.

    Attributes:
        name: the file's name (``results/NAME.json``) and ``reproduce``'s argument.
        recipe: the key of :data:`advrec.recipes.RECIPES` that runs it.
        config: the recipe's config at the published schedule.
        about: what the schedule is and where it comes from (paper, released code).
        dataset, protocol: the data (``protocol`` ``None``: the recipe's default).
        seeds: one run per seed (each its own split, initialisation and samples).
        prefix: the config changes of the live prefix the link test runs (``a__b`` reaches a
            sub-config), e.g. ``(("epochs", 5),)``.
        prefix_seed: the seed of that prefix run.
        tolerance: the largest absolute difference allowed between a validation metric of the
            prefix and the stored one at the same epoch.
    """

    name: str
    recipe: str
    config: Any
    about: str
    dataset: str = "ml-100k"
    protocol: str | None = None
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    prefix: tuple[tuple[str, Any], ...] = ()
    prefix_seed: int = 0
    tolerance: float = 1e-3

    def data(self, seed: int, data_dir: str | None = None):
        """The recipe's data for ``seed``."""
        recipe = _recipe(self.recipe)
        protocol = self.protocol or recipe.protocols[0]
        return recipe.load(self.dataset, data_dir, seed, protocol, self.config)

    def run(self, seed: int, config: Any = None, data_dir: str | None = None) -> Run:
        """One seed of the stored run, with ``config`` (default: the stored run's)."""
        return _recipe(self.recipe).run(self.data(seed, data_dir), config or self.config, seed)


def _recipe(name: str):
    from advrec.recipes import RECIPES

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}.")
    return RECIPES[name]


def _stored_runs() -> dict[str, StoredRun]:
    from advrec.recipes.ranking import BPRMFConfig
    from advrec.recipes.text import TextAttackConfig, TextColdStartConfig

    runs = (
        StoredRun(
            "bpr-ml100k",
            "bpr",
            BPRMFConfig(),
            about="BPR-MF with the library's defaults (Adam 0.01, l2 1e-2 chosen on validation, "
            "early stopping on validation NDCG@10 with patience 5) on the 80/10/10 holdout",
            prefix=(("epochs", 3),),
        ),
        # The language-model chapter (book/language_models.ipynb) trains seed 0's text-only
        # model and attacks its first targets live, and reads these five seeds.
        StoredRun(
            "text-attack-ml100k",
            "text-attack",
            TextAttackConfig(),
            about="language-model chapter: on each seed's cold-item split, TextBPR text-only and "
            "hybrid (all-MiniLM-L6-v2 embeddings of 'Title. Year. Genres.', frozen), each also "
            "with APR in the text space (epsilon 0.5, lambda 1, same seed), ItemPop, EASE^R and "
            "BPR-MF tuned on the warm validation pairs; 6 obscure warm and 6 new targets per seed "
            "attacked by greedy HotFlip edits of up to 5 whole words (16 verified candidates per "
            "step, Ebrahimi et al. 2018) and by random edits of the same budget",
            prefix=(("arms", ("text",)), ("baselines", ()), ("targets", 0), ("text__epochs", 3)),
        ),
        # The same chapter shows seed 0's warm model live and reads these ten splits.
        StoredRun(
            "text-coldstart-ml100k",
            "text-coldstart",
            TextColdStartConfig(),
            about="language-model chapter, cold start with text: on each seed's cold-item split "
            "(the cold-start chapter's protocol), one warm BPR-MF, then the regression and the "
            "GAR-style adversarial generator with the same settings on genre/year, on the text "
            "embedding and on both; content k-NN (k chosen on cold validation) on each; "
            "ItemPop-by-genre; TextBPR text-only trained end to end",
            seeds=tuple(range(10)),
            prefix=(
                ("coldstart__warm__epochs", 3),
                ("generators", ()),
                ("knn_grid", ()),
                ("textbpr_variants", ()),
            ),
        ),
    )
    return {run.name: run for run in runs}


STORED_RUNS: dict[str, StoredRun] = _stored_runs()
"""Every stored run by name; ``results/NAME.json`` is made by :func:`reproduce`."""


def results_dir() -> Path:
    return Path(os.environ.get("ADVREC_RESULTS_DIR", RESULTS_DIR))


def reproduce(
    name: str,
    seeds: Sequence[int] | None = None,
    directory: str | Path | None = None,
    data_dir: str | None = None,
    progress: Callable[[str], None] = print,
) -> Path:
    """Runs the stored run ``name`` for every seed and writes ``directory/NAME.json`` (written
    whole at the end, through a temporary file, so a crash leaves the old file in place).
    Returns the file's path."""
    stored = stored_run(name)
    seeds = tuple(stored.seeds if seeds is None else seeds)
    start = time.perf_counter()
    records = []
    for seed in seeds:
        run = stored.run(seed, data_dir=data_dir)
        records.append({"seed": int(seed), **run.record()})
        progress(f"{name}: seed {seed} done in {run.seconds:.0f} s, test {_headline(run.test)}")
    document = {
        "name": name,
        "recipe": stored.recipe,
        "about": stored.about,
        "dataset": stored.dataset,
        "protocol": stored.protocol,
        "config": config_record(stored.config),
        "seeds": list(seeds),
        "commit": _commit(),
        "versions": _versions(),
        "device": _device(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "runs": records,
    }
    directory = Path(directory) if directory is not None else results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(document, indent=1) + "\n")
    partial.replace(path)
    return path


def stored_run(name: str) -> StoredRun:
    if name not in STORED_RUNS:
        raise ValueError(f"no stored run {name!r}; the stored runs are {sorted(STORED_RUNS)}.")
    return STORED_RUNS[name]


def config_record(config: Any) -> dict:
    """A config as plain JSON values (tuples become lists), for storing and comparing."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _headline(metrics: dict) -> str:
    shown = [k for k in ("ndcg@10", "ndcg@5", "ndcg@20", "cold_ndcg@20") if k in metrics][:1]
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in shown) or "-"


def _commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "advrec"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} (with uncommitted changes to advrec/)" if dirty else commit


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    from advrec import __version__

    return {
        "advrec": __version__,
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def _device() -> dict[str, Any]:
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "kind": "GPU" if gpus else "CPU",
        "gpus": gpus,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "system": platform.platform(),
    }


@dataclass
class StoredResult:
    """A stored run as read back: the document and helpers for tables and curves.

    Attributes:
        document: the JSON document (see :func:`reproduce`).
    """

    document: dict = field(repr=False)

    @property
    def seeds(self) -> list[int]:
        return [r["seed"] for r in self.document["runs"]]

    def test(self, metric: str) -> np.ndarray:
        """float64 ``[n_seeds]``: the test ``metric`` of every seed."""
        return np.array([r["test"][metric] for r in self.document["runs"]], np.float64)

    def valid(self, metric: str) -> np.ndarray:
        """float64 ``[n_seeds]``: the validation ``metric`` of every seed's kept model."""
        return np.array([r["valid"][metric] for r in self.document["runs"]], np.float64)

    def facts_of(self, seed: int) -> dict:
        """The ``facts`` of ``seed``'s run (:attr:`advrec.recipes.base.Run.facts`)."""
        return self._run(seed)["facts"]

    def facts(self, *path: str) -> np.ndarray:
        """float64 ``[n_seeds, ...]``: the value at ``path`` (keys into each seed's ``facts``,
        e.g. ``"arms", "AMF", "test", "ndcg@10"``) for every seed, in seed order."""
        values = []
        for run in self.document["runs"]:
            value = run["facts"]
            for key in path:
                if key not in value:
                    raise KeyError(f"seed {run['seed']}'s facts have no {key!r} at {path}.")
                value = value[key]
            values.append(value)
        return np.asarray(values, np.float64)

    def history(self, seed: int, phase: str) -> dict[str, list[float]]:
        """The validation history of ``phase`` for ``seed``."""
        return self._run(seed)["history"][phase]

    def best_epoch(self, seed: int, phase: str) -> int:
        return int(self._run(seed)["best_epoch"][phase])

    def last_evaluated(self, seed: int, phase: str) -> int:
        return int(self.history(seed, phase)["epoch"][-1])

    def plateaued(self, phase: str) -> bool:
        """Whether every seed's kept epoch of ``phase`` comes before its last evaluated epoch
        (validation stopped improving before training stopped)."""
        return all(self.best_epoch(s, phase) < self.last_evaluated(s, phase) for s in self.seeds)

    def _run(self, seed: int) -> dict:
        for run in self.document["runs"]:
            if run["seed"] == seed:
                return run
        raise ValueError(f"seed {seed} is not stored; stored seeds: {self.seeds}.")


def load_stored(name: str, directory: str | Path | None = None) -> StoredResult:
    """Reads ``results/NAME.json`` (say how to make it when it is missing)."""
    directory = Path(directory) if directory is not None else results_dir()
    path = directory / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: make it with `python -m advrec reproduce {name}` "
            f"(or `make reproduce NAME={name}`)."
        )
    return StoredResult(json.loads(path.read_text()))


def run_prefix(name: str, seed: int | None = None, data_dir: str | None = None) -> Run:
    """The live prefix of stored run ``name``: its recipe with the prefix's config changes."""
    stored = stored_run(name)
    seed = stored.prefix_seed if seed is None else seed
    return stored.run(seed, with_settings(stored.config, **dict(stored.prefix)), data_dir)


def prefix_matches(prefix: Run, result: StoredResult, seed: int, tolerance: float) -> list[str]:
    """Where a live prefix departs from the stored run: one line per validation metric of an
    epoch both evaluated that differs by more than ``tolerance`` (empty: they agree). Phases
    the prefix has are compared on their common epochs; a phase with none is reported too."""
    problems = []
    for phase, live in prefix.history.items():
        stored = result.history(seed, phase)
        common = sorted(set(live["epoch"]) & set(stored["epoch"]))
        if not common:
            problems.append(f"{phase}: no epoch evaluated by both ({live['epoch']})")
            continue
        for epoch in common:
            i, j = live["epoch"].index(epoch), stored["epoch"].index(epoch)
            for metric, values in live.items():
                if metric in ("epoch", "evaluation_s") or metric not in stored:
                    continue
                gap = abs(values[i] - stored[metric][j])
                if gap > tolerance:
                    problems.append(
                        f"{phase}, epoch {epoch}, {metric}: live {values[i]:.5f}, stored "
                        f"{stored[metric][j]:.5f} (gap {gap:.2g} > {tolerance:g})"
                    )
    return problems
