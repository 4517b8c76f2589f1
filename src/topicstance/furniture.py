"""A learned page-furniture detector: is this line of a page a byline, prompt, teaser, credit...?

Hand-written patterns (conf/segmenter) catch the furniture of the pages they were written for;
outlets never seen print theirs differently ("Reporting by ...", "Return to top", "Share this:").
This small line classifier learns furniture from pages whose furniture lines are marked (the
coverage corpus's training part, `data/coverage_sources.jsonl`) and from the seed pages (a line
that yields no labeled seed segment is furniture). It looks at a line's words, characters, shape
and place on the page, in two steps: a linear model over words and characters, then small boosted
trees over its score, its neighbours' scores and the line's shape (the same words are a crosshead
between two paragraphs and a teaser in a run of teasers under the article). It only judges lines of
at most `max_words` words (bylines, prompts, disclaimers), so long body paragraphs are never
dropped. Patterns still run first and stay the override.
"""

import functools
import hashlib
import json
import logging
import os
import pickle
import re
from pathlib import Path

import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from topicstance import pickled
from topicstance.ngrams import FastTfidfVectorizer

_DIGIT = re.compile(r"\d")
log = logging.getLogger(__name__)


class FurnitureDetector:
    def __init__(self, threshold: float, max_words: int, min_page_lines: int):
        self.threshold, self.max_words = float(threshold), int(max_words)
        self.min_page_lines = int(min_page_lines)
        self.words = FastTfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        self.chars = FastTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3,
                                         sublinear_tf=True, lowercase=False)
        self.classifier = _text_model()
        # early_stopping off by name: scikit-learn's "auto" turns it on past 10,000 lines,
        # holding out a random tenth of them, and the training pages crossed that bound.
        self.combiner = HistGradientBoostingClassifier(max_iter=50, learning_rate=0.3,
                                                       max_leaf_nodes=15, early_stopping=False,
                                                       random_state=0)

    def fit(self, pages: list[list[str]], labels: list[list[bool]]) -> "FurnitureDetector":
        lines = [line for page in pages for line in page]
        self.words.fit(lines)
        self.chars.fit(lines)
        shapes = np.vstack([_shape(page) for page in pages])
        y = np.concatenate(labels).astype(int)
        x = self._features(lines, shapes)
        page_of = np.concatenate([[k] * len(page) for k, page in enumerate(pages)])
        text_score = np.zeros(len(lines))
        for fold in range(2):  # out-of-fold text scores, so the combiner sees honest ones
            held = page_of % 2 == fold
            text_score[held] = _text_model().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
        self.classifier.fit(x, y)
        starts = np.cumsum([0] + [len(page) for page in pages])
        neighbours = np.vstack([
            _neighbours(page, text_score[start:start + len(page)], self.max_words, range(len(page)))
            for page, start in zip(pages, starts)])
        self.combiner.fit(np.column_stack([text_score, shapes, neighbours]), y)
        return self

    def furniture(self, pages: list[list[str]]) -> list[list[bool]]:
        """For each line of each page (stripped, non-empty), whether it is furniture. A text of
        fewer than `min_page_lines` lines is not a page (a JSONL record, a ready-cut segment):
        nothing in it is judged. Pages are judged together: one call of each model for all their
        lines, as the per-call overhead of scikit-learn outweighs a page's few dozen lines."""
        flags = [[False] * len(page) for page in pages]
        # Only short lines can be furniture, so only they are featurized (each line's features
        # are its own, its neighbours enter through `_shape`): the body's long lines cost nothing.
        judged = {k: [i for i, line in enumerate(page) if len(line.split()) <= self.max_words]
                  for k, page in enumerate(pages) if len(page) >= self.min_page_lines}
        judged = {k: rows for k, rows in judged.items() if rows}
        if not judged:
            return flags
        scores = iter(self._line_scores([pages[k] for k in judged], list(judged.values())))
        for k, rows in judged.items():
            for i, p in zip(rows, next(scores)):
                flags[k][i] = bool(p >= self.threshold)
        return flags

    def _line_scores(self, pages: list[list[str]], short_rows: list[list[int]]) -> list[np.ndarray]:
        """Furniture probability of each page's short lines (`short_rows`). The words of every
        short line are scored first: the combiner reads each line beside its neighbours'."""
        shapes = [_shape(page, rows) for page, rows in zip(pages, short_rows)]
        lines = [page[i] for page, rows in zip(pages, short_rows) for i in rows]
        word_scores = self.classifier.predict_proba(self._features(lines, np.vstack(shapes)))[:, 1]
        features, start = [], 0
        for page, rows, shape in zip(pages, short_rows, shapes):
            text_score = np.zeros(len(page))
            text_score[rows] = word_scores[start:start + len(rows)]
            start += len(rows)
            features.append(np.column_stack([text_score[rows], shape,
                                             _neighbours(page, text_score, self.max_words, rows)]))
        # Waking an OpenMP pool for a batch of pages costs more than the trees themselves
        # (segmenting ran 7x slower on busy cores): one thread.
        with _openmp().limit(limits=1, user_api="openmp"):
            combined = self.combiner.predict_proba(np.vstack(features))[:, 1]
        return np.split(combined, np.cumsum([len(rows) for rows in short_rows])[:-1])

    def _features(self, lines: list[str], shapes: np.ndarray):
        return hstack([self.words.transform(lines), self.chars.transform(lines),
                       csr_matrix(shapes)]).tocsr()


