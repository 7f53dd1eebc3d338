#!/usr/bin/python3
"""Reference implementation of the CNN Fixations *weighted rules* walk.

Written from the specification only: docs/cnn-fixations.md, section
"Weighted rules (the default, `--rules weighted`)", NOT from the C# code.
It reuses the forward pass of this repo's paper-rule reference
(tools/reference/cnn_fixations_reference.py, Model), which is its own float32
implementation of the ONNX ops (no ONNX Runtime).

Everything after the forward pass is computed in float64 with torch/numpy.

Usage (from the repository root)
    /usr/bin/python3 tools/reference/weighted_reference.py MODEL.onnx INPUT.npy OUT.npy \
        [--target T] [--flat-share 0.5] [--cell-share 1] [--cells bilinear|blocks|centres] [--contrast softmax|mean|none]
        [--softmax-share 0.5]

    Writes the input weights [C,H,W] (float32) to OUT.npy and prints a summary.

    --all FIXTURES OUTDIR   generate every reference file of tests/fixtures/weighted
                            (see the README there).

Reading of the specification (the points where it had to be interpreted):
  * Head: the coefficient of the start vector e_t - q (contrast "softmax", the default:
    q_k = lam * p_k/(1-p_t) + (1-lam)/(N-1) for k != t, lam = --softmax-share, p the softmax
    of the logits in float64, q_k = 1/(N-1) when 1 - p_t is not positive; "mean": lam = 0;
    "none": q = 0) is carried through the linear ops by their transposed map (biases ignored)
    and stops at every tensor whose producer is not one of the listed linear ops
    (or that is a graph input). Those are the head tensors.
  * Spatial head tensors ([1,C,H,W]): position p gets max(0, sum_c g_cp a_cp).
    When there are several spatial head tensors (GoogLeNet, Inception: the
    branches of the final Concat) the sum over c runs over the channels of
    each tensor separately ("On a spatial tensor they are summed per
    position"), as the C# code does. Option --head-joint sums over the
    channels of all of them at the same position instead (the Concat +
    pooling + classifier read as one linear map); the spec does not say which.
    The cell rule's head weight at a position is the sum over all spatial head
    tensors with the first one's grid (first in ordinal order of the names), either way.
    The position weight is shared among the channels in proportion to
    max(0, g_cp a_cp). Vector head tensors: max(0, g_i a_i). All head weights
    together are normalized to sum 1.
  * Conv below the head: share = flat*w evenly over the in-bounds taps of the
    group's channels + (1-flat)*w in proportion to max(0, s_c A W) (s_c the
    sign of the folded BN scale when a BatchNormalization is the Conv's only
    consumer); all of w evenly when no tap has a positive contribution.
    A Conv with a 1x1 output and group 1 (fully connected form): proportional
    only, nothing when no contribution is positive (as Gemm).
  * Add: among the non-constant operands (must have the output's shape), in
    proportion to max(0, value); evenly among them when none is positive.
  * AveragePool / GlobalAveragePool / ReduceMean: in proportion to the positive
    inputs among the in-bounds taps of the window; evenly over those taps when
    none is positive. MaxPool / GlobalMaxPool: evenly among the in-bounds taps
    equal to the window maximum.
  * Cells: grid = the h x w of the first spatial head tensor. Input row y belongs
    to the cell row(s) i whose receptive-field centre c_i is nearest (ties: equal
    parts), columns alike; membership m_ij(y,x) = row part * column part. The
    centres: composed from that head tensor down to the input along the first
    non-constant input with H or W > 1 (Conv/MaxPool/AveragePool:
    stride*y - pad_begin + ((k-1)*dilation)//2; Pad: y - pad_begin; same H x W: y),
    not clamped; equal blocks floor(y*h/H) when the chain leaves spatial ops.
    T_ij = sum m_ij * (pixel weight summed over channels), P_ij = sum m_ij, H_ij the
    head weight of the position:
        final = (1 - cs) * w + cs * sum_ij m_ij * (T_ij > 0 ? w * H_ij / T_ij : H_ij / (P_ij * C))
    With no spatial head tensor (VGG/AlexNet: the head ends at fc7's ReLU)
    there is no grid and the cell step is skipped.
  * A [1,C,1,1] head tensor counts as a vector (spec: spatial means H*W > 1).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as TF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_fixations_reference import (  # noqa: E402  (this repo's own forward pass)
    Model, conv_pads, node_attrs, node_label, pool_geometry, window_indices,
    PASS_THROUGH, RESHAPES, start_of,
)

torch.set_num_threads(1)
D = torch.float64

HEAD_LINEAR = {
    "Gemm", "MatMul", "Conv", "GlobalAveragePool", "AveragePool", "ReduceMean",
    "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast",
    "QuantizeLinear", "DequantizeLinear", "BatchNormalization", "Concat", "Pad",
    "Add", "Sub",
}


class SpecError(RuntimeError):
    pass


def t64(a):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, np.float64)))


def unbroadcast(g, shape):
    """Sum g over the axes that were broadcast to reach g.shape from shape."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g.reshape(shape)


