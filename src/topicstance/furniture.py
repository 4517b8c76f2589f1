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
from collections import Counter
from pathlib import Path

import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from topicstance import pickled
from topicstance.ngrams import FastTfidfVectorizer

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
        batch = _Lines(pages)
        self.words.fit(batch.lines)
        self.chars.fit(batch.lines)
        shapes = _shape(batch)
        y = np.concatenate(labels).astype(int)
        x = self._features(batch.lines, shapes)
        text_score = np.zeros(len(batch.lines))
        for fold in range(2):  # out-of-fold text scores, so the combiner sees honest ones
            held = batch.page % 2 == fold
            text_score[held] = _text_model().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
        self.classifier.fit(x, y)
        neighbours = _neighbours(batch, text_score, self.max_words)
        self.combiner.fit(np.column_stack([text_score, shapes, neighbours]), y)
        return self

    def scores(self, pages: list[list[str]]) -> list[list[float]]:
        """For each line of each page, the probability that it is furniture; 0 for a line never
        judged (longer than `max_words` words) and for every line of a text of fewer than
        `min_page_lines` lines, which is not a page (a JSONL record, a ready-cut segment). Pages
        are judged together: one call of each model for all their lines, as the per-call
        overhead of scikit-learn outweighs a page's few dozen lines."""
        scores = [[0.0] * len(page) for page in pages]
        pages_judged = [k for k, page in enumerate(pages) if len(page) >= self.min_page_lines]
        if not pages_judged:
            return scores
        # Only short lines can be furniture, so only they are featurized (each line's features
        # are its own, its neighbours enter through `_shape`): the body's long lines cost nothing.
        batch = _Lines([pages[k] for k in pages_judged], self.max_words)
        if len(batch.judged):
            for k, i, value in zip(np.array(pages_judged)[batch.page[batch.judged]].tolist(),
                                   batch.index[batch.judged].tolist(),
                                   self._line_scores(batch).tolist()):
                scores[k][i] = value
        return scores

    def _line_scores(self, batch: "_Lines") -> np.ndarray:
        """Furniture probability of the batch's judged lines. The words of every judged line
        are scored first: the combiner reads each line beside its neighbours'."""
        shapes = _shape(batch)
        text_score = np.zeros(len(batch.lines))
        text_score[batch.judged] = self.classifier.predict_proba(
            self._features([batch.lines[j] for j in batch.judged.tolist()], shapes))[:, 1]
        features = np.column_stack([text_score[batch.judged], shapes,
                                    _neighbours(batch, text_score, self.max_words)])
        # Waking an OpenMP pool for a batch of pages costs more than the trees themselves
        # (segmenting ran 7x slower on busy cores): one thread.
        with _openmp().limit(limits=1, user_api="openmp"):
            return self.combiner.predict_proba(features)[:, 1]

    def _features(self, lines: list[str], shapes: np.ndarray):
        return hstack([self.words.transform(lines), self.chars.transform(lines),
                       csr_matrix(shapes)]).tocsr()


@functools.cache
def _openmp() -> ThreadpoolController:
    return ThreadpoolController()


def _text_model() -> LogisticRegression:
    return LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)


class _Lines:
    """The lines of many pages laid end to end (whitespace-normalized: words are counted by
    spaces), so that every feature is one array operation over all of them; `judged` are the
    lines of at most `max_words` words (all of them without it), in page order."""

    def __init__(self, pages: list[list[str]], max_words: int | None = None):
        self.lines = [line for page in pages for line in page]
        self.sizes = np.array([line.count(" ") + 1 for line in self.lines], dtype=np.int64)
        self.n_pages = len(pages)
        lengths = np.array([len(page) for page in pages], dtype=np.int64)
        self.page = np.repeat(np.arange(len(pages)), lengths)
        self.start = np.concatenate([[0], np.cumsum(lengths)])[self.page]  # its page's first line
        self.length = lengths[self.page]                                   # its page's lines
        self.index = np.arange(len(self.lines)) - self.start               # its place on the page
        self.judged = (np.arange(len(self.lines)) if max_words is None
                       else np.flatnonzero(self.sizes <= max_words))


_UPPER, _LOWER, _ALPHA, _DECIMAL, _SPACE, _BAR = (1 << k for k in range(6))
_ENDS = [ord(c) for c in ".!?\"'”’"]


def _char_flags(char: str) -> int:
    return (_UPPER * char.isupper() | _LOWER * char.islower() | _ALPHA * char.isalpha()
            | _DECIMAL * char.isdecimal() | _SPACE * char.isspace() | _BAR * (char in "|•·"))


@functools.cache
def _basic_plane_flags() -> np.ndarray:
    return np.array([_char_flags(chr(c)) for c in range(0x10000)], dtype=np.uint8)


