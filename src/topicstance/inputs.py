"""Raw input for prediction: what a scraper leaves, screened, decoded and cut into units.

A *unit* is one article to classify: a whole page (`.txt`, `.html`), one record of a `.jsonl`
or `.parquet` file, or the consecutive records of such a file that name the same `article_id`
(an article given as its segments: read together, each record cut only when long). Every unit has a stable `key` (its file, plus its record id or line) and a
`content_hash`, so a scheduled job can tell new, changed and unchanged articles apart. Whatever
cannot be read as an article (binary files, undecodable text, empty files, unsupported types,
malformed or oversized records, unreadable paths) comes back as a unit with a `reason` instead
of text: it is quarantined, never silently dropped, and never labeled like news.
"""

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import datasets
import trafilatura
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from trafilatura.metadata import extract_title
from trafilatura.utils import load_html

from topicstance.textcodec import control_share, declared_charset, decode

PAGE_SUFFIXES = {".txt": "text", ".html": "html", ".htm": "html"}
RECORD_SUFFIXES = {".jsonl": "jsonl", ".parquet": "parquet"}
SUFFIXES = {**PAGE_SUFFIXES, **RECORD_SUFFIXES}
EXCERPT_CHARS = 300
# datasets logs a corrupt Parquet file's schema error at ERROR level, twice, before raising it; the
# file is quarantined with that same message (`_parquet_units`), so a cron log would hold three
# lines, two marked ERROR, for one set-aside file.
logging.getLogger("datasets.packaged_modules.parquet.parquet").setLevel(logging.CRITICAL)

_HTML_START = re.compile(r"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)
_LETTERS = re.compile(r"[^\W\d_]+")
ENGLISH_MIN_WORDS = 30  # shorter texts (a headline, a short record) are not judged
# scikit-learn's English stop words without those that are also everyday words of French,
# Spanish, Italian, Portuguese, German or Dutch ("a", "de", "in", "on", "was"...): with them a
# French paragraph scored 12.5% and a Dutch one 14% against English's 19% or more.
ENGLISH_FUNCTION_WORDS = ENGLISH_STOP_WORDS - {
    "a", "am", "an", "as", "con", "de", "do", "i", "in", "me", "no", "on", "over", "per", "so",
    "un", "was", "will"}


@dataclass(frozen=True)
class Limits:
    """What still counts as an article; anything past these is quarantined, not processed."""
    max_page_mb: float = 20.0      # a .txt/.html page
    max_record_mb: float = 5.0     # one JSONL line or Parquet text
    max_line_chars: int = 20_000   # one paragraph: a longer "line" is not prose
    min_english_share: float = 0.0  # English function words among a text's words (0 = any text)

    @classmethod
    def from_config(cls, cfg) -> "Limits":
        return cls(float(cfg.max_page_mb), float(cfg.max_record_mb), int(cfg.max_line_chars),
                   float(cfg.get("min_english_share", 0.0)))


@dataclass(frozen=True)
class InputFile:
    path: Path          # as found (a symlink stays a symlink)
    rel: str            # path below the input root, posix, with suffix
    fingerprint: str    # sha256 of the bytes; a stat-based stand-in when they cannot be read
    problem: str = ""   # why the whole file cannot be read, when it cannot


@dataclass(frozen=True)
class Unit:
    key: str            # stable identity: `<file>` or `<file>#<record id>` / `<file>:<line>`
    file: str
    line: int           # 1-based record line/row; 0 for a whole file
    content_hash: str
    article_id: str = ""  # proposed id: page path below the root, or the record's id
    text: str = ""
    encoding: str = ""
    reason: str = ""    # non-empty: quarantine this unit with this reason
    excerpt: str = ""   # bounded raw excerpt, for the quarantine record
    ready_cut: bool = False  # `text` is the article's segments, one per line (see `_articles`)
    named_article: bool = False  # a record naming its article (`article_id`): one to group


def list_files(root: Path, exclude: Path | None = None) -> list[InputFile]:
    """Every file below `root` (or `root` itself), sorted; folders are walked without following
    symlinked folders, and `exclude` (the output folder) is never entered."""
    root = Path(root)
    if root.is_file() or (root.is_symlink() and not root.is_dir()):
        return [_input_file(root, root.name)]
    if not root.is_dir():
        raise FileNotFoundError(f"input folder not found: {root}")
    base, found = root, []
    exclude = exclude.resolve() if exclude else None
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if exclude and here.resolve() == exclude:
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if (here / d).is_symlink()):
            path = here / name
            found.append(_input_file(path, path.relative_to(base).as_posix()))
    return sorted(found, key=lambda f: f.rel)


