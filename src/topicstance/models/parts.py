"""A large batch scored in parts on threads.

The TF-IDF blocks count n-grams in numpy (ngrams.py) and multiply sparse matrices in scipy,
both of which release the GIL, so parts of one batch scored on separate threads use as many
cores. Each text's scores are its own, so the parts change nothing else.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_PART = 256  # texts per thread at least: below that a thread costs more than it saves


def in_parts(score, texts: list, contexts: list | None, threads: int):
    """`score(texts, contexts)` (an array, or a tuple of arrays, with one row per text) over
    up to `threads` parts of the batch at once, joined back in order."""
    parts = min(int(threads or 1), len(texts) // MIN_PART)
    if parts <= 1:
        return score(texts, contexts)
    bounds = np.linspace(0, len(texts), parts + 1).astype(int)
    with ThreadPoolExecutor(parts) as pool:
        scored = list(pool.map(
            lambda a, b: score(texts[a:b], contexts[a:b] if contexts is not None else None),
            bounds[:-1], bounds[1:]))
    if isinstance(scored[0], tuple):
        return tuple(np.concatenate(columns) for columns in zip(*scored))
    return np.concatenate(scored)
