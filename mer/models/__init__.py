"""MER models behind one registry: ``create_model(name, **hparams)``.

Importing this package registers the built-in models (``flow_logreg``, ``ststnet``,
``micro_attention``, ``miacnet``, ``lightman``, ``attr_contrastive``).
"""

from mer.models import lightman, micro_attention, ststnet  # noqa: F401  (registers the models)
from mer.models import miacnet  # noqa: F401  (registers miacnet)
from mer.models import attr_contrastive  # noqa: F401  (registers attr_contrastive)
from mer.models import flow_logreg  # noqa: F401  (registers flow_logreg)
from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, InputNorm, MerModel
from mer.models.registry import create_model, default_hparams, list_models, register_model

__all__ = [
    "INPUT_CHANNELS",
    "NUM_CLASSES",
    "InputNorm",
    "MerModel",
    "create_model",
    "default_hparams",
    "list_models",
    "register_model",
]