def _per_char(lines: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines' characters end to end, one newline after each: code points, their class
    flags (str.isupper, islower, isalpha, isdecimal, isspace, one of `|•·`), each line's start."""
    points = np.frombuffer("\n".join(lines).encode("utf-32-le") + b"\n\0\0\0", dtype=np.uint32)
    flags = _basic_plane_flags()[np.minimum(points, 0xFFFF)]
    astral = np.flatnonzero(points > 0xFFFF)
    flags[astral] = [_char_flags(chr(c)) for c in points[astral].tolist()]
    starts = np.concatenate([[0], np.cumsum([len(line) + 1 for line in lines])[:-1]])
    return points, flags, starts.astype(np.int64)


def _shape(batch: _Lines) -> np.ndarray:
    """Per judged line: length, capitals, digits, closing punctuation, place on the page and
    relative to the body (the run of long paragraphs), repeats, and its neighbours (a crosshead
    sits between long paragraphs; teasers and widgets come in runs of short lines)."""
    j = batch.judged
    n_lines, i, last = len(batch.lines), batch.index[j], batch.length[j] - 1
    sizes, words = batch.sizes, batch.sizes[j]
    before = np.where(i > 0, sizes[np.maximum(j - 1, 0)], 0)
    after = np.where(i < last, sizes[np.minimum(j + 1, max(n_lines - 1, 0))], 0)
    # the body: from the page's first long line to its last (both 0 on a page without one)
    long_lines = np.flatnonzero(sizes > 25)
    first_body, last_body = np.full(batch.n_pages, n_lines), np.full(batch.n_pages, -1)
    np.minimum.at(first_body, batch.page[long_lines], batch.index[long_lines])
    np.maximum.at(last_body, batch.page[long_lines], batch.index[long_lines])
    first_body = np.where(first_body == n_lines, 0, first_body)[batch.page[j]]
    last_body = np.maximum(last_body, 0)[batch.page[j]]
    page_of = batch.page.tolist()
    seen = Counter(zip(page_of, batch.lines))
    repeated = [seen[page_of[k], batch.lines[k]] > 1 for k in j.tolist()]
    picked = [batch.lines[k] for k in j.tolist()]
    points, flags, starts = _per_char(picked)
    word_start = (flags & _SPACE == 0) & (np.concatenate([[_SPACE], flags[:-1]]) & _SPACE > 0)

    def per_line(mask):
        return np.add.reduceat(mask.astype(np.int64), starts) if len(picked) else np.zeros(0)

    letters, upper = per_line(flags & _ALPHA > 0), per_line(flags & _UPPER > 0)
    end = points[starts + np.array([len(line) for line in picked], dtype=np.int64) - 1]
    out = np.column_stack([
        np.minimum(words, 60) / 60, words <= 3, words <= 8,
        upper / np.maximum(letters, 1),
        per_line(word_start & (flags & _UPPER > 0)) / np.maximum(words, 1),
        per_line(flags & _DECIMAL > 0) > 0, np.isin(end, _ENDS), end == ord(":"),
        i / np.maximum(last, 1), i == 0, i == last, repeated,
        before > 25, after > 25, (before > 0) & (before <= 12), (after > 0) & (after <= 12),
        (before > 25) & (after > 25), i < first_body, i > last_body,
        (first_body < i) & (i < last_body),
        (i == 0) | ((i == 1) & (sizes[batch.start[j]] <= 3)),
        per_line(flags & _BAR > 0) > 0,
        (letters > 0) & (per_line(flags & _LOWER > 0) == 0),
    ])
    return out.astype(float).reshape(len(j), 23)


def _neighbours(batch: _Lines, text_score: np.ndarray, max_words: int) -> np.ndarray:
    """Per judged line: the word scores (`text_score`, one per line of the batch) of the lines
    before and after it, and the mean over the rest of its page above and below (teasers and
    widgets come in runs; a crosshead sits among body paragraphs). A long line counts as body
    (0), the page's edge as furniture (1)."""
    score = np.where(batch.sizes <= max_words, text_score, 0.0)
    j = batch.judged
    i, below = batch.index[j], batch.length[j] - 1 - batch.index[j]
    before = np.where(i > 0, score[np.maximum(j - 1, 0)], 1.0)
    after = np.where(below > 0, score[np.minimum(j + 1, max(len(score) - 1, 0))], 1.0)
    running = np.concatenate([[0.0], np.cumsum(score)])
    page_start, page_end = batch.start[j], batch.start[j] + batch.length[j]
    above_mean = np.where(i > 0, (running[j] - running[page_start]) / np.maximum(i, 1), 1.0)
    below_mean = np.where(below > 0, (running[page_end] - running[j + 1]) / np.maximum(below, 1),
                          1.0)
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
