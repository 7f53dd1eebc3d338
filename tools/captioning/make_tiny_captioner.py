"""Seeded tiny CNN-LSTM captioners for the tests (tests/fixtures/captioning/), one per image entry
(first-step, initial-state), and reference values computed independently of the C# code:
PyTorch's encoder feature, and in NumPy float64 from PyTorch's own weights (gate order i,f,g,o as
nn.LSTM stores them): every step's gates, cell and hidden state, the greedy words with their
probabilities, and the word walk of docs/captioning.md (the feature dimensions each word keeps).

    python3 tools/captioning/make_tiny_captioner.py tests/fixtures/captioning
"""
import json, os, sys
import numpy as np
import onnx
import torch
from torch import nn
sys.path.insert(0, os.path.dirname(__file__))
from captioner_export import DecoderStep, export

VOCAB = ["<pad>", "<image>", "<start>", "<end>", "a", "red", "blue", "dot", "and", "square"]
FEATURE, EMBED, HIDDEN, MAX_WORDS = 8, 4, 5, 6


class TinyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 2, 1)
        self.conv2 = nn.Conv2d(4, FEATURE, 3, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(FEATURE, 3)

    def forward(self, x):
        f = self.pool(torch.relu(self.conv2(torch.relu(self.conv1(x)))))
        return self.fc(torch.flatten(f, 1))


def sig(v):
    return 1 / (1 + np.exp(-v))


def reference(step, feature, entry, cell_only=False):
    """Greedy decoding and the walk, in float64 NumPy from PyTorch's parameters."""
    p = {k: v.detach().double().numpy() for k, v in step.state_dict().items()}
    Wih, Whh = p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"]
    b = p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
    E, Wout, bout = p["embed.weight"], p["out.weight"], p["out.bias"]
    H = HIDDEN
    f = feature.astype(np.float64)
    steps = []

    def run(x, h, c, image_part=None):
        z = Wih @ x + Whh @ h + b
        i, fg, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        c1 = fg * c + i * g
        h1 = o * np.tanh(c1)
        steps.append(dict(x=x, h_prev=h, c_prev=c, i=i, f=fg, g=g, o=o, c=c1, h=h1, logits=Wout @ h1 + bout, image=image_part))
        return h1, c1

    if entry == "first-step":
        h, c = np.zeros(H), np.zeros(H)
        img = p["image.weight"] @ f
        h, c = run(E[VOCAB.index("<image>")] + img, h, c, img)
        h_init = c_init = None
    else:
        h_init = p["init_h.weight"] @ f + p["init_h.bias"]
        c_init = p["init_c.weight"] @ f + p["init_c.bias"]
        h, c = h_init, c_init
    token, words = VOCAB.index("<start>"), []
    for _ in range(MAX_WORDS):
        h, c = run(E[token], h, c)
        lg = steps[-1]["logits"]
        w = int(np.argmax(lg))
        if w == VOCAB.index("<end>"):
            break
        pr = np.exp(lg - lg.max())
        words.append(dict(step=len(steps) - 1, token=w, word=VOCAB[w], probability=float(pr[w] / pr.sum())))
        token = w
    for wd in words:
        t = wd["step"]
        hidden = [k for k in range(H) if Wout[wd["token"], k] * steps[t]["h"][k] > 0]
        cells, feats = set(hidden), set()
        while t >= 0 and cells:
            s = steps[t]
            prev_c, prev_h, xs = set(), set(), set()
            for k in sorted(cells):
                sg = np.sign(s["c"][k])
                if sg == 0:
                    continue
                if s["f"][k] * s["c_prev"][k] * sg > 0:
                    prev_c.add(k)
                if s["i"][k] * s["g"][k] * sg > 0:
                    row = 2 * H + k
                    xs |= {j for j in range(EMBED) if Wih[row, j] * s["x"][j] * sg > 0}
                    if not cell_only:
                        prev_h |= {j for j in range(H) if Whh[row, j] * s["h_prev"][j] * sg > 0}
            if s["image"] is not None:
                Wimg = p["image.weight"]
                for j in xs:
                    feats |= {m for m in range(FEATURE) if Wimg[j, m] * f[m] * np.sign(s["x"][j]) > 0}
            if t == 0:
                if entry == "initial-state":
                    for name, units, val in (("init_c", prev_c, c_init), ("init_h", prev_h, h_init)):
                        for k in units:
                            feats |= {m for m in range(FEATURE) if p[name + ".weight"][k, m] * f[m] * np.sign(val[k]) > 0}
                break
            cells = prev_c | prev_h
            t -= 1
        wd["hidden"] = hidden
        wd["features"] = sorted(feats)
        wd["weighted"] = weighted_walk(p, steps, wd["step"], wd["token"], f, entry, h_init, c_init, cell_only, contrast=False)
        wd["weightedContrast"] = weighted_walk(p, steps, wd["step"], wd["token"], f, entry, h_init, c_init, cell_only, contrast=True)
    return steps, words


def share(contributions, weight):
    """The weighted rules' split: the weight in proportion to the positive contributions."""
    pos = np.where(contributions > 0, contributions, 0.0)
    total = pos.sum()
    return weight * pos / total if total > 0 else np.zeros_like(pos)


def weighted_walk(p, steps, t, token, f, entry, h_init, c_init, cell_only, contrast):
    """The weighted decoder walk of docs/captioning.md in float64, written separately from the C# one.
    With contrast the start is the word's hidden shares minus the other words', weighted half by their
    probabilities (renormalized without the word) and half evenly; the feature keeps the positive part."""
    Wih, Whh, Wout = p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"], p["out.weight"]
    H = HIDDEN
    h_t = steps[t]["h"]
    hidden = share(Wout[token] * h_t, 1.0)
    if contrast:
        lg = steps[t]["logits"]
        prob = np.exp(lg - lg.max())
        prob /= prob.sum()
        V = len(prob)
        for v in range(V):
            if v != token:
                hidden = hidden - share(Wout[v] * h_t, 0.5 * prob[v] / (1 - prob[token]) + 0.5 / (V - 1))
    cells = hidden.copy()
    feats = np.zeros(FEATURE)
    word_share = 0.0
    while True:
        s = steps[t]
        prev_c, prev_h, xs = np.zeros(H), np.zeros(H), np.zeros(EMBED)
        for k in range(H):
            sg = np.sign(s["c"][k])
            if cells[k] == 0 or sg == 0:
                continue
            parts = share(np.array([s["f"][k] * s["c_prev"][k] * sg, s["i"][k] * s["g"][k] * sg]), cells[k])
            prev_c[k] += parts[0]
            row = 2 * H + k
            cx = Wih[row] * s["x"] * sg
            ch = np.zeros(H) if cell_only else Whh[row] * s["h_prev"] * sg
            split = share(np.concatenate([cx, ch]), parts[1])
            xs += split[:EMBED]
            prev_h += split[EMBED:]
        if s["image"] is not None:
            for j in range(EMBED):
                feats += share(p["image.weight"][j] * f * np.sign(s["x"][j]), xs[j])
        else:
            word_share += xs.sum()
        if t == 0:
            if entry == "initial-state":
                for name, units, val in (("init_c", prev_c, c_init), ("init_h", prev_h, h_init)):
                    for k in range(H):
                        feats += share(p[name + ".weight"][k] * f * np.sign(val[k]), units[k])
            break
        cells = prev_c + prev_h
        t -= 1
    feats = np.maximum(feats, 0.0)
    return dict(hidden=hidden.tolist(), feature=feats.tolist(), imageShare=float(feats.sum()), wordShare=float(word_share))


def feature_gradient(step, feature, entry, words):
    """d logit(word) / d feature for every word, by PyTorch autograd through the decoder step (teacher forcing)."""
    grads = []
    for wd in words:
        f = torch.from_numpy(feature.astype(np.float64))[None].clone().requires_grad_(True)
        st = step.double()
        h = torch.zeros(1, 1, HIDDEN, dtype=torch.float64); c = torch.zeros(1, 1, HIDDEN, dtype=torch.float64)
        zero = torch.zeros(1, FEATURE, dtype=torch.float64)
        if entry == "initial-state":
            _, _, _, h, c = st(torch.tensor([0]), f, h, c)
            tokens = []
        else:
            tokens = [VOCAB.index("<image>")]
        tokens += [VOCAB.index("<start>")] + [w["token"] for w in words]
        for n, tok in enumerate(tokens[:wd["step"] + 1]):
            logits, h, c, *rest = st(torch.tensor([tok]), f if (entry == "first-step" and n == 0) else zero, h, c)
        logits[0, wd["token"]].backward()
        grads.append(f.grad[0].tolist())
        step.float()
    return grads


def make_step(entry, seed):
    torch.manual_seed(seed)
    step = DecoderStep(len(VOCAB), FEATURE, EMBED, HIDDEN, entry).eval()
    with torch.no_grad():
        step.embed.weight.mul_(2.0)
        step.out.bias[VOCAB.index("<end>")] -= 2.0  # several words before the end token
        layers = [step.image] if entry == "first-step" else [step.init_h, step.init_c]
        for layer in layers:  # sparse and strong image weights: the walk keeps some feature dims, not all
            layer.weight.mul_(3.0 * (torch.rand_like(layer.weight) < 0.4).float())
    return step


def main():
    out = sys.argv[1]
    torch.manual_seed(15)
    enc = TinyEncoder().eval()
    for prm in enc.parameters():  # positive-leaning weights keep the tiny ReLU net alive
        prm.data = prm.data.abs() * torch.where(torch.rand_like(prm) < 0.7, 1.0, -1.0)
    os.makedirs(out, exist_ok=True)
    x = torch.rand(1, 3, 16, 16)
    np.save(os.path.join(out, "input.npy"), x.numpy().astype(np.float32))
    torch.onnx.export(enc, (x,), os.path.join(out, "encoder.onnx"), input_names=["input"], output_names=["logits"], opset_version=13)
    model = onnx.load(os.path.join(out, "encoder.onnx"))
    feature_name = [n.output[0] for n in model.graph.node if n.op_type == "GlobalAveragePool"][0]
    with torch.no_grad():
        feature = enc.pool(torch.relu(enc.conv2(torch.relu(enc.conv1(x))))).flatten().numpy()
    refs = {}
    chosen = {}
    for entry in ("first-step", "initial-state"):
        # The first seed whose caption has several different words and whose walk is selective
        # (some word keeps some but not all feature dims, and the cell-path-only walk differs).
        for seed in range(100, 1000):
            step = make_step(entry, seed)
            _, words = reference(step, feature, entry)
            _, cell = reference(step, feature, entry, cell_only=True)
            sizes = [len(w["features"]) for w in words]
            if (len(words) >= 3 and len(set(w["word"] for w in words)) >= 3 and any(0 < n < FEATURE for n in sizes)
                    and any(len(w["features"]) != len(c["features"]) for w, c in zip(words, cell))):
                break
        print(entry, "seed", seed)
        chosen[entry] = step
        folder = os.path.join(out, entry)
        export(step, folder, VOCAB, FEATURE, HIDDEN, "../encoder.onnx", feature_name, "seeded tiny test captioner")
        steps, words = reference(step, feature, entry)
        _, words_cell = reference(step, feature, entry, cell_only=True)
        # PyTorch's own step, to show the NumPy recomputation (and so the gate order) is PyTorch's.
        with torch.no_grad():
            h = torch.zeros(1, 1, HIDDEN); c = torch.zeros(1, 1, HIDDEN)
            if entry == "initial-state":
                _, _, _, h, c = step(torch.tensor([0]), torch.from_numpy(feature)[None], h, c)
            torch_h = []
            tokens = ([VOCAB.index("<image>")] if entry == "first-step" else []) + [VOCAB.index("<start>")] + [w["token"] for w in words]
            for n, tok in enumerate(tokens[:len(steps)]):
                feat = torch.from_numpy(feature)[None] if (entry == "first-step" and n == 0) else torch.zeros(1, FEATURE)
                if entry == "first-step" and n == 0:
                    # the image step reads embed(<image>) + W_img feature, exactly as the ONNX graph does
                    pass
                _, h, c, *rest = step(torch.tensor([tok]), feat, h, c)
                torch_h.append(h.flatten().tolist())
        for n, s in enumerate(steps):
            assert np.allclose(s["h"], torch_h[n], atol=1e-5), (entry, n)
        refs[entry] = dict(
            feature=feature.tolist(),
            caption=" ".join(w["word"] for w in words),
            steps=[{k: (v.tolist() if v is not None else None) for k, v in s.items() if k in ("i", "f", "g", "o", "c", "h", "logits")} for s in steps],
            words=words,
            cellPathOnly=[w["features"] for w in words_cell],
            weightedCellPathOnly=[w["weighted"] for w in words_cell],
            featureGradients=feature_gradient(step, feature, entry, words),
        )
        print(entry, refs[entry]["caption"], [w["features"] for w in words], refs[entry]["cellPathOnly"])
    # The first-step captioner again, its LSTM cell written out (MatMul/Gemm, Sigmoid, Tanh, Mul, Add) with the same weights.
    class WrittenStep(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.embed, self.image, self.out = s.embed, s.image, s.out
            self.ih = nn.Linear(EMBED, 4 * HIDDEN)
            self.hh = nn.Linear(HIDDEN, 4 * HIDDEN)
            with torch.no_grad():
                self.ih.weight.copy_(s.lstm.weight_ih_l0); self.ih.bias.copy_(s.lstm.bias_ih_l0)
                self.hh.weight.copy_(s.lstm.weight_hh_l0); self.hh.bias.copy_(s.lstm.bias_hh_l0)

        def forward(self, word, feature, h, c):
            x = self.embed(word) + self.image(feature)
            i, f, g, o = torch.split(self.ih(x) + self.hh(h[0]), [HIDDEN] * 4, 1)
            c1 = torch.sigmoid(f) * c[0] + torch.sigmoid(i) * torch.tanh(g)
            h1 = torch.sigmoid(o) * torch.tanh(c1)
            return self.out(h1), h1.unsqueeze(0), c1.unsqueeze(0)
    written = WrittenStep(chosen["first-step"]).eval()
    wfolder = os.path.join(out, "written-cell")
    export(written, wfolder, VOCAB, FEATURE, HIDDEN, "../encoder.onnx", feature_name, "the first-step tiny captioner with its LSTM cell written out")
    # Not an LSTM captioner: the same inputs and outputs around a GRU (for the error test).
    class GruStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(VOCAB), EMBED)
            self.image = nn.Linear(FEATURE, EMBED, bias=False)
            self.gru = nn.GRU(EMBED, HIDDEN)
            self.out = nn.Linear(HIDDEN, len(VOCAB))

        def forward(self, word, feature, h, c):
            y, h1 = self.gru((self.embed(word) + self.image(feature)).unsqueeze(0), h)
            return self.out(h1[0]), h1, c + 0
    torch.manual_seed(1)
    torch.onnx.export(GruStep().eval(), (torch.zeros(1, dtype=torch.long), torch.zeros(1, FEATURE), torch.zeros(1, 1, HIDDEN), torch.zeros(1, 1, HIDDEN)),
                      os.path.join(out, "gru-decoder.onnx"), input_names=["word", "feature", "h", "c"], output_names=["logits", "h_out", "c_out"], opset_version=13)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(refs, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
