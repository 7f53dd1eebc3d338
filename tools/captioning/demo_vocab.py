"""The demonstration captioner's nouns: ImageNet class indices (0-based, as in annotations.csv
class_index) grouped under one short noun each. Classes not listed are not used."""

RANGES = {
    "fish": [(0, 6), (389, 397)],
    "bird": [(7, 24), (80, 100), (127, 146)],
    "frog": [(25, 32)],
    "turtle": [(33, 37)],
    "lizard": [(38, 50)],
    "snake": [(52, 68)],
    "spider": [(70, 79)],
    "crab": [(118, 126)],
    "dog": [(151, 268)],
    "wolf": [(269, 280)],
    "cat": [(281, 293)],
    "bear": [(294, 297)],
    "insect": [(300, 320)],
    "butterfly": [(321, 326)],
    "rodent": [(330, 338)],
    "ox": [(339, 355)],
    "weasel": [(356, 364)],
    "monkey": [(365, 384)],
    "car": [407, 436, 468, 511, 555, 569, 609, 627, 656, 661, 675, 717, 734, 751, 817, 864, 867],
    "boat": [403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914],
    "food": [(924, 969)],
    "mushroom": [(991, 997)],
    "landscape": [(970, 980)],
}

ARTICLES = ["a", "an"]
SPECIAL = ["<pad>", "<image>", "<start>", "<end>"]


def noun_of_class():
    table = {}
    for noun, spans in RANGES.items():
        for s in spans:
            lo, hi = (s, s) if isinstance(s, int) else s
            for c in range(lo, hi + 1):
                table[c] = noun
    return table


def vocabulary():
    return SPECIAL + ARTICLES + ["and"] + sorted(RANGES)


def article(noun):
    return "an" if noun[0] in "aeiou" else "a"


NOUN_ORDER = sorted(RANGES)  # alphabetical, as in the vocabulary file


def caption_nouns(nouns):
    """The nouns of a collage in the caption's fixed order (alphabetical), whatever tiles
    the photos are on: the captioner reads a pooled feature, which carries no position."""
    return sorted(nouns, key=NOUN_ORDER.index)


def caption_words(nouns):
    """The nouns of a collage (any order) -> 'a bird and a dog and an ox' (fixed noun order)."""
    words = []
    for i, n in enumerate(caption_nouns(nouns)):
        if i:
            words.append("and")
        words += [article(n), n]
    return words
