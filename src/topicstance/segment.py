"""Pages -> articles -> segments.

A page is what a scraper saved: one article, often followed by a "Related Articles" header and
other articles glued under it. Each of those becomes an article of its own. An article's
segments are its paragraphs (its lines), long ones cut at sentence boundaries, boilerplate lines
dropped by the config's patterns, and a text printed twice kept once. Every segment keeps its
character offsets into its article's text: `article.text[seg.start:seg.end] == seg.text`.
"""

import itertools
import math
import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+\S|[\"“‘A-Z])")
_WORD_BEFORE = re.compile(r"[\w.]+$")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Article:
    article_id: str
    text: str
    source: str           # file (or file:line) the article came from
    source_start: int = 0  # where `text` starts in that source
    # Its lines are segments already (records that share an `article_id`): each one kept, cut
    # when long, never judged as furniture or boilerplate nor dropped as a repeat.
    ready_cut: bool = False


@dataclass(frozen=True)
class Segment:
    article_id: str
    segment_id: str
    text: str
    start: int
    end: int


class Segmenter:
    """Rules from `conf/segmenter`; compiled once, used for every page."""

    def __init__(self, max_words: int, min_chars: int, boilerplate_max_words: int, abbreviations,
                 related_headers, related_anchor: str, body_line_words: int, outlet_bullet: str,
                 boilerplate, furniture=None, max_sentence_words: int | None = None):
        self.furniture = furniture  # a fitted FurnitureDetector, or None for the patterns alone
        self.max_words = int(max_words)
        self.max_sentence_words = int(max_sentence_words or 2 * self.max_words)
        self.min_chars = int(min_chars)
        self.boilerplate_max_words = int(boilerplate_max_words)
        self.abbreviations = {a.lower() for a in abbreviations}
        self.related_headers = [re.compile(p, re.IGNORECASE) for p in related_headers]
        self.related_anchor = re.compile(related_anchor, re.IGNORECASE)
        self.body_line_words = int(body_line_words)
        self.outlet_bullet = re.compile(outlet_bullet)
        self.boilerplate = [_lower_case_pattern(p) for p in boilerplate]

    @classmethod
    def from_config(cls, cfg) -> "Segmenter":
        furniture = None
        learned = cfg.get("furniture_model")
        if learned is not None and learned.enabled:
            from topicstance.furniture import trained_detector

            furniture = trained_detector(learned.sources, learned.coverage_pages, learned.split,
                                         learned.seed_pages, learned.seed_segments,
                                         float(learned.threshold), int(learned.max_words),
                                         int(learned.min_page_lines), learned.get("cache_dir"))
        return cls(cfg.max_words, cfg.min_chars, cfg.boilerplate_max_words, list(cfg.abbreviations),
                   list(cfg.related_headers), cfg.related_anchor, cfg.body_line_words,
                   cfg.outlet_bullet, list(cfg.boilerplate), furniture,
                   cfg.get("max_sentence_words"))

    # ---- pages -> articles -------------------------------------------------------------------

    def split_page(self, page_id: str, text: str, source: str,
                   ready_cut: bool = False) -> list[Article]:
        """The page's own article, then one article per piece glued under a related header;
        ready-cut text (an article's segments, a line each) is one article whatever it holds."""
        if ready_cut:
            return [Article(page_id, text, source, ready_cut=True)]
        lines = list(_lines(text))
        header = next((i for i, (s, _, line) in enumerate(lines)
                       if any(p.search(line) for p in self.related_headers)), None)
        if header is None:
            return [Article(page_id, text, source)]
        main_end = lines[header][0]
        articles = [Article(page_id, text[:main_end], source)]
        for n, (start, end) in enumerate(self._related_spans(lines[header + 1:], len(text)), 1):
            articles.append(Article(f"{page_id}-r{n}", text[start:end], source, start))
        return articles

    def _related_spans(self, lines, text_end: int) -> list[tuple[int, int]]:
        """Cut the related section before each glued article's furniture (outlet, "2 hours ago").

        An article starts right after the previous one's last body line (a long line) that comes
        before its "... ago" line, so headlines printed above the outlet name stay with it.
        """
        if not lines:
            return []
        anchors = [i for i, (_, _, line) in enumerate(lines) if self.related_anchor.match(line)]
        if not anchors:
            return [(lines[0][0], text_end)]
        starts = [0]
        for anchor in anchors[1:]:
            body = [i for i in range(starts[-1], anchor)
                    if len(lines[i][2].split()) >= self.body_line_words]
            starts.append(body[-1] + 1 if body else max(starts[-1] + 1, anchor - 1))
        bounds = [lines[i][0] for i in starts] + [text_end]
        return [(bounds[k], bounds[k + 1]) for k in range(len(starts))]

    # ---- articles -> segments ----------------------------------------------------------------

    def segment_articles(self, articles: list[Article]) -> list[list[Segment]]:
        """Each article's segments. The learned furniture detector judges all their lines in one
        call (see `FurnitureDetector.scores`): pass many articles at once where you can."""
        lines = [self._lines_of(a) for a in articles]
        judged = [[] if a.ready_cut else [normalized for *_, normalized in article]
                  for a, article in zip(articles, lines)]
        scores = (self.furniture.scores(judged) if self.furniture
                  else [[] for _ in articles])
        return [self._cut(a, article_lines, line_scores or [0.0] * len(article_lines))
                for a, article_lines, line_scores in zip(articles, lines, scores)]

    @staticmethod
    def _lines_of(article: Article) -> list[tuple[int, str, int, str]]:
        return [_line_words(start, line) for start, _, line in _lines(article.text) if line]

    def _cut(self, article: Article, lines, furniture_scores: list[float]) -> list[Segment]:
        """`lines`: `_line_words` of each non-empty line; `furniture_scores`: the detector's."""
        dropped = [False] * len(lines) if article.ready_cut else self._dropped(lines, furniture_scores)
        segments, seen = [], set()
        for (start, line, n_words, _), is_dropped in zip(lines, dropped):
            if is_dropped:
                continue
            for s, e in self._chunks(line, n_words):
                text = line[s:e]
                key = " ".join(text.split()).casefold()
                if key in seen and not article.ready_cut:
                    continue
                seen.add(key)
                segments.append(Segment(article.article_id,
                                        f"{article.article_id}-p{len(segments):03d}",
                                        text, start + s, start + e))
        return segments

    def _dropped(self, lines, furniture_scores: list[float]) -> list[bool]:
        """Whether each line is furniture: a pattern's, an outlet bullet's name, or the detector's.

        An article's head (its lines before the first paragraph too long to be judged) holds its
        headline, which is also every segment's context: when all of it would go, the line of
        two words or more (a line of one is a section label) that the detector alone dropped
        with the lowest score stays. Short headlines from outlets the detector never saw ("COP
        betrayal" under "Editorial") read like section labels to it."""
        outlet_names = {m.group(1).casefold() for _, line, _, _ in lines
                        if (m := self.outlet_bullet.match(line))}

        def by_rule(line: str, n_words: int) -> bool:
            return self._is_boilerplate(line, n_words) or line.casefold() in outlet_names

        threshold = self.furniture.threshold if self.furniture else float("inf")
        dropped = [score >= threshold or by_rule(line, n_words)
                   for (_, line, n_words, _), score in zip(lines, furniture_scores)]
        head = next((i for i, (_, _, n_words, _) in enumerate(lines)
                     if n_words > self.furniture.max_words), 0) if self.furniture else 0
        if head and all(dropped[:head]):
            by_detector_alone = [i for i in range(head) if furniture_scores[i] >= threshold
                                 and lines[i][2] > 1 and not by_rule(*lines[i][1:3])]
            if by_detector_alone:
                dropped[min(by_detector_alone, key=furniture_scores.__getitem__)] = False
        return dropped

    def segment_page(self, page_id: str, text: str, source: str) -> list[tuple[Article, list[Segment]]]:
        return self.segment_pages([(page_id, text, source)])[0]

    def segment_pages(self, pages: list[tuple]) -> list[list[tuple[Article, list[Segment]]]]:
        """(page_id, text, source[, ready_cut]) of each page -> its articles, each with its
        segments."""
        articles = [self.split_page(*page) for page in pages]
        segments = iter(self.segment_articles([a for page in articles for a in page]))
        return [[(a, next(segments)) for a in page] for page in articles]

    def rows(self, pages: list[tuple]) -> list[list[dict]]:
        """Each page's (page_id, text, source[, ready_cut]) segments as table rows, each with its
        article context (`headline`, `previous`): what every prediction engine classifies."""
        out = []
        for page in self.segment_pages(pages):
            rows = []
            for _, segments in page:
                headlines, previous = headlines_and_previous([s.article_id for s in segments],
                                                             [s.text for s in segments])
                rows += [{"article_id": s.article_id, "segment_id": s.segment_id, "text": s.text,
                          "start": s.start, "end": s.end, "headline": h, "previous": p}
                         for s, h, p in zip(segments, headlines, previous)]
            out.append(rows)
        return out

    def _is_boilerplate(self, line: str, n_words: int) -> bool:
        if len(line) < self.min_chars:
            return True
        if n_words > self.boilerplate_max_words:
            return False
        lower = line.lower()
        for pattern in self.boilerplate:
            if pattern.search(lower):
                return True
        return False

    def _chunks(self, paragraph: str, n_words: int) -> list[tuple[int, int]]:
        """The paragraph (of `n_words` words) whole, or cut at sentence ends into chunks of at
        most `max_words`.

        Chunks are balanced (a 100-word paragraph gives two of ~50, not 80 + 20); a single
        sentence longer than the limit stays whole rather than being cut mid-sentence, unless it
        runs past `max_sentence_words` (no news sentence does: text with no sentence ends, such
        as a transcript or a list without full stops), which is cut between words.
        """
        if n_words <= self.max_words:
            return [(0, len(paragraph))]
        sentences = [piece for s, e in self.sentences(paragraph)
                     for piece in self._word_pieces(paragraph, s, e)]
        target = n_words / math.ceil(n_words / self.max_words)
        chunks, chunk_start, chunk_words, prev_end = [], None, 0, 0
        for s, e in sentences:
            words = len(paragraph[s:e].split())
            if chunk_start is not None and (chunk_words + words > self.max_words
                                            or chunk_words >= target):
                chunks.append((chunk_start, prev_end))
                chunk_start, chunk_words = None, 0
            if chunk_start is None:
                chunk_start = s
            chunk_words += words
            prev_end = e
        chunks.append((chunk_start, prev_end))
        return chunks

    def _word_pieces(self, paragraph: str, start: int, end: int) -> list[tuple[int, int]]:
        """The span whole, or, past `max_sentence_words`, balanced runs of at most `max_words`
        words (the cuts between words, so every piece is exact text of the paragraph)."""
        words = [m.span() for m in _WORD.finditer(paragraph, start, end)]
        if len(words) <= self.max_sentence_words:
            return [(start, end)]
        pieces = math.ceil(len(words) / self.max_words)
        cuts = [round(i * len(words) / pieces) for i in range(pieces + 1)]
        return [(words[a][0], words[b - 1][1]) for a, b in itertools.pairwise(cuts)]

    def sentences(self, paragraph: str) -> list[tuple[int, int]]:
        """(start, end) of each sentence; a full stop directly followed by a capital counts."""
        spans, start = [], 0
        for m in _SENTENCE_END.finditer(paragraph):
            if self._is_abbreviation(paragraph, m.start()):
                continue
            spans.append((start, m.end()))
            start = m.end()
            while start < len(paragraph) and paragraph[start].isspace():
                start += 1
        if start < len(paragraph):
            spans.append((start, len(paragraph.rstrip())))
        return spans

    def _is_abbreviation(self, text: str, dot: int) -> bool:
        if text[dot] != ".":
            return False
        # Only the text just before the dot: a `$`-anchored search of all of it tries every
        # position of the paragraph. A longer word is no abbreviation either way.
        word = _WORD_BEFORE.search(text, max(0, dot - 20), dot)
        if not word:
            return False
        token = word.group()
        return token.lower() in self.abbreviations or (len(token) == 1 and token.isupper())


