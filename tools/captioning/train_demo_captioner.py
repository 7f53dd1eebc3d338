"""Trains the bundled DEMONSTRATION captioner (models/demo-captioner/): the bundled MobileNetV2 as a
frozen encoder (its 1280-d pooled feature), image embedding fed at the first step, one LSTM layer.
Data: 2x2 collages (454x454, four 227x227 tiles, each a photo or empty mid-grey) of one to four
ILSVRC photos with different nouns; caption = one noun per photo in a fixed noun order (demo_vocab.py),
e.g. "a bird and a dog and an ox", whatever tiles they are on: the pooled feature carries no position.

    python3 tools/captioning/make_collages.py /work/shared/eval/ilsvrc-tune 5000 1 /tmp/capdata/train
    dotnet run --project src/CnnFixations.Cli -- collages /tmp/capdata/train.list --features /tmp/capdata/train.npy
    python3 tools/captioning/train_demo_captioner.py /tmp/capdata/train models/demo-captioner

The features are extracted by the C# command line (ONNX Runtime is not available to Python here);
no ImageNet image or collage is written into the repository.
"""
import os, sys
import numpy as np
import torch
from torch import nn
sys.path.insert(0, os.path.dirname(__file__))
from demo_vocab import vocabulary, caption_words
from captioner_export import DecoderStep, export

EMBED, HIDDEN, EPOCHS = 48, 64, 40


def main():
    prefix, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic and kind to a shared machine
    vocab = vocabulary()
    index = {w: i for i, w in enumerate(vocab)}
    feats = torch.from_numpy(np.load(prefix + ".npy")).float()
    with open(prefix + ".nouns") as f:
        rows = [[n for n in line.rstrip("\n").split("\t") if n != "-"] for line in f if line.strip()]
    assert len(rows) == feats.shape[0]
    seqs = [[index["<start>"]] + [index[w] for w in caption_words(r)] + [index["<end>"]] for r in rows]
    T = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), T), index["<pad>"], dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, :len(s)] = torch.tensor(s)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    n_val = len(seqs) // 10
    step = DecoderStep(len(vocab), feats.shape[1], EMBED, HIDDEN, "first-step")
    opt = torch.optim.Adam(step.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=index["<pad>"])
    g = torch.Generator().manual_seed(0)
    for epoch in range(EPOCHS):
        step.train()
        perm = torch.randperm(len(seqs) - n_val, generator=g) + n_val
        for b in range(0, len(perm), 128):
            idx = perm[b:b + 128]
            logits = step.sequence_logits(feats[idx], inputs[idx], index["<image>"])
            loss = loss_fn(logits.reshape(-1, len(vocab)), targets[idx].transpose(0, 1).reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 4 == 3 or epoch == EPOCHS - 1:
            step.eval()
            with torch.no_grad():
                vl = step.sequence_logits(feats[:n_val], inputs[:n_val], index["<image>"])
                pred = vl.argmax(-1).transpose(0, 1)
                mask = targets[:n_val] != index["<pad>"]
                word_acc = ((pred == targets[:n_val]) & mask).sum().item() / mask.sum().item()
                exact = (((pred == targets[:n_val]) | ~mask).all(1)).float().mean().item()
            print(f"epoch {epoch + 1}: train loss {loss.item():.3f}, held-out token accuracy {word_acc:.3f}, exact captions {exact:.3f}", flush=True)
    export(step, out, vocab, feats.shape[1], HIDDEN, "../mobilenet_v2_1.0_224_quant.qdq.onnx", "MobilenetV2/Logits/AvgPool",
           "DEMONSTRATION captioner: names the ILSVRC photos in a 2x2 collage in a fixed noun order (a few dozen nouns). "
           "Not a general image captioner. Trained by tools/captioning/train_demo_captioner.py.")
    print("wrote", out)


if __name__ == "__main__":
    main()
