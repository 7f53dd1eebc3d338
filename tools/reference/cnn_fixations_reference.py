#!/usr/bin/python3
"""Reference-result generator for the CNN Fixations walker tests.

What it is
    A test-fixture generator. For every ONNX model in every fixture folder it
    runs a forward pass (its own float32 implementation of the ONNX ops used by
    the fixtures, not ONNX Runtime) and then the backward "unravel" walk of the
    CNN Fixations method, and writes the results as JSON. The C# tests compare
    the product's walker against these files.

Independence
    This is a second implementation written only from the specification
    (docs/cnn-fixations.md, in particular its "Precise choices" section), NOT
    from the product's C# code. Agreement between the two is therefore
    evidence that both follow the specification.

How to run (from the repository root)
    /usr/bin/python3 tools/reference/cnn_fixations_reference.py \
        --fixtures ../shared/models/tiny --out tests/CnnFixations.Tests/Reference

    Needs numpy, the onnx package (Debian python3-onnx) and torch (Debian
    python3-torch, only used for the float32 convolution of the forward pass).

    Quantized models (QuantizeLinear / DequantizeLinear, opset 13) run exactly
    per the ONNX spec in float32: QuantizeLinear y = saturate(round(x / scale)
    + zero_point), round half to even, saturating to uint8 / int8; DequantizeLinear
    y = (x - zero_point) * scale; scalar (per tensor) or 1-D per-axis parameters.
    The QDQ fixtures (tests/fixtures/qdq, made by tools/fixtures/make_qdq_fixtures.py)
    name their input in fixture.json:

    /usr/bin/python3 tools/reference/cnn_fixations_reference.py \
        --fixtures tests/fixtures/qdq --out tests/CnnFixations.Tests/Reference/quantized

    One model on one input tensor (the bundled model on a photo; the input is the
    product's own preprocessing of the photo, dumped by
    `dotnet run tools/reference/dump/dump_forward.cs -- MODEL IMAGE DIR`):

    /usr/bin/python3 tools/reference/cnn_fixations_reference.py \
        --model models/mobilenet_v2_1.0_224_quant.qdq.onnx --input DIR/input.npy \
        --name bundled.cat --model-label models/mobilenet_v2_1.0_224_quant.qdq.onnx \
        --input-label samples/cat.png --out tests/CnnFixations.Tests/Reference/quantized

    With --activations DIR instead of --input, the values of the tensors the walk
    reads are those of the product's forward pass (ONNX Runtime) from that dump, not
    this script's own: the walk rules are then compared on the same numbers. On a
    fully quantized network a float simulation and ONNX Runtime can round a value
    to neighbouring integers (the float sums differ in their last bits), and the
    difference grows from layer to layer; the JSON then records how many tensors
    and elements differed ("activations").

Output, per model file <stem>.onnx of fixture folder <folder>
    <out>/<stem>.json             default options
    <out>/<stem>.refine.json      conv position option "refine" (default models)
    <out>/<stem>.allpositive.json rule 1 flattened-spatial case keeps all
                                  positive contributions (default models)
    <out>/<stem>.rawbn.json       conv ranking with raw conv weights, no BN
                                  folding (models with Conv -> BatchNormalization)
    Each holds {"model", "inputShape", "logits", "target", "inputFixations",
    "layerCounts"}; inputFixations is the sorted list of unique [c, y, x] at
    the network input, layerCounts maps every tensor that received a non-empty
    fixation set to the size of that set.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper, helper

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - the forward Conv falls back to numpy
    torch = None

if torch is not None:
    torch.set_num_threads(1)  # a single thread makes the float32 forward repeatable


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def node_attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def node_label(node):
    return "%s node '%s'" % (node.op_type, node.name or node.output[0])


class WalkError(RuntimeError):
    pass


def pool_geometry(in_size, kernel, stride, dilation, pad_begin, pad_end, ceil_mode):
    """Output size of a pooling window along one axis (ONNX / PyTorch rule)."""
    eff = (kernel - 1) * dilation + 1
    span = in_size + pad_begin + pad_end - eff
    if ceil_mode:
        out = -(-span // stride) + 1
        # the last window must start inside the input or the leading padding
        if (out - 1) * stride >= in_size + pad_begin:
            out -= 1
    else:
        out = span // stride + 1
    return out


def conv_pads(attrs, in_hw, kernel, strides, dilations):
    """Return (top, left, bottom, right) pads, honouring auto_pad."""
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad in ("NOTSET", ""):
        p = list(attrs.get("pads", [0, 0, 0, 0]))
        return p[0], p[1], p[2], p[3]
    if auto_pad == "VALID":
        return 0, 0, 0, 0
    begins, ends = [], []
    for i in range(2):
        out = -(-in_hw[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_hw[i])
        if auto_pad == "SAME_UPPER":
            b = total // 2
        else:
            b = total - total // 2
        begins.append(b)
        ends.append(total - b)
    return begins[0], begins[1], ends[0], ends[1]


def window_indices(out_size, in_size, kernel, stride, dilation, pad_begin):
    """idx[o, u] = input coordinate of tap u of window o; valid[o, u] in bounds."""
    o = np.arange(out_size)[:, None]
    u = np.arange(kernel)[None, :]
    idx = o * stride - pad_begin + u * dilation
    valid = (idx >= 0) & (idx < in_size)
    return idx, valid


# --------------------------------------------------------------------------
# Forward pass (float32)
# --------------------------------------------------------------------------

def pool_forward(x, kernel, strides, dilations, pads, ceil_mode, kind, count_include_pad=0):
    _, C, H, W = x.shape
    pt, pl, pb, pr = pads
    OH = pool_geometry(H, kernel[0], strides[0], dilations[0], pt, pb, ceil_mode)
    OW = pool_geometry(W, kernel[1], strides[1], dilations[1], pl, pr, ceil_mode)
    ri, rv = window_indices(OH, H, kernel[0], strides[0], dilations[0], pt)
    ci, cv = window_indices(OW, W, kernel[1], strides[1], dilations[1], pl)
    rc = np.clip(ri, 0, H - 1)
    cc = np.clip(ci, 0, W - 1)
    # patches[c, oh, ow, u, v]
    patches = x[0][:, rc[:, None, :, None], cc[None, :, None, :]]
    mask = rv[:, None, :, None] & cv[None, :, None, :]
    mask = np.broadcast_to(mask, patches.shape)
    if kind == "max":
        p = np.where(mask, patches, np.float32(-np.inf))
        y = p.max(axis=(3, 4))
    else:
        p = np.where(mask, patches, np.float32(0))
        s = p.sum(axis=(3, 4), dtype=np.float32)
        if count_include_pad:
            # window clipped to the padded input extent
            rin = (ri >= -pt) & (ri < H + pb)
            cin = (ci >= -pl) & (ci < W + pr)
            cnt = rin.sum(1)[:, None] * cin.sum(1)[None, :]
        else:
            cnt = rv.sum(1)[:, None] * cv.sum(1)[None, :]
        y = s / cnt.astype(np.float32)[None]
    return y[None].astype(np.float32)


def conv_forward(x, w, b, strides, dilations, pads, group):
    pt, pl, pb, pr = pads
    if torch is not None:
        xt = torch.from_numpy(np.array(x, np.float32))
        xt = TF.pad(xt, (pl, pr, pt, pb))
        y = TF.conv2d(xt, torch.from_numpy(np.array(w, np.float32)),
                      None if b is None else torch.from_numpy(np.array(b, np.float32)),
                      stride=tuple(strides), dilation=tuple(dilations), groups=group)
        return y.numpy().astype(np.float32)
    # numpy fallback (slow but exact enough)
    _, C, H, W = x.shape
    Cout, Cg, KH, KW = w.shape
    xp = np.pad(x[0], ((0, 0), (pt, pb), (pl, pr)))
    Hp, Wp = xp.shape[1:]
    OH = (Hp - (KH - 1) * dilations[0] - 1) // strides[0] + 1
    OW = (Wp - (KW - 1) * dilations[1] - 1) // strides[1] + 1
    y = np.zeros((Cout, OH, OW), np.float32)
    opg = Cout // group
    for g in range(group):
        xs = xp[g * Cg:(g + 1) * Cg]
        ws = w[g * opg:(g + 1) * opg]
        for u in range(KH):
            for v in range(KW):
                r0 = u * dilations[0]
                c0 = v * dilations[1]
                patch = xs[:, r0:r0 + (OH - 1) * strides[0] + 1:strides[0],
                           c0:c0 + (OW - 1) * strides[1] + 1:strides[1]]
                y[g * opg:(g + 1) * opg] += np.tensordot(ws[:, :, u, v], patch, axes=(1, 0))
    if b is not None:
        y += b[:, None, None]
    return y[None]


def _per_axis(param, x, axis):
    """Broadcast a scale or zero point (scalar or 1-D per-axis) against x (ONNX opset 13)."""
    param = np.asarray(param)
    if param.size == 1:  # per tensor (a 1-element per-axis parameter is the same)
        return param.reshape(())
    if param.ndim != 1:
        raise WalkError("Quantize/DequantizeLinear: scale of rank %d" % param.ndim)
    axis = axis % x.ndim
    if x.shape[axis] != param.size:
        raise WalkError("Quantize/DequantizeLinear: %d scales for axis %d of %s"
                        % (param.size, axis, x.shape))
    shape = [1] * x.ndim
    shape[axis] = param.size
    return param.reshape(shape)


QUANT_RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def quantize_linear(x, scale, zero_point, axis):
    """ONNX QuantizeLinear (opset 13): y = saturate(round(x / y_scale) + y_zero_point),
    round half to even, saturate to the zero point's type (uint8 when absent); scale
    and zero point are scalars (per tensor) or 1-D along `axis` (per axis). x / scale
    is a float32 division, as ONNX Runtime does it."""
    dtype = np.dtype(np.uint8) if zero_point is None else np.asarray(zero_point).dtype
    if dtype not in QUANT_RANGES:
        raise WalkError("QuantizeLinear to %s" % dtype)
    lo, hi = QUANT_RANGES[dtype]
    s = _per_axis(np.asarray(scale, np.float32), x, axis)
    zp = np.zeros((), np.int64) if zero_point is None else _per_axis(zero_point, x, axis).astype(np.int64)
    q = np.rint(np.asarray(x, np.float32) / s).astype(np.float64)  # half to even
    q = np.clip(q + zp, lo, hi)
    return q.astype(dtype)


def dequantize_linear(x, scale, zero_point, axis):
    """ONNX DequantizeLinear (opset 13): y = (x - x_zero_point) * x_scale in float32, the
    integer difference converted to float32 first (as ONNX Runtime does); per tensor or
    per axis as QuantizeLinear."""
    x = np.asarray(x)
    s = _per_axis(np.asarray(scale, np.float32), x, axis)
    zp = np.zeros((), np.int64) if zero_point is None else _per_axis(zero_point, x, axis).astype(np.int64)
    if x.dtype == np.int32 and np.any(zp != 0):
        raise WalkError("DequantizeLinear: int32 input with a non-zero zero point")
    d = (x.astype(np.int64) - zp).astype(np.float32)
    return (d * s).astype(np.float32)


class Model:
    def __init__(self, path):
        self.path = path
        self.proto = onnx.load(path)
        g = self.proto.graph
        self.nodes = list(g.node)
        self.values = {}
        self.const = set()
        for init in g.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
            self.const.add(init.name)
        init_names = set(self.const)
        self.inputs = [i.name for i in g.input if i.name not in init_names]
        self.output = g.output[0].name
        self.producer = {}
        self.consumers = {}
        for n in self.nodes:
            for o in n.output:
                if o:
                    self.producer[o] = n
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)
        # A tensor is constant if it is an initializer or every input of its
        # producer is constant (Constant nodes, Identity/Transpose of weights).
        for n in self.nodes:
            ins = [i for i in n.input if i]
            if all(i in self.const for i in ins):
                for o in n.output:
                    if o:
                        self.const.add(o)

    def is_const(self, name):
        return name in self.const

    # ---------------------------------------------------------------- forward
    def forward(self, x):
        v = self.values
        v[self.inputs[0]] = x.astype(np.float32)
        for n in self.nodes:
            outs = self._forward_node(n)
            for name, val in zip(n.output, outs):
                if name:
                    v[name] = val
        return v[self.output]

    def _forward_node(self, n):
        v = self.values
        a = node_attrs(n)
        op = n.op_type
        ins = [v[i] if i else None for i in n.input]
        if op == "Constant":
            if "value" in a:
                return [numpy_helper.to_array(a["value"])]
            if "value_float" in a:
                return [np.array(a["value_float"], np.float32)]
            if "value_floats" in a:
                return [np.array(a["value_floats"], np.float32)]
            if "value_int" in a:
                return [np.array(a["value_int"], np.int64)]
            if "value_ints" in a:
                return [np.array(a["value_ints"], np.int64)]
            raise WalkError("unsupported Constant attribute in " + node_label(n))
        if op in ("Identity", "Dropout"):
            return [ins[0].copy()]
        if op == "Relu":
            return [np.maximum(ins[0], np.float32(0)).astype(ins[0].dtype)]
        if op == "Clip":
            lo = a.get("min", None)
            hi = a.get("max", None)
            if len(ins) > 1 and ins[1] is not None:
                lo = ins[1]
            if len(ins) > 2 and ins[2] is not None:
                hi = ins[2]
            y = ins[0]
            if lo is not None:
                y = np.maximum(y, np.asarray(lo, y.dtype))
            if hi is not None:
                y = np.minimum(y, np.asarray(hi, y.dtype))
            return [y.astype(ins[0].dtype)]
        if op == "Sigmoid":
            x = ins[0]
            if torch is not None:
                return [torch.sigmoid(torch.from_numpy(np.array(x, np.float32))).numpy()]
            return [(1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)]
        if op in ("Softmax", "LogSoftmax"):
            axis = a.get("axis", -1)
            x = ins[0].astype(np.float64)
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
            if op == "LogSoftmax":
                y = np.log(y)
            return [y.astype(np.float32)]
        if op in ("Add", "Sub", "Mul", "Div"):
            x0, x1 = ins
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            return [f(x0, x1).astype(np.result_type(x0, x1))]
        if op == "Conv":
            x, w = ins[0], ins[1]
            b = ins[2] if len(ins) > 2 else None
            k = list(a.get("kernel_shape", w.shape[2:]))
            s = list(a.get("strides", [1, 1]))
            d = list(a.get("dilations", [1, 1]))
            pads = conv_pads(a, x.shape[2:], k, s, d)
            return [conv_forward(x, w, b, s, d, pads, a.get("group", 1))]
        if op in ("MaxPool", "AveragePool"):
            x = ins[0]
            k = list(a["kernel_shape"])
            s = list(a.get("strides", [1, 1]))
            d = list(a.get("dilations", [1, 1]))
            pads = conv_pads(a, x.shape[2:], k, s, d)
            kind = "max" if op == "MaxPool" else "avg"
            return [pool_forward(x, k, s, d, pads, a.get("ceil_mode", 0), kind,
                                 a.get("count_include_pad", 0))]
        if op == "GlobalAveragePool":
            return [ins[0].mean(axis=(2, 3), keepdims=True, dtype=np.float32)]
        if op == "GlobalMaxPool":
            return [ins[0].max(axis=(2, 3), keepdims=True)]
        if op == "ReduceMean":
            axes = tuple(a.get("axes", range(ins[0].ndim)))
            return [ins[0].mean(axis=axes, keepdims=bool(a.get("keepdims", 1)), dtype=np.float32)]
        if op == "BatchNormalization":
            x, gamma, beta, mean, var = ins[:5]
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1) + (1,) * (x.ndim - 2)
            sd = np.sqrt(var.astype(np.float32) + np.float32(eps))
            y = (x - mean.reshape(sh)) / sd.reshape(sh) * gamma.reshape(sh) + beta.reshape(sh)
            return [y.astype(np.float32)]
        if op == "Gemm":
            A, B = ins[0], ins[1]
            C = ins[2] if len(ins) > 2 else None
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = np.float32(a.get("alpha", 1.0)) * (A.astype(np.float32) @ B.astype(np.float32))
            if C is not None:
                y = y + np.float32(a.get("beta", 1.0)) * C
            return [y.astype(np.float32)]
        if op == "MatMul":
            return [np.matmul(ins[0], ins[1]).astype(np.float32)]
        if op == "Flatten":
            axis = a.get("axis", 1)
            x = ins[0]
            if axis < 0:
                axis += x.ndim
            lead = int(np.prod(x.shape[:axis]))
            return [x.reshape(lead, -1)]
        if op == "Reshape":
            x, shape = ins[0], [int(s) for s in ins[1]]
            shape = [x.shape[i] if s == 0 and not a.get("allowzero", 0) else s
                     for i, s in enumerate(shape)]
            return [x.reshape(shape)]
        if op == "Squeeze":
            axes = a.get("axes", None)
            if len(ins) > 1 and ins[1] is not None:
                axes = [int(t) for t in ins[1]]
            return [np.squeeze(ins[0], axis=None if axes is None else tuple(axes))]
        if op == "Unsqueeze":
            axes = a.get("axes", None)
            if len(ins) > 1 and ins[1] is not None:
                axes = [int(t) for t in ins[1]]
            y = ins[0]
            nd = y.ndim + len(axes)
            for ax in sorted(ax % nd for ax in axes):
                y = np.expand_dims(y, ax)
            return [y]
        if op == "Transpose":
            perm = a.get("perm", None)
            return [np.transpose(ins[0], perm)]
        if op == "Concat":
            return [np.concatenate(ins, axis=a["axis"])]
        if op == "Pad":
            x = ins[0]
            if len(ins) > 1 and ins[1] is not None:
                pads = [int(p) for p in ins[1]]
            else:
                pads = list(a["pads"])
            cval = 0.0
            if len(ins) > 2 and ins[2] is not None and ins[2].size:
                cval = float(ins[2].reshape(-1)[0])
            mode = a.get("mode", b"constant")
            if isinstance(mode, bytes):
                mode = mode.decode()
            r = x.ndim
            begins, ends = pads[:r], pads[r:]
            # negative pads crop
            sl = tuple(slice(max(0, -b), x.shape[i] - max(0, -e)) for i, (b, e) in enumerate(zip(begins, ends)))
            x = x[sl]
            pw = [(max(0, b), max(0, e)) for b, e in zip(begins, ends)]
            if mode == "constant":
                return [np.pad(x, pw, mode="constant", constant_values=cval).astype(x.dtype)]
            return [np.pad(x, pw, mode={"reflect": "reflect", "edge": "edge"}[mode])]
        if op == "QuantizeLinear":
            return [quantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                    a.get("axis", 1))]
        if op == "DequantizeLinear":
            return [dequantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                      a.get("axis", 1))]
        if op == "Shape":
            return [np.array(ins[0].shape, np.int64)]
        if op == "Cast":
            to = a["to"]
            return [ins[0].astype(helper.tensor_dtype_to_np_dtype(to))]
        raise WalkError("forward: unsupported op " + node_label(n))


# --------------------------------------------------------------------------
# Backward "unravel" walk
# --------------------------------------------------------------------------

PASS_THROUGH = {
    "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Elu", "Dropout", "Identity", "LRN", "BatchNormalization", "Softmax",
    "LogSoftmax", "Cast", "QuantizeLinear", "DequantizeLinear",
}
RESHAPES = {"Flatten", "Reshape", "Squeeze", "Unsqueeze"}
ELEMENTWISE_CONST = {"Add", "Sub", "Mul", "Div"}


class Options:
    def __init__(self, refine=False, all_positive=False, fold_bn=True):
        self.refine = refine              # conv position option "refine"
        self.all_positive = all_positive  # rule 1 flattened-spatial: keep all positive
        self.fold_bn = fold_bn            # rank convs with BN-folded weights


class Walker:
    def __init__(self, model, opts):
        self.m = model
        self.v = model.values
        self.o = opts

    # ------------------------------------------------------------- helpers
    def shape(self, name):
        return self.v[name].shape

    def size(self, name):
        return int(self.v[name].size)

    def nonconst_inputs(self, node):
        return [(i, name) for i, name in enumerate(node.input)
                if name and not self.m.is_const(name)]

    def is_spatial_chain(self, name):
        """Precise choice: trace back through Flatten/Reshape/Squeeze/Unsqueeze
        and pass-through ops (incl. Add/Sub/Mul/Div with a constant operand) to
        where the chain starts; spatial iff that tensor is [1,C,H,W], H*W > 1."""
        t = name
        while True:
            p = self.m.producer.get(t)
            if p is None:
                break
            if p.op_type in RESHAPES or p.op_type in PASS_THROUGH:
                t = p.input[0]
                continue
            if p.op_type in ELEMENTWISE_CONST:
                nc = self.nonconst_inputs(p)
                if len(nc) == 1 and len(p.input) == 2:
                    t = nc[0][1]
                    continue
            break
        s = self.shape(t)
        return len(s) == 4 and s[0] == 1 and s[2] * s[3] > 1

    def bn_sign(self, conv):
        """Sign of gamma/sigma per output channel when a BatchNormalization is
        the only consumer of this Conv's output (None when no folding)."""
        if not self.o.fold_bn:
            return None
        cons = self.m.consumers.get(conv.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "BatchNormalization":
            return None
        if self.m.output == conv.output[0]:
            return None
        bn = cons[0]
        if bn.input[0] != conv.output[0]:
            return None
        eps = node_attrs(bn).get("epsilon", 1e-5)
        gamma = self.v[bn.input[1]].astype(np.float64)
        var = self.v[bn.input[4]].astype(np.float64)
        scale = gamma / np.sqrt(var + eps)
        return np.sign(scale)

    # ------------------------------------------------------------- run
    def run(self, start_tensor, start_indices):
        sets = {start_tensor: np.unique(np.asarray(start_indices, np.int64))}
        for node in reversed(self.m.nodes):
            outs = [sets.get(o) for o in node.output if o]
            if not any(s is not None and s.size for s in outs):
                continue
            if len(node.output) > 1 and any(sets.get(o) is not None and sets[o].size
                                            for o in node.output[1:] if o):
                raise WalkError("fixations reached a secondary output of " + node_label(node))
            out_set = sets[node.output[0]]
            for name, idx in self.step(node, out_set):
                idx = np.asarray(idx, np.int64)
                if name in sets:
                    sets[name] = np.union1d(sets[name], idx)
                else:
                    sets[name] = np.unique(idx)
        return sets

    def step(self, node, out):
        op = node.op_type
        if op in PASS_THROUGH:
            return [(node.input[0], out)]
        if op in RESHAPES:
            return [(node.input[0], out)]
        if op in ("Gemm", "MatMul"):
            return self.fc(node, out)
        if op == "Conv":
            return self.conv(node, out)
        if op in ("MaxPool", "AveragePool"):
            return self.pool(node, out)
        if op in ("GlobalAveragePool", "GlobalMaxPool"):
            return self.global_pool(node, out)
        if op == "ReduceMean":
            return self.reduce_mean(node, out)
        if op == "Pad":
            return self.pad(node, out)
        if op == "Add":
            return self.add(node, out)
        if op == "Mul":
            return self.mul(node, out)
        if op in ("Sub", "Div"):
            nc = self.nonconst_inputs(node)
            if len(nc) == 1 and self.shape(nc[0][1]) == self.shape(node.output[0]):
                return [(nc[0][1], out)]
            raise WalkError("no rule for %s without a constant operand" % node_label(node))
        if op == "Concat":
            return self.concat(node, out)
        raise WalkError("no CNN Fixations rule for op type '%s' (%s)" % (op, node_label(node)))

    # ------------------------------------------------------------- rule 1
    def fc_select(self, contrib, spatial):
        """contrib: float64 contributions of one output neuron, in input order.
        Returns the positions kept."""
        if spatial and not self.o.all_positive:
            return np.array([int(np.argmax(contrib))], np.int64)
        return np.nonzero(contrib > 0)[0]

    def fc(self, node, out):
        a = node_attrs(node)
        nc = self.nonconst_inputs(node)
        if node.op_type == "Gemm":
            if len(nc) != 1 or nc[0][0] != 0:
                raise WalkError("Gemm with a non-constant weight: " + node_label(node))
            A = self.v[node.input[0]]
            B = self.v[node.input[1]].astype(np.float64)
            alpha = float(a.get("alpha", 1.0))
            transA = a.get("transA", 0)
            if a.get("transB", 0):
                B = B.T
            Wm = alpha * B                                     # [K, N]
            Am = (A.T if transA else A).astype(np.float64)    # [M, K]
            M, K = Am.shape
            N = Wm.shape[1]

            def in_index(m, i):
                return i * M + m if transA else m * K + i
        else:  # MatMul
            if len(nc) != 1 or nc[0][0] != 0:
                raise WalkError("MatMul with a non-constant right operand: " + node_label(node))
            A = self.v[node.input[0]]
            B = self.v[node.input[1]]
            if B.ndim != 2:
                raise WalkError("MatMul with a batched weight: " + node_label(node))
            K = A.shape[-1]
            Am = A.reshape(-1, K).astype(np.float64)
            M = Am.shape[0]
            Wm = B.astype(np.float64)
            N = Wm.shape[1]

            def in_index(m, i):
                return m * K + i
        spatial = self.is_spatial_chain(node.input[0])
        kept = []
        for o in out.tolist():
            m, j = divmod(o, N)
            contrib = Am[m] * Wm[:, j]
            for i in self.fc_select(contrib, spatial).tolist():
                kept.append(in_index(m, i))
        return [(node.input[0], kept)]

    # ------------------------------------------------------------- rule 1/2
    def conv(self, node, out):
        a = node_attrs(node)
        xname = node.input[0]
        if self.m.is_const(node.input[0]) or not self.m.is_const(node.input[1]):
            raise WalkError("Conv with a non-constant weight: " + node_label(node))
        X = self.v[xname][0]
        Wt = self.v[node.input[1]]
        C, H, W = X.shape
        Cout, Cg, KH, KW = Wt.shape
        group = a.get("group", 1)
        s = list(a.get("strides", [1, 1]))
        d = list(a.get("dilations", [1, 1]))
        pt, pl, _, _ = conv_pads(a, (H, W), (KH, KW), s, d)
        _, _, OH, OW = self.shape(node.output[0])
        sign = self.bn_sign(node)
        kept = []
        X64 = X.astype(np.float64)
        W64 = Wt.astype(np.float64)

        if OH == 1 and OW == 1 and group == 1:
            # Rule 1: a fully connected layer over the in-bounds taps.
            spatial = self.is_spatial_chain(xname)
            rows = [(u, -pt + u * d[0]) for u in range(KH) if 0 <= -pt + u * d[0] < H]
            cols = [(v, -pl + v * d[1]) for v in range(KW) if 0 <= -pl + v * d[1] < W]
            tap_index = []
            tap_uv = []
            for k in range(C):
                for (u, r) in rows:
                    for (v, c) in cols:
                        tap_index.append(k * H * W + r * W + c)
                        tap_uv.append((k, r, c, u, v))
            tk = np.array([t[0] for t in tap_uv]); tr = np.array([t[1] for t in tap_uv])
            tc = np.array([t[2] for t in tap_uv]); tu = np.array([t[3] for t in tap_uv])
            tv = np.array([t[4] for t in tap_uv])
            tap_index = np.array(tap_index, np.int64)
            acts = X64[tk, tr, tc]
            for oc in out.tolist():
                contrib = acts * W64[oc, tk, tu, tv]
                kept.extend(tap_index[self.fc_select(contrib, spatial)].tolist())
            return [(xname, kept)]

        # Rule 2
        opg = Cout // group
        for o in out.tolist():
            c, rem = divmod(o, OH * OW)
            y, x = divmod(rem, OW)
            g = c // opg
            k0 = g * Cg
            r0 = y * s[0] - pt
            c0 = x * s[1] - pl
            sg = 1.0 if sign is None else float(sign[c])
            if Cg == 1:
                kstar = k0
            else:
                acc = np.zeros(Cg, np.float64)
                for u in range(KH):
                    r = r0 + u * d[0]
                    if r < 0 or r >= H:
                        continue
                    for v in range(KW):
                        cc = c0 + v * d[1]
                        if cc < 0 or cc >= W:
                            continue
                        acc += X64[k0:k0 + Cg, r, cc] * W64[c, :, u, v]
                if sg > 0:
                    kstar = k0 + int(np.argmax(acc))
                elif sg < 0:
                    kstar = k0 + int(np.argmin(acc))
                else:
                    kstar = k0  # all folded sums are zero: lowest index
            cy = min(max(r0 + ((KH - 1) * d[0]) // 2, 0), H - 1)
            cx = min(max(c0 + ((KW - 1) * d[1]) // 2, 0), W - 1)
            if self.o.refine:
                best = None
                for u in range(KH):
                    r = r0 + u * d[0]
                    if r < 0 or r >= H:
                        continue
                    for v in range(KW):
                        cc = c0 + v * d[1]
                        if cc < 0 or cc >= W:
                            continue
                        val = sg * (X64[kstar, r, cc] * W64[c, kstar - k0, u, v])
                        if best is None or val > best[0]:
                            best = (val, r, cc)
                if best is not None:
                    cy, cx = best[1], best[2]
            kept.append((kstar * H + cy) * W + cx)
        return [(xname, kept)]

    # ------------------------------------------------------------- rules 3/4
    def pool(self, node, out):
        a = node_attrs(node)
        X = self.v[node.input[0]][0]
        C, H, W = X.shape
        k = list(a["kernel_shape"])
        s = list(a.get("strides", [1, 1]))
        d = list(a.get("dilations", [1, 1])) if node.op_type == "MaxPool" else [1, 1]
        pt, pl, _, _ = conv_pads(a, (H, W), k, s, d)
        _, _, OH, OW = self.shape(node.output[0])
        kept = []
        for o in out.tolist():
            c, rem = divmod(o, OH * OW)
            y, x = divmod(rem, OW)
            best = None
            for u in range(k[0]):
                r = y * s[0] - pt + u * d[0]
                if r < 0 or r >= H:
                    continue
                for v in range(k[1]):
                    cc = x * s[1] - pl + v * d[1]
                    if cc < 0 or cc >= W:
                        continue
                    val = X[c, r, cc]
                    if best is None or val > best[0]:
                        best = (val, r, cc)
            if best is None:
                continue  # window wholly in padding: nothing to keep
            kept.append((c * H + best[1]) * W + best[2])
        return [(node.input[0], kept)]

    def _argmax_in_map(self, X, c):
        H, W = X.shape[1:]
        return c * H * W + int(np.argmax(X[c].reshape(-1)))

    def global_pool(self, node, out):
        X = self.v[node.input[0]][0]
        Cn = X.shape[0]
        kept = [self._argmax_in_map(X, o % Cn) for o in out.tolist()]
        return [(node.input[0], kept)]

    def reduce_mean(self, node, out):
        a = node_attrs(node)
        x = self.v[node.input[0]]
        axes = sorted(ax % x.ndim for ax in a.get("axes", range(x.ndim)))
        if x.ndim != 4 or x.shape[0] != 1 or axes != [2, 3]:
            raise WalkError("ReduceMean over axes other than H,W: " + node_label(node))
        X = x[0]
        kept = [self._argmax_in_map(X, o) for o in out.tolist()]
        return [(node.input[0], kept)]

    # ------------------------------------------------------------- rule 7
    def pad(self, node, out):
        a = node_attrs(node)
        x = self.v[node.input[0]]
        if len(node.input) > 1 and node.input[1]:
            pads = [int(p) for p in self.v[node.input[1]]]
        else:
            pads = list(a["pads"])
        if len(node.input) > 3 and node.input[3]:
            raise WalkError("Pad with axes input: " + node_label(node))
        r = x.ndim
        begins = np.array(pads[:r])
        oshape = self.shape(node.output[0])
        coords = np.array(np.unravel_index(out, oshape)).T - begins[None, :]
        ok = np.all((coords >= 0) & (coords < np.array(x.shape)[None, :]), axis=1)
        coords = coords[ok]
        kept = np.ravel_multi_index(tuple(coords.T), x.shape) if coords.size else []
        return [(node.input[0], kept)]

    # ------------------------------------------------------------- rule 8
    def add(self, node, out):
        nc = self.nonconst_inputs(node)
        oshape = self.shape(node.output[0])
        if len(nc) == 1:
            if self.shape(nc[0][1]) != oshape:
                raise WalkError("Add with a broadcast operand: " + node_label(node))
            return [(nc[0][1], out)]
        if len(nc) == 0:
            return []
        for _, name in nc:
            if self.shape(name) != oshape:
                raise WalkError("residual Add with broadcasting: " + node_label(node))
        vals = np.stack([self.v[name].reshape(-1)[out] for _, name in nc])  # [inputs, n]
        choice = np.argmax(vals, axis=0)  # ties: lowest input index
        res = []
        for j, (_, name) in enumerate(nc):
            res.append((name, out[choice == j]))
        return res

    # ------------------------------------------------------------- rule 10
    def mul(self, node, out):
        nc = self.nonconst_inputs(node)
        oshape = self.shape(node.output[0])
        full = [name for _, name in nc if self.shape(name) == oshape]
        if len(nc) == 0:
            return []
        if not full:
            raise WalkError("Mul with no operand of the output's shape: " + node_label(node))
        return [(full[0], out)]  # gate / constant gets nothing; both full: lowest index

    # ------------------------------------------------------------- rule 9
    def concat(self, node, out):
        a = node_attrs(node)
        oshape = self.shape(node.output[0])
        axis = a["axis"] % len(oshape)
        if axis != 1:
            raise WalkError("Concat on an axis other than channels: " + node_label(node))
        inner = int(np.prod(oshape[2:]))
        ch = out // inner
        rest = out % inner
        res = []
        off = 0
        for name in node.input:
            cn = self.shape(name)[1]
            sel = (ch >= off) & (ch < off + cn)
            if np.any(sel) and not self.m.is_const(name):
                res.append((name, (ch[sel] - off) * inner + rest[sel]))
            off += cn
        return res


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def has_conv_bn(model):
    for n in model.nodes:
        if n.op_type == "Conv":
            cons = model.consumers.get(n.output[0], [])
            if len(cons) == 1 and cons[0].op_type == "BatchNormalization":
                return True
    return False


def start_of(model):
    """Start tensor: the model output, or the input of a final Softmax."""
    t = model.output
    p = model.producer.get(t)
    if p is not None and p.op_type in ("Softmax", "LogSoftmax"):
        t = p.input[0]
    return t


def run_variant(model, opts):
    t = start_of(model)
    logits = model.values[t].reshape(-1)
    target = int(np.argmax(logits))
    sets = Walker(model, opts).run(t, [target])
    inp = model.inputs[0]
    ishape = model.values[inp].shape[1:]
    idx = sets.get(inp, np.zeros(0, np.int64))
    fix = np.array(np.unravel_index(idx, ishape)).T.tolist() if idx.size else []
    counts = {}
    # a stable order: the graph input first, then node outputs in graph order
    order = [inp] + [o for n in model.nodes for o in n.output if o]
    for name in order:
        if name in sets and sets[name].size:
            counts[name] = int(sets[name].size)
    return target, fix, counts


def fixture_input(fdir):
    """The input tensor of a fixture folder and its reference logits (None if absent):
    input.npy and logits.npy (tiny fixtures), or the files a fixture.json names
    (tests/fixtures/qdq: "input" relative to the folder, "reference_logits"), or
    logits.json (the repository's tests/fixtures/tiny)."""
    meta = os.path.join(fdir, "fixture.json")
    if os.path.exists(meta):
        with open(meta) as fh:
            m = json.load(fh)
        x = np.load(os.path.normpath(os.path.join(fdir, m["input"]))).astype(np.float32)
        ref = m.get("reference_logits")
        return x, None if ref is None else np.array(ref, np.float32).reshape(1, -1)
    x = np.load(os.path.join(fdir, "input.npy")).astype(np.float32)
    lp = os.path.join(fdir, "logits.npy")
    if os.path.exists(lp):
        return x, np.load(lp).astype(np.float32)
    lj = os.path.join(fdir, "logits.json")  # the repository's copy of the tiny fixtures
    if os.path.exists(lj):
        with open(lj) as fh:
            return x, np.array(json.load(fh)["logits"], np.float32).reshape(1, -1)
    return x, None


def load_activations(model, folder):
    """Replace the forward values of the tensors in a dump of the product's forward pass
    (tools/reference/dump/dump_forward.cs: index.json + one .npy per tensor) with the
    dumped ones. Returns a summary: how many tensors were replaced and how many of them,
    and of their elements, differ from this script's own float32 forward pass."""
    with open(os.path.join(folder, "index.json")) as fh:
        index = json.load(fh)["tensors"]
    replaced = differing = elements = 0
    digest = hashlib.sha256()
    names = []
    for name, f in sorted(index.items()):
        if name not in model.values or name in model.inputs:
            continue
        dumped = np.load(os.path.join(folder, f)).astype(np.float32)
        digest.update(np.ascontiguousarray(dumped, "<f4").tobytes())
        names.append(name)
        own = model.values[name]
        dumped = dumped.reshape(own.shape)
        n = int(np.count_nonzero(dumped != own.astype(np.float32)))
        replaced += 1
        if n:
            differing += 1
            elements += n
        model.values[name] = dumped
    # names (ordinal order) and the sha256 of their float32 bytes in that order: the product's
    # tests compare their own forward pass with it
    return {"tensors": replaced, "tensorsDiffering": differing, "elementsDiffering": elements,
            "names": names, "sha256": digest.hexdigest()}


VARIANTS = {"": lambda: Options(), ".refine": lambda: Options(refine=True),
            ".allpositive": lambda: Options(all_positive=True),
            ".rawbn": lambda: Options(fold_bn=False)}


def single(args):
    """One model on one input tensor (--model mode)."""
    inp = args.input or os.path.join(args.activations, "input.npy")
    x = np.load(inp).astype(np.float32)
    model = Model(args.model)
    own = model.forward(x).reshape(-1).copy()
    source = {"forward": "reference float32"}
    if args.activations:
        source = load_activations(model, args.activations)
        source["forward"] = "product (ONNX Runtime) values of the tensors the walk reads"
    logits = model.values[start_of(model)].reshape(-1)
    info = []
    for suffix in args.variants.split(","):
        suffix = "" if suffix in ("", "default") else "." + suffix.lstrip(".")
        target, fix, counts = run_variant(model, VARIANTS[suffix]())
        doc = {
            "model": args.model_label or args.model,
            "input": args.input_label or inp,
            "inputSha256": hashlib.sha256(np.ascontiguousarray(x, "<f4").tobytes()).hexdigest(),
            "inputShape": list(int(v) for v in x.shape),
            "activations": source,
            "logits": [float(v) for v in logits],
            "target": target,
            "inputFixations": fix,
            "layerCounts": counts,
        }
        if args.activations:  # the reference's own logits too, for comparison
            doc["referenceLogits"] = [float(v) for v in own]
        with open(os.path.join(args.out, args.name + suffix + ".json"), "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        info.append("%s:%d" % (suffix or "default", len(fix)))
    print("%-28s target=%d own-argmax=%d %s %s" % (args.name, target, int(np.argmax(own)), source, " ".join(info)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", help="a folder of fixture folders (every model in each)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--activations-root", help="--fixtures: <root>/<stem>/ holds the product's forward dump for model <stem> (see --activations)")
    ap.add_argument("--model", help="one model instead of --fixtures")
    ap.add_argument("--input", help="--model: the input tensor (.npy; default: <activations>/input.npy)")
    ap.add_argument("--activations", help="--model: a dump of the product's forward pass whose values replace the reference's own")
    ap.add_argument("--name", help="--model: the stem of the JSON files written")
    ap.add_argument("--variants", default="default,refine", help="--model: comma-separated: default, refine, allpositive, rawbn")
    ap.add_argument("--model-label", help="--model: the model path recorded in the JSON")
    ap.add_argument("--input-label", help="--model: the input recorded in the JSON (e.g. the image)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.model:
        if not args.name or not (args.input or args.activations):
            ap.error("--model needs --name and --input or --activations")
        return single(args)
    if not args.fixtures:
        ap.error("give --fixtures or --model")
    summary = []
    failed = False
    for folder in sorted(os.listdir(args.fixtures)):
        fdir = os.path.join(args.fixtures, folder)
        if not os.path.isdir(fdir):
            continue
        files = sorted(f for f in os.listdir(fdir) if f.endswith(".onnx"))
        if not files:
            continue
        x, ref = fixture_input(fdir)
        for f in files:
            stem = f[:-5]
            default = not (stem.endswith("_bn") or stem.endswith("_cf"))
            t0 = time.time()
            model = Model(os.path.join(fdir, f))
            logits = model.forward(x)
            if ref is None:
                diff, tol_ok = float("nan"), True
            else:
                diff = float(np.max(np.abs(logits.astype(np.float64) - ref.astype(np.float64))))
                tol_ok = bool(np.all(np.abs(logits.astype(np.float64) - ref) <= 1e-4 + 1e-4 * np.abs(ref)))
            source = None
            if args.activations_root:
                source = load_activations(model, os.path.join(args.activations_root, stem))
                source["forward"] = "product (ONNX Runtime) values of the tensors the walk reads"
                logits = model.values[start_of(model)]
            t1 = time.time()
            variants = [("", Options())]
            if default:
                variants.append((".refine", Options(refine=True)))
                variants.append((".allpositive", Options(all_positive=True)))
            if has_conv_bn(model):
                variants.append((".rawbn", Options(fold_bn=False)))
            info = []
            for suffix, opts in variants:
                tv = time.time()
                target, fix, counts = run_variant(model, opts)
                doc = {
                    "model": "%s/%s" % (folder, f),
                    "inputShape": list(int(s) for s in model.values[model.inputs[0]].shape),
                    "logits": [float(v) for v in logits.reshape(-1)],
                    "target": target,
                    "inputFixations": fix,
                    "layerCounts": counts,
                }
                if source is not None:
                    doc["activations"] = source
                with open(os.path.join(args.out, stem + suffix + ".json"), "w") as fh:
                    json.dump(doc, fh, indent=1)
                    fh.write("\n")
                info.append("%s:%d(%.2fs)" % (suffix or "default", len(fix), time.time() - tv))
            line = "%-22s diff=%.2e ok=%s target=%d fwd=%.2fs %s" % (
                stem, diff, tol_ok, target, t1 - t0, " ".join(info))
            print(line, flush=True)
            failed |= not tol_ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
