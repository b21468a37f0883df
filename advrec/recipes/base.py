"""What every recipe shares: its settings (a frozen config), what it returns (a :class:`Run`),
choosing a setting on validation (:func:`tune`), and the registry the command line reads.

A recipe is one training procedure, written once: a frozen dataclass of settings whose every
field says what it means and where its default comes from (a paper, the released code, our
validation), and a function ``run(data, config, seed) -> Run``. This module imports no
TensorFlow, so ``python -m advrec --help`` is instant; each ``run`` imports what it needs.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Recipe",
    "Run",
    "Tuned",
    "check_config",
    "config_table",
    "setting",
    "tune",
    "with_settings",
]

SOURCES = ("paper", "released code", "our validation", "our choice", "library")
"""Where a default may come from (the first word of a setting's ``source``)."""


def setting(
    default: Any, help: str, source: str, minimum: float | None = None, positive: bool = False
) -> Any:
    """A config field: its default, what it means, where the default comes from.

    ``source`` starts with one of :data:`SOURCES` and may say more after a colon, e.g.
    ``"released code: cf_gan.py, 15 epochs"``. :func:`check_config` checks a number against
    ``minimum`` (inclusive) or, with ``positive``, against 0 (exclusive: a step size);
    without either, any finite number.
    """
    if not any(source.startswith(s) for s in SOURCES):
        raise ValueError(f"a setting's source must start with one of {SOURCES}, got {source!r}.")
    metadata = {"help": help, "source": source, "minimum": minimum, "positive": positive}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple (configs are frozen and hashable), not a list or dict.")
    return field(default=default, metadata=metadata)


def check_config(config: Any) -> None:
    """Refuses a config with a value of the wrong type, a non-finite number, a fraction where a
    whole number belongs, or a number below its field's bound, naming the field and what it
    accepts (:mod:`advrec.checks`)."""
    from advrec.checks import check_int, check_real

    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            check_config(value)
            continue
        if value is None or isinstance(value, (str, tuple)):
            continue
        whole = isinstance(f.default, int) and not isinstance(f.default, bool)
        minimum, positive = f.metadata.get("minimum"), f.metadata.get("positive", False)
        if whole:
            check_int(value, f.name, low=None if minimum is None else int(minimum))
        else:
            low = 0.0 if positive else minimum
            check_real(value, f.name, low=low, low_open=positive)


def with_settings(config: Any, **changes: Any) -> Any:
    """A copy of ``config`` with ``changes`` (``a__b=...`` reaches field ``b`` of sub-config
    ``a``), checked by :func:`check_config`."""
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        outer, _, inner = name.partition("__")
        if inner:
            nested.setdefault(outer, {})[inner] = value
        else:
            direct[name] = value
    for outer, inner in nested.items():
        direct[outer] = with_settings(getattr(config, outer), **inner)
    new = dataclasses.replace(config, **direct)
    check_config(new)
    return new


def config_table(config: Any, prefix: str = "") -> str:
    """A Markdown table of a config's settings: name, value, meaning, source."""
    rows = [] if prefix else ["| setting | value | meaning | source |", "|---|---|---|---|"]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            rows.append(config_table(value, prefix=f"{prefix}{f.name}."))
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        rows.append(
            f"| `{prefix}{f.name}` | {shown} | {f.metadata.get('help', '')} "
            f"| {f.metadata.get('source', '')} |"
        )
    return "\n".join(rows)


@dataclass
class Run:
    """What a recipe returns for one seed.

    Attributes:
        model: the trained model, holding the weights the recipe selects (usually its best
            validation epoch); anything with ``score_all(users)``.
        valid: validation metrics of ``model`` (what selection reads).
        test: test metrics of ``model``, computed once after every choice was made.
        history: per training phase (e.g. ``"pretrain"``, ``"adversarial"``), the validation
            history ``{"epoch": [...], "<metric>": [...]}`` of the epochs evaluated.
        best_epoch: per phase, the 1-based epoch whose weights were kept.
        losses: per phase, Keras' per-epoch training logs (``{"loss": [...], ...}``).
        seconds: wall time of the whole recipe.
        facts: anything else worth reporting (e.g. the selected value of a setting).
    """

    model: Any
    valid: dict[str, float]
    test: dict[str, float]
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    best_epoch: dict[str, int] = field(default_factory=dict)
    losses: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)

    def continued_from(self, earlier: Run, name: str = "pretrain") -> Run:
        """This run as the continuation of ``earlier`` (e.g. an adversarial phase after
        pre-training): ``earlier``'s phases come first, its ``"train"`` phase renamed ``name``;
        the seconds add up. Returns self."""
        for part in ("history", "best_epoch", "losses"):
            first = {(name if k == "train" else k): v for k, v in getattr(earlier, part).items()}
            setattr(self, part, {**first, **getattr(self, part)})
        self.seconds += earlier.seconds
        return self

    def record(self) -> dict[str, Any]:
        """Everything but the model, as plain JSON-ready values."""
        return {
            "valid": _plain(self.valid),
            "test": _plain(self.test),
            "history": _plain(self.history),
            "best_epoch": _plain(self.best_epoch),
            "losses": _plain(self.losses),
            "seconds": round(float(self.seconds), 3),
            "facts": _plain(self.facts),
        }


