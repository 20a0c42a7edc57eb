"""TV-L1 optical flow in PyTorch, batched over pairs, following OpenCV's ``DualTVL1OpticalFlow``.

The scheme is the duality-based TV-L1 of Zach, Pock and Bischof (2007) as written by Sanchez,
Meinhardt-Llopis and Facciolo ("TV-L1 Optical Flow Estimation", IPOL 2013), with OpenCV's
additions and choices, so that the same parameters give (nearly) the same flow as OpenCV:

* intensities on the 0..255 scale (float frames in [0, 1] are multiplied by 255);
* pyramid: each level is the previous one resized by ``scale_step`` with bilinear interpolation
  (no Gaussian pre-blur, unlike IPOL); levels under 16 px in height or width are dropped, so
  fewer than ``nscales`` levels may be used;
* per level the dual variables start at 0; per warp frame 1 and its central-difference gradient
  are sampled at p + u0(p) with bicubic interpolation (outside the image reads 0, as OpenCV's
  ``remap`` default);
* per warp, up to ``outer_iterations`` times: a ``median_filtering`` median filter of the flow,
  then up to ``inner_iterations`` primal-dual iterations; the warp ends as soon as the summed
  squared update of an iteration is <= epsilon^2 * (number of pixels);
* one iteration: rho = rho_c + grad(I1w) . u; v = u + TH(rho) (the thresholding step:
  lambda*theta*grad(I1w) if rho < -lambda*theta*|grad|^2, the opposite if
  rho > lambda*theta*|grad|^2, else -rho*grad(I1w)/|grad|^2); u = v + theta*div(p);
  p = (p + tau/theta*grad(u)) / (1 + tau/theta*|grad(u)|), with forward differences for grad(u)
  (0 on the last column/row) and the matching backward differences for div(p);
* the flow is resized to the next finer level (bilinear) and multiplied by 1 / scale_step.

Every pair of a batch runs its own iteration count: pairs whose warp has converged are taken out
of the batch (their state is frozen) until the next warp, so a pair's flow does not depend on the
other pairs in its batch.

Two implementations of the same scheme: the torch ops of this module ("eager": the reference,
and the path of CUDA tensors) and the compiled numba kernels of :mod:`mer.flow._fused` ("fused":
one pass over the rows per iteration, 6-7x faster on CPU), chosen by :func:`choose_backend`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import torch

from mer.flow._ops import centered_gradient, median_filter, pyramid_size, remap_cubic, resize_linear
from mer.flow.params import TVL1Params

__all__ = ["Backend", "tvl1_flow", "MIN_SIZE"]

#: "fused": the compiled CPU kernels of :mod:`mer.flow._fused`; "eager": the torch ops of this
#: module (the reference, and the only path for CUDA tensors); "auto": fused on CPU, eager
#: elsewhere. The choice depends on the device only, never on timing or on the state of numba's
#: cache, so a stage's output bytes do not depend on how warm the machine was.
Backend = Literal["auto", "fused", "eager"]

#: Smallest height and width accepted; also the smallest pyramid level OpenCV keeps.
MIN_SIZE = 16

#: Pairs solved together. Small chunks keep the working set (about 80 bytes a pixel) in the CPU
#: cache; results do not depend on it.
_CHUNK = 8

#: Held while a call has set torch's process-wide thread count to 1 (two calls in threads of one
#: process would otherwise restore each other's count).
_THREADS_LOCK = threading.Lock()

_FLT_EPSILON = float(np.finfo(np.float32).eps)


def tvl1_flow(
    frame0: torch.Tensor | np.ndarray,
    frame1: torch.Tensor | np.ndarray,
    params: TVL1Params | None = None,
    *,
    initial_flow: torch.Tensor | None = None,
    backend: Backend = "auto",
    **overrides: Any,
) -> torch.Tensor:
    """Dense TV-L1 optical flow from ``frame0`` to ``frame1`` for one pair or a batch of pairs.

    Args:
        frame0: (B, 1, H, W) or (H, W) grey frames: float in [0, 1], or uint8 (0..255). A numpy
            array is converted to a tensor. Computation runs on the device of the input, in
            float32.
        frame1: same shape as ``frame0``.
        params: a :class:`TVL1Params`; default OpenCV's defaults.
        initial_flow: optional start, (B, 2, H, W) or (2, H, W) float flow in pixels as returned
            (OpenCV's ``useInitialFlow``): it is resized down the pyramid (bilinear, times
            ``scale_step`` per level) and the coarsest level starts from it instead of zero.
        **overrides: fields of :class:`TVL1Params` to change (``tau``, ``lambda_``, ``theta``,
            ``nscales``, ``warps``, ``epsilon``, ``inner_iterations``, ``outer_iterations``,
            ``scale_step``, ``gamma``, ``median_filtering``).
        backend: "eager" runs the torch ops (any device); "fused" the compiled CPU kernels of
            numba (CPU tensors only; compiled on first use, about a minute, then cached on disk:
            `make setup` compiles them once, a later process loads them in 1.5-3 s); "auto"
            (the default) is fused on CPU and eager on CUDA. Both give the same flow up to
            float32 rounding.

    Returns:
        float32 flow in pixels, (B, 2, H, W) or (2, H, W) for (H, W) input: channel 0 is the x
        (column) displacement, channel 1 the y (row) displacement, with OpenCV's convention
        ``frame1(p + flow(p)) ~ frame0(p)``.

    Raises:
        ValueError: mismatched shapes, a frame under 16 x 16 pixels, NaN or infinite values,
            float values outside [0, 1], an unsupported dtype, bad parameters, an unknown
            backend, or backend "fused" for frames not on the CPU.
    """
    p = params if params is not None else TVL1Params()
    if overrides:
        p = p.replace(**overrides)
    i0, squeeze = _as_batch(frame0, "frame0")
    i1, _ = _as_batch(frame1, "frame1")
    if i0.shape != i1.shape:
        raise ValueError(
            f"tvl1_flow: frame0 and frame1 must have the same shape, got {tuple(frame0.shape)} "
            f"and {tuple(frame1.shape)}"
        )
    if i0.device != i1.device:
        raise ValueError(f"tvl1_flow: frames on different devices ({i0.device}, {i1.device})")
    init = _initial_flow(initial_flow, i0)
    if choose_backend(backend, i0.device) == "fused":
        flow = _run_fused(i0, i1, p, init)
    else:
        flow = _run_chunks(i0, i1, p, init)
    return flow[0] if squeeze else flow


def choose_backend(backend: str, device: torch.device) -> Literal["fused", "eager"]:
    """The solver a :func:`tvl1_flow` call runs (see its ``backend`` argument).

    Raises:
        ValueError: an unknown backend, or "fused" for frames not on the CPU.
    """
    if backend not in ("auto", "fused", "eager"):
        raise ValueError(f"tvl1_flow: backend must be 'auto', 'fused' or 'eager', got {backend!r}")
    if device.type != "cpu":
        if backend == "fused":
            raise ValueError(f"tvl1_flow: the fused backend runs on the CPU; frames on {device} need "
                             "backend 'eager' or 'auto'")
        return "eager"
    return "fused" if backend == "auto" else backend  # type: ignore[return-value]


def _run_fused(i0: torch.Tensor, i1: torch.Tensor, p: TVL1Params, init: torch.Tensor | None) -> torch.Tensor:
    """The compiled kernels on checked (B, 1, H, W) CPU frames, one pair per thread."""
    from mer.flow import _fused

    start = None if init is None else init.detach().numpy()
    frames0, frames1 = i0[:, 0].detach().numpy(), i1[:, 0].detach().numpy()
    flow = _fused.solve_batch(frames0, frames1, start, p, MIN_SIZE, torch.get_num_threads())
    return torch.from_numpy(flow)


def _initial_flow(flow: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """Check an initial flow against the (B, 1, H, W) frames and return it as (B, 2, H, W) float32."""
    if flow is None:
        return None
    b, _, h, w = like.shape
    init = flow[None] if flow.ndim == 3 else flow
    if tuple(init.shape) != (b, 2, h, w):
        raise ValueError(
            f"tvl1_flow: initial_flow must be {(b, 2, h, w)} (or {(2, h, w)} for one pair), got "
            f"{tuple(flow.shape)}"
        )
    if init.device != like.device:
        raise ValueError(f"tvl1_flow: initial_flow is on {init.device}, the frames on {like.device}")
    init = init.to(torch.float32)
    if not bool(torch.isfinite(init).all()):
        raise ValueError("tvl1_flow: initial_flow has NaN or infinite values")
    return init


def _run_chunks(
    i0: torch.Tensor, i1: torch.Tensor, p: TVL1Params, init: torch.Tensor | None
) -> torch.Tensor:
    """Solve the batch in chunks of at most ``_CHUNK`` pairs, at least one chunk per CPU thread.

    On CPU the torch ops run single-threaded (the process-wide thread count is set to 1 for the
    duration of the call, under :data:`_THREADS_LOCK`, and then restored) and the chunks run on up to ``torch.get_num_threads()`` Python threads
    (torch releases the GIL inside ops): this keeps each chunk in one core's cache and avoids the
    synchronisation of intra-op parallelism on small tensors, which on a busy machine made one
    large pair several times slower than on one thread.
    """
    threads = torch.get_num_threads()
    chunk = min(_CHUNK, -(-i0.shape[0] // threads)) if i0.device.type == "cpu" else _CHUNK
    starts = range(0, i0.shape[0], chunk)

    def solve(s: int) -> torch.Tensor:
        with torch.no_grad():
            start = init[s : s + chunk] if init is not None else None
            return _tvl1(i0[s : s + chunk], i1[s : s + chunk], p, start)

    if i0.device.type != "cpu":
        return torch.cat([solve(s) for s in starts])
    workers = min(threads, len(starts))
    with _THREADS_LOCK:
        torch.set_num_threads(1)
        try:
            if workers <= 1:
                return torch.cat([solve(s) for s in starts])
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tvl1") as pool:
                return torch.cat(list(pool.map(solve, starts)))
        finally:
            torch.set_num_threads(threads)


def _as_batch(frame: torch.Tensor | np.ndarray, name: str) -> tuple[torch.Tensor, bool]:
    """Check one input and return it as float32 (B, 1, H, W) on the 0..255 scale."""
    if isinstance(frame, np.ndarray):
        frame = torch.from_numpy(np.ascontiguousarray(frame))
    if not isinstance(frame, torch.Tensor):
        raise ValueError(f"tvl1_flow: {name} must be a torch.Tensor or numpy array, got {type(frame).__name__}")
    squeeze = frame.ndim == 2
    if squeeze:
        frame = frame[None, None]
    if frame.ndim != 4 or frame.shape[1] != 1:
        raise ValueError(
            f"tvl1_flow: {name} must be (B, 1, H, W) or (H, W) grey frames, got shape "
            f"{tuple(frame.shape)}"
        )
    b, _, h, w = frame.shape
    if b == 0:
        raise ValueError(f"tvl1_flow: {name} is an empty batch")
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"tvl1_flow: {name} is {h}x{w}; frames must be at least {MIN_SIZE}x{MIN_SIZE} pixels")
    if frame.dtype == torch.uint8:
        return frame.to(torch.float32), squeeze
    if not frame.is_floating_point():
        raise ValueError(f"tvl1_flow: {name} has dtype {frame.dtype}; use float in [0, 1] or uint8")
    frame = frame.to(torch.float32)
    finite = torch.isfinite(frame)
    if not bool(finite.all()):
        bad = (~finite).reshape(b, -1).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(f"tvl1_flow: {name} has NaN or infinite values (batch index {bad[:10]})")
    lo, hi = float(frame.min()), float(frame.max())
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise ValueError(
            f"tvl1_flow: float {name} must be in [0, 1], got values in [{lo:g}, {hi:g}]; pass uint8 "
            "frames or divide by 255"
        )
    return frame * 255.0, squeeze


def _tvl1(i0: torch.Tensor, i1: torch.Tensor, p: TVL1Params, init: torch.Tensor | None) -> torch.Tensor:
    """Coarse-to-fine TV-L1 on checked (B, 1, H, W) float32 frames on the 0..255 scale."""
    pyr0, pyr1 = [i0], [i1]
    u = init
    for _ in range(1, p.nscales):
        h, w = pyr0[-1].shape[-2:]
        size = pyramid_size(h, w, p.scale_step)
        if size[0] < MIN_SIZE or size[1] < MIN_SIZE:
            break
        inv = (1.0 / p.scale_step, 1.0 / p.scale_step)
        pyr0.append(resize_linear(pyr0[-1], size, inv))
        pyr1.append(resize_linear(pyr1[-1], size, inv))
        if u is not None:  # the initial flow goes down the pyramid as the frames, scaled
            u = resize_linear(u, size, inv).mul_(p.scale_step)
    b = i0.shape[0]
    h, w = pyr0[-1].shape[-2:]
    u = torch.zeros((b, 2, h, w), dtype=i0.dtype, device=i0.device) if u is None else u.clone()
    for level in range(len(pyr0) - 1, -1, -1):
        _solve_level(pyr0[level], pyr1[level], u, p)
        if level == 0:
            break
        hn, wn = pyr0[level - 1].shape[-2:]
        u = resize_linear(u, (hn, wn), (h / hn, w / wn)).mul_(1.0 / p.scale_step)
        h, w = hn, wn
    return u


def _solve_level(i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, p: TVL1Params) -> None:
    """Warps and primal-dual iterations at one pyramid level; updates ``u`` (B, 2, H, W) in place."""
    b, _, h, w = i0.shape
    # OpenCV stops when sum |du|^2 <= epsilon^2 * H * W, i.e. ||du|| <= epsilon * sqrt(H * W)
    stop_norm = p.epsilon * (h * w) ** 0.5
    lt = p.lambda_ * p.theta
    taut = p.tau / p.theta
    # frame 1 and its gradient, warped together: (B, 3, H, W)
    i1_and_grad = torch.cat((i1, centered_gradient(i1).view(b, 2, h, w)), dim=1)
    # theta * p: [pair, flow component, d/dx or d/dy]
    dual = torch.zeros((b, 2, 2, h, w), dtype=u.dtype, device=u.device)
    for _ in range(p.warps):
        warped = remap_cubic(i1_and_grad, u)
        grad = warped[:, 1:].contiguous()  # (B, 2, H, W): d/dx, d/dy of I1 at p + u0
        grad_sq = grad.square().sum(dim=1, keepdim=True)
        rho_c = warped[:, :1] - (grad * u).sum(dim=1, keepdim=True) - i0
        neg_inv = torch.where(grad_sq > _FLT_EPSILON, -1.0 / grad_sq, torch.zeros_like(grad_sq))
        _iterate_warp(u, dual, grad, rho_c, neg_inv, p, stop_norm, lt, taut)


def _iterate_warp(
    u: torch.Tensor,
    dual: torch.Tensor,
    grad: torch.Tensor,
    rho_c: torch.Tensor,
    neg_inv: torch.Tensor,
    p: TVL1Params,
    stop_norm: float,
    lt: float,
    taut: float,
) -> None:
    """One warp's outer/inner loops; pairs leave the batch as soon as their warp has converged."""
    active = None  # None: all pairs, working directly on u and dual
    ua, pa, ga, ra, na = u, dual, grad, rho_c, neg_inv
    fwd = torch.zeros_like(pa)
    for _ in range(p.outer_iterations):
        if p.median_filtering > 1:
            ua.copy_(median_filter(ua, p.median_filtering))
        for _ in range(p.inner_iterations):
            err = _iteration(ua, pa, ga, ra, na, fwd, lt, p.tau, taut)
            done = err <= stop_norm
            if bool(done.any()):
                keep = ~done
                if active is None:
                    active = torch.arange(u.shape[0], device=u.device)
                else:
                    u[active[done]] = ua[done]
                    dual[active[done]] = pa[done]
                active = active[keep]
                if active.numel() == 0:
                    return
                ua, pa, ga, ra, na = ua[keep], pa[keep], ga[keep], ra[keep], na[keep]
                fwd = torch.zeros_like(pa)
        # the next outer iteration continues with the pairs that have not converged
    if active is not None:
        u[active] = ua
        dual[active] = pa


