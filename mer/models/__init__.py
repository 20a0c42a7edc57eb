"""MER models behind one registry: ``create_model(name, **hparams)``.

Importing this package registers the built-in models (``ststnet``, ``micro_attention``).
"""

from mer.models import lightman, micro_attention, ststnet  # noqa: F401  (registers the models)
from mer.models import miacnet  # noqa: F401  (registers miacnet)
from mer.models import attr_contrastive  # noqa: F401  (registers attr_contrastive)
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
