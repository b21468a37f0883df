"""The command line's GAN-recommender entries: ease, irgan, cfgan, and the --protocol option."""

import json

import pytest

from advrec.__main__ import build_parser, main


def test_train_ease_reports_metrics(capsys):
    code = main(["train", "ease", "--dataset", "synthetic", "--l2", "50", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["model"] == "ease" and report["settings"]["protocol"] == "holdout"
    assert 0.0 < report["test"]["ndcg@10"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["irgan", "--dim", "4", "--pretrain-epochs", "2", "--gan-batch-size", "1024"],
        ["cfgan", "--generator-units", "16", "--discriminator-units", "8", "--eval-every", "1"],
    ],
)
def test_train_gan_recommenders(capsys, argv):
    code = main(["train", *argv, "--dataset", "synthetic", "--epochs", "2", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["epochs_run"] == 2 and 1 <= report["best_epoch"] <= 2
    assert 0.0 < report["valid"]["ndcg@10"] <= 1.0


def test_u1_protocol_needs_ml100k(capsys):
    with pytest.raises(SystemExit, match="ML-100K"):
        main(["train", "ease", "--dataset", "synthetic", "--protocol", "u1"])


def test_unknown_protocol_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "ease", "--protocol", "u2"])
    assert exit_info.value.code == 2
