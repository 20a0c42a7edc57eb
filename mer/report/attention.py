"""Attention maps over the aligned face: the report's post-hoc visualisation of every trained model
whose network exposes attention (``micro_attention`` and its variants, as the paper's figures),
one row of pictures per clip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mer.report.flowviz import grey_to_rgb, png_bytes
from mer.report.html import esc, figure

#: Weight of the heat colour over the grey face.
_ALPHA = 0.5


@dataclass(frozen=True)
class AttentionClip:
    """One clip's attention masks from the fold model that held its subject out.

    Attributes:
        dataset, subject, clip, label: the clip.
        fold: the fold whose checkpoint made the masks (its test subject is ``subject``).
        apex: ``(H, W)`` uint8 aligned grey apex frame.
        masks: one ``(h_i, w_i)`` float mask in ``(0, 1)`` per block, finest first.
    """

    dataset: str
    subject: str
    clip: str
    label: str | None
    fold: int
    apex: np.ndarray
    masks: tuple[np.ndarray, ...]


def heat(values: np.ndarray) -> np.ndarray:
    """Map ``(h, w)`` values in [0, 1] to ``(h, w, 3)`` float RGB in [0, 1]: blue (0), green,
    yellow, red (1)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25])  # red, green, blue peaks
    return np.clip(1.5 - np.abs(4.0 * (v - centres)), 0.0, 1.0)


def overlay(face: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Blend a mask, stretched to its own range, over a grey face.

    Args:
        face: ``(H, W)`` uint8 grey.
        mask: ``(h, w)`` float; upsampled to ``(H, W)`` by nearest neighbour, so its coarse
            resolution stays visible (a 2 x 2 map shows as four blocks).

    Returns:
        ``(H, W, 3)`` uint8 picture, and the mask's minimum and maximum (what blue and red mean).
    """
    rows = np.arange(face.shape[0]) * mask.shape[0] // face.shape[0]
    cols = np.arange(face.shape[1]) * mask.shape[1] // face.shape[1]
    big = mask[np.ix_(rows, cols)].astype(np.float64)
    low, high = float(mask.min()), float(mask.max())
    stretched = (big - low) / (high - low) if high > low else np.zeros_like(big)
    grey = grey_to_rgb(face).astype(np.float64) / 255.0
    blended = (1.0 - _ALPHA) * grey + _ALPHA * heat(stretched)
    return np.round(255.0 * blended).astype(np.uint8), low, high


def attention_section(entries: Sequence[tuple[str, Sequence[AttentionClip]]]) -> str:
    """The HTML section: per model entry, per clip, the apex frame and each block's mask over it.

    Args:
        entries: ``(entry name, its clips' masks)`` in display order.
    """
    parts = ["<h2 id=\"attention\">Micro-attention maps</h2>",
             "<p class=\"muted\">For every trained model entry whose network exposes attention. "
             "Each clip's masks come from the fold model that held its subject out (post-hoc, as "
             "the paper's figures). Each block's mask is stretched to its own range (blue: its "
             "minimum, red: its maximum, both given) and shown at its own resolution over the "
             "aligned apex frame; the masks multiply the residual features by 1 + M, so M near 0 "
             "everywhere still passes them.</p>"]
    for model, clips in entries:
        parts.append(f"<h3>Model entry <code>{esc(model)}</code></h3>")
        if not clips:
            parts.append("<p class=\"muted\">No attention maps.</p>")
        for c in clips:
            parts.append(_clip_row(c))
    return "\n".join(parts)


def _clip_row(c: AttentionClip) -> str:
    """One clip's caption, apex frame and masks."""
    caption = f"{c.dataset}/{c.subject}/{c.clip}: {c.label or 'unlabelled'}; fold {c.fold}"
    pictures = [figure(png_bytes(grey_to_rgb(c.apex)), "apex frame", "px")]
    for index, mask in enumerate(c.masks, start=1):
        picture, low, high = overlay(c.apex, mask)
        pictures.append(figure(png_bytes(picture), f"block {index}: {mask.shape[0]} x "
                               f"{mask.shape[1]}, M {low:.2f}..{high:.2f}", "px"))
    return f"<h4>{esc(c.dataset)}/{esc(c.clip)}</h4><p>{esc(caption)}</p>" + "".join(pictures)
