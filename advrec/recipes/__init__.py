"""Every training procedure in the library, once.

A recipe is a frozen config dataclass -- each field with its meaning and where its default comes
from (a paper, the released code, our validation) -- and ``run(data, config, seed) -> Run``. The
command line (``python -m advrec train NAME``), the chapters and the benchmarks call recipes; no
model or chapter holds a procedure of its own. One module per family:

- :mod:`~advrec.recipes.ranking` -- ItemPop, EASE^R, BPR-MF; baselines tuned on validation
  (and refit on train + valid for a paper's protocol).
- :mod:`~advrec.recipes.adversarial` -- APR (pre-training, then the adversarial phase).
- :mod:`~advrec.recipes.gan_recommenders` -- IRGAN and CFGAN on their papers' protocols;
  augmentation of sparse users with a generator, against popularity and random controls.
- :mod:`~advrec.recipes.sequences` -- SASRec and its adversarially trained variants; the
  robustness study (substitution attack and random control on each).
- :mod:`~advrec.recipes.coldstart` -- a warm BPR-MF, then a generator for new items or users;
  the cold-start comparison (every model, each chosen on validation).
- :mod:`~advrec.recipes.shilling` -- the attacker's surrogates and profile GAN, the victim; the
  attack and defence experiments.
- :mod:`~advrec.recipes.privacy` -- an attribute adversary on the user factors; the leakage loop.
- :mod:`~advrec.recipes.text` -- TextBPR (items known by a language model's embedding of their
  text), the item-text attack and its defence, and text as the content of new items.
- :mod:`~advrec.recipes.stored` -- runs at published schedules, stored in ``results/``.

:data:`RECIPES` lists the ones the command line trains. Nothing here imports TensorFlow until a
recipe runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from advrec.recipes.adversarial import APRConfig, APRStudyConfig, run_apr, run_apr_study
from advrec.recipes.base import Recipe, Run, Tuned, config_table, setting, tune, with_settings
from advrec.recipes.coldstart import (
    ColdStartConfig,
    ComparisonConfig,
    load_cold_start,
    run_cold_start,
    run_comparison,
)
from advrec.recipes.gan_recommenders import (
    AugmentationConfig,
    CFGANConfig,
    IRGANConfig,
    run_augmentation,
    run_cfgan,
    run_irgan,
)
from advrec.recipes.privacy import LeakageConfig, load_private_split, run_leakage_seed
from advrec.recipes.ranking import (
    BPRMFConfig,
    EASEConfig,
    TunedBaselinesConfig,
    load_ranking_split,
    run_bprmf,
    run_ease,
    run_itempop,
    run_tuned_baselines,
)
from advrec.recipes.sequences import (
    SASRecConfig,
    SASRecStudyConfig,
    load_sequences,
    load_study_sequences,
    run_sasrec,
    run_sasrec_study,
)
from advrec.recipes.shilling import (
    AttackExperimentConfig,
    DefenceExperimentConfig,
    run_attack_experiment,
    run_defence_experiment,
)
from advrec.recipes.text import (
    TextAttackConfig,
    TextBPRConfig,
    TextColdStartConfig,
    load_text_data,
    run_text_attack,
    run_text_cold_start,
    run_textbpr,
)

__all__ = ["RECIPES", "Recipe", "Run", "Tuned", "config_table", "setting", "tune", "with_settings"]


@dataclass(frozen=True)
class NoSettings:
    """A model with nothing to set (ItemPop)."""


RANKING_PROTOCOLS = ("holdout", "u1", "cfgan")

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "itempop",
            "ItemPop: items by training popularity",
            NoSettings,
            run_itempop,
            load_ranking_split,
            RANKING_PROTOCOLS,
        ),
        Recipe(
            "ease",
            "EASE^R: closed-form item-item model (Steck, 2019)",
            EASEConfig,
            run_ease,
            load_ranking_split,
            RANKING_PROTOCOLS,
        ),
        Recipe(
            "bpr",
            "BPR-MF: matrix factorisation with the BPR loss (Rendle et al., 2009)",
            BPRMFConfig,
            run_bprmf,
            load_ranking_split,
            RANKING_PROTOCOLS,
        ),
        Recipe(
            "apr",
            "AMF: BPR-MF pre-training, then Adversarial Personalized Ranking (He et al., 2018)",
            APRConfig,
            run_apr,
            load_ranking_split,
            RANKING_PROTOCOLS,
        ),
        Recipe(
            "apr-study",
            "the APR chapter's experiment on one split: one BPR-MF pre-training, then the tuned "
            "and the released adversarial phase, each beside its epsilon = 0 control; clean, "
            "attacked (FGSM, multi-step, random of the same norm) and list measurements, with "
            "ItemPop and EASE^R",
            APRStudyConfig,
            run_apr_study,
            load_ranking_split,
            ("holdout",),
        ),
        Recipe(
            "privacy",
            "the privacy chapter's experiment on one split: plain BPR-MF, attribute defences and "
            "a CFGAN's generated user vectors, each attacked by fresh classifiers within groups "
            "of users whose labels the defence never saw",
            LeakageConfig,
            run_leakage_seed,
            load_private_split,
            ("holdout",),
        ),
        Recipe(
            "irgan",
            "IRGAN (Wang et al., 2017): BPR-MF pre-training, then the policy-gradient game",
            IRGANConfig,
            run_irgan,
            load_ranking_split,
            ("u1", "holdout", "cfgan"),
        ),
        Recipe(
            "cfgan",
            "CFGAN (Chae et al., 2018): vector-wise GAN, partial masking, zero reconstruction",
            CFGANConfig,
            run_cfgan,
            load_ranking_split,
            ("cfgan", "holdout", "u1"),
        ),
        Recipe(
            "sasrec",
            "SASRec (Kang & McAuley, 2018): self-attention over each user's latest items",
            SASRecConfig,
            run_sasrec,
            load_sequences,
            ("leave-last-out",),
        ),
        Recipe(
            "baselines",
            "ItemPop, EASE^R and BPR-MF tuned on validation, then refit on train + valid",
            TunedBaselinesConfig,
            run_tuned_baselines,
            load_ranking_split,
            (*RANKING_PROTOCOLS, "leave-last-out"),
        ),
        Recipe(
            "augmentation",
            "sparse users' data augmented by CFGAN, by popularity or at random, then BPR-MF",
            AugmentationConfig,
            run_augmentation,
            load_ranking_split,
            ("cfgan", "holdout"),
        ),
        Recipe(
            "sasrec-study",
            "SASRec, its adversarially trained variants and their control, each under the "
            "label-free substitution attack and its random control",
            SASRecStudyConfig,
            run_sasrec_study,
            load_study_sequences,
            ("leave-last-out",),
        ),
        Recipe(
            "coldstart",
            "cold start: BPR-MF on the warm part, then a generator from side information to "
            "embeddings for new items or users (GAR-style adversarial by default)",
            ColdStartConfig,
            run_cold_start,
            load_cold_start,
            ("items", "users"),
        ),
        Recipe(
            "coldstart-compare",
            "the cold-start chapter's experiment on one split: a tuned, refit warm BPR-MF and "
            "every cold-start model (ridge, ContentPop, k-NN, regression MLP, DropoutNet, "
            "GAR-style adversarial and its beta = 1 arm), each chosen on validation",
            ComparisonConfig,
            run_comparison,
            load_cold_start,
            ("items", "users"),
        ),
        Recipe(
            "shilling-attacks",
            "the shilling chapter's attacks: every attack on ItemPop, EASE^R and BPR-MF (tuned "
            "on clean validation), an unpopular and a mid target, several sizes, and a "
            "positive control",
            AttackExperimentConfig,
            run_attack_experiment,
            load_ranking_split,
            ("holdout",),
        ),
        Recipe(
            "shilling-defences",
            "the shilling chapter's defences: detection (one-, two-sided, anomaly), screening "
            "and retraining, APR against plain BPR-MF trained as long, on the tuned victim",
            DefenceExperimentConfig,
            run_defence_experiment,
            load_ranking_split,
            ("holdout",),
        ),
        Recipe(
            "textbpr",
            "TextBPR: items known by a pretrained sentence encoder's embedding of their text "
            "(all-MiniLM-L6-v2), trained with BPR on the warm items; new items scored from text",
            TextBPRConfig,
            run_textbpr,
            load_text_data,
            ("items",),
        ),
        Recipe(
            "text-attack",
            "the language-model chapter's experiment on one split: TextBPR text-only and hybrid, "
            "each with and without APR in the text space, the tuned baselines, and HotFlip edits "
            "of k = 1..5 word pieces of a target's text against random edits",
            TextAttackConfig,
            run_text_attack,
            load_text_data,
            ("items",),
        ),
        Recipe(
            "text-coldstart",
            "cold start with text: the cold-start generators and baselines on genre/year, on "
            "the text embedding, and on both, from one warm BPR-MF; TextBPR beside them",
            TextColdStartConfig,
            run_text_cold_start,
            load_text_data,
            ("items",),
        ),
    )
}
"""The recipes the command line trains, by name."""
