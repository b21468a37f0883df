"""Recommenders, one file each: popularity, EASE^R, BPR-MF, the text-aware model and the
adversarial models."""

from advrec.models.apr import AMF
from advrec.models.base import PairwiseRanker
from advrec.models.cfgan import CFGAN
from advrec.models.ease import EASE
from advrec.models.irgan import IRGAN
from advrec.models.itempop import ItemPop
from advrec.models.mf import BPRMF
from advrec.models.privacy import AdversarialBPRMF
from advrec.models.text import AdversarialTextBPR, TextBPR

__all__ = [
    "AMF",
    "AdversarialBPRMF",
    "AdversarialTextBPR",
    "BPRMF",
    "CFGAN",
    "EASE",
    "IRGAN",
    "ItemPop",
    "PairwiseRanker",
    "TextBPR",
]
