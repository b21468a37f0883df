"""Cold start: a BPR-MF on the warm part, then a generator from side information to embeddings,
early-stopped on the cold *validation* entities (:mod:`advrec.coldstart_protocol`).

- :func:`run_warm_bprmf` trains the collaborative model on the warm entities only (so a cold
  entity is never sampled as a negative); with an ``l2_grid`` it chooses the l2 weight on warm
  validation and refits on warm training plus validation pairs for the chosen number of epochs.
- :func:`run_generator` fits one learned cold-start model
  (:data:`advrec.models.coldstart.GENERATORS`) on top of it; :func:`run_cold_start` does both.
- :func:`run_closed_form` fits one closed-form baseline (:data:`CLOSED_FORM`: the ridge
  generator, ContentPop, content k-NN, ItemPop-by-genre, ItemPop).
- :func:`run_comparison` is the chapter's experiment on one split: the tuned, refit warm model
  and every cold-start model, each of its settings (and its content encoding) chosen on
  validation, the adversarial term isolated by an ablation arm. It is the ``coldstart-compare``
  recipe and the stored runs ``coldstart-items-ml100k`` / ``coldstart-users-ml100k``.

The data is a :class:`ColdStartData`: the split, the side information of the cold side (any float
matrix with one row per entity: one-hot attributes or a language model's text embeddings) and,
optionally, other encodings of it to choose among.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advrec.recipes.base import Run, check_config, setting
from advrec.recipes.ranking import BPRMFConfig

__all__ = [
    "CLOSED_FORM",
    "ColdStartConfig",
    "ColdStartData",
    "ComparisonConfig",
    "GeneratorConfig",
    "load_cold_start",
    "run_closed_form",
    "run_cold_start",
    "run_comparison",
    "run_generator",
    "run_warm_bprmf",
]


@dataclass(frozen=True)
class ColdStartData:
    """A cold-start split and the side information of its cold side.

    Attributes:
        split: :class:`advrec.data.coldstart.ColdStartSplit`.
        features: float32 ``[n_entities, n_features]`` by full id (items for cold items): any
            float matrix (one-hot attributes, text embeddings, ...).
        encodings: other encodings of the same side information by name (each
            ``[n_entities, k]``), for :func:`run_comparison` to choose among on validation;
            empty: ``features`` is the only one.
    """

    split: Any
    features: np.ndarray
    encodings: Mapping[str, np.ndarray] = field(default_factory=dict)

    def options(self) -> dict[str, np.ndarray]:
        """The encodings to choose among: ``encodings``, or ``{"features": features}``."""
        return dict(self.encodings) or {"features": self.features}

    def with_features(self, features: np.ndarray) -> ColdStartData:
        return ColdStartData(self.split, features, self.encodings)


@dataclass(frozen=True)
class GeneratorConfig:
    """One cold-start model on top of frozen warm embeddings."""

    kind: str = setting(
        "adversarial", "regression, dropoutnet or adversarial (GAR-style)", "library"
    )
    hidden: tuple[int, ...] = setting((200,), "widths of the generator's tanh layers", "our choice")
    tower_hidden: tuple[int, ...] = setting(
        (200,), "widths of the recommender's towers (adversarial)", "our choice"
    )
    alpha: float = setting(
        0.9, "adversarial: weight of the random negative against the generated one", "our choice"
    )
    beta: float = setting(
        0.5, "adversarial: weight of the squared pull towards the real embedding", "our choice", 0
    )
    dropout_rate: float = setting(0.5, "dropoutnet: chance of dropping the preference", "paper")
    learning_rate: float = setting(
        1e-3, "Adam step size of the generator", "our choice", positive=True
    )
    recommender_learning_rate: float = setting(
        1e-4, "adversarial: Adam step size of the recommender", "our choice", positive=True
    )
    batch_size: int = setting(4096, "warm training pairs per step", "our choice", 1)
    epochs: int = setting(
        100, "most epochs (a cap that early stopping reaches first)", "our choice", 1
    )
    patience: int = setting(5, "validations without gain before stopping", "library", 1)


@dataclass(frozen=True)
class ColdStartConfig:
    """The warm model (its l2 chosen on warm validation, then refit) and the generator."""

    warm: BPRMFConfig = field(default_factory=BPRMFConfig)
    warm_l2_grid: tuple[float, ...] = setting(
        (3e-3, 1e-2, 3e-2),
        "warm BPR-MF's l2 weights tried on warm validation (one value: fixed)",
        "our choice: around BPR-MF's validation-best 1e-2",
    )
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)


def run_warm_bprmf(
    data: ColdStartData,
    config: BPRMFConfig = BPRMFConfig(),
    seed: int = 0,
    l2_grid: tuple[float, ...] = (),
    max_extensions: int = 2,
) -> Run:
    """BPR-MF on the warm part re-indexed to warm ids (:meth:`ColdStartSplit.warm_space`),
    early-stopped on warm validation NDCG@10.

    With ``l2_grid``, its ``l2`` is chosen on warm validation (:func:`advrec.recipes.base.tune`,
    the grid growing past a winning edge up to ``max_extensions`` times) and the chosen setting is
    trained again on the warm training *and* validation pairs for the chosen number of epochs
    (:func:`advrec.recipes.ranking.refit_on_train_and_valid`): the cold-start models then start
    from a warm model that has seen every warm interaction but the test pairs. The run's ``valid``
    and ``history["warm"]`` are those of the selection, ``test`` that of the model returned.

    ``run.facts["tables"]`` holds ``(entity_table, opposite_table)``
    (:func:`advrec.models.coldstart.pretrained_tables`) for the cold side; ``facts["warm"]``
    the choice (``l2``, ``epochs``, the validation score of every ``l2`` tried, whether the choice
    is at the grid's edge, the test metrics before the refit).
    """
    from advrec.models.coldstart import pretrained_tables
    from advrec.recipes.base import tune
    from advrec.recipes.ranking import refit_on_train_and_valid, run_bprmf

    check_config(config)
    start = time.perf_counter()
    warm = data.split.warm_space()
    if not l2_grid:
        run = run_bprmf(warm, config, seed)
        run.history = {"warm": run.history["train"]}
        run.best_epoch = {"warm": run.best_epoch["train"]}
        run.losses = {"warm": run.losses["train"]}
        facts = {"l2": config.l2, "epochs": run.best_epoch["warm"], "refit": False}
    else:
        grid = tuple(sorted(float(v) for v in l2_grid))
        tuned = tune(
            run_bprmf, warm, config, "l2", grid, seed,
            max_extensions=max_extensions if len(grid) > 1 else 0, allow_edge=True,
        )  # fmt: skip
        epochs = tuned.run.best_epoch["train"]
        run = refit_on_train_and_valid("BPR-MF", warm, tuned.config, seed, epochs=epochs)
        run.valid = tuned.run.valid
        run.history = {"warm": tuned.run.history["train"]}
        run.best_epoch = {"warm": epochs}
        run.losses = {"warm": tuned.run.losses["train"]}
        selection = tuned.selection
        facts = {
            "l2": tuned.value,
            "epochs": epochs,
            "refit": True,
            "l2_scores": {
                f"{v:g}": float(x) for v, x in zip(selection.grid, selection.scores, strict=True)
            },
            "at_edge": bool(selection.at_edge and len(grid) > 1),
            "test_before_refit": tuned.run.test,
        }
    run.seconds = time.perf_counter() - start
    users, items = pretrained_tables(run.model)
    run.facts["tables"] = (items, users) if data.split.side == "items" else (users, items)
    run.facts["warm"] = facts
    return run


def compiled_generator(
    data: ColdStartData, tables, config: GeneratorConfig = GeneratorConfig(), seed: int = 0,
    **compile_options,
):  # fmt: skip
    """The cold-start model :func:`run_generator` trains: ``config.kind`` on the frozen warm
    ``tables`` ``(entity [n_warm, d], opposite [n_opposite, d])``, compiled with Adam (one per
    player for the adversarial model; ``compile_options`` go to ``compile``)."""
    import keras

    from advrec.models.coldstart import GENERATORS

    entity, opposite = tables
    options = {"hidden": config.hidden}
    if config.kind == "adversarial":
        options |= {"alpha": config.alpha, "beta": config.beta, "tower_hidden": config.tower_hidden}
    if config.kind == "dropoutnet":
        options["dropout_rate"] = config.dropout_rate
    model = GENERATORS[config.kind](
        data.split, data.features, entity, opposite, seed=seed, **options
    )
    if config.kind == "adversarial":
        model.compile(
            keras.optimizers.Adam(config.recommender_learning_rate),
            keras.optimizers.Adam(config.learning_rate),
            **compile_options,
        )
    else:
        model.compile(keras.optimizers.Adam(config.learning_rate), **compile_options)
    return model


def run_generator(
    data: ColdStartData, warm: Run, config: GeneratorConfig = GeneratorConfig(), seed: int = 0
) -> Run:
    """One cold-start model on the frozen tables of ``warm`` (:func:`run_warm_bprmf`), trained on
    the warm pairs and early-stopped on the cold validation NDCG@20. ``valid``/``test`` are the
    cold validation metrics and :func:`advrec.coldstart_protocol.cold_start_report`."""

    from advrec.coldstart_protocol import ColdValidation, cold_start_report, cold_targets
    from advrec.data.sampling import pair_examples
    from advrec.experiment import set_seed
    from advrec.metrics import evaluate_ranking
    from advrec.models.coldstart import GENERATORS
    from advrec.seeds import derive_seed
    from advrec.training import fit_model

    check_config(config)
    if config.kind not in GENERATORS:
        raise ValueError(f"kind must be one of {sorted(GENERATORS)}, got {config.kind!r}.")
    start = time.perf_counter()
    seed = derive_seed(seed, f"{config.kind} generator")
    set_seed(seed)
    split = data.split
    model = compiled_generator(data, warm.facts["tables"], config, seed)
    validation = ColdValidation(split, patience=config.patience)
    examples = pair_examples(split.warm_space().train, config.batch_size, seed=seed)
    fit_model(model, examples, config.epochs, validation)
    valid = evaluate_ranking(model.score_all, ks=(10, 20), **cold_targets(split, "valid"))
    return Run(
        model,
        valid,
        cold_start_report(model.score_all, split),
        history={"generator": dict(validation.history)},
        best_epoch={"generator": int(validation.best_epoch)},
        losses={"generator": dict(model.history.history)},
        seconds=time.perf_counter() - start,
    )


def run_cold_start(data: ColdStartData, config=ColdStartConfig(), seed: int = 0) -> Run:
    """The warm BPR-MF (l2 chosen on warm validation, refit), then the generator; the run's
    history has a ``"warm"`` and a ``"generator"`` phase and ``facts["warm"]`` the warm model's
    choice and metrics."""
    check_config(config)
    warm = run_warm_bprmf(data, config.warm, seed, config.warm_l2_grid)
    run = run_generator(data, warm, config.generator, seed).continued_from(warm)
    run.facts["warm"] = {**_plain_facts(warm), "valid": warm.valid, "test": warm.test}
    return run


def _plain_facts(warm: Run) -> dict:
    return dict(warm.facts.get("warm", {}))


def load_cold_start(
    dataset: str, data_dir: str | None, seed: int, protocol: str = "items", config=None
) -> ColdStartData:
    """A cold-item (``protocol="items"``) or cold-user (``"users"``) split of ``dataset`` with
    the cold side's side information in the book's first encoding
    (:func:`advrec.data.features.side_features`) and every encoding to choose among
    (:func:`advrec.data.features.feature_encodings`)."""
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.coldstart import cold_start_split
    from advrec.data.features import feature_encodings, side_features

    if protocol not in ("items", "users"):
        raise ValueError(f"protocol must be items or users (the cold side), got {protocol!r}.")
    if dataset == "synthetic":
        source = synthetic_movielens(seed=seed)
    else:
        source = load_movielens(dataset, data_dir)
    split = cold_start_split(source.interactions, protocol, seed=seed)
    return ColdStartData(
        split, side_features(source, protocol), feature_encodings(source, protocol)
    )


# -- closed-form baselines -------------------------------------------------------------------


def _ridge(data: ColdStartData, warm: Run, value: float):
    from advrec.models.content import RidgeGenerator

    return RidgeGenerator(data.split, data.features, *warm.facts["tables"], l2=value)


def _content_pop(data: ColdStartData, warm: Run, value: float):
    from advrec.models.content import ContentPop

    return ContentPop(data.split, data.features, l2=value)


def _knn(data: ColdStartData, warm: Run, value: float):
    from advrec.models.content import ContentKNN

    return ContentKNN(data.split, data.features, k=int(round(value)))


def _pop_by_genre(data: ColdStartData, warm: Run, value: float):
    from advrec.models.content import ItemPopByGenre

    return ItemPopByGenre(data.split, data.features)


def _itempop(data: ColdStartData, warm: Run, value: float):
    from advrec.models import ItemPop

    return ItemPop(data.split.warm.train)


CLOSED_FORM: dict[str, Callable[[ColdStartData, Run, float], Any]] = {
    "ridge": _ridge,
    "contentpop": _content_pop,
    "knn": _knn,
    "pop-by-genre": _pop_by_genre,
    "itempop": _itempop,
}
"""Closed-form cold-start baselines by name: ``build(data, warm_run, value)`` with ``value`` the
setting they are tuned on (the ridge weight, ``k``; unused by the last two). ``pop-by-genre``
reads ``data.features`` as genre flags."""


def cold_valid_metrics(model, split) -> dict[str, float]:
    """NDCG/recall@10 and @20 of ``model`` on the cold validation entities
    (:func:`advrec.coldstart_protocol.cold_targets`): what every cold-start choice reads."""
    from advrec.coldstart_protocol import cold_targets
    from advrec.metrics import evaluate_ranking

    return evaluate_ranking(model.score_all, ks=(10, 20), **cold_targets(split, "valid"))


def run_closed_form(kind: str, data: ColdStartData, warm: Run, value: float = 10.0) -> Run:
    """One closed-form baseline (:data:`CLOSED_FORM`) on the frozen tables of ``warm``:
    ``valid`` the cold validation metrics, ``test`` :func:`cold_start_report`."""
    from advrec.coldstart_protocol import cold_start_report

    if kind not in CLOSED_FORM:
        raise ValueError(f"kind must be one of {sorted(CLOSED_FORM)}, got {kind!r}.")
    start = time.perf_counter()
    model = CLOSED_FORM[kind](data, warm, value)
    valid = cold_valid_metrics(model, data.split)
    test = cold_start_report(model.score_all, data.split)
    return Run(model, valid, test, seconds=time.perf_counter() - start)


# -- the chapter's comparison ----------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonConfig:
    """Every cold-start model on one split, each chosen on the cold validation entities
    (NDCG@20), from a warm BPR-MF tuned on warm validation and refit.

    Every grid lists its first (starting) value first; numeric grids of positive settings grow
    past a winning edge up to ``max_extensions`` times. The adversarial generator's settings are
    chosen one at a time, in field order (beta, the recommender's step, the towers' width, the
    generator's width), each from the best so far.
    """

    warm: BPRMFConfig = field(default_factory=BPRMFConfig)
    warm_l2_grid: tuple[float, ...] = setting(
        (3e-3, 1e-2, 3e-2),
        "warm BPR-MF's l2 weights (chosen on warm validation NDCG@10, then refit)",
        "our choice: around BPR-MF's validation-best 1e-2",
    )
    ridge_grid: tuple[float, ...] = setting(
        (1.0, 10.0, 100.0), "ridge weights of the ridge generator and ContentPop", "our choice"
    )
    knn_grid: tuple[int, ...] = setting(
        (10, 50, 200), "content k-NN: neighbours (new items only)", "our choice"
    )
    hidden_grid: tuple[int, ...] = setting(
        (64, 256), "width of a generator's (and DropoutNet's towers') tanh layer", "our choice"
    )
    beta_grid: tuple[float, ...] = setting(
        (0.5, 0.2, 0.8, 0.95),
        "adversarial: weight of the squared pull (1 is the ablation arm, run apart)",
        "our choice: around GAR's balance of the two terms",
    )
    recommender_lr_grid: tuple[float, ...] = setting(
        (1e-4, 1e-3), "adversarial: Adam step sizes of the recommender", "our choice"
    )
    tower_grid: tuple[int, ...] = setting(
        (256, 64), "adversarial: width of the recommender's towers' tanh layer", "our choice"
    )
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    max_extensions: int = setting(2, "times a grid grows past a winning edge", "library", 0)


def run_comparison(data: ColdStartData, config=ComparisonConfig(), seed: int = 0) -> Run:
    """The chapter's experiment on one split (see :class:`ComparisonConfig`).

    Models (new items / new users): ItemPop-by-genre (if ``data.encodings`` has ``"genres"``)
    / ItemPop, ContentPop, content k-NN (items), the ridge generator, the regression MLP,
    DropoutNet, the adversarial generator, and its ablation arm (the chosen adversarial settings
    with ``beta = 1``: the same game and steps, the adversarial term weighted 0). The closed-form
    models choose their encoding (``data.options()``) with their setting; the learned ones take
    the encoding the ridge generator chose (the cheap probe of what an encoding carries).

    Returns the adversarial generator's run (``valid``: cold validation, ``test``:
    :func:`cold_start_report`), its ``history`` the warm model's and, for each learned model,
    the run at the first value of every grid (what a live prefix reproduces); ``facts``:
    ``models`` (name -> valid, test, choice, best and last epoch), ``tuning`` (name -> every
    setting tried -> validation NDCG@20), ``warm``, ``encoding``, ``encoding_lift`` (the ridge,
    the regression MLP and the adversarial generator at their chosen settings on
    ``data.features``, the first encoding), ``spread`` (mean distance of the generated cold rows
    to the centre of the warm rows, over that of the warm rows, as the recommender scores them).
    """
    check_config(config)
    start = time.perf_counter()
    split = data.split
    warm = run_warm_bprmf(data, config.warm, seed, config.warm_l2_grid, config.max_extensions)
    models: dict[str, Run] = {}
    tuning: dict[str, dict[str, float]] = {}
    choice: dict[str, dict[str, Any]] = {}

    def closed_form(name: str, kind: str, grid, options=None):
        options = options or data.options()
        scores = {}
        for encoding, x in options.items():
            tried = {}

            def score(value, x=x, tried=tried):
                model = CLOSED_FORM[kind](data.with_features(x), warm, value)
                tried[value] = cold_valid_metrics(model, split)["ndcg@20"]
                return tried[value]

            _grown(grid, score, config.max_extensions)
            scores |= {f"{encoding}, {value:g}": v for value, v in tried.items()}
        encoding, value = max(scores, key=scores.get).rsplit(", ", 1)
        models[name] = run_closed_form(
            kind, data.with_features(options[encoding]), warm, float(value)
        )
        tuning[name] = scores
        choice[name] = {"encoding": encoding, "value": float(value)}

    if split.side == "items" and "genres" in data.encodings:
        closed_form(
            "ItemPop-by-genre", "pop-by-genre", (1.0,), {"genres": data.encodings["genres"]}
        )
    if split.side == "users":
        models["ItemPop"] = run_closed_form("itempop", data, warm)
    closed_form("ContentPop", "contentpop", config.ridge_grid)
    if split.side == "items":
        closed_form("content k-NN", "knn", config.knn_grid)
    closed_form("ridge", "ridge", config.ridge_grid)
    encoding = choice["ridge"]["encoding"]
    learned = data.with_features(data.options()[encoding])
    history = {"warm": warm.history["warm"]}
    cache: dict[tuple, Run] = {}

    def learned_run(kind: str, **settings) -> Run:
        key = (kind, tuple(sorted(settings.items())))
        if key not in cache:
            generator = _generator_config(config.generator, kind, settings)
            cache[key] = run_generator(learned, warm, generator, seed)
        return cache[key]

    for kind, name in (("regression", "regression MLP"), ("dropoutnet", "DropoutNet")):
        first = {"hidden": config.hidden_grid[0]}
        history[kind] = learned_run(kind, **first).history["generator"]
        best = _coordinate_search(learned_run, kind, first, {"hidden": config.hidden_grid}, config)
        models[name], choice[name], tuning[name] = best
    grids = {
        "beta": config.beta_grid,
        "recommender_lr": config.recommender_lr_grid,
        "tower": config.tower_grid,
        "hidden": config.hidden_grid,
    }
    first = {name: grid[0] for name, grid in grids.items()}
    history["adversarial"] = learned_run("adversarial", **first).history["generator"]
    best = _coordinate_search(learned_run, "adversarial", first, grids, config)
    models["adversarial"], choice["adversarial"], tuning["adversarial"] = best
    models["adversarial, β = 1"] = learned_run(
        "adversarial", **{**choice["adversarial"], "beta": 1.0}
    )
    lift = _encoding_lift(data, warm, choice, seed, config)
    adversarial = models["adversarial"]
    run = Run(
        adversarial.model,
        adversarial.valid,
        adversarial.test,
        history=history,
        best_epoch={"warm": warm.best_epoch["warm"]},
        seconds=time.perf_counter() - start,
    )
    run.facts = {
        "warm": {**warm.facts["warm"], "valid": warm.valid, "test": warm.test},
        "encoding": encoding,
        "models": {name: _summary(r, choice.get(name, {})) for name, r in models.items()},
        "tuning": tuning,
        "encoding_lift": lift,
        "spread": {name: _spread(models[name].model, split) for name in ("ridge", "adversarial")},
    }
    return run


def _grown(grid, score: Callable[[float], float], max_extensions: int) -> list[float]:
    """Scores every value of ``grid`` with ``score`` and, for a numeric grid of positive
    values, grows it past a winning edge (:func:`advrec.protocol.select_on_validation`'s rule);
    returns the values tried, in increasing order."""
    whole = all(float(v).is_integer() for v in grid)  # widths and counts stay whole numbers

    def beyond(edge: float, inner: float) -> float:
        value = edge * edge / inner
        return float(max(1, round(value))) if whole else float(f"{value:.3g}")

    values = sorted(float(v) for v in grid)
    scores = {v: score(v) for v in values}
    for _ in range(max_extensions if len(values) > 1 else 0):
        best = max(values, key=lambda v: (scores[v], -values.index(v)))
        if best == values[0]:
            new = beyond(values[0], values[1])
            values.insert(0, new)
        elif best == values[-1]:
            new = beyond(values[-1], values[-2])
            values.append(new)
        else:
            break
        if new in scores:  # a whole-number grid cannot grow below 1
            break
        scores[new] = score(new)
    return values


def _generator_config(base: GeneratorConfig, kind: str, settings: dict) -> GeneratorConfig:
    from advrec.recipes.base import with_settings

    changes: dict[str, Any] = {"kind": kind}
    if "hidden" in settings:
        changes["hidden"] = (int(settings["hidden"]),)
    if "tower" in settings:
        changes["tower_hidden"] = (int(settings["tower"]),)
    if "beta" in settings:
        changes["beta"] = float(settings["beta"])
    if "recommender_lr" in settings:
        changes["recommender_learning_rate"] = float(settings["recommender_lr"])
    return with_settings(base, **changes)


def _coordinate_search(learned_run, kind: str, first: dict, grids: dict, config) -> tuple:
    """Chooses each setting of ``grids`` in turn on cold validation NDCG@20, from ``first``;
    a numeric grid grows past a winning edge (``beta`` stays in its grid: it is bounded by 1).
    Returns ``(run, choice, tried)``."""
    current, tried = dict(first), {}

    def score(name):
        def at(value):
            run = learned_run(kind, **{**current, name: value})
            label = ", ".join(f"{k}={v:g}" for k, v in sorted({**current, name: value}.items()))
            tried[label] = run.valid["ndcg@20"]
            return run.valid["ndcg@20"]

        return at

    for name, grid in grids.items():
        extensions = 0 if name == "beta" else config.max_extensions
        values = _grown(grid, score(name), extensions)
        current[name] = max(
            values,
            key=lambda v: (
                learned_run(kind, **{**current, name: v}).valid["ndcg@20"],
                -values.index(v),
            ),
        )
    return learned_run(kind, **current), current, tried


def _summary(run: Run, choice: dict) -> dict:
    history = next(iter(run.history.values()), {"epoch": []})
    return {
        "valid": run.valid,
        "test": run.test,
        "choice": choice,
        "best_epoch": int(next(iter(run.best_epoch.values()), 0)),
        "last_epoch": int(history["epoch"][-1]) if history["epoch"] else 0,
        "seconds": float(run.seconds),
    }


def _encoding_lift(data, warm, choice, seed, config) -> dict:
    """Test metrics of the ridge, the regression MLP and the adversarial generator at their
    chosen settings on ``data.features`` (the first encoding)."""
    reference = data.with_features(data.features)
    ridge = run_closed_form("ridge", reference, warm, choice["ridge"]["value"])
    out = {"ridge": ridge.test}
    for kind, name in (("regression", "regression MLP"), ("adversarial", "adversarial")):
        generator = _generator_config(config.generator, kind, choice[name])
        out[name] = run_generator(reference, warm, generator, seed).test
    return out


def _spread(model, split) -> float:
    """Mean distance of the generated cold rows to the centre of the warm rows, over that of the
    warm rows, in the space the recommender scores (after the entity tower, if any)."""
    table = model.full_entity_table()
    tower = getattr(model, "entity_tower", None)
    table = np.asarray(tower(table) if tower is not None else table)
    warm_rows, cold_rows = table[split.warm_ids], table[split.cold_ids]
    centre = warm_rows.mean(axis=0)
    return float(
        np.linalg.norm(cold_rows - centre, axis=1).mean()
        / np.linalg.norm(warm_rows - centre, axis=1).mean()
    )
