"""A generated, real-looking text corpus for the benchmarks (deterministic by seed).

Topics have their own Zipf-distributed vocabularies over a shared pool of common
words, so documents cluster by topic the way real collections do; paragraphs,
sentences, markdown headers and occasional lists give splitters real structure.
"""

from __future__ import annotations

import random
from pathlib import Path

_SYLLABLES = ("ka ri to mo ne sa lu vi de pa an el or is un ex tra pro con ver ment tion al ic ous"
              " ber lin gar sto qui fen dor mal pen sil rad cor ten").split()
_COMMON = ("the of and to in a is that for it as with was on be by this are from or have an they which"
           " one you were her all she there would their we him been has when who will more no if out"
           " so said what up its about into than them can only other new some could time these two may"
           " then do first any my now such like our over man me even most made after also did many").split()


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def _vocab(rng: random.Random, size: int) -> list[str]:
    return list(dict.fromkeys(_word(rng) for _ in range(size * 2)))[:size]


def _sentence(rng: random.Random, topic: list[str], shared: list[str]) -> str:
    n = rng.randint(6, 24)
    words = []
    for _ in range(n):
        r = rng.random()
        if r < 0.45:
            words.append(rng.choice(_COMMON))
        elif r < 0.85:
            words.append(topic[int(len(topic) * rng.random() ** 3)])  # skewed, Zipf-like
        else:
            words.append(rng.choice(shared))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".....?!")


def document(rng: random.Random, topic: list[str], shared: list[str], size: int) -> str:
    parts: list[str] = [f"# {' '.join(rng.sample(topic[:50], 3)).title()}\n"]
    total = 0
    while total < size:
        if rng.random() < 0.1:
            block = f"## {' '.join(rng.sample(topic[:80], 2)).title()}"
        elif rng.random() < 0.1:
            block = "\n".join(f"- {_sentence(rng, topic, shared)}" for _ in range(rng.randint(2, 5)))
        else:
            block = " ".join(_sentence(rng, topic, shared) for _ in range(rng.randint(2, 8)))
        parts.append(block)
        total += len(block) + 2
    return "\n\n".join(parts)


def generate(total_bytes: int, *, seed: int = 7, topics: int = 40, doc_size: int = 20_000
             ) -> list[tuple[str, str, int]]:
    """(name, text, topic) triples adding up to about `total_bytes` characters."""
    rng = random.Random(seed)
    shared = _vocab(rng, 3000)
    vocabs = [_vocab(rng, 400) for _ in range(topics)]
    out, total, i = [], 0, 0
    while total < total_bytes:
        t = rng.randrange(topics)
        text = document(rng, vocabs[t], shared, rng.randint(doc_size // 2, doc_size * 3 // 2))
        out.append((f"doc{i:05d}.md", text, t))
        total += len(text)
        i += 1
    return out


def write(folder: Path, total_bytes: int, seed: int = 7) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text, _ in generate(total_bytes, seed=seed):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
