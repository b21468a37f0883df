"""Command line: train a recipe, attack a recommender, or reproduce a stored run.

    python -m advrec train bpr --dataset ml-100k
    python -m advrec train apr --epsilon 0.5 --pretrain-l2 0.01 --json
    python -m advrec train irgan --epochs 4              # on GroupLens' u1 split, its default
    python -m advrec train NAME --help                   # every setting, its default and source
    python -m advrec attack shilling --model bpr --attack average --size 0.03
    python -m advrec reproduce cfgan-ml100k              # writes results/cfgan-ml100k.json
    python -m advrec reproduce cfgan-ml100k --seeds 3 4 --out part2   # a part, on another machine
    python -m advrec reproduce cfgan-ml100k --merge part1/cfgan-ml100k.json part2/cfgan-ml100k.json

``train``'s options are built from the recipe's config fields (:data:`advrec.recipes.RECIPES`),
so the command line and the library cannot disagree on a default. A value a recipe refuses is
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Sequence

from advrec.recipes import RECIPES
from advrec.recipes.adversarial import APRConfig
from advrec.recipes.base import with_settings
from advrec.recipes.ranking import EASEConfig
from advrec.recipes.shilling import ShillingConfig

DATASETS = ("ml-100k", "ml-1m", "synthetic")
"""Those of :func:`advrec.protocol.load_split` (kept here so ``--help`` needs no TensorFlow)."""
REPORTED = (
    "ndcg@5",
    "ndcg@10",
    "ndcg@20",
    "recall@10",
    "recall@20",
    "precision@5",
    "precision@10",
    "hr@10",
    "mrr@10",
)
"""Metrics the report shows (those a recipe computes)."""


# -- argument types ------------------------------------------------------------------------------


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _non_negative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _maybe(parse):
    """``parse``, or ``None`` for the word "none" (a setting that can be switched off)."""

    def parse_or_none(text: str):
        return None if text.lower() == "none" else parse(text)

    return parse_or_none


def _option_type(config_field: dataclasses.Field):
    """The argparse type and ``nargs`` of a config field, from its default and annotation."""
    default = config_field.default
    if default is dataclasses.MISSING:
        default = config_field.default_factory()
    optional = "None" in str(config_field.type)
    if isinstance(default, tuple):
        if default and all(isinstance(v, str) for v in default):
            return str, "*"
        return _whole if all(isinstance(v, int) for v in default) else _finite_float, "*"
    if isinstance(default, bool):
        raise TypeError("boolean settings are not supported on the command line yet")
    parse = _whole if isinstance(default, int) else _finite_float
    if isinstance(default, str):
        parse = str
    return (_maybe(parse) if optional else parse), None


def add_config_options(
    parser: argparse.ArgumentParser, config, prefix: str = "", flag_prefix: str = ""
) -> None:
    """One option per field of ``config`` (``--pretrain-l2`` for field ``l2`` of sub-config
    ``pretrain``), its default the config's, its help the field's meaning and source.

    ``prefix`` (``"a__"``) puts the values under sub-config ``a`` of what :func:`config_from`
    builds; ``flag_prefix`` is prepended to the option names only.
    """
    for config_field in dataclasses.fields(config):
        value = getattr(config, config_field.name)
        name = f"{prefix}{config_field.name}"
        flag = f"{flag_prefix}{config_field.name}"
        if dataclasses.is_dataclass(value):
            add_config_options(parser, value, f"{name}__", f"{flag}__")
            continue
        parse, nargs = _option_type(config_field)
        meta = config_field.metadata
        shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
        parser.add_argument(
            "--" + flag.replace("__", "-").replace("_", "-"),
            dest=f"setting:{name}",
            type=parse,
            nargs=nargs,
            default=value,
            metavar=config_field.name.upper(),
            help=f"{meta.get('help', '')} (default {shown}; {meta.get('source', '')})",
        )


def config_from(args: argparse.Namespace, config):
    """``config`` with the values of the options :func:`add_config_options` made (checked)."""
    changes = {
        key.removeprefix("setting:"): tuple(value) if isinstance(value, list) else value
        for key, value in vars(args).items()
        if key.startswith("setting:")
    }
    return with_settings(config, **changes)


def _add_common_arguments(parser: argparse.ArgumentParser, protocols: Sequence[str]) -> None:
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="ml-100k",
        help="ml-100k (fetched by `make data`), ml-1m (needs --data-dir or ADVREC_DATA_DIR), "
        "or synthetic (a small planted data set, for trying things out); default ml-100k",
    )
    parser.add_argument("--data-dir", default=None, help="directory holding the MovieLens files")
    parser.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seeds the split, initialisation and sampling (default 0)",
    )
    parser.add_argument(
        "--protocol",
        choices=protocols,
        default=protocols[0],
        help=f"the data protocol (default {protocols[0]}; holdout: 80/10/10 per user; u1: "
        "GroupLens u1 with ratings >= 4, ML-100K only; cfgan: 80/20 per user with validation "
        "cut from train; items/users: which side is cold)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="Keras fit verbosity (0); the progress goes to stderr with --json",
    )


# -- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m advrec",
        description="Train and evaluate the recommenders of the advrec book. Validation selects "
        "epochs and settings; test is evaluated once, by full ranking.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train a recipe and print its validation and test metrics",
        description="Train a recipe, select its epoch on validation, print validation and test "
        "metrics.",
    )
    recipes = train.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, recipe in RECIPES.items():
        sub = recipes.add_parser(name, help=recipe.summary, description=recipe.summary)
        _add_common_arguments(sub, recipe.protocols)
        add_config_options(sub, recipe.config())
    _add_attack_command(commands)
    _add_reproduce_command(commands)
    return parser


def _add_reproduce_command(commands) -> None:
    from advrec.recipes.stored import STORED_RUNS

    reproduce = commands.add_parser(
        "reproduce",
        help="run a stored run's recipe at its published schedule; write results/NAME.json",
        description="Run a stored run (a recipe at its published schedule, several seeds) and "
        "write results/NAME.json. Stored runs: " + ", ".join(sorted(STORED_RUNS)) + ".",
    )
    reproduce.add_argument("name", choices=sorted(STORED_RUNS), metavar="NAME")
    reproduce.add_argument(
        "--seeds", type=_non_negative_int, nargs="+", default=None, help="(default: its own)"
    )
    reproduce.add_argument("--out", default=None, help="folder to write to (default results/)")
    reproduce.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="PART",
        help="instead of running, join files written with disjoint --seeds into NAME.json",
    )
    reproduce.add_argument("--data-dir", default=None, help="directory of the MovieLens files")


# -- train ---------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> dict:
    """Trains ``args.recipe`` and returns a JSON-ready report."""
    from advrec.experiment import set_seed
    from advrec.protocol import TEST_NOTE, VALIDATION_NOTE
    from advrec.recipes.stored import config_record

    recipe = RECIPES[args.recipe]
    config = config_from(args, recipe.config())
    set_seed(args.seed)
    data = recipe.load(args.dataset, args.data_dir, args.seed, args.protocol, config)
    options = (
        {"verbose": args.verbose} if "verbose" in inspect.signature(recipe.run).parameters else {}
    )
    run = recipe.run(data, config, args.seed, **options)
    return {
        "recipe": args.recipe,
        "settings": {
            "dataset": args.dataset,
            "protocol": args.protocol,
            "seed": args.seed,
            **config_record(config),
        },
        "best_epoch": run.best_epoch,
        "epochs_run": {
            phase: len(next(iter(logs.values()), [])) for phase, logs in run.losses.items()
        },
        "train_seconds": round(run.seconds, 2),
        "candidates": {"valid": VALIDATION_NOTE, "test": TEST_NOTE},
        "valid": {k: run.valid[k] for k in _reported(run.valid)},
        "test": {k: run.test[k] for k in _reported(run.test)},
    }


def _reported(metrics: dict) -> list[str]:
    """The :data:`REPORTED` metrics a run has, or all of them for a recipe of its own protocol
    (e.g. cold start's ``cold_ndcg@20``)."""
    return [k for k in REPORTED if k in metrics] or sorted(metrics)


def format_report(report: dict) -> str:
    """Plain-text rendering of :func:`run_train`'s report."""
    settings = report["settings"]
    lines = [f"{report['recipe']} on {settings['dataset']} (seed {settings['seed']})"]
    for key in ("best_epoch", "epochs_run", "train_seconds"):
        lines.append(f"  {key}: {report[key]}")
    names = list(report["test"])
    lines.append(f"  {'metric':<13}{'valid*':>9}{'test':>9}")
    for name in names:
        valid = report["valid"].get(name)
        shown = f"{valid:>9.4f}" if valid is not None else f"{'-':>9}"
        lines.append(f"  {name:<13}{shown}{report['test'][name]:>9.4f}")
    lines.append(
        f"  * {report['candidates']['valid']}, so validation and test numbers are not "
        "comparable; validation only selects."
    )
    return "\n".join(lines)


# -- attack shilling -----------------------------------------------------------------------------

SHILLING_ATTACKS = ("random", "average", "bandwagon", "segment", "surrogate", "gan")
SHILLING_VICTIMS = ("itempop", "ease", "bpr", "apr")


def _add_attack_command(commands) -> None:
    attack = commands.add_parser(
        "attack",
        help="attack a recommender and report the effect",
        description="Attack a recommender trained on the 80/10/10 split and report the effect.",
    )
    kinds = attack.add_subparsers(dest="kind", required=True, metavar="KIND")
    shilling = kinds.add_parser(
        "shilling",
        help="inject fake user profiles that push (or nuke) a target item",
        description="Inject fake users into the training data, retrain the victim, and report "
        "the target's HR@10/HR@50 and mean rank among the real users who never interacted with "
        "it, and the real users' test NDCG@10, before and after. The victim's options are the "
        "apr recipe's (BPR-MF's are --pretrain-*); the attacker's are --filler-size, "
        "--surrogate-* and --gan-*.",
    )
    _add_common_arguments(shilling, ("holdout",))
    add_config_options(shilling, APRConfig(), prefix="victim__")
    add_config_options(shilling, ShillingConfig(), prefix="attacker__")
    shilling.add_argument(
        "--ease-l2", type=_finite_float, default=EASEConfig().l2, help="EASE^R's ridge weight"
    )
    shilling.add_argument("--model", choices=SHILLING_VICTIMS, default="bpr", help="the victim")
    shilling.add_argument("--attack", choices=SHILLING_ATTACKS, default="average")
    shilling.add_argument(
        "--size", type=_finite_float, default=0.03, help="fake users per real user (0.03)"
    )
    shilling.add_argument(
        "--target",
        type=_non_negative_int,
        default=None,
        help="item index (default: advrec.attacks.shilling's choice)",
    )
    shilling.add_argument("--nuke", action="store_true", help="demote the target (classic only)")


def _victim(args: argparse.Namespace, split, config: APRConfig):
    from advrec.recipes.adversarial import run_apr
    from advrec.recipes.ranking import run_bprmf, run_ease, run_itempop

    if args.model == "itempop":
        return run_itempop(split).model
    if args.model == "ease":
        return run_ease(split, EASEConfig(args.ease_l2), args.seed).model
    if args.model == "bpr":
        return run_bprmf(split, config.pretrain, args.seed).model
    return run_apr(split, config, args.seed).model


def run_attack(args: argparse.Namespace) -> dict:
    """Runs ``attack shilling``: the victim before and after the injection, as a report."""
    from advrec.attacks import shilling
    from advrec.data.fake_users import inject_users
    from advrec.experiment import set_seed
    from advrec.metrics import evaluate_ranking
    from advrec.protocol import load_split
    from advrec.recipes.shilling import fit_surrogate, make_profiles

    settings = config_from(args, _AttackSettings(APRConfig(), ShillingConfig()))
    victim_config, attacker = settings.victim, settings.attacker
    if args.nuke and args.attack not in shilling.CLASSIC_ATTACKS:
        raise ValueError(f"--nuke works with the classic attacks {shilling.CLASSIC_ATTACKS}.")
    set_seed(args.seed)
    split = load_split(args.dataset, args.data_dir, args.seed)
    target = args.target
    if target is None:
        target = int(shilling.choose_targets(split.train, seed=args.seed)[0])
    n_fake = shilling.n_fake_users(split.n_users, args.size)
    if args.nuke:
        profiles = shilling.classic_profiles(
            split.train, target, args.attack, n_fake, attacker.filler_size, push=False,
            seed=args.seed,
        )  # fmt: skip
    else:
        value = None
        if args.attack == "gan":  # the optimised "surrogate" attack trains its own
            surrogate = fit_surrogate(split.train, attacker, seed=args.seed)
            value = shilling.surrogate_value(surrogate, split.train, target)
        profiles = make_profiles(
            args.attack, split.train, target, n_fake, attacker, value, seed=args.seed
        )
    report = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("command", "json", "kind")},
        "target": target,
        "target_train_count": int(split.train.item_counts()[target]),
        "fake_users": n_fake,
    }
    for name, data in (("before", split), ("after", inject_users(split, profiles))):
        model = _victim(args, data, victim_config)
        exposure = shilling.target_exposure(model.score_all, data, target, split.n_users)
        test = evaluate_ranking(model.score_all, data.test, exclude=[data.train, data.valid])
        report[name] = {**exposure, "ndcg@10": test["ndcg@10"]}
    return report


