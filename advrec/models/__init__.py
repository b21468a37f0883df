"""Recommenders, one file each: popularity, BPR-MF, and the adversarial models built on them."""

from advrec.models.apr import AMF, fit_amf
from advrec.models.base import PairwiseRanker
from advrec.models.itempop import ItemPop
from advrec.models.mf import BPRMF
from advrec.models.privacy import AdversarialBPRMF

__all__ = ["AMF", "AdversarialBPRMF", "BPRMF", "ItemPop", "PairwiseRanker", "fit_amf"]
