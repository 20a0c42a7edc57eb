"""Post-hoc micro-attention maps of a trained ``micro_attention`` fold model (Wang et al., arXiv
1811.02360, show such maps over the face)."""

from __future__ import annotations

import numpy as np
import torch

from mer.models.micro_attention import MicroAttentionResNet


def attention_maps(model: MicroAttentionResNet, apex: np.ndarray,
                   flow: np.ndarray) -> list[np.ndarray]:
    """Return each block's micro-attention mask for one clip, as the fold model sees it.

    Args:
        model: a trained fold model (its checkpoint loaded; put in eval mode here).
        apex: ``(H, W)`` uint8 aligned grey apex frame (the flow stage's ``apex``).
        flow: ``(3, H, W)`` float32 u, v (pixels) and strain onset -> apex.

    Returns:
        One ``(h_i, w_i)`` float32 mask in ``(0, 1)`` per block, from ``input_size / 4`` down to
        ``input_size / 32`` pixels (the last is 2 x 2 at 64); empty without attention units.

    Raises:
        ValueError: on arrays of the wrong shape or dtype.
    """
    if apex.ndim != 2 or apex.dtype != np.uint8 or flow.shape != (3, *apex.shape):
        raise ValueError(f"attention_maps: apex must be (H, W) uint8 and flow (3, H, W), got "
                         f"{apex.dtype} {apex.shape} and {flow.shape}")
    inputs = {"apex": torch.from_numpy(apex.astype(np.float32) / 255.0)[None, None],
              "flow": torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32))[None]}
    model.eval()
    return [mask[0, 0].numpy() for mask in model.attention_masks(inputs)]
