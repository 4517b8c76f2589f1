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


def agreement(first, second, taxonomy) -> dict:
    """Agreement of two labeling passes over the same segments (matched by `id`).

    Per topic, the F1 of one pass against the other (symmetric); for the stance, Cohen's kappa
    and raw agreement.
    """
    from sklearn.metrics import cohen_kappa_score, f1_score

    second_by_id = {r["id"]: r for r in second}
    shared = [r for r in first if r["id"] in second_by_id]
    if not shared:
        raise ValueError("the two passes share no segment id")
    a = taxonomy.topics_to_matrix([r["topics"] for r in shared])
    b = taxonomy.topics_to_matrix([second_by_id[r["id"]]["topics"] for r in shared])
    stance_a = [r["stance"] for r in shared]
    stance_b = [second_by_id[r["id"]]["stance"] for r in shared]
    per_topic = f1_score(a, b, average=None, zero_division=1.0)
    return {
        "segments": len(shared),
        "topic_f1": {t: round(float(v), 3) for t, v in zip(taxonomy.topics, per_topic)},
        "topic_sets_identical": round(sum(map(lambda x, y: (x == y).all(), a, b)) / len(shared), 3),
        "stance_kappa": round(float(cohen_kappa_score(stance_a, stance_b)), 3),
        "stance_agreement": round(sum(x == y for x, y in zip(stance_a, stance_b)) / len(shared), 3),
    }


def most_similar(texts: list[str], references: list[str]) -> list[tuple[int, float]]:
    """For each text, the index of its most similar reference and their character 3-5-gram
    TF-IDF cosine (as in `near_duplicates`); (-1, 0.0) when there are no references."""
    if not texts or not references:
        return [(-1, 0.0)] * len(texts)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vectors = vectorizer.fit_transform([normalise(t) for t in [*texts, *references]])
    similarity = (vectors[:len(texts)] @ vectors[len(texts):].T).tocsr()
    best = []
    for row in range(len(texts)):
        values = similarity.getrow(row)
        if values.nnz == 0:
            best.append((-1, 0.0))
        else:
            k = int(values.data.argmax())
            best.append((int(values.indices[k]), float(values.data[k])))
    return best
