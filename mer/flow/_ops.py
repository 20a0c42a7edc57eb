"""Batched image operations for TV-L1, following OpenCV's conventions (private module).

All functions take (B, C, H, W) float tensors and keep the device and dtype of their input.
Pixel (i, j) has its centre at x = j, y = i.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


def _linear_taps(
    n_in: int, n_out: int, inv_scale: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices and weights of 1-D linear interpolation, OpenCV ``resize`` INTER_LINEAR style.

    Output sample ``d`` reads input position ``(d + 0.5) * inv_scale - 0.5``, clamped to the
    image (border replicate).
    """
    pos = (torch.arange(n_out, device=device, dtype=torch.float64) + 0.5) * inv_scale - 0.5
    pos = pos.clamp(0.0, n_in - 1)
    i0 = pos.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    w1 = (pos - i0).to(torch.float32)
    return i0, i1, w1


def resize_linear(x: torch.Tensor, size: tuple[int, int], inv_scale: tuple[float, float]) -> torch.Tensor:
    """Separable bilinear resize of (B, C, H, W) to ``size`` = (h, w).

    ``inv_scale`` = (sy, sx) is the input step per output pixel. OpenCV uses 1 / fx when it is given
    a scale factor (``resize(src, dst, Size(), fx, fy)``) and in / out when it is given a size; the
    caller passes whichever it means.
    """
    h, w = size
    _, _, hin, win = x.shape
    i0, i1, wy = _linear_taps(hin, h, inv_scale[0], x.device)
    j0, j1, wx = _linear_taps(win, w, inv_scale[1], x.device)
    wy = wy.to(x.dtype).view(1, 1, h, 1)
    wx = wx.to(x.dtype).view(1, 1, 1, w)
    rows = torch.lerp(x.index_select(2, i0), x.index_select(2, i1), wy)
    return torch.lerp(rows.index_select(3, j0), rows.index_select(3, j1), wx)


def pyramid_size(h: int, w: int, scale: float) -> tuple[int, int]:
    """Size of the next pyramid level as OpenCV rounds it (nearest integer)."""
    return int(math.floor(h * scale + 0.5)), int(math.floor(w * scale + 0.5))


def centered_gradient(x: torch.Tensor) -> torch.Tensor:
    """Central differences (B, C, H, W) -> (B, C, 2, H, W), [..., 0] = d/dx, [..., 1] = d/dy.

    ``0.5 * (x[j+1] - x[j-1])`` with the border replicated, so at the first and last column the
    difference is one-sided and halved, as in OpenCV's TV-L1.
    """
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * 0.5
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * 0.5
    return torch.stack((gx, gy), dim=2)


def _keys_weights(t: torch.Tensor, a: float = -0.75) -> list[torch.Tensor]:
    """Cubic convolution weights (Keys, ``a`` = -0.75 as OpenCV) of taps -1, 0, 1, 2 at fraction t."""
    s = 1.0 - t
    w0 = ((a * (t + 1.0) - 5.0 * a) * (t + 1.0) + 8.0 * a) * (t + 1.0) - 4.0 * a
    w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    w2 = ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0
    w3 = 1.0 - w0 - w1 - w2
    return [w0, w1, w2, w3]


