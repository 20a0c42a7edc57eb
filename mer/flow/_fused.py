"""Fused CPU kernels of TV-L1 (numba), one pair per call, the same scheme as :mod:`mer.flow.tvl1`.

The eager torch solver runs about fifteen separate ops over the whole state per primal-dual
iteration; here the whole coarse-to-fine solve of one pair (pyramid, bicubic warp, iterations with
the convergence test, median filter, resizing the flow between levels) is one compiled function
over float32 arrays that stay in one core's cache. One iteration is one pass over the rows: row
``i`` of ``u`` is updated, then row ``i - 1`` of the dual variable (which needs the new ``u`` of
rows ``i - 1`` and ``i``, while row ``i``'s update read its old value). The arithmetic is the
eager solver's, in float32 and in the same order up to the association of a few sums, so both
give the same flow up to rounding (tests/flow/test_fused.py states the tolerance).

The functions are compiled on their first call with ``cache=True``: numba keeps the machine code
on disk (``NUMBA_CACHE_DIR``, which the Makefile sets to ``.cache/numba``; without it, the
``__pycache__`` folder beside this file), so later processes load it instead of compiling. They
release the GIL, so the pairs of a batch run on Python threads (:func:`solve_batch`).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from mer.flow._ops import _batcher_pairs, _pow2, _pruned_network, pyramid_size
from mer.flow.params import TVL1Params

__all__ = ["solve_batch"]

_F32 = np.float32
_FLT_EPSILON = _F32(np.finfo(np.float32).eps)
_KEYS_A = _F32(-0.75)
_ONE = _F32(1.0)
_HALF = _F32(0.5)


def _register_program(
    ops: tuple[tuple[int, str, int, int], ...], n_inputs: int, outs: list[int]
) -> tuple[np.ndarray, list[int], int]:
    """Min/max operations over numbered row buffers ("slots"), a slot reused once its value has
    been read for the last time. Inputs are in slots ``0..n_inputs-1``.

    Returns ``(program, out_slots, n_slots)``: ``program`` is (n, 4) int64 rows
    ``(is_max, a, b, dst)``.
    """
    last_use: dict[int, int] = {}
    for step, (_, _, a, b) in enumerate(ops):
        last_use[a] = step
        last_use[b] = step
    slot = {k: k for k in range(n_inputs)}
    free: list[int] = []
    top = n_inputs
    rows = []
    for step, (node, op, a, b) in enumerate(ops):
        sa, sb = slot[a], slot[b]
        if free:  # never a slot read by this operation: overlapping rows defeat vectorisation
            dst = free.pop()
        else:
            dst, top = top, top + 1
        slot[node] = dst
        for src in (a, b):
            if last_use[src] == step and src not in outs and src in slot:
                free.append(slot.pop(src))
        rows.append((int(op == "max"), sa, sb, dst))
    return np.array(rows, dtype=np.int64).reshape(-1, 4), [slot[o] for o in outs], top


@functools.cache
def _median_programs(size: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, int, int]:
    """The ``size`` x ``size`` median as two register programs over rows.

    First each column of ``size`` values is sorted (shared by the ``size`` windows that contain
    it); then the median of the ``size`` sorted columns of a window is selected by Batcher's
    odd-even merges of the sorted columns, pruned to the operations the median depends on (152
    min/max per pixel for 5 x 5 instead of 202 for the unsorted 25 values).

    Returns ``(sort_program, sorted_slots, sort_slots, merge_program, median_slot, merge_slots)``;
    the merge program's input slot ``c * size + r`` is rank ``r`` of column ``c``.
    """
    block = _pow2(size)
    layout: list[int | None] = [*range(size), *([None] * (block - size))]
    ops, outs = _pruned_network(layout, _batcher_pairs(block), list(range(size)))
    sort_program, sorted_slots, sort_slots = _register_program(ops, size, outs)
    n = size * size
    layout = [c * size + r if r < size and c < size else None for c in range(block) for r in range(block)]
    ops, outs = _pruned_network(layout, _batcher_pairs(block * block, block), [n // 2])
    merge_program, median_slots, merge_slots = _register_program(ops, n, outs)
    return (sort_program, np.array(sorted_slots, dtype=np.int64), sort_slots, merge_program,
            median_slots[0], merge_slots)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _linear_taps(k: int, inv_scale: float, n_in: int) -> tuple[int, int, np.float32]:
    """Source indices and weight of output sample ``k`` (OpenCV INTER_LINEAR, edges clamped)."""
    pos = min(max((k + 0.5) * inv_scale - 0.5, 0.0), n_in - 1.0)
    k0 = min(int(np.floor(pos)), n_in - 1)
    return k0, min(k0 + 1, n_in - 1), np.float32(pos - k0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _resize_linear(src: np.ndarray, h: int, w: int, inv_y: float, inv_x: float) -> np.ndarray:
    """Bilinear resize of (H, W) to (h, w), OpenCV INTER_LINEAR taps (as ``_ops.resize_linear``)."""
    hin, win = src.shape
    rows = np.empty((h, win), dtype=np.float32)
    for i in range(h):
        i0, i1, wt = _linear_taps(i, inv_y, hin)
        for j in range(win):
            rows[i, j] = _lerp(src[i0, j], src[i1, j], wt)
    out = np.empty((h, w), dtype=np.float32)
    for j in range(w):
        j0, j1, wt = _linear_taps(j, inv_x, win)
        for i in range(h):
            out[i, j] = _lerp(rows[i, j0], rows[i, j1], wt)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _lerp(a: np.float32, b: np.float32, wt: np.float32) -> np.float32:
    """torch.lerp's formula: a + wt * (b - a), or b - (b - a) * (1 - wt) for wt >= 0.5."""
    if abs(wt) < _HALF:
        return a + wt * (b - a)
    return b - (b - a) * (_ONE - wt)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _centered_gradient(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences with the border replicated: (d/dx, d/dy), each (H, W)."""
    h, w = img.shape
    gx = np.empty((h, w), dtype=np.float32)
    gy = np.empty((h, w), dtype=np.float32)
    for i in range(h):
        up, down = max(i - 1, 0), min(i + 1, h - 1)
        for j in range(w):
            gx[i, j] = (img[i, min(j + 1, w - 1)] - img[i, max(j - 1, 0)]) * _HALF
            gy[i, j] = (img[down, j] - img[up, j]) * _HALF
    return gx, gy


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _keys(t: np.float32) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    """Cubic convolution weights (Keys, a = -0.75) of taps -1, 0, 1, 2 at fraction ``t``."""
    a = _KEYS_A
    s = _ONE - t
    t1 = t + _ONE
    w0 = ((a * t1 - np.float32(5.0) * a) * t1 + np.float32(8.0) * a) * t1 - np.float32(4.0) * a
    w1 = ((a + np.float32(2.0)) * t - (a + np.float32(3.0))) * t * t + _ONE
    w2 = ((a + np.float32(2.0)) * s - (a + np.float32(3.0))) * s * s + _ONE
    return w0, w1, w2, _ONE - w0 - w1 - w2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _warp_setup(
    i0: np.ndarray, i1: np.ndarray, gx1: np.ndarray, gy1: np.ndarray, u0: np.ndarray, u1: np.ndarray,
    gx: np.ndarray, gy: np.ndarray, rho_c: np.ndarray, neg_inv: np.ndarray,
) -> None:
    """Frame 1 and its gradient sampled bicubically at p + u (0 outside), and the data-term constants."""
    h, w = i0.shape
    for i in range(h):
        for j in range(w):
            px = np.float32(j) + u0[i, j]
            py = np.float32(i) + u1[i, j]
            fx = np.floor(px)
            fy = np.floor(py)
            wx = _keys(px - fx)
            wy = _keys(py - fy)
            x0 = int(fx) - 1
            y0 = int(fy) - 1
            v = np.float32(0.0)
            vx = np.float32(0.0)
            vy = np.float32(0.0)
            for r in range(4):
                y = y0 + r
                if y < 0 or y >= h:
                    continue
                sv = np.float32(0.0)
                sx = np.float32(0.0)
                sy = np.float32(0.0)
                for c in range(4):
                    x = x0 + c
                    if 0 <= x < w:
                        sv += i1[y, x] * wx[c]
                        sx += gx1[y, x] * wx[c]
                        sy += gy1[y, x] * wx[c]
                v += sv * wy[r]
                vx += sx * wy[r]
                vy += sy * wy[r]
            gx[i, j] = vx
            gy[i, j] = vy
            sq = vx * vx + vy * vy
            rho_c[i, j] = v - (vx * u0[i, j] + vy * u1[i, j]) - i0[i, j]
            neg_inv[i, j] = -_ONE / sq if sq > _FLT_EPSILON else np.float32(0.0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _run_program(program: np.ndarray, slots: np.ndarray) -> None:
    """Apply min/max rows ``(is_max, a, b, dst)`` elementwise over the row buffers ``slots``.

    Rows are indexed, not sliced: a slice is a reference-counted view, whose atomic counting
    cost more than the arithmetic here.
    """
    w = slots.shape[1]
    for k in range(program.shape[0]):
        a, b, dst = program[k, 1], program[k, 2], program[k, 3]
        if program[k, 0] == 1:
            for j in range(w):
                slots[dst, j] = max(slots[a, j], slots[b, j])
        else:
            for j in range(w):
                slots[dst, j] = min(slots[a, j], slots[b, j])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _median(
    u: np.ndarray, size: int, sort_program: np.ndarray, sorted_slots: np.ndarray, sort_slots: int,
    merge_program: np.ndarray, median_slot: int, merge_slots: int,
) -> None:
    """Median over ``size`` x ``size`` windows of (H, W) ``u``, border replicated, in place
    (the programs of :func:`_median_programs`)."""
    h, w = u.shape
    r = size // 2
    wp = w + 2 * r
    pad = np.empty((h + 2 * r, wp), dtype=np.float32)
    for i in range(h + 2 * r):
        si = min(max(i - r, 0), h - 1)
        for j in range(wp):
            pad[i, j] = u[si, min(max(j - r, 0), w - 1)]
    cols = np.empty((sort_slots, wp), dtype=np.float32)
    slots = np.empty((merge_slots, w), dtype=np.float32)
    for i in range(h):
        for dy in range(size):
            for j in range(wp):
                cols[dy, j] = pad[i + dy, j]
        _run_program(sort_program, cols)
        for c in range(size):
            for rank in range(size):
                src = sorted_slots[rank]
                for j in range(w):
                    slots[c * size + rank, j] = cols[src, c + j]
        _run_program(merge_program, slots)
        for j in range(w):
            u[i, j] = slots[median_slot, j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _dual_row(
    r: int, u: np.ndarray, px: np.ndarray, py: np.ndarray, dx: np.ndarray, dy: np.ndarray,
    tau: np.float32, taut: np.float32,
) -> None:
    """Dual update of row ``r`` of one flow component (``px``, ``py`` = theta * p) from the
    forward differences of the new ``u`` (rows ``r`` and ``r + 1``): 0 on the last column and
    row. ``dx``, ``dy`` are scratch rows.

    Loops touch few arrays each so that LLVM vectorises them (its alias checks are bounded), and
    rows are indexed, not sliced (a slice is a view with atomic reference counting).
    """
    h, w = u.shape
    for j in range(w - 1):
        dx[j] = u[r, j + 1] - u[r, j]
    dx[w - 1] = 0.0
    if r < h - 1:
        for j in range(w):
            dy[j] = u[r + 1, j] - u[r, j]
    else:
        dy[:] = 0.0
    for j in range(w):
        norm = np.sqrt(dx[j] * dx[j] + dy[j] * dy[j]) * taut + _ONE
        px[r, j] = (px[r, j] + tau * dx[j]) / norm
        py[r, j] = (py[r, j] + tau * dy[j]) / norm


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _iteration(
    u0: np.ndarray, u1: np.ndarray, p00: np.ndarray, p01: np.ndarray, p10: np.ndarray,
    p11: np.ndarray, gx: np.ndarray, gy: np.ndarray, rho_c: np.ndarray, neg_inv: np.ndarray,
    acc: np.ndarray, dx: np.ndarray, dy: np.ndarray, lt: np.float32, tau: np.float32,
    taut: np.float32,
) -> float:
    """One primal-dual iteration in place (``p..`` hold theta * p); returns ||u_new - u_old||.

    Per row ``i``: the thresholding step and ``u += (v - u) + theta * div(p)`` (backward
    differences of the old ``p``, 0 before the first row/column), then the dual update of row
    ``i - 1``, whose old value row ``i`` has just read. ``acc``, ``dx``, ``dy`` are scratch rows.
    """
    h, w = u0.shape
    acc[:] = 0.0
    for i in range(h):
        for j in range(w):
            rho = rho_c[i, j] + gx[i, j] * u0[i, j] + gy[i, j] * u1[i, j]
            f = min(max(rho * neg_inv[i, j], -lt), lt)
            s0 = p00[i, j] + p01[i, j] + gx[i, j] * f
            s1 = p10[i, j] + p11[i, j] + gy[i, j] * f
            if j > 0:
                s0 -= p00[i, j - 1]
                s1 -= p10[i, j - 1]
            if i > 0:
                s0 -= p01[i - 1, j]
                s1 -= p11[i - 1, j]
            u0[i, j] += s0
            u1[i, j] += s1
            acc[j] += s0 * s0 + s1 * s1
        if i > 0:
            _dual_row(i - 1, u0, p00, p01, dx, dy, tau, taut)
            _dual_row(i - 1, u1, p10, p11, dx, dy, tau, taut)
    _dual_row(h - 1, u0, p00, p01, dx, dy, tau, taut)
    _dual_row(h - 1, u1, p10, p11, dx, dy, tau, taut)
    total = 0.0
    for j in range(w):
        total += acc[j]
    return np.sqrt(total)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_level(
    i0: np.ndarray, i1: np.ndarray, u0: np.ndarray, u1: np.ndarray, tau: float, lambda_: float,
    theta: float, warps: int, epsilon: float, inner: int, outer: int, median: int,
    med: tuple,
) -> None:
    """Warps and primal-dual iterations at one level; updates ``u0``, ``u1`` (H, W) in place."""
    h, w = i0.shape
    stop = epsilon * np.sqrt(h * w)
    lt = np.float32(lambda_ * theta)
    taut = np.float32(tau / theta)
    tau32 = np.float32(tau)
    gx1, gy1 = _centered_gradient(i1)
    p00 = np.zeros((h, w), dtype=np.float32)
    p01 = np.zeros((h, w), dtype=np.float32)
    p10 = np.zeros((h, w), dtype=np.float32)
    p11 = np.zeros((h, w), dtype=np.float32)
    gx = np.empty((h, w), dtype=np.float32)
    gy = np.empty((h, w), dtype=np.float32)
    rho_c = np.empty((h, w), dtype=np.float32)
    neg_inv = np.empty((h, w), dtype=np.float32)
    acc = np.empty(w, dtype=np.float32)
    dx = np.empty(w, dtype=np.float32)
    dy = np.empty(w, dtype=np.float32)
    for _ in range(warps):
        _warp_setup(i0, i1, gx1, gy1, u0, u1, gx, gy, rho_c, neg_inv)
        done = False
        for _ in range(outer):
            if median > 1:
                _median(u0, median, *med)
                _median(u1, median, *med)
            for _ in range(inner):
                err = _iteration(u0, u1, p00, p01, p10, p11, gx, gy, rho_c, neg_inv, acc, dx, dy,
                                 lt, tau32, taut)
                if err <= stop:
                    done = True
                    break
            if done:
                break


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_pair(
    i0: np.ndarray, i1: np.ndarray, init: np.ndarray, has_init: bool, hs: np.ndarray, ws: np.ndarray,
    scale_step: float, tau: float, lambda_: float, theta: float, warps: int, epsilon: float,
    inner: int, outer: int, median: int, med: tuple, out: np.ndarray,
) -> None:
    """Coarse-to-fine TV-L1 of one pair: (H, W) frames on 0..255 -> ``out`` (2, H, W) in pixels."""
    levels = hs.shape[0]
    inv = 1.0 / scale_step
    size = 0
    for k in range(levels):
        size += hs[k] * ws[k]
    buf0 = np.empty(size, dtype=np.float32)
    buf1 = np.empty(size, dtype=np.float32)
    offsets = np.zeros(levels + 1, dtype=np.int64)
    h, w = hs[0], ws[0]
    buf0[: h * w] = i0.ravel()
    buf1[: h * w] = i1.ravel()
    offsets[1] = h * w
    c0 = init[0].copy()
    c1 = init[1].copy()
    for k in range(1, levels):
        ph, pw = hs[k - 1], ws[k - 1]
        h, w = hs[k], ws[k]
        prev0 = buf0[offsets[k - 1] : offsets[k]].reshape(ph, pw)
        prev1 = buf1[offsets[k - 1] : offsets[k]].reshape(ph, pw)
        offsets[k + 1] = offsets[k] + h * w
        buf0[offsets[k] : offsets[k + 1]] = _resize_linear(prev0, h, w, inv, inv).ravel()
        buf1[offsets[k] : offsets[k + 1]] = _resize_linear(prev1, h, w, inv, inv).ravel()
        if has_init:
            c0 = _resize_linear(c0, h, w, inv, inv) * np.float32(scale_step)
            c1 = _resize_linear(c1, h, w, inv, inv) * np.float32(scale_step)
    if not has_init:
        c0 = np.zeros((hs[levels - 1], ws[levels - 1]), dtype=np.float32)
        c1 = np.zeros((hs[levels - 1], ws[levels - 1]), dtype=np.float32)
    up = np.float32(1.0 / scale_step)
    for k in range(levels - 1, -1, -1):
        h, w = hs[k], ws[k]
        f0 = buf0[offsets[k] : offsets[k + 1]].reshape(h, w)
        f1 = buf1[offsets[k] : offsets[k + 1]].reshape(h, w)
        _solve_level(f0, f1, c0, c1, tau, lambda_, theta, warps, epsilon, inner, outer, median,
                     med)
        if k > 0:
            hn, wn = hs[k - 1], ws[k - 1]
            c0 = _resize_linear(c0, hn, wn, h / hn, w / wn) * up
            c1 = _resize_linear(c1, hn, wn, h / hn, w / wn) * up
    out[0] = c0
    out[1] = c1


def _levels(h: int, w: int, p: TVL1Params, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Heights and widths of the pyramid levels, finest first (levels under ``min_size`` dropped)."""
    hs, ws = [h], [w]
    for _ in range(1, p.nscales):
        nh, nw = pyramid_size(hs[-1], ws[-1], p.scale_step)
        if nh < min_size or nw < min_size:
            break
        hs.append(nh)
        ws.append(nw)
    return np.array(hs, dtype=np.int64), np.array(ws, dtype=np.int64)


def solve_batch(
    i0: np.ndarray, i1: np.ndarray, init: np.ndarray | None, p: TVL1Params, min_size: int, threads: int
) -> np.ndarray:
    """TV-L1 of each pair of a batch on up to ``threads`` threads.

    Args:
        i0: (B, H, W) float32 frames on the 0..255 scale, checked by the caller.
        i1: same shape.
        init: optional (B, 2, H, W) float32 initial flow at full resolution.
        p: solver parameters.
        min_size: smallest pyramid level kept (height and width).
        threads: pairs solved at once (each pair on one thread).

    Returns:
        (B, 2, H, W) float32 flow in pixels.
    """
    b, h, w = i0.shape
    hs, ws = _levels(h, w, p, min_size)
    size = max(p.median_filtering, 1)
    med = _median_programs(size if size > 1 else 3)  # unused without a median filter
    out = np.empty((b, 2, h, w), dtype=np.float32)
    zero = np.zeros((2, 1, 1), dtype=np.float32)
    f0 = np.ascontiguousarray(i0, dtype=np.float32)
    f1 = np.ascontiguousarray(i1, dtype=np.float32)
    start = None if init is None else np.ascontiguousarray(init, dtype=np.float32)

    def solve(k: int) -> None:
        _solve_pair(f0[k], f1[k], zero if start is None else start[k], start is not None, hs, ws,
                    p.scale_step, p.tau, p.lambda_, p.theta, p.warps, p.epsilon, p.inner_iterations,
                    p.outer_iterations, size, med, out[k])

    workers = max(1, min(threads, b))
    if workers == 1:
        for k in range(b):
            solve(k)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tvl1-fused") as pool:
            list(pool.map(solve, range(b)))
    return out


def kernels_state() -> str:
    """"loaded" when the kernels are compiled in this process, "cached" when numba's on-disk
    cache holds them for this source (loading takes about a second), else "cold" (compiling
    takes tens of seconds)."""
    if _solve_pair.signatures:
        return "loaded"
    cache = getattr(_solve_pair, "_cache", None)
    index = getattr(getattr(cache, "_cache_file", None), "_load_index", None)
    try:
        return "cached" if index is not None and index() else "cold"
    except Exception:  # noqa: BLE001 - an unreadable or foreign cache is a cold cache
        return "cold"


def warm_up() -> str:
    """Compile (or load from numba's disk cache) the kernels with a tiny pair; returns the
    state found before (see :func:`kernels_state`). ``make setup`` calls it, so that the first
    flow stage finds them compiled."""
    state = kernels_state()
    frame = np.zeros((1, 16, 16), dtype=np.float32)
    tiny = TVL1Params(nscales=1, warps=1, inner_iterations=1, outer_iterations=1)
    solve_batch(frame, frame, None, tiny, 16, 1)
    return state
