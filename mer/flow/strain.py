"""Optical strain: the magnitude of the symmetric part of the flow's spatial derivative."""

from __future__ import annotations

import torch

__all__ = ["optical_strain"]


def optical_strain(flow: torch.Tensor) -> torch.Tensor:
    """Optical strain magnitude of a flow field.

    ``sqrt(ux^2 + vy^2 + 0.5 * (uy + vx)^2)`` where u, v are the x and y flow components and
    ux = du/dx, uy = du/dy, vx = dv/dx, vy = dv/dy. Derivatives are central differences
    ``(f[i+1] - f[i-1]) / 2`` inside the image and one-sided first differences on the border rows
    and columns (``torch.gradient`` with ``edge_order=1``), in pixels per pixel.

    Args:
        flow: (B, 2, H, W) or (2, H, W) flow in pixels, channel 0 = x, channel 1 = y; H, W >= 2.

    Returns:
        (B, 1, H, W) or (1, H, W) float strain magnitude, dimensionless.

    Raises:
        ValueError: wrong shape, too small, or non-finite values.
    """
    if not isinstance(flow, torch.Tensor):
        flow = torch.as_tensor(flow)
    squeeze = flow.ndim == 3
    f = flow[None] if squeeze else flow
    if f.ndim != 4 or f.shape[1] != 2:
        raise ValueError(f"optical_strain: flow must be (B, 2, H, W) or (2, H, W), got {tuple(flow.shape)}")
    if f.shape[-1] < 2 or f.shape[-2] < 2:
        raise ValueError(f"optical_strain: flow is {f.shape[-2]}x{f.shape[-1]}; need at least 2x2")
    if not f.is_floating_point():
        f = f.float()
    if not bool(torch.isfinite(f).all()):
        raise ValueError("optical_strain: flow has NaN or infinite values")
    dy, dx = torch.gradient(f, dim=(2, 3), edge_order=1)
    ux, vx = dx[:, 0:1], dx[:, 1:2]
    uy, vy = dy[:, 0:1], dy[:, 1:2]
    strain = torch.sqrt(ux.square() + vy.square() + 0.5 * (uy + vx).square())
    return strain[0] if squeeze else strain