def remap_cubic(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample (B, C, H, W) at p + flow(p) with bicubic interpolation (Keys, a = -0.75).

    Taps outside the image read 0, as OpenCV's ``remap`` with its default BORDER_CONSTANT. At
    integer positions the result is exactly the input (zero flow changes nothing).

    The image is padded with 4 zeros on every side and the integer part of the position clamped
    to [-3, size + 1], where all four taps read the padding whether clamped or not; so no tap
    needs a validity mask, and each of the four rows of taps is one gather of four neighbouring
    columns (1.3-1.8x faster than 16 masked gathers on CPU).

    Args:
        x: (B, C, H, W) images.
        flow: (B, 2, H, W) displacement in pixels, channel 0 = x, 1 = y.
    """
    b, c, h, w = x.shape
    wp = w + 8
    ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1)
    xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w)
    px = xs + flow[:, 0]
    py = ys + flow[:, 1]
    fx = px.floor()
    fy = py.floor()
    wx = torch.stack(_keys_weights(px - fx), dim=1).view(b, 1, 4, h * w)
    wy = _keys_weights(py - fy)
    # tap (i, j) = (fy - 1 + i, fx - 1 + j) sits at padded (fy + 3 + i, fx + 3 + j)
    ix = fx.clamp(-3.0, w + 1.0).long() + 3
    iy = fy.clamp(-3.0, h + 1.0).long() + 3
    base = (iy * wp + ix).view(b, 1, 1, h * w)
    cols = torch.arange(4, device=x.device).view(1, 1, 4, 1)
    flat = F.pad(x, (4, 4, 4, 4)).reshape(b, c, (h + 8) * wp)
    out = torch.zeros((b, c, h * w), dtype=x.dtype, device=x.device)
    for i in range(4):
        index = (base + (cols + i * wp)).view(b, 1, 4 * h * w).expand(b, c, 4 * h * w)
        taps = flat.gather(2, index).view(b, c, 4, h * w)
        out.addcmul_((taps * wx).sum(dim=2), wy[i].view(b, 1, h * w))
    return out.view(b, c, h, w)


def _batcher_pairs(size: int, block: int = 1) -> list[tuple[int, int]]:
    """Comparators (i, j), i < j, of Batcher's odd-even merge sort of ``size`` wires (a power of
    two), without those that sort aligned blocks of ``block`` wires (given already sorted)."""
    pairs: list[tuple[int, int]] = []

    def merge(lo: int, hi: int, r: int) -> None:
        step = r * 2
        if step < hi - lo:
            merge(lo, hi, step)
            merge(lo + r, hi, step)
            pairs.extend((i, i + r) for i in range(lo + r, hi - r, step))
        else:
            pairs.append((lo, lo + r))

    def sort(lo: int, hi: int) -> None:
        if hi - lo + 1 > block:
            mid = lo + (hi - lo) // 2
            sort(lo, mid)
            sort(mid + 1, hi)
            merge(lo, hi, 1)

    sort(0, size - 1)
    return pairs


def _pruned_network(
    layout: list[int | None], pairs: list[tuple[int, int]], outputs: list[int]
) -> tuple[tuple[tuple[int, str, int, int], ...], list[int]]:
    """The min/max operations of a comparator network that the values on wires ``outputs``
    depend on.

    ``layout[w]`` is the input node on wire ``w`` (inputs are nodes ``0..n-1``), or None for
    +inf; comparators with an infinite operand are simplified away. Returns ``(ops, outs)``:
    ``ops`` are ``(node, "min" | "max", a, b)`` in evaluation order, ``outs`` the nodes left on
    the ``outputs`` wires.
    """
    inf = -1
    n = sum(x is not None for x in layout)
    nodes: list[tuple[str, int, int]] = [("in", i, i) for i in range(n)]
    wires = [inf if x is None else x for x in layout]
    for i, j in pairs:
        a, b = wires[i], wires[j]
        if b == inf:  # min(a, inf) = a stays on wire i
            continue
        if a == inf:  # the finite value moves down, inf up
            wires[i], wires[j] = b, inf
            continue
        nodes.append(("min", a, b))
        nodes.append(("max", a, b))
        wires[i], wires[j] = len(nodes) - 2, len(nodes) - 1
    outs = [wires[w] for w in outputs]
    needed: set[int] = set()
    stack = list(outs)
    while stack:
        node = stack.pop()
        if node not in needed:
            needed.add(node)
            op, a, b = nodes[node]
            if op != "in":
                stack.extend((a, b))
    ops = tuple((x, *nodes[x]) for x in sorted(needed) if nodes[x][0] != "in")
    return ops, outs


def _pow2(n: int) -> int:
    """Smallest power of two >= n."""
    size = 1
    while size < n:
        size *= 2
    return size


@functools.cache
def _selection_network(k: int, n: int) -> tuple[tuple[tuple[int, str, int, int], ...], int]:
    """The min/max operations of Batcher's odd-even merge sort of ``n`` values that the
    ``k``-th smallest depends on.

    Wires beyond ``n`` (up to the next power of two) hold +inf and are simplified away, as is
    every comparator the output does not depend on. Returns ``(ops, out)``: ``ops`` are
    ``(node, "min" | "max", a, b)`` in evaluation order, nodes ``0..n-1`` being the inputs.
    """
    size = _pow2(n)
    layout: list[int | None] = [*range(n), *([None] * (size - n))]
    ops, outs = _pruned_network(layout, _batcher_pairs(size), [k])
    return ops, outs[0]


def median_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Median over a ``size`` x ``size`` window with the border replicated (as cv2.medianBlur).

    (B, C, H, W) -> (B, C, H, W), exact. Evaluated as a pruned sorting network of elementwise
    minima and maxima over shifted views, several times faster on CPU than ``Tensor.median`` over
    unfolded windows.
    """
    r = size // 2
    b, c, h, w = x.shape
    p = F.pad(x.reshape(b * c, 1, h, w), (r, r, r, r), mode="replicate").view(b, c, h + 2 * r, w + 2 * r)
    n = size * size
    ops, out = _selection_network(n // 2, n)
    values: dict[int, torch.Tensor] = {}
    for dy in range(size):
        for dx in range(size):
            values[dy * size + dx] = p[:, :, dy : dy + h, dx : dx + w]
    last_use: dict[int, int] = {}
    for step, (_, _, a, bb) in enumerate(ops):
        last_use[a] = step
        last_use[bb] = step
    for step, (node, op, a, bb) in enumerate(ops):
        fn = torch.minimum if op == "min" else torch.maximum
        values[node] = fn(values[a], values[bb])
        for src in (a, bb):
            if last_use[src] == step and src != out:
                del values[src]
    return values[out].contiguous()