@functools.cache
def _openmp() -> ThreadpoolController:
    return ThreadpoolController()


def _text_model() -> LogisticRegression:
    return LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)


def _shape(page: list[str], rows: list[int] | None = None) -> np.ndarray:
    """Per line (of `rows`, default all): length, capitals, digits, closing punctuation, place
    on the page and relative to the body (the run of long paragraphs), repeats, and its
    neighbours (a crosshead sits between long paragraphs; teasers and widgets come in runs of
    short lines)."""
    counts = {}
    for line in page:
        counts[line] = counts.get(line, 0) + 1
    sizes = [len(line.split()) for line in page]
    long_lines = [i for i, n in enumerate(sizes) if n > 25] or [0]
    first_body, last_body = long_lines[0], long_lines[-1]
    out = []
    for i in range(len(page)) if rows is None else rows:
        line = page[i]
        words = line.split()
        before = sizes[i - 1] if i > 0 else 0
        after = sizes[i + 1] if i + 1 < len(page) else 0
        letters = sum(map(str.isalpha, line))
        end = line.rstrip()[-1:]
        out.append([
            min(len(words), 60) / 60, float(len(words) <= 3), float(len(words) <= 8),
            sum(map(str.isupper, line)) / max(letters, 1),
            sum(map(str.isupper, [w[0] for w in words])) / max(len(words), 1),
            float(bool(_DIGIT.search(line))), float(end in ".!?\"'”’"),
            float(end == ":"), i / max(len(page) - 1, 1),
            float(i == 0), float(i == len(page) - 1), float(counts[line] > 1),
            float(before > 25), float(after > 25), float(0 < before <= 12),
            float(0 < after <= 12), float(before > 25 and after > 25),
            float(i < first_body), float(i > last_body), float(first_body < i < last_body),
            float(i == 0 or (i == 1 and sizes[0] <= 3)),
            float("|" in line or "•" in line or "·" in line),
            float(letters > 0 and not any(map(str.islower, line))),
        ])
    return np.asarray(out, dtype=float).reshape(len(out), -1)


def _neighbours(page: list[str], text_score: np.ndarray, max_words: int, rows) -> np.ndarray:
    """Per line of `rows`: the word scores of the lines before and after it, and the mean over
    the rest of the page above and below (teasers and widgets come in runs; a crosshead sits
    among body paragraphs). A long line counts as body (0), the page's edge as furniture (1)."""
    score = np.where([len(line.split()) <= max_words for line in page], text_score, 0.0)
    rows = np.fromiter(rows, dtype=int)
    edged = np.concatenate([[1.0], score, [1.0]])
    before, after = edged[rows], edged[rows + 2]
    running = np.concatenate([[0.0], np.cumsum(score)])
    below = len(page) - 1 - rows
    above_mean = np.where(rows > 0, running[rows] / np.maximum(rows, 1), 1.0)
    below_mean = np.where(below > 0, (running[-1] - running[rows + 1]) / np.maximum(below, 1), 1.0)
    return np.column_stack([before, after, np.maximum(before, after), np.minimum(before, after),
                            above_mean, below_mean])


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


_FITTED: dict[str, FurnitureDetector] = {}  # this process's detectors, by fingerprint
_CACHE_FORMAT = 4  # raise when a fitted detector changes (2: FastTfidfVectorizer; 3: features; 4: pickled)


def trained_detector(sources_file: str, coverage_pages: str, split: str, seed_pages: str,
                     seed_segments: str, threshold: float, max_words: int, min_page_lines: int,
                     cache_dir: str | None = None) -> FurnitureDetector:
    """Fitted once per process (about ten seconds on the ~25,000 lines of the bundled pages),
    and kept in `cache_dir` (when given) for the next process while its training files and
    settings are unchanged: a daily `make predict` does not refit it."""
    settings = [sources_file, coverage_pages, split, seed_pages, seed_segments, threshold,
                max_words, min_page_lines, sklearn.__version__, _CACHE_FORMAT]
    files = [Path(sources_file), Path(seed_segments), *sorted(Path(coverage_pages).glob("*.txt")),
             *sorted(Path(seed_pages).glob("*.txt"))]
    digest = hashlib.sha256(json.dumps(settings, default=str).encode())
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    key = digest.hexdigest()[:20]
    if key not in _FITTED:
        cached = Path(cache_dir) / f"furniture-{key}.pkl" if cache_dir else None
        detector = _load(cached)
        if detector is None:
            pages, labels = training_pages(Path(sources_file), Path(coverage_pages), split,
                                           Path(seed_pages), Path(seed_segments))
            detector = FurnitureDetector(threshold, max_words, min_page_lines).fit(pages, labels)
            _store(detector, cached)
        _FITTED[key] = detector
    return _FITTED[key]


def _load(cached: Path | None) -> FurnitureDetector | None:
    if cached is None or not cached.exists():
        return None
    try:
        return pickled.load(cached)
    except (OSError, EOFError, ValueError, KeyError, AttributeError, ImportError,
            pickle.UnpicklingError) as e:  # unreadable or foreign: refit and replace it
        log.warning("refitting the furniture detector: cannot read %s (%s)", cached, e)
        return None


def _store(detector: FurnitureDetector, cached: Path | None) -> None:
    if cached is None:
        return
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        pickled.dump(detector, partial)
        os.replace(partial, cached)  # atomic: a concurrent reader sees all of it or none
    except OSError as e:
        log.warning("furniture detector not cached (%s); the next run fits it again", e)