def _input_file(path: Path, rel: str) -> InputFile:
    if path.is_symlink() and path.is_dir():
        return InputFile(path, rel, _stat_fingerprint(path), "symlinked folder: not followed")
    if path.is_symlink() and not path.exists():
        return InputFile(path, rel, _stat_fingerprint(path),
                         "broken symbolic link (missing target or a link loop)")
    try:
        if not path.is_file():
            return InputFile(path, rel, _stat_fingerprint(path),
                             "not a regular file (pipe, socket or device)")
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return InputFile(path, rel, digest.hexdigest())
    except OSError as e:
        return InputFile(path, rel, _stat_fingerprint(path), f"cannot read: {e.strerror or e}")


def _stat_fingerprint(path: Path) -> str:
    try:
        st = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        return f"stat:{st.st_size}:{st.st_mtime_ns}:{target}"
    except OSError:
        return "stat:missing"


def read_units(file: InputFile, limits: Limits, cache_dir: Path | None = None) -> Iterator[Unit]:
    """The units of one input file: its articles, or quarantine units saying why not."""
    source = str(file.path)
    kind = SUFFIXES.get(file.path.suffix.lower())
    if file.problem:
        yield _bad(source, 0, file.fingerprint, file.problem)
    elif kind is None:
        yield _bad(source, 0, file.fingerprint,
                   f"unsupported file type {file.path.suffix or '(no suffix)'!r}; "
                   f"supported: {', '.join(sorted(SUFFIXES))}", _head(file.path))
    elif kind in ("text", "html"):
        yield _page_unit(file, kind, limits)
    elif kind == "jsonl":
        yield from _articles(_jsonl_units(file, limits), limits)
    else:
        yield from _articles(_parquet_units(file, limits, cache_dir), limits)


def _page_unit(file: InputFile, kind: str, limits: Limits) -> Unit:
    source, page_id = str(file.path), str(Path(file.rel).with_suffix("").as_posix())
    size = file.path.stat().st_size
    if size > limits.max_page_mb * 2**20:
        return _bad(source, 0, file.fingerprint, f"page of {size / 2**20:.1f} MB exceeds "
                    f"max_page_mb={limits.max_page_mb:g}", _head(file.path))
    raw = file.path.read_bytes()
    text, encoding, problem = decode(raw, declared_charset(raw))
    if problem:
        return _bad(source, 0, file.fingerprint, problem, _excerpt(raw))
    if kind == "html" or _HTML_START.match(text):  # a scraper may save HTML under .txt
        text = html_text(text)
        if not text.strip():
            return _bad(source, 0, file.fingerprint, "no article text found in the HTML",
                        _excerpt(raw))
    return _article_unit(source, source, 0, file.fingerprint, page_id, text, encoding, limits)


def html_text(html: str) -> str:
    """The page's main text as trafilatura finds it, its title first where the text's first
    lines do not hold it: many outlets print the headline in a page header outside the article's
    body, which the extraction leaves out, and with it every segment's headline context."""
    tree = load_html(html)  # parsed once, for both (the full metadata pass is ~10x slower)
    if tree is None:
        return ""
    title = " ".join((extract_title(tree) or "").split())  # before `extract` prunes the tree
    text = trafilatura.extract(tree, include_comments=False, include_tables=False) or ""
    opening = " ".join(" ".join(text.split("\n", 3)[:3]).split()).casefold()
    if title and text.strip() and title.casefold() not in opening:
        return f"{title}\n{text}"
    return text


def _jsonl_units(file: InputFile, limits: Limits) -> Iterator[Unit]:
    source = str(file.path)
    with file.path.open("rb") as f:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            line_hash = hashlib.sha256(raw).hexdigest()
            if len(raw) > limits.max_record_mb * 2**20:
                yield _bad(f"{source}:{line_no}", line_no, line_hash,
                           f"record of {len(raw) / 2**20:.1f} MB exceeds "
                           f"max_record_mb={limits.max_record_mb:g}", _excerpt(raw), source)
                continue
            text, encoding, problem = decode(raw)
            record = None
            if not problem:
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as e:
                    problem = f"not valid JSON ({e.msg} at column {e.colno})"
            yield _record_unit(source, line_no, line_hash, record, problem, encoding,
                               Path(file.rel).with_suffix("").as_posix(), _excerpt(raw), limits)


def _parquet_units(file: InputFile, limits: Limits, cache_dir: Path | None) -> Iterator[Unit]:
    source = str(file.path)
    stem = Path(file.rel).with_suffix("").as_posix()
    try:
        rows = datasets.load_dataset("parquet", data_files=source, split="train", streaming=True,
                                     cache_dir=str(cache_dir) if cache_dir else None)
        for row_no, record in enumerate(rows, 1):
            if row_no == 1 and "text" not in record:  # one reason for the file, not one a row
                yield _bad(source, 0, file.fingerprint, "no 'text' column (columns: "
                           f"{', '.join(list(record)[:10])})", _head(file.path))
                return
            raw = json.dumps(record, ensure_ascii=False, default=str)
            if len(raw) > limits.max_record_mb * 2**20:
                yield _bad(f"{source}:{row_no}", row_no, _sha(raw),
                           f"record of {len(raw) / 2**20:.1f} MB exceeds "
                           f"max_record_mb={limits.max_record_mb:g}", raw[:EXCERPT_CHARS], source)
                continue
            yield _record_unit(source, row_no, _sha(raw), record, "", "utf-8", stem,
                               raw[:EXCERPT_CHARS], limits)
    except Exception as e:  # noqa: BLE001 -- a corrupt file is quarantined whole, the rest go on
        yield _bad(source, 0, file.fingerprint, f"cannot read Parquet: {str(e)[:200]}",
                   _head(file.path))


