"""Command line: train a recommender, select it on validation, report validation and test metrics.

    python -m advrec train bpr --dataset ml-100k
    python -m advrec train apr --dataset ml-100k --epsilon 0.5 --adversarial-weight 1 --json
    python -m advrec train irgan --dataset ml-100k --protocol u1 --epochs 4
    python -m advrec train --help
    python -m advrec attack shilling --model bpr --attack average --size 0.03 --target 600

Each model is one entry of :data:`MODELS`: a help line, a function that adds the model's own
options, and a function that trains it on a split (through :func:`advrec.training.fit_ranker`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

DATASETS = ("ml-100k", "ml-1m", "synthetic")
"""Those of :func:`advrec.protocol.load_split` (kept here so ``--help`` needs no TensorFlow)."""
DEFAULT_L2 = 1e-2
"""BPR-MF's default l2, :data:`advrec.models.mf.DEFAULT_L2` (kept here so ``--help`` needs no
TensorFlow)."""
PROTOCOLS = ("holdout", "u1", "cfgan")
REPORTED = ("ndcg@10", "recall@10", "precision@10", "hr@10", "mrr@10", "ndcg@20", "recall@20")


@dataclass(frozen=True)
class ModelRecipe:
    """How the CLI builds and trains one model.

    ``train(args, split)`` returns the trained model (anything with ``score_all``) and a dict of
    facts about the run (e.g. the selected epoch) to print.
    """

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    train: Callable[[argparse.Namespace, object], tuple[object, dict]]
    run: Callable[[argparse.Namespace], dict] | None = None
    """Optional: a model with its own protocol (e.g. cold start) returns the whole report's
    facts, with ``"valid"`` and ``"test"`` metric dicts, instead of ``train``."""


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive_float(text: str) -> float:
    """A finite number >= 0 (a weight or a budget, where 0 switches the term off)."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _step_size(text: str) -> float:
    """A finite number > 0 (a learning rate: 0 would train nothing)."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (a step size), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fit(model, args: argparse.Namespace, split, epochs: int) -> dict:
    """Fits with Adam(args.learning_rate) and early stopping; returns run facts."""
    from advrec.training import fit_ranker

    validation = fit_ranker(
        model,
        split,
        epochs=epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        verbose=args.verbose,
    )
    return {"epochs_run": len(model.history.epoch), "best_epoch": validation.best_epoch}


def _add_mf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", type=_positive_int, default=64, help="factor size (default 64)")
    parser.add_argument(
        "--l2",
        type=_positive_float,
        default=DEFAULT_L2,
        help=f"l2 weight on the embeddings (default {DEFAULT_L2:g}, validation-best on ML-100K)",
    )


def _train_bpr(args: argparse.Namespace, split) -> tuple[object, dict]:
    from advrec.models import BPRMF

    model = BPRMF(split.train, dim=args.dim, l2=args.l2, seed=args.seed)
    return model, _fit(model, args, split, args.epochs)


def _add_apr_arguments(parser: argparse.ArgumentParser) -> None:
    _add_mf_arguments(parser)
    parser.add_argument(
        "--epsilon",
        type=_positive_float,
        default=0.5,
        help="norm of the adversarial perturbation of each embedding row (default 0.5)",
    )
    parser.add_argument(
        "--adversarial-weight",
        type=_positive_float,
        default=1.0,
        help="λ, weight of the BPR loss at the perturbed embeddings (default 1)",
    )
    parser.add_argument(
        "--adversarial-learning-rate",
        type=_step_size,
        default=0.001,
        help="Adam's step size in the adversarial phase, which starts a fresh optimizer (0.001); "
        "--learning-rate is used for the pre-training",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=_positive_int,
        default=100,
        help="most BPR-MF pre-training epochs, early-stopped on validation (default 100); "
        "--epochs then bounds the adversarial phase",
    )


def _train_apr(args: argparse.Namespace, split) -> tuple[object, dict]:
    from advrec.models import BPRMF
    from advrec.training import fit_amf

    pretrained = BPRMF(split.train, dim=args.dim, l2=args.l2, seed=args.seed)
    pretraining = _fit(pretrained, args, split, args.pretrain_epochs)
    model, validation = fit_amf(
        pretrained,
        split,
        epsilon=args.epsilon,
        adversarial_weight=args.adversarial_weight,
        learning_rate=args.adversarial_learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=args.seed,
        verbose=args.verbose,
    )
    return model, {
        "pretrain_epochs_run": pretraining["epochs_run"],
        "pretrain_best_epoch": pretraining["best_epoch"],
        "epochs_run": len(model.history.epoch),
        "best_epoch": validation.best_epoch,
    }


def _add_coldstart_arguments(parser: argparse.ArgumentParser) -> None:
    _add_mf_arguments(parser)
    parser.set_defaults(l2=1e-2, patience=3)
    parser.add_argument(
        "--cold", choices=("items", "users"), default="items", help="which side is new (items)"
    )
    parser.add_argument(
        "--generator",
        choices=("adversarial", "regression", "dropoutnet"),
        default="adversarial",
        help="how a new item's (user's) embedding is made from its side information",
    )
    parser.add_argument(
        "--beta", type=_positive_float, default=0.5, help="adversarial: weight of the pull (0.5)"
    )
    parser.add_argument(
        "--generator-epochs", type=_positive_int, default=20, help="most generator epochs (20)"
    )


def _run_coldstart(args: argparse.Namespace) -> dict:
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.coldstart import cold_start_split
    from advrec.metrics import evaluate_ranking
    from advrec.models import coldstart

    if args.dataset == "synthetic":
        dataset = synthetic_movielens(seed=args.seed)
    else:
        dataset = load_movielens(args.dataset, args.data_dir)
    split = cold_start_split(dataset.interactions, args.cold, seed=args.seed)
    start = time.perf_counter()
    entity, opposite, _ = coldstart.pretrain_warm_bpr(
        split, args.dim, args.l2, args.epochs, args.batch_size, args.learning_rate,
        args.patience, args.seed,
    )  # fmt: skip
    extra = {"beta": args.beta} if args.generator == "adversarial" else {}
    features = coldstart.side_features(dataset, args.cold)
    model = coldstart.build_generator(
        args.generator, split, features, entity, opposite, seed=args.seed, **extra
    )
    validation = coldstart.fit_cold_start(
        model, split, epochs=args.generator_epochs, batch_size=4096, seed=args.seed
    )
    seconds = time.perf_counter() - start
    warm = evaluate_ranking(model.score_all, **coldstart.warm_targets(split))
    return {
        "cold": f"{len(split.cold_valid_ids)} validation and {len(split.cold_test_ids)} test "
        f"{args.cold}, ranked among "
        + ("the cold test items" if args.cold == "items" else "all items"),
        "best_epoch": validation.best_epoch,
        "train_seconds": round(seconds, 2),
        "warm_test_ndcg@10": round(warm["ndcg@10"], 4),
        "valid": evaluate_ranking(model.score_all, **coldstart.cold_targets(split, "valid")),
        "test": evaluate_ranking(model.score_all, **coldstart.cold_targets(split, "test")),
    }


def _add_ease_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--l2", type=_positive_float, default=500.0, help="EASE^R's ridge weight lambda (500)"
    )


def _train_ease(args: argparse.Namespace, split) -> tuple[object, dict]:
    from advrec.models import EASE

    return EASE(split.train, l2=args.l2), {}


def _add_irgan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", type=_positive_int, default=5, help="factor size (default 5)")
    parser.add_argument(
        "--pretrain-epochs",
        type=_positive_int,
        default=40,
        help="most BPR-MF epochs pretraining the generator (early-stopped; default 40); "
        "--learning-rate and --batch-size apply to it, --epochs bounds the game",
    )
    parser.add_argument(
        "--warmup-epochs", type=int, default=1, help="discriminator-only epochs first (1)"
    )
    parser.add_argument(
        "--gan-batch-size", type=_positive_int, default=4096, help="pairs per game step (4096)"
    )
    parser.add_argument(
        "--discriminator-learning-rate", type=_positive_float, default=0.01, help="Adam (0.01)"
    )
    parser.add_argument(
        "--generator-learning-rate", type=_positive_float, default=0.05, help="SGD (0.05)"
    )


def _train_irgan(args: argparse.Namespace, split) -> tuple[object, dict]:
    from advrec.models import BPRMF
    from advrec.models.irgan import fit_irgan

    pretrained = BPRMF(split.train, dim=args.dim, l2=1e-4, seed=args.seed)
    pretraining = _fit(pretrained, args, split, args.pretrain_epochs)
    model, validation = fit_irgan(
        split,
        pretrained,
        epochs=args.epochs,
        warmup_epochs=args.warmup_epochs,
        batch_size=args.gan_batch_size,
        discriminator_learning_rate=args.discriminator_learning_rate,
        generator_learning_rate=args.generator_learning_rate,
        seed=args.seed,
    )
    return model, {
        "pretrain_best_epoch": pretraining["best_epoch"],
        "epochs_run": len(model.history.epoch),
        "best_epoch": validation.best_epoch,
    }


def _add_cfgan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=("item", "user"), default="item", help="vectors per item or per user"
    )
    parser.add_argument("--generator-units", type=_positive_int, default=400, help="(400)")
    parser.add_argument("--discriminator-units", type=_positive_int, default=125, help="(125)")
    parser.add_argument("--pm-ratio", type=_positive_float, default=0.7, help="(0.7)")
    parser.add_argument("--zr-ratio", type=_positive_float, default=0.7, help="(0.7)")
    parser.add_argument("--zr-weight", type=_positive_float, default=0.03, help="(0.03)")
    parser.add_argument(
        "--gan-batch-size", type=_positive_int, default=64, help="vectors per step (64)"
    )
    parser.add_argument(
        "--gan-learning-rate", type=_positive_float, default=0.001, help="Adam, both (0.001)"
    )
    parser.add_argument(
        "--eval-every", type=_positive_int, default=5, help="epochs between validations (5)"
    )


def _train_cfgan(args: argparse.Namespace, split) -> tuple[object, dict]:
    from advrec.models.cfgan import fit_cfgan

    model, validation = fit_cfgan(
        split,
        epochs=args.epochs,
        batch_size=args.gan_batch_size,
        learning_rate=args.gan_learning_rate,
        eval_every=args.eval_every,
        seed=args.seed,
        mode=args.mode,
        generator_units=args.generator_units,
        discriminator_units=args.discriminator_units,
        pm_ratio=args.pm_ratio,
        zr_ratio=args.zr_ratio,
        zr_weight=args.zr_weight,
    )
    return model, {"epochs_run": len(model.history.epoch), "best_epoch": validation.best_epoch}


MODELS: dict[str, ModelRecipe] = {
    "bpr": ModelRecipe(
        "BPR-MF: matrix factorisation with the BPR loss", _add_mf_arguments, _train_bpr
    ),
    "apr": ModelRecipe(
        "AMF: BPR-MF pre-training, then Adversarial Personalized Ranking (He et al., 2018)",
        _add_apr_arguments,
        _train_apr,
    ),
    "coldstart": ModelRecipe(
        "cold start: BPR-MF on the warm part, then a generator from side information to "
        "embeddings for new items or users (GAR-style adversarial by default)",
        _add_coldstart_arguments,
        None,
        _run_coldstart,
    ),
    "ease": ModelRecipe(
        "EASE^R: closed-form item-item model (Steck, 2019)", _add_ease_arguments, _train_ease
    ),
    "irgan": ModelRecipe(
        "IRGAN (Wang et al., 2017): BPR-MF pretraining, then the policy-gradient game",
        _add_irgan_arguments,
        _train_irgan,
    ),
    "cfgan": ModelRecipe(
        "CFGAN (Chae et al., 2018): vector-wise GAN with partial masking and zero reconstruction",
        _add_cfgan_arguments,
        _train_cfgan,
    ),
}
"""The models ``train`` knows; adding one is adding an entry."""


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="ml-100k",
        help="ml-100k (fetched by `make data`), ml-1m (needs --data-dir or ADVREC_DATA_DIR), "
        "or synthetic (a small planted data set, for trying things out); default ml-100k",
    )
    parser.add_argument("--data-dir", default=None, help="directory holding the MovieLens files")
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the split, initialisation and sampling (0)"
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=100, help="most training epochs (default 100)"
    )
    parser.add_argument("--batch-size", type=_positive_int, default=8192, help="(default 8192)")
    parser.add_argument(
        "--learning-rate", type=_step_size, default=0.01, help="Adam's step size (0.01)"
    )
    parser.add_argument(
        "--patience",
        type=_positive_int,
        default=5,
        help="stop after this many epochs without validation NDCG@10 gain (default 5)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="holdout",
        help="holdout: 80/10/10 per user (default); u1: GroupLens u1 with ratings >= 4 "
        "(IRGAN's, ml-100k only); cfgan: 80/20 per user with validation cut from train",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=0, help="Keras fit verbosity (0)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m advrec",
        description="Train and evaluate the recommenders of the advrec book. Data is split "
        "80/10/10 per user; validation NDCG@10 selects the epoch; test is evaluated once, "
        "by full ranking.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train a model and print its validation and test metrics",
        description="Train a model, select its epoch on validation, print validation and test "
        "metrics.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, recipe in MODELS.items():
        sub = models.add_parser(name, help=recipe.help, description=recipe.help)
        _add_common_arguments(sub)
        recipe.add_arguments(sub)
    _add_attack_command(commands)
    return parser


def _split_for(args: argparse.Namespace):
    """The split ``args`` ask for: the book's 80/10/10 holdout, or a paper's own protocol."""
    from advrec.data import load_movielens, synthetic_movielens
    from advrec.data.paper_splits import cfgan_split, u1_split
    from advrec.protocol import load_split

    if args.protocol == "holdout":
        return load_split(args.dataset, args.data_dir, args.seed)
    if args.protocol == "u1" and args.dataset != "ml-100k":
        raise SystemExit("error: --protocol u1 is GroupLens' ML-100K split; use --dataset ml-100k")
    if args.dataset == "synthetic":
        interactions = synthetic_movielens(seed=args.seed).interactions
    else:
        interactions = load_movielens(args.dataset, args.data_dir).interactions
    split = u1_split if args.protocol == "u1" else cfgan_split
    return split(interactions, seed=args.seed)


def run_train(args: argparse.Namespace) -> dict:
    """Trains ``args.model`` and returns a JSON-ready report."""
    from advrec.experiment import set_seed
    from advrec.protocol import TEST_NOTE, VALIDATION_NOTE, evaluate_split

    set_seed(args.seed)
    settings = {k: v for k, v in vars(args).items() if k not in ("command", "json", "verbose")}
    if MODELS[args.model].run is not None:
        return {"settings": settings, **MODELS[args.model].run(args)}
    split = _split_for(args)
    start = time.perf_counter()
    model, facts = MODELS[args.model].train(args, split)
    seconds = time.perf_counter() - start
    valid = evaluate_split(model, split, "valid")
    test = evaluate_split(model, split, "test")
    return {
        "settings": settings,
        **facts,
        "train_seconds": round(seconds, 2),
        "candidates": {"valid": VALIDATION_NOTE, "test": TEST_NOTE},
        "valid": {name: valid[name] for name in REPORTED},
        "test": {name: test[name] for name in REPORTED},
    }


def format_report(report: dict) -> str:
    """Plain-text rendering of :func:`run_train`'s report."""
    settings = report["settings"]
    lines = [f"model {settings['model']} on {settings['dataset']} (seed {settings['seed']})"]
    for key, value in report.items():
        if key not in ("settings", "valid", "test", "candidates"):
            lines.append(f"  {key}: {value}")
    lines.append(f"  {'metric':<13}{'valid*':>9}{'test':>9}")
    for name in REPORTED:
        lines.append(f"  {name:<13}{report['valid'][name]:>9.4f}{report['test'][name]:>9.4f}")
    lines.append(
        f"  * {report['candidates']['valid']}, so validation and test numbers are not "
        "comparable; validation only selects the epoch."
    )
    return "\n".join(lines)


