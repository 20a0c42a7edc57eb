"""Turn a partial pretrained state (e.g. MA2MI's encoders) into a full ``init_state``.

``mer.training.fit`` loads ``init_state`` strictly (every key of the model, nothing else), which
keeps its check that a checkpoint belongs to the model. :func:`complete_state` fills in the keys
a pretraining did not train with the values ``fit`` itself would give them: the model's weights
re-initialised after ``torch.manual_seed(seed)``, as ``fit`` does with ``TrainConfig.seed``. So
with the same seed a finetuned model differs from one trained from scratch only in the pretrained
weights (the input statistics are replaced by ``fit`` in both cases).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from mer.models.base import MerModel


def complete_state(model: MerModel, partial: Mapping[str, Tensor], *, seed: int,
                   source: str = "pretrained state") -> dict[str, Tensor]:
    """Return a full state dict of ``model``: ``partial``'s values, the rest freshly initialised.

    Args:
        model: the model the state is for (its weights are re-initialised in place).
        partial: a subset of ``model``'s state-dict keys with matching shapes.
        seed: the seed of the initialisation of the other keys (the pretraining stage's
            ``pretrain.seed``).
        source: what ``partial`` is, for the error message.

    Returns:
        ``key -> tensor`` (CPU, cloned) for every key of ``model.state_dict()``.

    Raises:
        ValueError: if ``partial`` is empty, or has keys the model lacks or shapes that differ.
    """
    own = model.state_dict()
    unexpected = sorted(set(partial) - set(own))
    shapes = sorted(f"{k}: {tuple(v.shape)} != {tuple(own[k].shape)}"
                    for k, v in partial.items() if k in own and v.shape != own[k].shape)
    if not partial or unexpected or shapes:
        raise ValueError(
            f"{source} does not fit {type(model).__name__} (pretrain with the same model "
            f"hyper-parameters): {len(partial)} keys, unexpected keys {unexpected[:5]}, shape "
            f"mismatches {shapes[:5]}")
    state = initial_state(model, seed)
    for key, value in partial.items():
        state[key] = value.detach().cpu().clone().to(state[key].dtype)
    return state



def initial_state(model: MerModel, seed: int) -> dict[str, Tensor]:
    """The state ``fit`` starts ``model`` from with ``seed`` (``torch.manual_seed(seed)``, then
    ``model.reset_parameters()``; the weights are re-initialised in place, the global RNG is left
    as it was): CPU clones of every key, e.g. the random-init reference of a pretrained state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.cpu().reset_parameters()
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
