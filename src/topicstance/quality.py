"""Corpus checks beyond the schema: near-duplicate texts, article sizes, minimum counts."""

import re
from collections import defaultdict

from sklearn.feature_extraction.text import TfidfVectorizer


def normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def near_duplicates(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """Index pairs (i < j) whose character 3-5-gram TF-IDF cosine is at least `threshold`."""
    if len(texts) < 2:
        return []
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True) \
        .fit_transform([normalise(t) for t in texts])
    similarity = (vectors @ vectors.T).tocoo()
    pairs = [(i, j, float(v)) for i, j, v in zip(similarity.row, similarity.col, similarity.data)
             if i < j and v >= threshold]
    return sorted(pairs)


def article_size_problems(article_ids: list[str], low: int, high: int) -> dict[str, int]:
    """Articles whose segment count falls outside [low, high]."""
    sizes = defaultdict(int)
    for a in article_ids:
        sizes[a] += 1
    return {a: n for a, n in sizes.items() if not low <= n <= high}


def count_shortfalls(counts: dict, no_topic: str, minimum) -> list[str]:
    """Where `counts` (from `corpus.counts`) falls below the configured minimums."""
    problems = []
    if counts["segments"] < minimum.segments:
        problems.append(f"{counts['segments']} segments, need {minimum.segments}")
    for name, n in counts["topics"].items():
        need = minimum.other if name == no_topic else minimum.per_topic
        if n < need:
            problems.append(f"topic {name}: {n}, need {need}")
    for name, n in counts["stances"].items():
        if n < minimum.per_stance:
            problems.append(f"stance {name}: {n}, need {minimum.per_stance}")
    for name, n in counts["topic_x_stance"].items():
        if n < minimum.topic_x_stance:
            problems.append(f"{name}: {n}, need {minimum.topic_x_stance}")
    return problems