# -- attack shilling ----------------------------------------------------------------------------

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
        "it, and the real users' test NDCG@10, before and after.",
    )
    _add_common_arguments(shilling)
    _add_apr_arguments(shilling)
    shilling.add_argument("--model", choices=SHILLING_VICTIMS, default="bpr", help="the victim")
    shilling.add_argument("--attack", choices=SHILLING_ATTACKS, default="average")
    shilling.add_argument(
        "--size", type=_positive_float, default=0.03, help="fake users per real user (0.03)"
    )
    shilling.add_argument(
        "--target",
        type=int,
        default=None,
        help="item index (default: advrec.attacks.shilling's choice)",
    )
    shilling.add_argument(
        "--filler-size", type=_positive_int, default=50, help="items per profile besides it"
    )
    shilling.add_argument("--nuke", action="store_true", help="demote the target (classic only)")
    shilling.add_argument(
        "--ease-l2", type=_positive_float, default=300.0, help="EASE^R's ridge weight (300)"
    )


def _shilling_victim(args: argparse.Namespace, split):
    from advrec.models import EASE, ItemPop

    if args.model == "itempop":
        return ItemPop(split.train)
    if args.model == "ease":
        return EASE(split.train, args.ease_l2)
    return (_train_bpr if args.model == "bpr" else _train_apr)(args, split)[0]


