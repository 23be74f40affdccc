"""Synthetic disk content shared by the benchmarks: runs of zeros, text-like data and random data.

The default mix (40% zeros, 30% text, 30% random, in 4 KiB-aligned runs of 4-256 KiB) compresses about as well as
the mixed disk data behind the figures in docs/notes (zstd -1: ~2.5x). Deterministic for a seed.
"""

from __future__ import annotations

import random

BLOCK = 4096
_VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you "
    "were her she there been one all we their has would when if so no will can more other its into time only could "
    "new them man some these then two first may any like now my such make over our even most me state after also "
    "made many did must before back see through way where get much go well your know should down work year because "
    "come people just say each those take day good how long little use very great still own public over server disk "
    "block write read error config value return import class def self none true false null int string path file"
)
_WORDS = _VOCABULARY.split()


def text_pool(size: int, rng: random.Random) -> bytes:
    """Text-like bytes: words, punctuation, line breaks and numbers (logs, configs, documents)."""
    parts: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(3, 14)))
        if rng.random() < 0.3:
            line += f" {rng.randint(0, 10**6)} {rng.random():.4f}"
        parts.append(line + ".\n")
        length += len(line) + 2
    return "".join(parts).encode()[:size]


def mixed_image(size: int, *, seed: int = 0, zero: float = 0.4, text: float = 0.3) -> bytearray:
    """``size`` bytes (a multiple of 4 KiB) of runs: ``zero`` fraction zeros, ``text`` text-like, the rest random."""
    if size % BLOCK:
        raise ValueError("size must be a multiple of 4096")
    rng = random.Random(seed)
    texts = text_pool(32 << 20, rng)
    randoms = rng.randbytes(64 << 20)
    image = bytearray(size)  # zero-filled: zero runs need no writing
    position = 0
    while position < size:
        run = min(rng.randint(1, 64) * BLOCK, size - position)
        pick = rng.random()
        if pick >= zero:
            pool = texts if pick < zero + text else randoms
            start = rng.randrange(0, len(pool) - run) & ~(BLOCK - 1)
            image[position : position + run] = pool[start : start + run]
        position += run
    return image
