"""Augmentation: mirroring negates u, translation moves content, draws are seeded."""

from __future__ import annotations

import numpy as np
import torch

from mer.training.augment import augment, hflip, shift


def _inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"flow": torch.randn(3, 3, 6, 5, generator=generator),
            "apex": torch.rand(3, 1, 6, 5, generator=generator)}


def test_hflip_mirrors_and_negates_u_only_where_asked() -> None:
    inputs = _inputs()
    out = hflip(inputs, np.array([True, False, True]))
    flow, mirrored = inputs["flow"], out["flow"]
    assert torch.equal(mirrored[0, 0], -flow[0, 0].flip(-1))  # u: mirrored and negated
    assert torch.equal(mirrored[0, 1:], flow[0, 1:].flip(-1))  # v and strain: mirrored only
    assert torch.equal(out["apex"][2], inputs["apex"][2].flip(-1))
    assert torch.equal(mirrored[1], flow[1]) and torch.equal(out["apex"][1], inputs["apex"][1])


def test_hflip_twice_is_the_identity() -> None:
    inputs = _inputs()
    mask = np.array([True, True, False])
    twice = hflip(hflip(inputs, mask), mask)
    assert all(torch.equal(twice[k], inputs[k]) for k in inputs)


def test_shift_moves_content_down_right_and_replicates_edges() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = shift({"apex": x}, np.array([[1, 2]]))["apex"][0, 0]
    assert torch.equal(out[1:, 2:], x[0, 0, :3, :2])
    assert torch.equal(out[0], out[1])  # top row replicated
    assert torch.equal(out[:, 0], out[:, 2])  # left columns replicated


def test_augment_is_seeded_and_off_is_the_identity() -> None:
    inputs = _inputs()
    a, mirrored = augment(inputs, np.random.default_rng(3), flip=True, max_shift=0.2)
    b, again = augment(inputs, np.random.default_rng(3), flip=True, max_shift=0.2)
    assert all(torch.equal(a[k], b[k]) for k in inputs) and (mirrored == again).all()
    assert any(not torch.equal(a[k], inputs[k]) for k in inputs)
    off, _ = augment(inputs, np.random.default_rng(3), flip=False, max_shift=0.0)
    assert all(torch.equal(off[k], inputs[k]) for k in inputs)