def run_attack(args: argparse.Namespace) -> dict:
    """Runs ``attack shilling``: the victim before and after the injection, as a report."""
    from advrec.attacks import shilling
    from advrec.data.fake_users import inject_users
    from advrec.experiment import set_seed
    from advrec.metrics import evaluate_ranking
    from advrec.protocol import load_split

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
            split.train, target, args.attack, n_fake, args.filler_size, push=False, seed=args.seed
        )
    else:
        value = None
        if args.attack not in shilling.CLASSIC_ATTACKS:
            surrogate = shilling.fit_surrogate(split.train, seed=args.seed + 1)
            value = shilling.surrogate_value(surrogate, split.train, target)
        profiles = shilling.make_profiles(
            args.attack, split.train, target, n_fake, args.filler_size, value, seed=args.seed
        )
    report = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("command", "json")},
        "target": target,
        "target_train_count": int(split.train.item_counts()[target]),
        "fake_users": n_fake,
    }
    for name, data in (("before", split), ("after", inject_users(split, profiles))):
        model = _shilling_victim(args, data)
        exposure = shilling.target_exposure(model.score_all, data, target, split.n_users)
        test = evaluate_ranking(model.score_all, data.test, exclude=[data.train, data.valid])
        report[name] = {**exposure, "ndcg@10": test["ndcg@10"]}
    return report


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from advrec.data import DataError

    if args.command == "attack":
        try:
            report = run_attack(args)
        except (DataError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=2) if args.json else format_attack_report(report))
        return 0
    try:
        report = run_train(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
