"""The texts every measurement uses, loaded once: the bench's training split, the labeled sets
it scores (dev, the seed pages, the coverage test part) and the news segments it times."""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from topicstance import corpus
from topicstance.corpus import LabeledSplit
from topicstance.labels import Taxonomy
from topicstance.models.article import take
from topicstance.pipelines.train import training_split


@dataclass
class BenchData:
    taxonomy: Taxonomy
    train: LabeledSplit        # about_war set, for the relevance gate
    scored: dict[str, LabeledSplit]
    speed_texts: list[str]     # real labeled segments of `speed_words` words, with contexts
    speed_contexts: list[str]
    speed_articles: list[str]


def load(cfg, gate) -> BenchData:
    """`gate`: the default model's relevance-gate settings; the training split is built as
    `make train` builds it (outlets, and which articles are about the war), for every family."""
    taxonomy = Taxonomy.from_config(cfg.labels)
    rows, rejected = corpus.load(cfg.data.labeled, taxonomy)
    if rejected:
        raise ValueError(f"invalid labeled record: {rejected[0]}")
    train_rows, dev_rows = corpus.split_by_article(rows, cfg.data.dev_fraction, cfg.seed)
    train = training_split(train_rows, taxonomy, cfg, gate)
    scored = {"dev": corpus.to_split(dev_rows, taxonomy)}
    for path in cfg.data.heldout:
        held, rejected = corpus.load([path], taxonomy)
        if rejected:
            raise ValueError(f"invalid labeled record: {rejected[0]}")
        scored[Path(path).stem] = corpus.to_split(held, taxonomy)
    scored = {name: subset(split, cfg.metric_segments, cfg.seed) for name, split in scored.items()}

    everything = [*scored.values(), train]
    low, high = cfg.speed_words
    pool = [row for split in everything
            for row in zip(split.texts, split.contexts, split.article_ids)
            if low <= len(row[0].split()) <= high]
    picked = np.random.default_rng(cfg.seed).permutation(len(pool))
    texts, contexts, articles = zip(*[pool[i] for i in np.resize(picked, int(cfg.speed_segments))])
    return BenchData(taxonomy, train, scored, list(texts), list(contexts), list(articles))


def subset(split: LabeledSplit, n: int | None, seed: int) -> LabeledSplit:
    """About `n` segments of `split` as whole articles drawn at random (the article stage reads
    an article's segments together); all of them when `n` is None or larger."""
    if n is None or n >= len(split):
        return split
    sizes = Counter(split.article_ids)
    articles = list(sizes)
    chosen, count = set(), 0
    for i in np.random.default_rng(seed).permutation(len(articles)):
        if count >= n:
            break
        chosen.add(articles[i])
        count += sizes[articles[i]]
    return take(split, np.array([i for i, a in enumerate(split.article_ids) if a in chosen]))
