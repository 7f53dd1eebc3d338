"""A CNN-LSTM captioner's decoder step in PyTorch, and its export to the CnnFixations captioner
format (docs/captioning.md): decoder.onnx (one step), vocab.txt and captioner.json.

The decoder step reads a word id, the image feature and the LSTM state, and returns the word logits
and the new state. The image enters either at the first step (Show-and-Tell: the LSTM's input is
embed(word) + W_img feature; the image step reads the <image> token, whose embedding row acts as the
image embedding's bias, and every word step is fed a zero feature) or as the initial state
(h0 = Linear(feature), c0 = Linear(feature), outputs h_init / c_init of the same graph).
nn.LSTM is exported as the ONNX LSTM op; the exporter reorders PyTorch's gates i,f,g,o to ONNX's i,o,f,c.
"""
import json, os
import torch
from torch import nn


class DecoderStep(nn.Module):
    def __init__(self, vocab, feature, embed, hidden, entry="first-step"):
        super().__init__()
        self.entry = entry
        self.embed = nn.Embedding(vocab, embed)
        if entry == "first-step":
            self.image = nn.Linear(feature, embed, bias=False)
        else:
            self.init_h = nn.Linear(feature, hidden)
            self.init_c = nn.Linear(feature, hidden)
        self.lstm = nn.LSTM(embed, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, word, feature, h, c):
        x = self.embed(word)                      # [1, E]
        if self.entry == "first-step":
            x = x + self.image(feature)
        y, (h1, c1) = self.lstm(x.unsqueeze(0), (h, c))
        logits = self.out(h1[0])                  # [1, V]
        if self.entry == "first-step":
            return logits, h1, c1
        return logits, h1, c1, self.init_h(feature).unsqueeze(0), self.init_c(feature).unsqueeze(0)

    # Teacher-forced training over whole sequences (first-step entry): tokens [B, T] after the image step.
    def sequence_logits(self, feature, tokens, image_token):
        b = feature.shape[0]
        if self.entry == "first-step":
            x0 = self.embed(torch.full((b,), image_token, dtype=torch.long)) + self.image(feature)
            xs = torch.cat([x0.unsqueeze(0), self.embed(tokens).transpose(0, 1)], 0)   # [T+1, B, E]
            y, _ = self.lstm(xs)
            return self.out(y[1:])                 # [T, B, V]: the image step's output is not used
        h0 = self.init_h(feature).unsqueeze(0)
        c0 = self.init_c(feature).unsqueeze(0)
        y, _ = self.lstm(self.embed(tokens).transpose(0, 1), (h0, c0))
        return self.out(y)


def export(step, folder, vocab, feature_size, hidden, encoder_model, feature_tensor, description, start="<start>", end="<end>", image_token="<image>"):
    os.makedirs(folder, exist_ok=True)
    step.eval()
    args = (torch.zeros(1, dtype=torch.long), torch.zeros(1, feature_size), torch.zeros(1, 1, hidden), torch.zeros(1, 1, hidden))
    entry = getattr(step, "entry", "first-step")
    outputs = ["logits", "h_out", "c_out"] + (["h_init", "c_init"] if entry == "initial-state" else [])
    torch.onnx.export(step, args, os.path.join(folder, "decoder.onnx"), input_names=["word", "feature", "h", "c"],
                      output_names=outputs, opset_version=13)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    image = {"entry": entry}
    if entry == "first-step":
        image["token"] = image_token
    else:
        image["h"] = "h_init"
        image["c"] = "c_init"
    manifest = {
        "format": "cnn-fixations-captioner/1",
        "description": description,
        "encoder": {"model": encoder_model, "feature": feature_tensor},
        "decoder": {"model": "decoder.onnx", "word": "word", "feature": "feature", "h": "h", "c": "c",
                    "logits": "logits", "hOut": "h_out", "cOut": "c_out"},
        "vocabulary": "vocab.txt",
        "start": start,
        "end": end,
        "image": image,
    }
    with open(os.path.join(folder, "captioner.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
