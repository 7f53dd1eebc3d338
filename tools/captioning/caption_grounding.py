"""The demonstration captioner's grounding figure on held-out collages (docs/captioning.md).

    python3 tools/captioning/make_collages.py /work/shared/eval/ilsvrc-dev 100 2 /tmp/capdata/dev --rearranged
    dotnet run --project src/CnnFixations.Cli -- collages /tmp/capdata/dev.list --png-dir /tmp/capdata/dev-png
    dotnet run --project src/CnnFixations.Cli -- caption /tmp/capdata/dev-png --json /tmp/capdata/dev.json --quiet
    python3 tools/captioning/caption_grounding.py /tmp/capdata/dev [CAPTIONS.json]

An object word (a noun) names the collage's photo with that noun (the photos of a collage have
different nouns), else no photo (counted as a wrong noun). It is grounded when at least 60% of its
fixation points (keptPoints, else points) lie in that photo's tile. The expected caption lists the
nouns in alphabetical order (demo_vocab.caption_words). Collages come in pairs (odd lines: every tile moved one place on); a word
follows its photo when it names the same photo in both and is grounded in both.
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from demo_vocab import caption_words

THRESHOLD = 0.6


def tile_of(x, y, w, h):
    return (2 if y >= h // 2 else 0) + (1 if x >= w // 2 else 0)


def main():
    prefix = sys.argv[1]
    with open(prefix + ".nouns") as f:
        tiles = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    with open(prefix + ".list") as f:
        paths = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    # caption --json writes JSON Lines (one image per line)
    with open(sys.argv[2] if len(sys.argv) > 2 else prefix + ".json") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    by_index = {int(d["image"].rsplit("/", 1)[-1].split(".")[0]): d for d in docs}
    nouns_vocab = set(n for row in tiles for n in row if n != "-")
    words = exact = grounded = wrong = 0
    per_collage = {}
    by_count = {}
    for i, row in enumerate(tiles):
        if i not in by_index:
            continue
        d = by_index[i]
        photos = [(t, n) for t, n in enumerate(row) if n != "-"]
        expected = " ".join(caption_words([n for _, n in photos]))
        exact += d["caption"] == expected
        found = {}
        for wd in d["words"]:
            if wd["word"] in ("a", "an", "and") or wd["word"].startswith("<"):
                continue
            noun = wd["word"]
            same = [t for t, n in photos if n == noun]
            tile = same[0] if len(same) == 1 else None
            if tile is None:
                wrong += 1
                continue
            pts = wd["keptPoints"] or wd["points"]
            share = sum(1 for x, y in pts if tile_of(x, y, d["width"], d["height"]) == tile) / len(pts) if pts else 0.0
            words += 1
            ok = share >= THRESHOLD
            grounded += ok
            by_count.setdefault(len(photos), [0, 0])
            by_count[len(photos)][0] += ok
            by_count[len(photos)][1] += 1
            found[paths[i][tile]] = (tile, ok)
        per_collage[i] = found
    follow = pairs = 0
    for i in range(0, len(tiles) - 1, 2):
        if i not in per_collage or i + 1 not in per_collage:
            continue
        a, b = per_collage[i], per_collage[i + 1]
        for photo, (ta, oka) in a.items():
            if photo in b:
                pairs += 1
                tb, okb = b[photo]
                follow += oka and okb and tb == (ta + 1) % 4
    n_obj = words + wrong
    n = len(per_collage)
    print(f"collages: {n}, exact captions: {exact}/{n} = {exact / max(1, n):.1%}")
    print(f"object words: {n_obj}, naming a photo of the collage: {words}, wrong nouns: {wrong}")
    print(f"grounded (>= {THRESHOLD:.0%} of points in the named photo's tile): {grounded}/{words} = {grounded / max(1, words):.1%}")
    for k in sorted(by_count):
        g, t = by_count[k]
        print(f"  collages of {k} photo{'s' if k > 1 else ''}: {g}/{t} = {g / max(1, t):.1%} grounded")
    print(f"follow their photo when the tiles are rearranged: {follow}/{pairs} = {follow / max(1, pairs):.1%}")


if __name__ == "__main__":
    main()
