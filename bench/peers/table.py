"""Joins bench/peers/run.sh's two result files into the peers table (Markdown)."""
import json, platform, sys

torch_rows = {r["arch"]: r for r in map(json.loads, open(sys.argv[1]))}
ours = json.load(open(sys.argv[2]))["models"]
print("| model | input | PyTorch forward ms | PyTorch Grad-CAM ms (/ its forward) | ours: forward ms | ours: Grad-CAM ms (/ forward) | ours: fixations, default (weighted) ms (/ forward) | the same, `--walk-engine managed` ms (/ forward) | ours: fixations, `--rules paper` ms (/ forward) |")
print("|---|---|---|---|---|---|---|---|---|")
for arch, t in torch_rows.items():
    o = ours[arch]
    tf, tg = t["forwardMs"]["median"], t["gradcamMs"]["median"]
    of = o["forwardOnlyMs"]
    print(f"| {arch} | {t['input']}x{t['input']} | {tf:.1f} | {tg:.1f} ({tg / tf:.2f}) | {of:.1f} | {o['gradcamMs']:.1f} ({o['gradcamMs'] / of:.2f}) "
          f"| {o['explainMs']:.1f} ({o['explainMs'] / of:.2f}) | {o['managedExplainMs']:.1f} ({o['managedExplainMs'] / of:.2f}) | {o['paperExplainMs']:.1f} ({o['paperExplainMs'] / of:.2f}) |")
print("\nExplanations include post-processing and the PNG encoding of the overlay and heat map; Grad-CAM is the map only.")
print(f"\n{platform.processor() or platform.machine()}, PyTorch {next(iter(torch_rows.values()))['torch']} with "
      f"{next(iter(torch_rows.values()))['threads']} threads; medians of 10 runs after 2 warm-ups (the managed walk: 5 after 1).")
