#!/usr/bin/python3
"""Fixtures for "models from other tools" (issue 13): small seeded-random CNNs exported the ways other
tools export them, each with PyTorch reference logits.

Run with Debian's python3-torch / python3-onnx: /usr/bin/python3 tools/exports/make_exports.py
Writes tests/fixtures/exports/<name>/ : model.onnx, image.png (a seeded-random 8-bit RGB image the size
of the input) and reference.json (the input tensor the model sees for that image, computed here in Python
from the PNG's pixels, and PyTorch's logits for it).

Nothing here is a trained model. Deterministic: fixed seeds, no constant folding surprises, and
torch.use_deterministic_algorithms.
"""
import json, os, struct, sys, zlib
import numpy as np
import torch
import torch.nn as nn
import onnx
from onnx import helper, TensorProto, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "exports")
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def image(h, w, seed):
    """A smooth-ish random picture (blocks of colour plus noise) so that resizing is never needed."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(h // 4 + 1, w // 4 + 1, 3))
    img = np.repeat(np.repeat(base, 4, axis=0), 4, axis=1)[:h, :w]
    noise = rng.integers(-20, 21, size=(h, w, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def luminance(rgb):
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 299 + g * 587 + b * 114 + 500) // 1000).astype(np.float32)


def torchvision_tensor(rgb):
    x = (rgb.astype(np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def seed_all(seed):
    torch.manual_seed(seed)


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed + 1000)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


class Small(nn.Module):
    """conv-bn-relu-maxpool, conv-bn-relu, global average pool, linear: a torchvision-like head."""
    def __init__(self, cin=3, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(cin, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class LeNet5(nn.Module):
    """LeNet-5 (one channel, 32x32): conv5 6, pool, conv5 16, pool, fc 120, fc 84, fc 10."""
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class ZFNet(nn.Module):
    """ZFNet's shape, narrowed (3x128x128 input): 7x7 stride-2 conv, overlapping max pool 3/2, LRN, 5x5 stride-2 conv,
    pool 3/2, LRN, three 3x3 convs, pool 3/2, three fully connected layers."""
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 12, 7, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1), nn.LocalResponseNorm(5),
            nn.Conv2d(12, 16, 5, stride=2), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1), nn.LocalResponseNorm(5),
            nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(),
            nn.Conv2d(24, 24, 3, padding=1), nn.ReLU(),
            nn.Conv2d(24, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2))
        self.classifier = nn.Sequential(nn.Linear(16 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Nhwc(nn.Module):
    """The same network behind a channel-last input, as TensorFlow-converted models have it."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.permute(0, 3, 1, 2))


class Uint8Nhwc(nn.Module):
    """TFLite style: uint8 [1,H,W,3] input, Cast, in-graph (x - 127.5) / 127.5, Transpose."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        x = (x.float() - 127.5) / 127.5
        return self.inner(x.permute(0, 3, 1, 2))


class InGraphNorm(nn.Module):
    """Float NCHW input in 0..255, normalized inside the graph (Sub/Div by per-channel constants)."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(MEAN * 255).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD * 255).view(1, 3, 1, 1))

    def forward(self, x):
        return self.inner((x - self.mean) / self.std)


