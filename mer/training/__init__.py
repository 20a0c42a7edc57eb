"""Training: fit a registered model on a FeatureSet, predict, and run one LOSO fold.

No file I/O: the stages read and write; this package only computes. Importing it registers the
trainers (``supervised``, ``contrastive``, ``meta_auxiliary``, ``logistic``) in
:mod:`mer.training.registry`.
"""

from mer.training.config import TrainConfig, resolve_device
from mer.training.data import FeatureSet
from mer.training.fit import FitResult, fit, load_state, predict
from mer.training.loso import FoldResult, FoldSplit, run_fold, split_fold
from mer.training import contrastive, logistic, meta_auxiliary, supervised  # noqa: F401, I001  (register)

__all__ = [
    "FeatureSet",
    "FitResult",
    "FoldResult",
    "FoldSplit",
    "TrainConfig",
    "fit",
    "load_state",
    "predict",
    "resolve_device",
    "run_fold",
    "split_fold",
]
