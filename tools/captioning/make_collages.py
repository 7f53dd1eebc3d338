"""Writes a collage list for the demonstration captioner: four tab-separated tiles per line
('-' = empty grey tile), one to four photos from an ILSVRC folder (annotations.csv with
class_index), placed at random tiles; and a parallel .nouns file (the noun per tile, '-' if empty).
Usage: make_collages.py DATASET_DIR COUNT SEED OUT_PREFIX [--rearranged]
With --rearranged every collage is followed by the same photos in a shifted tile order
(tile i -> tile (i+1) mod 4), for the grounding check. The photos of a collage have different nouns,
so that each noun of the caption names one photo."""
import csv, os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
from demo_vocab import noun_of_class


def photos(dataset):
    table = noun_of_class()
    seen = {}
    with open(os.path.join(dataset, "annotations.csv")) as f:
        for row in csv.DictReader(f):
            c = int(row["class_index"])
            if c in table and row["image"] not in seen:
                seen[row["image"]] = (os.path.join(os.path.abspath(dataset), row["image"]), table[c])
    return sorted(seen.values())


def main():
    dataset, count, seed, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rearranged = "--rearranged" in sys.argv
    rng = random.Random(seed)
    items = photos(dataset)
    lines, nouns = [], []
    for _ in range(count):
        k = rng.randint(1, 4)
        chosen = []
        while len(chosen) < k:  # distinct nouns
            item = items[rng.randrange(len(items))]
            if all(item[1] != c[1] for c in chosen):
                chosen.append(item)
        slots = sorted(rng.sample(range(4), k))
        order = list(range(k))
        rng.shuffle(order)
        tiles = [None] * 4
        for s, o in zip(slots, order):
            tiles[s] = chosen[o]
        variants = [tiles]
        if rearranged:
            variants.append([tiles[(i - 1) % 4] for i in range(4)])
        for t in variants:
            lines.append("\t".join(x[0] if x else "-" for x in t))
            nouns.append("\t".join(x[1] if x else "-" for x in t))
    with open(prefix + ".list", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(prefix + ".nouns", "w") as f:
        f.write("\n".join(nouns) + "\n")
    print(f"{len(lines)} collages from {len(items)} photos -> {prefix}.list")


if __name__ == "__main__":
    main()