@dataclasses.dataclass(frozen=True)
class _AttackSettings:
    """The shilling command's two configs, so one parser serves both: the victim's (the apr
    recipe's options) and the attacker's (``--filler-size``, ``--surrogate-*``, ``--gan-*``)."""

    victim: APRConfig
    attacker: ShillingConfig


def format_attack_report(report: dict) -> str:
    """Plain-text rendering of :func:`run_attack`'s report."""
    s = report["settings"]
    lines = [
        f"{s['attack']} attack on {s['model']} ({s['dataset']}, seed {s['seed']}): target "
        f"{report['target']} ({report['target_train_count']} training users), "
        f"{report['fake_users']} fake users",
        f"  {'':<8}{'hr@10':>9}{'hr@50':>9}{'mean rank':>11}{'ndcg@10':>9}",
    ]
    for name in ("before", "after"):
        r = report[name]
        lines.append(
            f"  {name:<8}{r['hr@10']:>9.4f}{r['hr@50']:>9.4f}{r['mean_rank']:>11.1f}"
            f"{r['ndcg@10']:>9.4f}"
        )
    return "\n".join(lines)


# -- reproduce -----------------------------------------------------------------------------------


def run_reproduce(args: argparse.Namespace) -> dict:
    from advrec.recipes.stored import merge_parts, reproduce

    start = time.perf_counter()
    if args.merge:
        path = merge_parts(args.name, args.merge, args.out)
        return {"stored_run": args.name, "path": str(path), "seconds": 0}
    path = reproduce(
        args.name,
        seeds=args.seeds,
        directory=args.out,
        data_dir=args.data_dir,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    return {
        "stored_run": args.name,
        "path": str(path),
        "seconds": round(time.perf_counter() - start),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from advrec.data import DataError

    command, render = {
        "train": (run_train, format_report),
        "attack": (run_attack, format_attack_report),
        "reproduce": (run_reproduce, lambda report: f"wrote {report['path']}"),
    }[args.command]
    as_json = getattr(args, "json", False)
    # With --json, stdout carries the JSON object alone: progress bars go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    try:
        with quiet:
            report = command(args)
    except (DataError, ValueError, TypeError, FileNotFoundError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if as_json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
