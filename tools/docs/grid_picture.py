"""Builds docs/images/grid.png: a 2x2 collage of four photos (samples/ and ../shared/images/, CC BY 2.0,
see samples/README.md) explained for each of its four classes by the default weighted fixations and by
Grad-CAM, side by side. Needs Pillow (any Python 3 with PIL) and a built CLI; not used by the product or CI.

    python3 tools/docs/grid_picture.py CLI_PATH OUT_PNG
"""
import json, os, subprocess, sys, tempfile
from PIL import Image, ImageDraw

cli, out = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = os.path.join(root, "..", "shared", "images")
tiles = [("chickadee", os.path.join(root, "samples", "bird.png"), 20),
         ("daisy", os.path.join(shared, "sunflower.png"), 986),
         ("hotdog", os.path.join(shared, "hotdog_train_0.png"), 935),
         ("golden retriever", os.path.join(shared, "dog_train_0.png"), 208)]
T = 227
collage = Image.new("RGB", (2 * T, 2 * T))
for i, (_, path, _) in enumerate(tiles):
    collage.paste(Image.open(path).convert("RGB").resize((T, T), Image.LANCZOS), ((i % 2) * T, (i // 2) * T))
work = tempfile.mkdtemp()
src = os.path.join(work, "collage.png")
collage.save(src)
rows = []
for method in ("fixations", "gradcam"):
    row = []
    for name, _, cls in tiles:
        d = os.path.join(work, f"{method}-{cls}")
        subprocess.run([cli, "explain", src, "--out", d, "--class", str(cls), "--method", method, "-q"], check=True)
        files = sorted(f for f in os.listdir(d) if f.endswith("overlay.png") and (method == "fixations") != ("gradcam" in f))
        row.append((name, Image.open(os.path.join(d, files[0])).convert("RGB")))
    rows.append((method, row))
pad, label = 6, 18
sheet = Image.new("RGB", (4 * (2 * T + pad) + pad, 2 * (2 * T + label + pad) + pad), "white")
draw = ImageDraw.Draw(sheet)
for r, (method, row) in enumerate(rows):
    for c, (name, img) in enumerate(row):
        x, y = pad + c * (2 * T + pad), pad + r * (2 * T + label + pad)
        sheet.paste(img, (x, y))
        draw.text((x + 2, y + 2 * T + 3), f"{'CNN Fixations (default)' if method == 'fixations' else 'Grad-CAM'}: {name}", fill="black")
sheet.save(out)
print(out)