class PostProcessed(nn.Module):
    """Outputs probabilities (Softmax) and the arg-max label (int64 [1,1]), as deployment exports do."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        logits = self.inner(x)
        return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1, keepdim=True)


class SigmoidHead(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.sigmoid(self.inner(x))


def export(module, example, path, opset=13, input_names=("input",), output_names=("logits",), dynamic_axes=None, keep_bn=False):
    module.eval()
    torch.onnx.export(module, example, path, opset_version=opset, do_constant_folding=False,
                      input_names=list(input_names), output_names=list(output_names), dynamic_axes=dynamic_axes,
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    onnx.checker.check_model(m)


def save(name, model_path_name, reference, rgb=None, extra=None):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    if rgb is not None:
        write_png(os.path.join(folder, "image.png"), rgb)
    doc = {"model": model_path_name, **reference, **(extra or {})}
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def logits_of(module, x):
    module.eval()
    with torch.no_grad():
        out = module(torch.from_numpy(x) if isinstance(x, np.ndarray) else x)
    out = out[0] if isinstance(out, tuple) else out
    return out.reshape(-1).double().tolist()


def reference(module, x, tensor_for_model, logits_module=None):
    logits = logits_of(logits_module or module, x)
    return {"input_shape": list(tensor_for_model.shape), "logits": logits, "argmax": int(np.argmax(logits))}


def main():
    os.makedirs(OUT, exist_ok=True)
    H = W = 32

    # 1. NCHW original and its NHWC wrapper, plus Softmax-only, post-processed and Sigmoid variants (same weights).
    seed_all(0)
    small = Small()
    randomize_bn(small, 0)
    small.eval()
    rgb = image(H, W, 1)
    x = torchvision_tensor(rgb)
    d = os.path.join(OUT, "small"); os.makedirs(d, exist_ok=True)
    export(small, torch.from_numpy(x), os.path.join(d, "model.onnx"))
    save("small", "model.onnx", reference(small, x, x), rgb)

    d = os.path.join(OUT, "small_nhwc"); os.makedirs(d, exist_ok=True)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    export(Nhwc(small), torch.from_numpy(xh), os.path.join(d, "model.onnx"))
    save("small_nhwc", "model.onnx", reference(Nhwc(small), xh, xh), rgb)

    d = os.path.join(OUT, "small_softmax"); os.makedirs(d, exist_ok=True)
    export(nn.Sequential(small, nn.Softmax(dim=1)), torch.from_numpy(x), os.path.join(d, "model.onnx"), output_names=("probabilities",))
    save("small_softmax", "model.onnx", reference(small, x, x), rgb, {"note": "logits are those before the Softmax"})

    d = os.path.join(OUT, "small_sigmoid"); os.makedirs(d, exist_ok=True)
    export(SigmoidHead(small), torch.from_numpy(x), os.path.join(d, "model.onnx"), output_names=("scores",))
    save("small_sigmoid", "model.onnx", reference(small, x, x), rgb, {"note": "logits are those before the Sigmoid"})

    d = os.path.join(OUT, "small_postprocessed"); os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    export(PostProcessed(small), torch.from_numpy(x), path, output_names=("probabilities", "label"))
    add_zipmap_and_labels(path, 10)
    save("small_postprocessed", "model.onnx", reference(small, x, x), rgb,
         {"note": "outputs: label (int64 [1,1] ArgMax), probabilities (Softmax), class_name (string, ArrayFeatureExtractor), class_map (ZipMap); logits are before the Softmax"})

    # 2. uint8 channel-last input with the normalization inside (TFLite style): the image's raw bytes go in.
    d = os.path.join(OUT, "small_uint8_nhwc"); os.makedirs(d, exist_ok=True)
    xu = rgb[None].copy()
    export(Uint8Nhwc(small), torch.from_numpy(xu), os.path.join(d, "model.onnx"))
    save("small_uint8_nhwc", "model.onnx", reference(Uint8Nhwc(small), torch.from_numpy(xu), xu), rgb)

    # 3. Float input 0..255 normalized in the graph (Sub/Div by constants at the input).
    d = os.path.join(OUT, "small_ingraph_norm"); os.makedirs(d, exist_ok=True)
    xr = rgb.astype(np.float32).transpose(2, 0, 1)[None].copy()
    export(InGraphNorm(small), torch.from_numpy(xr), os.path.join(d, "model.onnx"))
    save("small_ingraph_norm", "model.onnx", reference(InGraphNorm(small), xr, xr), rgb)

    # 4. torchvision-style exports with a free batch axis, BatchNormalization kept, at several opsets;
    #    and one with free spatial axes (needs --size or metadata input_size).
    for opset in (7, 9, 11, 13, 15, 17):
        name = f"small_bn_dynamic_opset{opset}"
        d = os.path.join(OUT, name); os.makedirs(d, exist_ok=True)
        export(small, torch.from_numpy(x), os.path.join(d, "model.onnx"), opset=opset, keep_bn=True,
               dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        save(name, "model.onnx", reference(small, x, x), rgb)
    d = os.path.join(OUT, "small_dynamic_hw"); os.makedirs(d, exist_ok=True)
    export(small, torch.from_numpy(x), os.path.join(d, "model.onnx"), dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}})
    save("small_dynamic_hw", "model.onnx", reference(small, x, x), rgb, {"note": "free H and W: give --size 32x32"})

    # 5. LeNet-5: one channel (the image's luminance, Pillow's L, normalized with 0.449/0.226).
    seed_all(5)
    lenet = LeNet5().eval()
    gray = luminance(rgb)
    xg = ((gray / 255.0 - np.float32(0.449)) / np.float32(0.226)).astype(np.float32)[None, None]
    d = os.path.join(OUT, "lenet5"); os.makedirs(d, exist_ok=True)
    export(lenet, torch.from_numpy(xg), os.path.join(d, "model.onnx"))
    save("lenet5", "model.onnx", reference(lenet, xg, xg), rgb,
         {"input_generation": "L = (299 R + 587 G + 114 B + 500) // 1000 of image.png, then (L/255 - 0.449) / 0.226"})

    # 6. ZFNet-shaped, 3x128x128, torchvision preprocessing.
    seed_all(6)
    zf = ZFNet().eval()
    rgb_z = image(128, 128, 2)
    xz = torchvision_tensor(rgb_z)
    d = os.path.join(OUT, "zfnet"); os.makedirs(d, exist_ok=True)
    export(zf, torch.from_numpy(xz), os.path.join(d, "model.onnx"))
    save("zfnet", "model.onnx", reference(zf, xz, xz), rgb_z)


def add_zipmap_and_labels(path, classes):
    """Adds ai.onnx.ml outputs behind the exported ones: class_name = labels[label] (ArrayFeatureExtractor on a
    string constant) and class_map = ZipMap(probabilities); the outputs are ordered labels first."""
    m = onnx.load(path)
    g = m.graph
    names = [f"class_{i}" for i in range(classes)]
    g.initializer.append(helper.make_tensor("class_names", TensorProto.STRING, [classes], [n.encode() for n in names]))
    g.node.append(helper.make_node("ArrayFeatureExtractor", ["class_names", "label"], ["class_name"], domain="ai.onnx.ml", name="lookup_label"))
    g.node.append(helper.make_node("ZipMap", ["probabilities"], ["class_map"], domain="ai.onnx.ml", name="zipmap", classlabels_strings=names))
    outputs = list(g.output)
    del g.output[:]
    by = {o.name: o for o in outputs}
    g.output.append(by["label"])
    g.output.append(helper.make_tensor_value_info("class_name", TensorProto.STRING, [1, 1]))
    g.output.append(by["probabilities"])
    class_map = onnx.ValueInfoProto()
    class_map.name = "class_map"
    class_map.type.sequence_type.elem_type.map_type.key_type = TensorProto.STRING
    class_map.type.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    g.output.append(class_map)
    m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    onnx.checker.check_model(m)
    onnx.save(m, path)


if __name__ == "__main__":
    main()
