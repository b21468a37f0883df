"""The command line: `python -m advrec train MODEL` trains, evaluates and prints, in-process."""

import json

import pytest

from advrec.__main__ import MODELS, build_parser, main


def _run(capsys, *argv):
    code = main(["train", *argv, "--dataset", "synthetic", "--epochs", "2", "--dim", "8"])
    return code, capsys.readouterr()


@pytest.mark.slow
def test_train_bpr_prints_json_with_validation_and_test_metrics(capsys):
    code, out = _run(capsys, "bpr", "--batch-size", "1024", "--json")
    assert code == 0
    report = json.loads(out.out)
    assert report["settings"]["model"] == "bpr" and report["epochs_run"] == 2
    for part in ("valid", "test"):
        assert 0.0 < report[part]["ndcg@10"] <= 1.0
        assert 0.0 < report[part]["recall@10"] <= 1.0


@pytest.mark.slow
def test_train_apr_pretrains_then_trains_adversarially_and_prints_text(capsys):
    code, out = _run(
        capsys, "apr", "--pretrain-epochs", "2", "--epsilon", "0.3", "--batch-size", "1024"
    )
    assert code == 0
    assert "model apr on synthetic" in out.out
    assert "pretrain_epochs_run: 2" in out.out and "epochs_run: 2" in out.out
    ndcg_line = next(line for line in out.out.splitlines() if line.strip().startswith("ndcg@10"))
    valid, test = (float(x) for x in ndcg_line.split()[1:])
    assert 0.0 < valid <= 1.0 and 0.0 < test <= 1.0


def test_every_model_has_a_subcommand_with_help(capsys):
    for name in MODELS:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["train", name, "--help"])
        assert exit_info.value.code == 0
        assert "--dataset" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "svd"], "invalid choice"),
        (["train", "bpr", "--dataset", "netflix"], "invalid choice"),
        (["train", "apr", "--epsilon", "-1"], "must be >= 0"),
        (["train", "bpr", "--epochs", "0"], "positive integer"),
        (["train", "bpr", "--learning-rate", "0"], "must be > 0"),
        (["train", "bpr", "--learning-rate", "nan"], "must be a finite number"),
        (["train", "bpr", "--l2", "inf"], "must be a finite number"),
        (["train", "bpr", "--l2", "abc"], "must be a number"),
        (["train", "apr", "--adversarial-learning-rate", "0"], "must be > 0"),
        (["train", "apr", "--epsilon", "nan"], "must be a finite number"),
        (["train"], "required"),
    ],
)
def test_bad_arguments_are_reported_by_argparse(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_is_a_clear_error_not_a_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ADVREC_DATA_DIR", raising=False)
    code = main(["train", "bpr", "--dataset", "ml-1m", "--data-dir", str(tmp_path / "none")])
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_the_cli_datasets_are_the_protocols():
    from advrec.__main__ import DATASETS
    from advrec.protocol import DATASETS as PROTOCOL_DATASETS

    assert DATASETS == PROTOCOL_DATASETS


def test_the_text_report_says_why_validation_and_test_differ():
    from advrec.__main__ import REPORTED, format_report
    from advrec.protocol import TEST_NOTE, VALIDATION_NOTE

    report = {
        "settings": {"model": "bpr", "dataset": "synthetic", "seed": 0},
        "epochs_run": 3,
        "candidates": {"valid": VALIDATION_NOTE, "test": TEST_NOTE},
        "valid": dict.fromkeys(REPORTED, 0.5),
        "test": dict.fromkeys(REPORTED, 0.25),
    }
    text = format_report(report)
    assert "valid*" in text and "test items stay candidates" in text
    assert "not comparable" in text and "epochs_run: 3" in text


def test_the_cli_default_l2_is_the_library_default():
    from advrec.__main__ import DEFAULT_L2
    from advrec.models.mf import DEFAULT_L2 as LIBRARY_DEFAULT_L2

    assert DEFAULT_L2 == LIBRARY_DEFAULT_L2