def _plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy scalars and arrays converted)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, numbers.Real):
        return round(float(value), 7)  # a stored run reads well and stays small
    raise TypeError(f"cannot record a {type(value).__name__} in a stored run: {value!r}")


@dataclass
class Tuned:
    """What :func:`tune` found: the chosen config, its run, and every value tried.

    Attributes:
        config: the input config with the chosen value.
        run: the run of the chosen value.
        selection: :class:`advrec.protocol.Selection` (grid, scores, edge).
        runs: value -> run, for every value tried.
    """

    config: Any
    run: Run
    selection: Any
    runs: dict[Any, Run]

    @property
    def value(self) -> Any:
        return self.selection.value


def tune(
    run: Callable[[Any, Any, int], Run],
    data: Any,
    config: Any,
    name: str,
    grid: Sequence,
    seed: int = 0,
    monitor: str = "ndcg@10",
    max_extensions: int = 3,
    allow_edge: bool = False,
) -> Tuned:
    """Chooses setting ``name`` of ``config`` on validation: one ``run(data, config', seed)`` per
    grid value, the best ``run.valid[monitor]`` wins
    (:func:`advrec.protocol.select_on_validation`, whose numeric grid grows past a winning edge
    ``max_extensions`` times; a choice still at the edge is an error unless ``allow_edge``).
    ``name`` may reach into a sub-config (``"pretrain__l2"``).
    """
    from advrec.protocol import select_on_validation

    runs: dict[Any, Run] = {}

    def train(value):
        runs[value] = run(data, with_settings(config, **{name: value}), seed)
        return runs[value].valid

    split = getattr(data, "split", data)
    selection = select_on_validation(
        grid, train, split, monitor=monitor, allow_edge=allow_edge, max_extensions=max_extensions
    )
    chosen = with_settings(config, **{name: selection.value})
    return Tuned(chosen, runs[selection.value], selection, runs)


@dataclass(frozen=True)
class Recipe:
    """One entry of the registry (:data:`advrec.recipes.RECIPES`).

    Attributes:
        name: the command-line name, e.g. ``"bpr"``.
        summary: one line for ``--help``.
        config: the config class; its defaults are the recipe's.
        run: ``run(data, config, seed) -> Run``.
        load: ``load(dataset, data_dir, seed, protocol, config) -> data`` for ``run``.
        protocols: the data protocols ``load`` accepts (the first is the default).
    """

    name: str
    summary: str
    config: type
    run: Callable[[Any, Any, int], Run]
    load: Callable[[str, str | None, int, str, Any], Any]
    protocols: tuple[str, ...] = ("holdout",)
