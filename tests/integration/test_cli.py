"""The command line: `python -m advrec train RECIPE` trains, evaluates and prints, in-process;
its options are the recipes' config fields."""

import dataclasses
import json

import pytest

from advrec.__main__ import build_parser, main
from advrec.recipes import RECIPES


def _run(capsys, *argv):
    code = main(["train", *argv, "--dataset", "synthetic"])
    return code, capsys.readouterr()


@pytest.mark.slow
def test_train_bpr_prints_json_with_validation_and_test_metrics(capsys):
    code, out = _run(capsys, "bpr", "--epochs", "2", "--dim", "8", "--batch-size", "1024", "--json")
    assert code == 0, out.err
    report = json.loads(out.out)
    assert report["recipe"] == "bpr" and report["epochs_run"] == {"train": 2}
    assert report["settings"]["dim"] == 8 and report["settings"]["l2"] == 1e-2
    for part in ("valid", "test"):
        assert 0.0 < report[part]["ndcg@10"] <= 1.0
        assert 0.0 < report[part]["recall@10"] <= 1.0


@pytest.mark.slow
def test_train_apr_pretrains_then_trains_adversarially_and_prints_text(capsys):
    code, out = _run(
        capsys, "apr", "--pretrain-epochs", "2", "--pretrain-dim", "8", "--epochs", "2",
        "--epsilon", "0.3", "--batch-size", "1024", "--pretrain-batch-size", "1024",
    )  # fmt: skip
    assert code == 0, out.err
    assert "apr on synthetic" in out.out
    assert "epochs_run: {'pretrain': 2, 'adversarial': 2}" in out.out
    ndcg_line = next(line for line in out.out.splitlines() if line.strip().startswith("ndcg@10"))
    valid, test = (float(x) for x in ndcg_line.split()[1:])
    assert 0.0 < valid <= 1.0 and 0.0 < test <= 1.0


def test_every_recipe_has_a_subcommand_with_help(capsys):
    for name in RECIPES:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["train", name, "--help"])
        assert exit_info.value.code == 0
        assert "--dataset" in capsys.readouterr().out


def _leaves(config, prefix=""):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{field.name}__")
        else:
            yield f"{prefix}{field.name}", value


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_setting_is_an_option_whose_default_is_the_recipes(name):
    """The command line cannot disagree with the library: one option per config field, with
    the config's default."""
    args = build_parser().parse_args(["train", name])
    options = {k.removeprefix("setting:"): v for k, v in vars(args).items() if ":" in k}
    defaults = dict(_leaves(RECIPES[name].config()))
    assert set(options) == set(defaults)
    for setting, default in defaults.items():
        value = options[setting]
        assert (tuple(value) if isinstance(value, list) else value) == default, setting


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "svd"], "invalid choice"),
        (["train", "bpr", "--dataset", "netflix"], "invalid choice"),
        (["train", "bpr", "--epochs", "2.5"], "must be a whole number"),
        (["train", "bpr", "--learning-rate", "nan"], "must be a finite number"),
        (["train", "bpr", "--l2", "inf"], "must be a finite number"),
        (["train", "bpr", "--l2", "abc"], "must be a number"),
        (["train", "bpr", "--seed", "-1"], "must be >= 0"),
        (["train", "apr", "--epsilon", "nan"], "must be a finite number"),
        (["train", "ease", "--protocol", "u2"], "invalid choice"),
        (["train"], "required"),
    ],
)
def test_malformed_arguments_are_reported_by_argparse(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "bpr", "--epochs", "0"], "epochs must be >= 1"),
        (["train", "bpr", "--learning-rate", "0"], "learning_rate must be a finite number > 0"),
        (["train", "bpr", "--l2", "-1"], "l2 must be a finite number >= 0"),
        (["train", "apr", "--epsilon", "-1"], "epsilon must be a finite number >= 0"),
        (["train", "apr", "--learning-rate", "0"], "learning_rate must be a finite number > 0"),
        (["train", "irgan", "--rounds", "0"], "rounds must be >= 1"),
        (["train", "irgan", "--generator-learning-rate", "0"], "must be a finite number > 0"),
        (["train", "ease", "--l2", "0"], "l2 must be a finite number > 0"),
    ],
)
def test_values_a_recipe_refuses_are_one_line_and_exit_2(capsys, argv, message):
    code = main([*argv, "--dataset", "synthetic"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_data_is_a_clear_error_not_a_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ADVREC_DATA_DIR", raising=False)
    code = main(["train", "ease", "--dataset", "ml-1m", "--data-dir", str(tmp_path / "none")])
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_the_u1_protocol_needs_ml100k(capsys):
    code = main(["train", "ease", "--dataset", "synthetic", "--protocol", "u1"])
    assert code == 2 and "ML-100K" in capsys.readouterr().err


def test_json_output_is_json_even_with_a_progress_bar(capsys):
    code = main(["train", "ease", "--dataset", "synthetic", "--json", "--verbose", "1"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["protocol"] == "holdout"
    assert 0.0 < report["test"]["ndcg@10"] <= 1.0


def test_the_cli_datasets_are_the_protocols():
    from advrec.__main__ import DATASETS
    from advrec.protocol import DATASETS as PROTOCOL_DATASETS

    assert DATASETS == PROTOCOL_DATASETS


def test_the_text_report_says_why_validation_and_test_differ():
    from advrec.__main__ import format_report
    from advrec.protocol import TEST_NOTE, VALIDATION_NOTE

    report = {
        "recipe": "bpr",
        "settings": {"dataset": "synthetic", "seed": 0},
        "best_epoch": {"train": 2},
        "epochs_run": {"train": 3},
        "train_seconds": 1.0,
        "candidates": {"valid": VALIDATION_NOTE, "test": TEST_NOTE},
        "valid": {"ndcg@10": 0.5},
        "test": {"ndcg@10": 0.25},
    }
    text = format_report(report)
    assert "valid*" in text and "test items stay candidates" in text
    assert "not comparable" in text and "epochs_run: {'train': 3}" in text
