"""Recommenders, one file each: popularity, EASE^R, BPR-MF and the adversarial models."""

from advrec.models.apr import AMF
from advrec.models.base import PairwiseRanker
from advrec.models.cfgan import CFGAN
from advrec.models.ease import EASE
from advrec.models.irgan import IRGAN
from advrec.models.itempop import ItemPop
from advrec.models.mf import BPRMF
from advrec.models.privacy import AdversarialBPRMF

__all__ = [
    "AMF",
    "AdversarialBPRMF",
    "BPRMF",
    "CFGAN",
    "EASE",
    "IRGAN",
    "ItemPop",
    "PairwiseRanker",
]