def _lower_case_pattern(pattern: str) -> re.Pattern:
    """A boilerplate pattern, matched against the line in lower case: re keeps a case-sensitive
    pattern's literal-prefix scan, and the default patterns ran three times faster than with
    IGNORECASE (measured when there were 36). A capital outside an escape (`\\S`, `\\W`) could never match, so it is refused."""
    if any(char.isupper() for char in re.sub(r"\\.", "", pattern)):
        raise ValueError(f"segmenter.boilerplate: {pattern!r} has capitals, but lines are matched "
                         "in lower case: write it in lower case")
    return re.compile(pattern)


def headlines_and_previous(article_ids: list[str], texts: list[str]
                           ) -> tuple[list[str], list[str]]:
    """For each segment (in article order): its article's headline (the first segment) and the
    segment before it; both empty for the headline itself."""
    headlines, previous, current, last, head = [], [], None, "", ""
    for article_id, text in zip(article_ids, texts):
        if article_id != current:
            current, head, last = article_id, text, ""
            headlines.append("")
        else:
            headlines.append(head)
        previous.append(last)
        last = text
    return headlines, previous


def _line_words(start: int, line: str) -> tuple[int, str, int, str]:
    """(start, line, its word count, its words joined by single spaces). Atoms only: the
    garbage collector leaves such tuples alone, while a kept list of words per line made
    Python's full collections run during segmenting (a fifth of its time)."""
    words = line.split()
    return start, line, len(words), " ".join(words)


def _lines(text: str):
    """(start, end, stripped line) for every line, offsets pointing at the stripped text."""
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        stripped = body.strip()
        lead = len(body) - len(body.lstrip())
        yield pos + lead, pos + lead + len(stripped), stripped
        pos += len(raw)
