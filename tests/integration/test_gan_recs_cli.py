"""The command line's GAN-recommender recipes: irgan and cfgan, on their papers' protocols."""

import json

import pytest

from advrec.__main__ import main

IRGAN = ["--pretrain-dim", "4", "--pretrain-epochs", "2", "--discriminator-batch", "1024"]
IRGAN += ["--rounds", "1", "--discriminator-epochs", "2", "--generator-epochs", "2"]
CFGAN = ["--generator-units", "16", "--discriminator-units", "8", "--epochs", "2"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [["irgan", *IRGAN, "--eval-every", "1"], ["cfgan", *CFGAN, "--eval-every", "1"]]
)
def test_train_gan_recommenders(capsys, argv):
    code = main(["train", *argv, "--dataset", "synthetic", "--protocol", "holdout", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    phase = "game" if argv[0] == "irgan" else "train"
    assert report["epochs_run"][phase] == 2 and 0 <= report["best_epoch"][phase] <= 2
    assert 0.0 < report["valid"]["ndcg@10"] <= 1.0


def test_each_gan_recommender_defaults_to_its_papers_protocol():
    from advrec.recipes import RECIPES

    assert RECIPES["irgan"].protocols[0] == "u1" and RECIPES["cfgan"].protocols[0] == "cfgan"