def _iteration(
    u: torch.Tensor,
    dual: torch.Tensor,
    grad: torch.Tensor,
    rho_c: torch.Tensor,
    neg_inv: torch.Tensor,
    fwd: torch.Tensor,
    lt: float,
    tau: float,
    taut: float,
) -> torch.Tensor:
    """One primal-dual iteration in place; returns per pair the norm of the update of u (B,).

    ``dual`` holds theta * p (the dual variable scaled by theta, which saves a multiplication).
    """
    # thresholding step: v - u = f * grad(I1w), f = clamp(-rho / |grad|^2, -lt, lt)
    rho = torch.addcmul(rho_c, grad[:, :1], u[:, :1])
    rho.addcmul_(grad[:, 1:], u[:, 1:])
    f = rho.mul_(neg_inv).clamp_(-lt, lt)
    # theta * divergence of p (backward differences, p = 0 before the first column/row)
    step = dual[:, :, 0] + dual[:, :, 1]
    step[..., :, 1:] -= dual[:, :, 0, :, :-1]
    step[..., 1:, :] -= dual[:, :, 1, :-1, :]
    step.addcmul_(grad, f)  # u_new - u_old = (v - u) + theta * div(p)
    u.add_(step)
    err = torch.linalg.vector_norm(step, dim=(1, 2, 3))
    # forward gradient of u (0 on the last column / row), then the dual update
    torch.sub(u[..., :, 1:], u[..., :, :-1], out=fwd[:, :, 0, :, :-1])
    torch.sub(u[..., 1:, :], u[..., :-1, :], out=fwd[:, :, 1, :-1, :])
    norm = torch.hypot(fwd[:, :, 0], fwd[:, :, 1]).mul_(taut).add_(1.0)
    dual.add_(fwd, alpha=tau).div_(norm.unsqueeze(2))
    return err