class WeightedWalk:
    def __init__(self, model, flat_share=0.5, cell_share=1.0, contrast="softmax",
                 softmax_share=0.5, head_joint=False, fold_bn=True, cells="bilinear"):
        self.m = model
        assert cells in ("blocks", "centres", "bilinear")
        self.cell_grid = cells
        self.v = model.values
        self.flat = float(flat_share)
        self.cell = float(cell_share)
        if contrast is True:
            contrast = "mean"
        elif contrast is False:
            contrast = "none"
        assert contrast in ("softmax", "mean", "none")
        self.contrast = contrast
        self.softmax_share = float(softmax_share)
        self.head_joint = head_joint
        self.fold_bn = fold_bn

    # ----------------------------------------------------------------- helpers
    def shape(self, name):
        return tuple(self.v[name].shape)

    def nonconst(self, node):
        return [(i, n) for i, n in enumerate(node.input) if n and not self.m.is_const(n)]

    def conv_geom(self, node):
        a = node_attrs(node)
        x = self.v[node.input[0]]
        w = self.v[node.input[1]]
        KH, KW = w.shape[2:]
        s = list(a.get("strides", [1, 1]))
        d = list(a.get("dilations", [1, 1]))
        pads = conv_pads(a, x.shape[2:], (KH, KW), s, d)
        return s, d, pads, int(a.get("group", 1))

    def bn_sign(self, conv):
        if not self.fold_bn:
            return None
        cons = self.m.consumers.get(conv.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "BatchNormalization" or cons[0].input[0] != conv.output[0]:
            return None
        bn = cons[0]
        eps = node_attrs(bn).get("epsilon", 1e-5)
        gamma = self.v[bn.input[1]].astype(np.float64)
        var = self.v[bn.input[4]].astype(np.float64)
        return np.sign(gamma / np.sqrt(var + eps))

    # ----------------------------------------------------------------- head
    def head(self, start, target):
        logits = self.v[start].reshape(-1).astype(np.float64)
        K = logits.size
        g0 = np.zeros(K)
        if self.contrast == "mean" and K > 1:
            g0[:] = -1.0 / (K - 1)
        elif self.contrast == "softmax" and K > 1:
            # z_t - sum_{k != t} q_k z_k, q_k = lam * p_k / (1 - p_t) + (1 - lam) / (K - 1);
            # q_k = 1 / (K - 1) when 1 - p_t is 0 (p_t = 1 in double precision; not positive)
            e = np.exp(logits - logits.max())
            p = e / e.sum()
            rest = 1.0 - p[target]
            lam = self.softmax_share
            if rest > 0:
                g0[:] = -(lam * p / rest + (1.0 - lam) / (K - 1))
            else:
                g0[:] = -1.0 / (K - 1)
        g0[target] = 1.0
        coef = {start: g0.reshape(self.shape(start))}
        head_tensors = []
        for node in reversed(self.m.nodes):
            outs = [o for o in node.output if o in coef]
            if not outs:
                continue
            if node.op_type not in HEAD_LINEAR and not (
                    node.op_type in ("Mul", "Div") and len(self.nonconst(node)) == 1):
                continue  # non-linear: its output is a head tensor
            if node.op_type in ("Add", "Sub") and len(self.nonconst(node)) == 0:
                continue
            if len(node.output) > 1 and any(o in coef for o in node.output[1:]):
                raise SpecError("head reached a secondary output of " + node_label(node))
            g = coef.pop(node.output[0])
            for name, gi in self.head_step(node, g):
                gi = np.asarray(gi, np.float64).reshape(self.shape(name))
                coef[name] = coef[name] + gi if name in coef else gi
        # what is left in coef sits on tensors produced by non-linear ops (or inputs)
        order = [i for i in self.m.inputs] + [o for n in self.m.nodes for o in n.output if o]
        for name in order:
            if name in coef:
                head_tensors.append(name)
        return {n: coef[n] for n in head_tensors}

    def head_step(self, node, g):
        op = node.op_type
        a = node_attrs(node)
        if op in ("Identity", "Dropout", "Cast", "QuantizeLinear", "DequantizeLinear") or op in RESHAPES:
            return [(node.input[0], g.reshape(self.shape(node.input[0])))]
        if op == "Gemm":
            A = self.v[node.input[0]]
            B = self.v[node.input[1]].astype(np.float64)
            if a.get("transB", 0):
                B = B.T
            Wm = float(a.get("alpha", 1.0)) * B          # [K, N]
            gA = g.reshape(-1, Wm.shape[1]) @ Wm.T       # [M, K]
            if a.get("transA", 0):
                gA = gA.T
            return [(node.input[0], gA.reshape(A.shape))]
        if op == "MatMul":
            A = self.v[node.input[0]]
            B = self.v[node.input[1]].astype(np.float64)
            gA = g.reshape(-1, B.shape[1]) @ B.T
            return [(node.input[0], gA.reshape(A.shape))]
        if op == "Conv":
            return [(node.input[0], self.conv_vjp(node, self.v[node.input[1]].astype(np.float64), g))]
        if op == "GlobalAveragePool":
            x = self.v[node.input[0]]
            H, W = x.shape[2:]
            return [(node.input[0], np.broadcast_to(g.reshape(x.shape[:2] + (1, 1)) / (H * W), x.shape))]
        if op == "ReduceMean":
            x = self.v[node.input[0]]
            axes = sorted(ax % x.ndim for ax in a.get("axes", range(x.ndim)))
            n = int(np.prod([x.shape[ax] for ax in axes]))
            ks = list(x.shape)
            for ax in axes:
                ks[ax] = 1
            return [(node.input[0], np.broadcast_to(g.reshape(ks) / n, x.shape))]
        if op == "AveragePool":
            return [(node.input[0], self.avgpool_transpose(node, g))]
        if op == "BatchNormalization":
            eps = a.get("epsilon", 1e-5)
            gamma = self.v[node.input[1]].astype(np.float64)
            var = self.v[node.input[4]].astype(np.float64)
            sc = gamma / np.sqrt(var + eps)
            sh = (1, -1) + (1,) * (g.ndim - 2)
            return [(node.input[0], g * sc.reshape(sh))]
        if op == "Concat":
            axis = a["axis"] % g.ndim
            res, off = [], 0
            for name in node.input:
                n = self.shape(name)[axis]
                if not self.m.is_const(name):
                    sl = [slice(None)] * g.ndim
                    sl[axis] = slice(off, off + n)
                    res.append((name, g[tuple(sl)]))
                off += n
            return res
        if op == "Pad":
            x = self.v[node.input[0]]
            pads = [int(p) for p in self.v[node.input[1]]] if len(node.input) > 1 and node.input[1] else list(a["pads"])
            r = x.ndim
            sl = tuple(slice(pads[i], pads[i] + x.shape[i]) for i in range(r))
            if min(pads) < 0:
                raise SpecError("negative pads in the head: " + node_label(node))
            return [(node.input[0], g[sl])]
        if op in ("Add", "Sub", "Mul", "Div"):
            res = []
            for i, name in self.nonconst(node):
                if op == "Add" or (op == "Sub" and i == 0):
                    gi = g
                elif op == "Sub":
                    gi = -g
                else:
                    c = self.v[node.input[1 - i]].astype(np.float64)
                    if op == "Mul":
                        gi = g * c
                    elif i == 0:
                        gi = g / c
                    else:
                        raise SpecError("Div with a non-constant divisor in the head: " + node_label(node))
                res.append((name, unbroadcast(gi, self.shape(name))))
            return res
        raise SpecError("no head rule for " + node_label(node))

    def conv_vjp(self, node, Wt, g):
        """Transposed conv map (no bias) of g [1,Cout,OH,OW] with weights Wt,
        returned on the unpadded input."""
        s, d, (pt, pl, pb, pr), group = self.conv_geom(node)
        x = self.v[node.input[0]]
        xp = torch.zeros((1, x.shape[1], x.shape[2] + pt + pb, x.shape[3] + pl + pr), dtype=D, requires_grad=True)
        y = TF.conv2d(xp, t64(Wt), None, stride=tuple(s), dilation=tuple(d), groups=group)
        (gx,) = torch.autograd.grad(y, xp, t64(g).reshape(y.shape))
        gx = gx.numpy()
        return gx[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]

    def pool_windows(self, node, X):
        """(C, OH, OW, KH, KW) window indices (rows, cols) and the in-bounds mask."""
        a = node_attrs(node)
        C, H, W = X.shape
        k = list(a["kernel_shape"])
        s = list(a.get("strides", [1, 1]))
        d = list(a.get("dilations", [1, 1]))
        pt, pl, pb, pr = conv_pads(a, (H, W), k, s, d)
        ceil = a.get("ceil_mode", 0)
        OH = pool_geometry(H, k[0], s[0], d[0], pt, pb, ceil)
        OW = pool_geometry(W, k[1], s[1], d[1], pl, pr, ceil)
        ri, rv = window_indices(OH, H, k[0], s[0], d[0], pt)
        ci, cv = window_indices(OW, W, k[1], s[1], d[1], pl)
        return (pt, pl, pb, pr), ri, rv, ci, cv, OH, OW

    def avgpool_transpose(self, node, g):
        a = node_attrs(node)
        x = self.v[node.input[0]]
        X = x[0]
        C, H, W = X.shape
        (pt, pl, pb, pr), ri, rv, ci, cv, OH, OW = self.pool_windows(node, X)
        if a.get("count_include_pad", 0):
            rin = (ri >= -pt) & (ri < H + pb)
            cin = (ci >= -pl) & (ci < W + pr)
            cnt = rin.sum(1)[:, None] * cin.sum(1)[None, :]
        else:
            cnt = rv.sum(1)[:, None] * cv.sum(1)[None, :]
        share = g.reshape(C, OH, OW) / cnt[None]
        out = np.zeros((C, H, W))
        for oh in range(OH):
            for ow in range(OW):
                rr = ri[oh][rv[oh]]
                cc = ci[ow][cv[ow]]
                out[:, rr[:, None], cc[None, :]] += share[:, oh, ow][:, None, None]
        return out[None]

    # ----------------------------------------------------------------- head weights
    def head_weights(self, coef):
        """Weights on the head tensors (normalized to sum 1) and the position
        weights P [h, w] of the spatial ones (None if there is none)."""
        contrib = {n: g * self.v[n].astype(np.float64) for n, g in coef.items()}
        # spatial: [1,C,H,W] with H*W > 1 (a [1,C,1,1] tensor counts as a vector), in ordinal name order
        spatial = sorted(n for n in contrib if contrib[n].ndim == 4 and contrib[n].shape[2] * contrib[n].shape[3] > 1)
        weights = {}
        P = None
        self.grid_tensor = None
        if spatial:
            # the cells: the grid of the first spatial head tensor; P sums the tensors with that grid
            self.grid_tensor = spatial[0]
            grid = contrib[spatial[0]].shape[2:]
            if self.head_joint:
                if len({contrib[n].shape[2:] for n in spatial}) != 1:
                    raise SpecError("--head-joint with spatial head tensors of different sizes")
                tot = sum(contrib[n][0].sum(axis=0) for n in spatial)
                P = np.maximum(tot, 0.0)
                pos = {n: np.maximum(contrib[n][0], 0.0) for n in spatial}
                den = sum(pos[n].sum(axis=0) for n in spatial)
                for n in spatial:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        weights[n] = np.where(den > 0, P * pos[n] / den, 0.0)[None]
            else:
                P = 0.0
                for n in spatial:
                    c = contrib[n][0]
                    Pn = np.maximum(c.sum(axis=0), 0.0)
                    pos = np.maximum(c, 0.0)
                    den = pos.sum(axis=0)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        weights[n] = np.where(den > 0, Pn * pos / den, 0.0)[None]
                    if c.shape[1:] == grid:
                        P = P + Pn
        for n in contrib:
            if n not in spatial:
                weights[n] = np.maximum(contrib[n], 0.0)
        total = sum(w.sum() for w in weights.values())
        if not total > 0:
            raise SpecError("no positive head contribution")
        for n in weights:
            weights[n] = weights[n] / total
        if P is not None:
            P = P / total
        return weights, P

    # ----------------------------------------------------------------- walk
    def run(self, target=None):
        start = start_of(self.m)
        if target is None:
            target = int(np.argmax(self.v[start].reshape(-1)))
        self.target = target
        coef = self.head(start, target)
        self.head_names = list(coef)
        wts, P = self.head_weights(coef)
        self.head_P = P
        for node in reversed(self.m.nodes):
            if not any(o in wts for o in node.output if o):
                continue
            if len(node.output) > 1 and any(o in wts for o in node.output[1:] if o):
                raise SpecError("weight reached a secondary output of " + node_label(node))
            w = wts.pop(node.output[0])
            if not np.any(w):
                continue
            for name, wi in self.step(node, w):
                if self.m.is_const(name):
                    continue
                wi = np.asarray(wi, np.float64).reshape(self.shape(name))
                wts[name] = wts[name] + wi if name in wts else wi
        inp = self.m.inputs[0]
        Wi = wts.get(inp, np.zeros(self.shape(inp)))[0]
        self.walk_weights = Wi.copy()
        # --cells blocks: equal blocks (no centres); --cells centres: nearest receptive-field centre
        self.rf = self.rf_centre(self.grid_tensor) if P is not None and self.cell_grid == "centres" else None
        if P is not None and self.cell > 0:
            Wi = self.cells(Wi, P)
        return Wi

    # ----------------------------------------------------------------- cells
    def rf_centre(self, tensor):
        """Receptive-field centre of the rows / columns of a [1,C,h,w] tensor in network-input
        pixels, as two affine maps (scale, offset) per axis: input = scale * y + offset.
        Composed from the tensor down to the input along data inputs: Conv / MaxPool /
        AveragePool: y_in = stride * y - pad_begin + ((kernel - 1) * dilation) // 2; Pad: y - pad_begin;
        ops whose data input has the output's H x W: y. Not clamped. None when the chain
        leaves spatial ops (then the cells are equal blocks)."""
        inp = self.m.inputs[0]
        if len(self.shape(inp)) != 4:
            return None
        sy, oy, sx, ox = 1, 0, 1, 0
        while tensor != inp:
            node = self.m.producer.get(tensor)
            oshape = self.shape(tensor)
            if node is None or len(oshape) != 4:
                return None
            data = [n for _, n in self.nonconst(node)
                    if n == inp or (len(self.shape(n)) == 4 and (self.shape(n)[2] > 1 or self.shape(n)[3] > 1))]
            if not data:
                return None
            x = data[0]
            ishape = self.shape(x)
            if len(ishape) != 4:
                return None
            op = node.op_type
            if op in ("Conv", "MaxPool", "AveragePool"):
                a = node_attrs(node)
                if op == "Conv":
                    k = list(self.v[node.input[1]].shape[2:])
                else:
                    k = list(a["kernel_shape"])
                st = list(a.get("strides", [1, 1]))
                d = list(a.get("dilations", [1, 1]))
                pt, pl, _, _ = conv_pads(a, ishape[2:], k, st, d)
                oy = st[0] * oy - pt + ((k[0] - 1) * d[0]) // 2
                sy *= st[0]
                ox = st[1] * ox - pl + ((k[1] - 1) * d[1]) // 2
                sx *= st[1]
            elif op == "Pad":
                a = node_attrs(node)
                pads = [int(q) for q in self.v[node.input[1]]] if len(node.input) > 1 and node.input[1] else list(a["pads"])
                oy -= pads[2]
                ox -= pads[3]
            elif tuple(ishape[2:]) != tuple(oshape[2:]):
                return None
            tensor = x
        return (sy, oy), (sx, ox)

    @staticmethod
    def membership(size, cells, centre):
        """[cells, size]: the part of input row y that belongs to cell row i. With centres:
        the nearest centre(s), |y - c_i| minimal, ties shared equally; without: equal blocks, each row
        belonging to the blocks it overlaps by the overlap (floor(y * cells / size) when cells divides size)."""
        m = np.zeros((cells, size))
        if centre is None:
            # equal blocks: cell i spans [i*size/cells, (i+1)*size/cells); row y [y, y+1) belongs to it by the overlap
            for i in range(cells):
                lo, hi = i * size / cells, (i + 1) * size / cells
                for y in range(size):
                    m[i, y] = max(0.0, min(y + 1.0, hi) - max(float(y), lo))
            return m
        s, o = centre
        c = s * np.arange(cells) + o                               # not clamped
        dist = np.abs(np.arange(size)[None, :] - c[:, None])       # [cells, size]
        near = (dist == dist.min(axis=0, keepdims=True)).astype(np.float64)
        return near / near.sum(axis=0, keepdims=True)

    @staticmethod
    def tent(size, cells):
        """[cells, size]: soft equal blocks. Cell i is centred at (i + 1/2) * size / cells; row y (centre
        y + 1/2) is split between the two enclosing cell centres by linear interpolation, and belongs
        wholly to the first / last cell beyond the outer centres."""
        m = np.zeros((cells, size))
        for y in range(size):
            t = (y + 0.5) * cells / size - 0.5                      # position in cell units
            if t <= 0:
                m[0, y] = 1.0
            elif t >= cells - 1:
                m[cells - 1, y] = 1.0
            else:
                i = int(np.floor(t))
                f = t - i
                m[i, y] += 1.0 - f
                if f > 0:
                    m[i + 1, y] += f
        return m

    def cells(self, Wi, P):
        C, H, W = Wi.shape
        h, w = P.shape
        rf = self.rf
        if self.cell_grid == "bilinear":
            R, K = self.tent(H, h), self.tent(W, w)
        else:
            R = self.membership(H, h, rf[0] if rf else None)       # [h, H]
            K = self.membership(W, w, rf[1] if rf else None)       # [w, W]
        S = Wi.sum(axis=0)                                         # pixel weight, summed over channels
        T = R @ S @ K.T                                            # cell totals [h, w]
        npix = np.outer(R.sum(axis=1), K.sum(axis=1))              # P_ij (pixels in the cell)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(T > 0, P / T, 0.0)
            even = np.where((T > 0) | (npix == 0), 0.0, P / (npix * C))
        Rs = R.T @ scale @ K                                       # [H, W]
        Re = R.T @ even @ K
        new = Wi * Rs[None] + Re[None]
        return (1.0 - self.cell) * Wi + self.cell * new

    def step(self, node, w):
        op = node.op_type
        if op in PASS_THROUGH or op in RESHAPES:
            return [(node.input[0], w)]
        if op in ("Gemm", "MatMul"):
            return self.fc(node, w)
        if op == "Conv":
            return self.conv(node, w)
        if op == "MaxPool":
            return self.maxpool(node, w)
        if op == "AveragePool":
            return self.avgpool(node, w)
        if op in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean"):
            return self.global_pool(node, w)
        if op == "Pad":
            return self.pad(node, w)
        if op == "Add":
            return self.add(node, w)
        if op == "Mul":
            nc = self.nonconst(node)
            full = [n for _, n in nc if self.shape(n) == self.shape(node.output[0])]
            if not full:
                raise SpecError("Mul with no operand of the output's shape: " + node_label(node))
            return [(full[0], w)]
        if op in ("Sub", "Div"):
            nc = self.nonconst(node)
            if len(nc) == 1 and self.shape(nc[0][1]) == self.shape(node.output[0]):
                return [(nc[0][1], w)]
            raise SpecError("no rule for " + node_label(node))
        if op == "Concat":
            a = node_attrs(node)
            axis = a["axis"] % w.ndim
            if axis != 1:
                raise SpecError("Concat on an axis other than channels: " + node_label(node))
            res, off = [], 0
            for name in node.input:
                n = self.shape(name)[1]
                res.append((name, w[:, off:off + n]))
                off += n
            return res
        raise SpecError("no weighted rule for op type '%s' (%s)" % (op, node_label(node)))

    # --- Gemm / MatMul: proportional to positive contributions, nothing when none
    def fc(self, node, w):
        a = node_attrs(node)
        nc = self.nonconst(node)
        if len(nc) != 1 or nc[0][0] != 0:
            raise SpecError("FC with a non-constant weight: " + node_label(node))
        A = self.v[node.input[0]].astype(np.float64)
        B = self.v[node.input[1]].astype(np.float64)
        if node.op_type == "Gemm":
            if a.get("transB", 0):
                B = B.T
            Wm = float(a.get("alpha", 1.0)) * B
            Am = A.T if a.get("transA", 0) else A
        else:
            Wm = B
            Am = A.reshape(-1, A.shape[-1])
        wo = w.reshape(Am.shape[0], Wm.shape[1])
        Ap, An = np.maximum(Am, 0), np.minimum(Am, 0)
        Wp, Wn = np.maximum(Wm, 0), np.minimum(Wm, 0)
        S = Ap @ Wp + An @ Wn                                  # [M, N]
        with np.errstate(invalid="ignore", divide="ignore"):
            R = np.where(S > 0, wo / S, 0.0)
        gin = Ap * (R @ Wp.T) + An * (R @ Wn.T)
        if node.op_type == "Gemm" and a.get("transA", 0):
            gin = gin.T
        return [(node.input[0], gin.reshape(A.shape))]

    # --- Conv
    def conv(self, node, w):
        if self.m.is_const(node.input[0]) or not self.m.is_const(node.input[1]):
            raise SpecError("Conv with a non-constant weight: " + node_label(node))
        x = self.v[node.input[0]].astype(np.float64)
        Wt = self.v[node.input[1]].astype(np.float64)
        s, d, (pt, pl, pb, pr), group = self.conv_geom(node)
        sign = self.bn_sign(node)
        if sign is not None:
            Wt = Wt * sign[:, None, None, None]
        wo = w.reshape(self.shape(node.output[0]))
        fc_form = wo.shape[2] == 1 and wo.shape[3] == 1 and group == 1

        def fwd(inp, ker):
            xp = TF.pad(t64(inp), (pl, pr, pt, pb))
            return TF.conv2d(xp, t64(ker), None, stride=tuple(s), dilation=tuple(d), groups=group).numpy()

        Ap, An = np.maximum(x, 0), np.minimum(x, 0)
        Wp, Wn = np.maximum(Wt, 0), np.minimum(Wt, 0)
        S = fwd(Ap, Wp) + fwd(An, Wn)                              # sum of positive contributions
        ones_k = np.ones_like(Wt)
        N = fwd(np.ones_like(x), ones_k)                           # in-bounds taps x group channels
        flat = 0.0 if fc_form else self.flat
        with np.errstate(invalid="ignore", divide="ignore"):
            R = np.where(S > 0, (1.0 - flat) * wo / S, 0.0)
            if fc_form:
                E = np.zeros_like(wo)
            else:
                E = np.where(S > 0, flat * wo, wo) / N
        gin = Ap * self.conv_vjp(node, Wp, R) + An * self.conv_vjp(node, Wn, R)
        if not fc_form:
            gin = gin + self.conv_vjp(node, ones_k, E)
        return [(node.input[0], gin)]

    # --- pools
    def _pool_share(self, node, w, kind):
        x = self.v[node.input[0]].astype(np.float64)
        X = x[0]
        C, H, W = X.shape
        _, ri, rv, ci, cv, OH, OW = self.pool_windows(node, X)
        wo = w.reshape(C, OH, OW)
        out = np.zeros((C, H, W))
        for oh in range(OH):
            rr = ri[oh][rv[oh]]
            for ow in range(OW):
                cc = ci[ow][cv[ow]]
                if rr.size == 0 or cc.size == 0:
                    continue
                patch = X[:, rr[:, None], cc[None, :]]           # [C, u, v]
                out[:, rr[:, None], cc[None, :]] += self._share(patch, wo[:, oh, ow], kind)
        return [(node.input[0], out[None])]

    @staticmethod
    def _share(patch, wo, kind):
        """patch [C, ...]: per channel, the share of wo[c] over the window."""
        C = patch.shape[0]
        flat = patch.reshape(C, -1)
        if kind == "max":
            m = flat.max(axis=1, keepdims=True)
            sel = (flat == m).astype(np.float64)
        else:
            pos = np.maximum(flat, 0.0)
            has = pos.sum(axis=1, keepdims=True) > 0
            sel = np.where(has, pos, 1.0)
        sh = sel / sel.sum(axis=1, keepdims=True) * wo[:, None]
        return sh.reshape(patch.shape)

    def maxpool(self, node, w):
        return self._pool_share(node, w, "max")

    def avgpool(self, node, w):
        return self._pool_share(node, w, "avg")

    def global_pool(self, node, w):
        x = self.v[node.input[0]].astype(np.float64)
        if node.op_type == "ReduceMean":
            a = node_attrs(node)
            axes = sorted(ax % x.ndim for ax in a.get("axes", range(x.ndim)))
            if x.ndim != 4 or axes != [2, 3]:
                raise SpecError("ReduceMean over axes other than H,W: " + node_label(node))
        C = x.shape[1]
        kind = "max" if node.op_type == "GlobalMaxPool" else "avg"
        out = self._share(x[0], w.reshape(C), kind)
        return [(node.input[0], out[None])]

    # --- Pad: shift, weight in the padding is dropped
    def pad(self, node, w):
        a = node_attrs(node)
        x = self.v[node.input[0]]
        pads = [int(p) for p in self.v[node.input[1]]] if len(node.input) > 1 and node.input[1] else list(a["pads"])
        if min(pads) < 0:
            raise SpecError("negative pads: " + node_label(node))
        r = x.ndim
        sl = tuple(slice(pads[i], pads[i] + x.shape[i]) for i in range(r))
        return [(node.input[0], w[sl])]

    # --- Add: proportional to the positive values of the non-constant operands
    def add(self, node, w):
        nc = [n for _, n in self.nonconst(node)]
        oshape = self.shape(node.output[0])
        for n in nc:
            if self.shape(n) != oshape:
                raise SpecError("Add with a broadcast operand: " + node_label(node))
        if len(nc) == 1:
            return [(nc[0], w)]
        vals = np.stack([np.maximum(self.v[n].astype(np.float64), 0) for n in nc])
        tot = vals.sum(axis=0)
        res = []
        for i, n in enumerate(nc):
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(tot > 0, vals[i] / tot, 1.0 / len(nc))
            res.append((n, w * share))
        return res


def run_one(model_path, input_path, target=None, flat_share=0.5, cell_share=1.0,
            contrast="softmax", softmax_share=0.5, head_joint=False, cells="bilinear"):
    model = Model(model_path)
    x = np.load(input_path).astype(np.float32)
    model.forward(x)
    walk = WeightedWalk(model, flat_share, cell_share, contrast, softmax_share, head_joint, cells=cells)
    Wi = walk.run(target)
    return walk, Wi


# suffix -> options (flatShare, cellShare, contrast, softmaxShare, cells)
VARIANTS = {
    "default": (0.5, 1.0, "softmax", 0.5, "bilinear"),
    "flat0": (0.0, 1.0, "softmax", 0.5, "bilinear"),
    "cell0": (0.5, 0.0, "softmax", 0.5, "bilinear"),
    "cell05": (0.5, 0.5, "softmax", 0.5, "bilinear"),
    "mean": (0.5, 1.0, "mean", 0.5, "bilinear"),
    "none": (0.5, 1.0, "none", 0.5, "bilinear"),
    "lambda1": (0.5, 1.0, "softmax", 1.0, "bilinear"),
    "centres": (0.5, 1.0, "softmax", 0.5, "centres"),
    "centres05": (0.5, 0.5, "softmax", 0.5, "centres"),
    "blocks": (0.5, 1.0, "softmax", 0.5, "blocks"),
}
EXTRA = ("flat0", "cell0", "cell05", "mean", "none", "lambda1", "centres", "centres05", "blocks")

# every model gets "default"; the extra variants (file size: about 3 MB in all; the 224x224 vgg16
# and alexnet are left out, edge_a_vgghead has the same no-grid fc head):
MODELS = {
    "resnet18/resnet18.onnx": EXTRA,
    "mobilenet_v2/mobilenet_v2.onnx": ("cell05", "lambda1", "centres", "blocks"),
    "squeezenet1_1/squeezenet1_1.onnx": ("flat0", "none", "centres"),
    "googlenet/googlenet.onnx": ("cell0", "cell05", "mean", "centres"),
    "densenet121/densenet121.onnx": (),
    "resnet50/resnet50.onnx": (),
    "inception_v3/inception_v3.onnx": ("cell05",),
    "efficientnet_b0/efficientnet_b0.onnx": (),
    "edge_a_vgghead/edge_a_vgghead.onnx": EXTRA,
    "edge_b_convgap/edge_b_convgap.onnx": EXTRA,
    "edge_c_matmul/edge_c_matmul.onnx": EXTRA,
    "resnet18/resnet18_bn.onnx": (),
}


def generate_all(fixtures, outdir, models, head_joint=False):
    import time
    os.makedirs(outdir, exist_ok=True)
    index = {}
    for rel in models:
        folder, f = rel.split("/")
        stem = f[:-5]
        t0 = time.time()
        model = Model(os.path.join(fixtures, folder, f))
        x = np.load(os.path.join(fixtures, folder, "input.npy")).astype(np.float32)
        model.forward(x)
        entries = {}
        for suffix in ("default",) + tuple(MODELS.get(rel, ())):
            fs, cs, con, lam, grid = VARIANTS[suffix]
            walk = WeightedWalk(model, fs, cs, con, lam, head_joint, cells=grid)
            try:
                Wi = walk.run()
            except SpecError as e:
                print("%-20s %-10s SKIP: %s" % (stem, suffix, e), flush=True)
                entries[suffix] = {"error": str(e)}
                continue
            name = "%s.%s.npy" % (stem, suffix)
            np.save(os.path.join(outdir, name), Wi.astype(np.float32))
            rf = getattr(walk, "rf", None)
            entries[suffix] = {
                "file": name, "flatShare": fs, "cellShare": cs, "cells": grid, "contrast": con, "softmaxShare": lam,
                "headJoint": head_joint, "target": walk.target, "sum": float(Wi.sum()), "max": float(Wi.max()),
                "walkSum": float(walk.walk_weights.sum()),
                "headTensors": walk.head_names,
                "cellCentres": None if rf is None else {"y": list(rf[0]), "x": list(rf[1])},
            }
            print("%-20s %-8s target=%d sum=%.6f walkSum=%.6f max=%.3e rf=%s head=%s (%.1fs)" % (
                stem, suffix, walk.target, Wi.sum(), walk.walk_weights.sum(), Wi.max(), rf,
                ",".join(walk.head_names), time.time() - t0), flush=True)
        index["%s/%s" % (folder, f)] = entries
    with open(os.path.join(outdir, "index.json"), "w") as fh:
        json.dump(index, fh, indent=1)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description="CNN Fixations weighted-rules reference")
    ap.add_argument("model", nargs="?")
    ap.add_argument("input", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--target", type=int, default=None)
    ap.add_argument("--flat-share", type=float, default=0.5)
    ap.add_argument("--cell-share", type=float, default=1.0)
    ap.add_argument("--cells", choices=["bilinear", "blocks", "centres"], default="bilinear")
    ap.add_argument("--contrast", choices=["softmax", "mean", "none"], default="softmax",
                    help="start: z_t - sum_{k!=t} q_k z_k with q_k = lam p_k/(1-p_t) + (1-lam)/(N-1) (softmax), "
                         "q_k = 1/(N-1) (mean), z_t alone (none)")
    ap.add_argument("--softmax-share", type=float, default=0.5, help="lam of --contrast softmax (0..1)")
    ap.add_argument("--head-joint", action="store_true",
                    help="several spatial head tensors: one position sum over all their channels")
    ap.add_argument("--all", nargs=2, metavar=("FIXTURES", "OUTDIR"))
    ap.add_argument("--models", nargs="*", default=None)
    args = ap.parse_args()
    if args.all:
        generate_all(args.all[0], args.all[1], args.models or list(MODELS), args.head_joint)
        return 0
    walk, Wi = run_one(args.model, args.input, args.target, args.flat_share, args.cell_share,
                       args.contrast, args.softmax_share, args.head_joint, args.cells)
    np.save(args.out, Wi.astype(np.float32))
    print("target=%d sum=%.6f walkSum=%.6f max=%.3e head=%s" % (
        walk.target, Wi.sum(), walk.walk_weights.sum(), Wi.max(), ",".join(walk.head_names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
