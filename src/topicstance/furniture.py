"""A learned page-furniture detector: is this line of a page a byline, prompt, teaser, credit...?

Hand-written patterns (conf/segmenter) catch the furniture of the pages they were written for;
outlets never seen print theirs differently ("Reporting by ...", "Return to top", "Share this:").
This small line classifier learns furniture from pages whose furniture lines are marked (the
coverage corpus's training part, `data/coverage_sources.jsonl`) and from the seed pages (a line
that yields no labeled seed segment is furniture). It looks at a line's words, characters,
shape and place on the page, and only ever judges short lines, so a body paragraph is never
dropped. Patterns still run first and stay the override.
"""

import functools
import json
import re
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

_DIGIT = re.compile(r"\d")


class FurnitureDetector:
    def __init__(self, threshold: float, max_words: int, min_page_lines: int):
        self.threshold, self.max_words = float(threshold), int(max_words)
        self.min_page_lines = int(min_page_lines)
        self.words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3,
                                     sublinear_tf=True, lowercase=False)
        self.classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)

    def fit(self, pages: list[list[str]], labels: list[list[bool]]) -> "FurnitureDetector":
        lines = [line for page in pages for line in page]
        self.words.fit(lines)
        self.chars.fit(lines)
        shapes = np.vstack([_shape(page) for page in pages])
        self.classifier.fit(self._features(lines, shapes), np.concatenate(labels).astype(int))
        return self

    def furniture(self, page: list[str]) -> list[bool]:
        """For each line of a page (stripped, non-empty), whether it is furniture. A text of
        fewer than `min_page_lines` lines is not a page (a JSONL record, a ready-cut segment):
        nothing in it is judged."""
        flags = [False] * len(page)
        if len(page) < self.min_page_lines:
            return flags
        # Only short lines can be furniture, so only they are featurized (each line's features
        # are its own, its neighbours enter through `_shape`): the body's long lines, most of a
        # page's characters, cost nothing here.
        short = [i for i, line in enumerate(page) if len(line.split()) <= self.max_words]
        if not short:
            return flags
        x = self._features([page[i] for i in short], _shape(page)[short])
        for i, p in zip(short, self.classifier.predict_proba(x)[:, 1]):
            flags[i] = bool(p >= self.threshold)
        return flags

    def _features(self, lines: list[str], shapes: np.ndarray):
        return hstack([self.words.transform(lines), self.chars.transform(lines),
                       csr_matrix(shapes)]).tocsr()


def _shape(page: list[str]) -> np.ndarray:
    """Per line: length, capitals, digits, closing punctuation, place on the page, repeats, and
    its neighbours (a crosshead sits between long paragraphs; teasers and widgets come in runs
    of short lines)."""
    counts = {}
    for line in page:
        counts[line] = counts.get(line, 0) + 1
    sizes = [len(line.split()) for line in page]
    rows = []
    for i, line in enumerate(page):
        words = line.split()
        before = sizes[i - 1] if i > 0 else 0
        after = sizes[i + 1] if i + 1 < len(page) else 0
        letters = [c for c in line if c.isalpha()]
        rows.append([
            min(len(words), 60) / 60, float(len(words) <= 3), float(len(words) <= 8),
            sum(c.isupper() for c in letters) / max(len(letters), 1),
            sum(w[:1].isupper() for w in words) / max(len(words), 1),
            float(bool(_DIGIT.search(line))), float(line.rstrip()[-1:] in ".!?\"'”’"),
            float(line.rstrip()[-1:] == ":"), i / max(len(page) - 1, 1),
            float(i == 0), float(i == len(page) - 1), float(counts[line] > 1),
            float(before > 25), float(after > 25), float(0 < before <= 12),
            float(0 < after <= 12), float(before > 25 and after > 25),
        ])
    return np.asarray(rows, dtype=float)


def training_pages(sources_file: Path, coverage_pages: Path, split: str, seed_pages: Path,
                   seed_segments: Path) -> tuple[list[list[str]], list[list[bool]]]:
    """Lines and furniture flags: coverage pages of `split` (furniture marked in their sources
    record) and the seed pages (furniture: a line that holds no labeled seed segment)."""
    pages, labels = [], []
    for line in Path(sources_file).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record["split"] != split:
            continue
        marked = {" ".join(f.split()) for f in record["furniture"]}
        page = _page_lines(Path(coverage_pages) / f"{record['id']}.txt")
        pages.append(page)
        labels.append([line in marked for line in page])
    seeds = [json.loads(line) for line in
             Path(seed_segments).read_text(encoding="utf-8").splitlines() if line.strip()]
    seed_texts = [" ".join(r["text"].split()) for r in seeds]
    for path in sorted(Path(seed_pages).glob("*.txt")):
        page = _page_lines(path)
        pages.append(page)
        labels.append([not any(t in line for t in seed_texts) for line in page])
    return pages, labels


def _page_lines(path: Path) -> list[str]:
    return [" ".join(line.split()) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


@functools.cache
def trained_detector(sources_file: str, coverage_pages: str, split: str, seed_pages: str,
                     seed_segments: str, threshold: float, max_words: int,
                     min_page_lines: int) -> FurnitureDetector:
    """Fitted once per process (about a second on ~4,000 lines)."""
    pages, labels = training_pages(Path(sources_file), Path(coverage_pages), split,
                                   Path(seed_pages), Path(seed_segments))
    return FurnitureDetector(threshold, max_words, min_page_lines).fit(pages, labels)
