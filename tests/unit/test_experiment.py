"""The shared protocol (advrec.protocol) and the summaries over seeds (advrec.experiment)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from advrec.data import Interactions, Split
from advrec.experiment import (
    MISSING,
    family_table,
    format_cell,
    format_mean_std,
    holm,
    paired_comparison,
    paired_family,
    results_table,
    run_seeds,
    verdict_stability,
)
from advrec.metrics import evaluate_ranking
from advrec.models import EASE
from advrec.protocol import EdgeOfGridError, evaluate_split, select_on_validation


def _table(pairs, n_users=2, n_items=5):
    users, items = zip(*pairs, strict=True)
    return Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)


@pytest.fixture
def hand_split():
    # User 0: train {0}, valid {1}, test {2}. User 1: train {3}, valid {4}, test {0}.
    return Split(
        train=_table([(0, 0), (1, 3)]),
        valid=_table([(0, 1), (1, 4)]),
        test=_table([(0, 2), (1, 0)]),
        protocol="hand-made",
    )


def _scores(matrix):
    matrix = tf.constant(np.asarray(matrix, np.float32))
    return lambda users: tf.gather(matrix, users)


def test_evaluate_split_excludes_train_for_valid_and_train_plus_valid_for_test(hand_split):
    # Each user's test item scores highest, its validation item second.
    score_fn = _scores([[0, 8, 9, 1, 1], [9, 1, 1, 0, 8]])
    valid = evaluate_split(score_fn, hand_split, "valid", ks=(1,))
    test = evaluate_split(score_fn, hand_split, "test", ks=(1,))
    # Validation keeps the test item as a candidate, and it takes the top slot.
    assert valid["hr@1"] == 0.0
    assert test["hr@1"] == 1.0
    expected = evaluate_ranking(
        score_fn, hand_split.test, exclude=[hand_split.train, hand_split.valid], ks=(1,)
    )
    assert test == expected


def test_evaluate_split_takes_a_model_or_a_score_function(hand_split):
    model = EASE(hand_split.train, l2=1.0)
    assert evaluate_split(model, hand_split, "test", ks=(2,)) == evaluate_split(
        model.score_all, hand_split, "test", ks=(2,)
    )
    with pytest.raises(ValueError, match='part must be "valid" or "test"'):
        evaluate_split(model, hand_split, "train")
    with pytest.raises(TypeError, match="score_all"):
        evaluate_split(42, hand_split, "test")


def test_select_on_validation_picks_the_best_inside_the_grid(hand_split):
    selection = select_on_validation(
        [1, 2, 3, 4, 5], lambda v: {"ndcg@10": -((v - 3) ** 2)}, hand_split
    )
    assert selection.value == 3 and selection.index == 2 and not selection.at_edge
    np.testing.assert_array_equal(selection.scores, [-4, -1, 0, -1, -4])
    # Ties go to the earlier grid value.
    tied = select_on_validation([1, 2, 3, 4], lambda v: {"ndcg@10": float(v in (2, 3))}, hand_split)
    assert tied.value == 2


def test_select_on_validation_refuses_the_edge_unless_allowed(hand_split):
    with pytest.raises(EdgeOfGridError, match=r"best at 5, the last grid value") as error:
        select_on_validation([1, 2, 5], lambda v: {"ndcg@10": v}, hand_split)
    assert error.value.selection.value == 5 and error.value.selection.at_edge
    with pytest.raises(EdgeOfGridError, match="the first grid value"):
        select_on_validation([1, 2, 5], lambda v: {"ndcg@10": -v}, hand_split)
    allowed = select_on_validation(
        [0, 1], lambda v: {"ndcg@10": 1 - v}, hand_split, allow_edge=True
    )
    assert allowed.value == 0 and allowed.at_edge


def test_select_on_validation_evaluates_returned_models_on_validation(synthetic_split):
    selection = select_on_validation(
        [1.0, 30.0, 3000.0, 1e6],
        lambda l2: EASE(synthetic_split.train, l2=l2),
        synthetic_split,
        allow_edge=True,
    )
    for l2, metrics in zip(selection.grid, selection.metrics, strict=True):
        assert metrics == evaluate_split(
            EASE(synthetic_split.train, l2=l2), synthetic_split, "valid"
        )
    assert selection.scores[selection.index] == selection.scores.max()
    assert isinstance(selection.model, EASE) and selection.model.l2 == selection.value


def test_paired_comparison_matches_scipy():
    rng = np.random.default_rng(0)
    b = rng.random(6)
    a = b + rng.normal(0.02, 0.01, 6)
    result = paired_comparison(a, b)
    reference = stats.ttest_rel(a, b)
    assert result.n == 6
    assert result.mean_difference == pytest.approx(np.mean(a - b))
    assert result.std_difference == pytest.approx(np.std(a - b, ddof=1))
    assert result.t_statistic == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)
    wins = int((a > b).sum())
    assert result.wins == wins and result.losses == 6 - wins
    assert result.sign_p_value == pytest.approx(stats.binomtest(wins, 6).pvalue)
    assert "paired t-test p" in str(result)


def test_paired_comparison_edge_cases():
    same = paired_comparison([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert same.p_value == 1.0 and same.sign_p_value == 1.0 and same.wins == same.losses == 0
    shifted = paired_comparison([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert shifted.p_value == 0.0 and shifted.sign_p_value == pytest.approx(0.25)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_comparison([0.1], [0.2])
    with pytest.raises(ValueError, match="same seed order"):
        paired_comparison([0.1, 0.2], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="finite"):
        paired_comparison([0.1, np.nan], [0.2, 0.3])


def test_results_table_shows_missing_values_as_a_dash():
    runs = {
        "A": {"ndcg": np.array([0.1, 0.3]), "auc": np.array([np.nan, np.nan])},
        "B": {"ndcg": np.array([0.2, np.nan, 0.4])},
        "C": {"ndcg": np.array([0.5])},
    }
    lines = results_table(runs, ["ndcg", "auc"], digits=2).splitlines()
    assert lines[0] == "| model | ndcg | auc |"
    assert lines[2] == f"| A | 0.20 ± 0.14 | {MISSING} |"
    assert lines[3] == f"| B | 0.30 ± 0.14 (n=2) | {MISSING} |"
    assert lines[4] == f"| C | 0.50 | {MISSING} |"  # one run: no std to show
    assert format_cell(None) == format_cell([]) == MISSING
    assert results_table(runs, ["ndcg"], first_column="group").startswith("| group | ndcg |")


def test_run_seeds_reseeds_the_global_generators_before_each_run():
    draws = run_seeds(lambda seed: {"x": np.random.rand(), "seed": seed}, [3, 4, 3])
    assert draws["x"][0] == draws["x"][2] != draws["x"][1]
    np.testing.assert_array_equal(draws["seed"], [3, 4, 3])
    with pytest.raises(ValueError, match="at least one seed"):
        run_seeds(lambda seed: {}, [])


def test_verdict_claims_only_what_the_paired_test_supports():
    from advrec.experiment import paired_comparison

    clear = paired_comparison([0.30, 0.31, 0.32, 0.33], [0.20, 0.215, 0.22, 0.232])
    assert clear.verdict("AMF", "BPR-MF").startswith("AMF is higher than BPR-MF on 4 of 4 seeds")
    reversed_ = paired_comparison([0.20, 0.215, 0.22, 0.232], [0.30, 0.31, 0.32, 0.33])
    assert reversed_.verdict("AMF", "BPR-MF").startswith("BPR-MF is higher than AMF on 4 of 4")
    noisy = paired_comparison([0.30, 0.25, 0.32, 0.27], [0.28, 0.29, 0.27, 0.30])
    assert noisy.verdict("AMF", "BPR-MF").startswith("no significant difference between AMF")


def test_select_on_validation_never_picks_a_diverged_run(hand_split):
    # A NaN validation score (a run that diverged) used to win argmax.
    scores = {1: 0.1, 2: float("nan"), 3: 0.3, 4: 0.2}
    with pytest.warns(UserWarning, match=r"ndcg@10 is not finite for 2 \(nan\)"):
        selection = select_on_validation(
            [1, 2, 3, 4], lambda v: {"ndcg@10": scores[v]}, hand_split, allow_edge=True
        )
    assert selection.value == 3 and np.isnan(selection.scores[1])
    first = {1: float("nan"), 2: 0.1, 3: 0.3, 4: 0.2}
    with pytest.warns(UserWarning, match="not finite"):
        assert (
            select_on_validation([1, 2, 3, 4], lambda v: {"ndcg@10": first[v]}, hand_split).value
            == 3
        )
    # A model whose scores are NaN is a diverged run too: recorded as NaN, not an abort.
    nan_model = _scores(np.full((2, 5), np.nan))
    score_fns = {1: _scores(np.eye(2, 5)), 2: nan_model, 3: _scores(np.ones((2, 5)))}
    with pytest.warns(UserWarning, match=r"ndcg@1 is not finite for 2 \(nan\)"):
        selection = select_on_validation(
            [1, 2, 3], score_fns.get, hand_split, "ndcg@1", ks=(1,), allow_edge=True
        )
    assert np.isnan(selection.scores[1]) and selection.value != 2
    with pytest.raises(ValueError, match=r"no grid value has a finite validation ndcg@10"):
        select_on_validation([1, 2], lambda v: {"ndcg@10": float("nan")}, hand_split)
    with pytest.raises(ValueError, match="increasing positive"):
        select_on_validation(
            [1.0, float("inf")], lambda v: {"ndcg@10": v}, hand_split, max_extensions=1
        )
    with pytest.raises(ValueError, match="max_extensions must be >= 0"):
        select_on_validation([1.0, 2.0], lambda v: {"ndcg@10": v}, hand_split, max_extensions=-1)


def test_run_seeds_refuses_runs_that_report_different_metrics():
    # Seed 0 reporting "a" and seed 1 "b" used to give two one-element arrays, misaligned.
    with pytest.raises(ValueError, match=r"seed 1 reported \['b'\] but seed 0 reported \['a'\]"):
        run_seeds(lambda seed: {"a": 1.0} if seed == 0 else {"b": 2.0}, [0, 1])
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got None"):
        run_seeds(lambda seed: {"a": 1.0}, [None])


def test_mean_std_of_nothing_is_refused():
    with pytest.raises(ValueError, match="no values"):
        format_mean_std([])


def test_holm_matches_the_step_down_rule_by_hand():
    # p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.5 (x1 = 0.5)
    adjusted = holm([0.03, 0.5, 0.01, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.5, 0.04, 0.06])
    assert holm([0.9, 0.9]).max() == 1.0  # capped at 1
    assert holm([0.004]).tolist() == [0.004]  # one test: unchanged
    with pytest.raises(ValueError, match="p-values"):
        holm([0.1, 1.5])


def test_a_family_corrects_the_verdicts_for_the_number_of_comparisons():
    rng = np.random.default_rng(0)
    base = rng.normal(size=6)
    nudged = base + 0.05 + rng.normal(scale=0.04, size=6)  # p about 0.03 alone
    strong = base + 1.0 + rng.normal(scale=0.01, size=6)
    alone = paired_comparison(nudged, base)
    assert alone.significant() and alone.adjusted_p_value is None
    pairs = {f"null {i}": (base + rng.normal(scale=0.1, size=6), base) for i in range(8)}
    family = paired_family(pairs | {"nudged": (nudged, base), "strong": (strong, base)})
    assert family["nudged"].p_value == pytest.approx(alone.p_value)
    assert family["nudged"].family_size == 10
    assert not family["nudged"].significant()  # 10 tests: Holm takes the nudge back
    assert family["strong"].significant()
    assert "Holm-adjusted over 10 tests" in family["nudged"].verdict("a", "b")
    assert "no significant difference" in family["nudged"].verdict("a", "b")
    table = family_table(family)
    assert table.count("\n") == 11 and "| strong |" in table


def test_verdict_stability_finds_verdicts_that_one_seed_decides():
    base = np.linspace(0.2, 0.3, 10)
    clear = base + 0.02 + np.linspace(-0.002, 0.002, 10)
    knife_edge = base.copy()
    knife_edge[0] += 0.05  # one seed carries the whole difference
    stability = verdict_stability({"clear": (clear, base), "edge": (knife_edge, base)})
    assert stability["clear"] == 1.0
    assert stability["edge"] == 1.0  # never significant, with or without seed 0
    close = base + np.r_[0.002, 0.002, 0.002, 0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01]  # p about 0.09
    shaky = verdict_stability({"close": (close, base)})["close"]
    assert 0.0 < shaky < 1.0  # dropping the last seed makes it significant
    with pytest.raises(ValueError, match="at least 3"):
        verdict_stability({"x": ([0.1, 0.2], [0.1, 0.3])})