def _record_unit(source, line_no, content_hash, record, problem, encoding, stem, excerpt,
                 limits) -> Unit:
    where = f"{source}:{line_no}"
    if not problem and not isinstance(record, dict):
        problem = f"expected a JSON object, got {type(record).__name__}"
    if problem:
        return _bad(where, line_no, content_hash, problem, excerpt, source)
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        return _bad(where, line_no, content_hash,
                    f"'text' is {type(text).__name__}, not a string", excerpt, source)
    if not text or not text.strip():
        return _bad(where, line_no, content_hash, "missing or empty 'text'", excerpt, source)
    record_id, named = record.get("id"), record.get("article_id")
    key = f"{source}#{record_id}" if record_id not in (None, "") else where
    article_id = str(record_id) if record_id not in (None, "") else f"{stem}-{line_no}"
    unit = _article_unit(key, source, line_no, content_hash, article_id, text, encoding, limits)
    if named in (None, "") or unit.reason:
        return unit
    return replace(unit, article_id=str(named), named_article=True)


def _articles(units: Iterator[Unit], limits: Limits) -> Iterator[Unit]:
    """Consecutive records naming the same `article_id` become one unit: the article, its
    records' texts a line each, `ready_cut`. Its hash covers every record, so a change to any of
    them redoes the whole article (its context changed). A record set aside inside the run is
    quarantined on its own and the article goes on without it; an article past `max_page_mb`
    is closed there and the rest starts another unit."""
    group: list[Unit] = []
    chars = 0
    for unit in units:
        if unit.reason:
            yield unit
            continue
        if group and (not unit.named_article or unit.article_id != group[0].article_id
                      or chars > limits.max_page_mb * 2**20):
            yield _merged(group)
            group, chars = [], 0
        if unit.named_article:
            group.append(unit)
            chars += len(unit.text)
        else:
            yield unit
    if group:
        yield _merged(group)


def _merged(records: list[Unit]) -> Unit:
    """One article from its records, keyed by the file and the article (as one record naming
    it is too, so an article that gains or loses records replaces its earlier rows)."""
    first = records[0]
    key = f"{first.file}#{first.article_id}"
    if len(records) == 1:
        return replace(first, key=key)
    return Unit(key, first.file, first.line, _sha("".join(r.content_hash for r in records)),
                first.article_id, "\n".join(" ".join(r.text.split()) for r in records),
                first.encoding, ready_cut=True, named_article=True)


def _article_unit(key, source, line_no, content_hash, article_id, text, encoding, limits) -> Unit:
    if control_share(text) > 0.01:
        return _bad(key, line_no, content_hash, "binary content (control characters), not text",
                    text[:EXCERPT_CHARS], source)
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > limits.max_line_chars:
        return _bad(key, line_no, content_hash, f"a line of {longest:,} characters is not prose "
                    f"(max_line_chars={limits.max_line_chars})", text[:EXCERPT_CHARS], source)
    share = english_share(text)
    if share is not None and share < limits.min_english_share:
        return _bad(key, line_no, content_hash, f"not English: {share:.0%} of its words are "
                    f"English function words (min_english_share={limits.min_english_share:g}; "
                    "the models read English only)", text[:EXCERPT_CHARS], source)
    return Unit(key, source, line_no, content_hash, article_id, text, encoding)


def english_share(text: str) -> float | None:
    """The share of a text's words that are English function words ("the", "of", "which"...;
    `ENGLISH_FUNCTION_WORDS`), None under `ENGLISH_MIN_WORDS` words. Every labeled record of 30
    words or more scores 11.8% or more (1% of them under 19%), every bundled page 18% or more;
    news paragraphs in French, Spanish, Italian, Portuguese, German or Dutch 0-1.2%, Cyrillic
    text none."""
    words = _LETTERS.findall(text[:20_000])
    if len(words) < ENGLISH_MIN_WORDS:
        return None
    return sum(w.lower() in ENGLISH_FUNCTION_WORDS for w in words) / len(words)


def _bad(key, line, content_hash, reason, excerpt="", file=None) -> Unit:
    return Unit(key, file or key, line, content_hash, reason=reason, excerpt=excerpt)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _head(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return _excerpt(f.read(EXCERPT_CHARS))
    except OSError:
        return ""


def _excerpt(raw: bytes) -> str:
    """A bounded, printable excerpt of raw input (undecodable bytes shown as \\xNN)."""
    return raw[:EXCERPT_CHARS].decode("utf-8", errors="backslashreplace")[:EXCERPT_CHARS]
