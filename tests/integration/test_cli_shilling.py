"""`python -m advrec attack shilling`: inject fake users, retrain, report before and after."""

import json

import pytest

from advrec.__main__ import main


def _attack(capsys, *argv):
    code = main(["attack", "shilling", "--dataset", "synthetic", *argv])
    return code, capsys.readouterr()


@pytest.mark.slow
def test_a_bandwagon_attack_on_itempop_lifts_the_target_and_prints_json(capsys):
    code, out = _attack(
        capsys,
        "--model",
        "itempop",
        "--attack",
        "bandwagon",
        "--size",
        "0.2",
        "--filler-size",
        "10",
        "--target",
        "150",
        "--json",
    )
    assert code == 0, out.err
    report = json.loads(out.out)
    assert report["target"] == 150 and report["fake_users"] > 0
    assert report["after"]["mean_rank"] < report["before"]["mean_rank"]
    assert report["after"]["n_users"] == report["before"]["n_users"]  # real users only


@pytest.mark.slow
def test_a_surrogate_attack_on_bpr_prints_a_table(capsys):
    code, out = _attack(
        capsys,
        "--model",
        "bpr",
        "--attack",
        "surrogate",
        "--size",
        "0.05",
        "--pretrain-epochs",
        "2",
        "--pretrain-dim",
        "8",
        "--filler-size",
        "10",
    )
    assert code == 0, out.err
    assert "before" in out.out and "after" in out.out and "mean rank" in out.out


def test_bad_attack_arguments_are_clear_errors(capsys):
    code, out = _attack(capsys, "--model", "ease", "--attack", "gan", "--nuke")
    assert code == 2 and "--nuke" in out.err
    code, out = _attack(capsys, "--model", "ease", "--target", "100000")
    assert code == 2 and "outside" in out.err
    with pytest.raises(SystemExit):
        main(["attack", "shilling", "--attack", "love-bombing"])
