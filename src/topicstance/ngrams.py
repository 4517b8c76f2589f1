"""TF-IDF whose transform counts n-grams in numpy instead of Python strings.

scikit-learn's vectorizers build every n-gram as a Python string and look it up in a dict: about
a millisecond per 70-word segment for character 2-5-grams, most of the TF-IDF model's time.
`FastTfidfVectorizer` fits exactly as `TfidfVectorizer` does. Its transform joins the batch into
one array of code points, hashes every n-gram as a polynomial over them (all n-grams of the
batch at once), finds the hashes among the vocabulary's in an open-addressing table and counts
them with one sort; scikit-learn's own TF-IDF weighting then runs on those counts, so the output
equals scikit-learn's (tests/test_ngrams.py). Settings it does not cover (other analyzers,
token patterns, stop words, custom preprocessors, non-text input) go through scikit-learn.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_SEPARATOR = "\0"              # joins the batch's documents; never inside an n-gram
_SPACE = 32
_P = np.uint64(0x100000001B3)  # odd, so invertible mod 2**64: hash(s) = sum s[k] * P**k
_P_INVERSE = np.uint64(pow(int(_P), -1, 2**64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads a hash's bits before its top bits pick a slot
_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_DOCUMENTS_PER_PASS = 256


class FastTfidfVectorizer(TfidfVectorizer):
    """A `TfidfVectorizer` with the fast transform described in the module's docstring."""

    def transform(self, raw_documents):
        if isinstance(raw_documents, str):
            return super().transform(raw_documents)  # scikit-learn's error for it
        documents = list(raw_documents)
        if not documents or not self._counted_in_numpy(documents):
            return super().transform(documents)
        # A few hundred documents at a time: as fast, and the n-gram arrays (~100 MB for a
        # thousand news paragraphs at once) stay small.
        parts = [self._counts(documents[i:i + _DOCUMENTS_PER_PASS])
                 for i in range(0, len(documents), _DOCUMENTS_PER_PASS)]
        if any(part is None for part in parts):
            return super().transform(documents)
        return self._tfidf.transform(sp.vstack(parts, format="csr"), copy=False)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_vocabulary_table", None)  # rebuilt from vocabulary_ on first use
        return state

    def _counted_in_numpy(self, documents) -> bool:
        word = (self.analyzer == "word" and self.token_pattern == _DEFAULT_TOKEN_PATTERN
                and self.tokenizer is None and self.stop_words is None)
        chars = self.analyzer == "char_wb" and 2 <= self.ngram_range[0] <= 3
        return ((word or chars) and self.preprocessor is None and self.input == "content"
                and self.strip_accents in (None, "unicode") and not self.binary
                and hasattr(self, "vocabulary_") and all(isinstance(d, str) for d in documents))

    def _counts(self, documents: list[str]):
        """Term counts as `CountVectorizer.transform` gives them, or None to let it do them."""
        text = " " + f" {_SEPARATOR} ".join(documents) + " "  # each padded for char_wb
        if text.count(_SEPARATOR) != len(documents) - 1:
            return None  # a document holds the separator itself
        if self.lowercase:
            text = text.lower()
        if self.strip_accents == "unicode" and not text.isascii():
            text = _strip_accents(text)
        codes = _code_points(text)
        if self.analyzer == "word":
            doc, hashes = _word_ngrams(codes, *self.ngram_range)
        else:
            doc, hashes = _char_wb_ngrams(codes, *self.ngram_range)
        table = self._table()
        if table is None:
            return None
        columns = table.get(hashes)
        found = columns >= 0
        n_columns = len(self.vocabulary_)
        # One sort counts them: a document's n-grams, keyed by (document, column).
        keys = doc[found] * n_columns + columns[found]
        keys, counts = (_unique_counts_32(keys.astype(np.uint32))
                        if len(documents) * n_columns < 2**32 else np.unique(keys, return_counts=True))
        rows = keys // n_columns
        indptr = np.zeros(len(documents) + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=len(documents)), out=indptr[1:])
        return sp.csr_matrix((counts.astype(self.dtype), (keys % n_columns).astype(np.int32), indptr),
                             shape=(len(documents), n_columns))

    def _table(self) -> _HashTable | None:
        """The vocabulary's hash table, built on first use after each fit."""
        built = self.__dict__.get("_vocabulary_table")
        if built is None or built[0] is not self.vocabulary_:  # a refit replaces vocabulary_
            terms = list(self.vocabulary_)
            codes = _code_points(_SEPARATOR.join(terms))
            ends = np.append(np.flatnonzero(codes == 0), len(codes))
            starts = np.append(0, ends[:-1] + 1)
            hashes = _span_hashes(codes, starts, ends)
            unique = len(np.unique(hashes)) == len(hashes)  # a 64-bit collision: let sklearn count
            columns = np.fromiter(self.vocabulary_.values(), dtype=np.int32, count=len(terms))
            built = (self.vocabulary_, _HashTable(hashes, columns) if unique else None)
            self._vocabulary_table = built
        return built[1]


class _HashTable:
    """uint64 hash -> column, open addressing with linear probing, looked up a batch at a time."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.bits = max(4, int(np.ceil(np.log2(2 * len(keys) + 1))))
        self.keys = np.zeros(1 << self.bits, dtype=np.uint64)
        self.values = np.full(1 << self.bits, -1, dtype=np.int32)
        slots = self._home(keys)
        pending = np.arange(len(keys))
        while pending.size:
            free = self.values[slots[pending]] == -1
            candidates = pending[free]
            taken, first = np.unique(slots[candidates], return_index=True)
            placed = candidates[first]
            self.keys[taken], self.values[taken] = keys[placed], values[placed]
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            slots[pending] = (slots[pending] + 1) & ((1 << self.bits) - 1)

    def _home(self, hashes: np.ndarray) -> np.ndarray:
        return ((hashes * _MIX) >> np.uint64(64 - self.bits)).astype(np.int64)

    def get(self, hashes: np.ndarray) -> np.ndarray:
        """The column of each hash, -1 where it is not in the table.

        Most hashes are settled at their home slot (found, or the slot is empty), so that first
        probe runs over whole arrays; only the rest walk on (an empty slot's key 0 never
        matters: its value is -1 either way)."""
        slots = self._home(hashes)
        value = self.values[slots]
        out = np.where(self.keys[slots] == hashes, value, -1)
        pending = np.flatnonzero((value >= 0) & (out < 0))
        slots = slots[pending]
        while pending.size:
            slots = (slots + 1) & ((1 << self.bits) - 1)
            value = self.values[slots]
            hit = (value >= 0) & (self.keys[slots] == hashes[pending])
            out[pending[hit]] = value[hit]
            probe_on = (value >= 0) & ~hit
            pending, slots = pending[probe_on], slots[probe_on]
        return out


def _unique_counts_32(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, return_counts=True)` for uint32 keys, sorted in two 16-bit passes:
    numpy's stable sort of 16-bit integers is a radix sort (linear), while it sorts 32-bit ones
    by comparisons; 1.5x faster on a few hundred thousand n-grams."""
    keys = keys[np.argsort(keys.astype(np.uint16), kind="stable")]
    keys = keys[np.argsort((keys >> 16).astype(np.uint16), kind="stable")]
    starts = np.flatnonzero(np.concatenate(([keys.size > 0], keys[1:] != keys[:-1])))
    return keys[starts], np.diff(np.append(starts, len(keys)))


def _char_wb_ngrams(codes: np.ndarray, min_n: int, max_n: int):
    """(document, hash) of each n-gram `analyzer="char_wb"` makes: n-grams inside each word
    padded with a space on both sides. The documents come padded and words share the space
    between them, which is why min_n must be 2 or more (as a 1-gram that space counts for
    both); min_n <= 3 as no padded word is then shorter than min_n, a case left out."""
    codes = np.where(_SPACES[codes], _SPACE, codes)
    # Runs of blanks are left as they are: a window holding two of them is in no vocabulary.
    doc = np.cumsum(codes == 0)
    blanks_before = np.concatenate([[0], np.cumsum((codes == _SPACE) | (codes == 0))])
    prefix = _prefix_hashes(codes)
    docs, hashes = [], []
    sums, inverse_powers = prefix
    for n in range(min_n, max_n + 1):  # window [i, i + n) for every i, as slices
        count = max(len(codes) - n + 1, 0)
        inside_word = blanks_before[n - 1:n - 1 + count] == blanks_before[1:1 + count]
        valid = inside_word & (codes[:count] != 0) & (codes[n - 1:n - 1 + count] != 0)
        docs.append(doc[:count][valid])
        hashes.append(((sums[n:n + count] - sums[:count]) * inverse_powers[:count])[valid])
    return np.concatenate(docs).astype(np.int64), np.concatenate(hashes)


def _word_ngrams(codes: np.ndarray, min_n: int, max_n: int):
    """(document, hash) of each n-gram of the default token pattern: tokens are the runs of two
    or more word characters; an n-gram is n consecutive tokens of a document joined by spaces."""
    word = _WORD_CHARACTERS[codes]
    edges = np.diff(np.concatenate([[0], word.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_enough = ends - starts >= 2
    starts, ends = starts[long_enough], ends[long_enough]
    doc = np.cumsum(codes == 0)[starts].astype(np.int64)
    prefix = _prefix_hashes(codes)
    token = _hash_spans(prefix, starts, ends)
    lengths = (ends - starts).astype(np.int64)
    powers = _powers(_P, len(codes) + 2)
    docs, hashes = [], []
    gram, gram_length = token, lengths
    for n in range(1, max_n + 1):
        if n > 1:  # extend each (n-1)-gram by the token after it: h + ' ' P**L + h_next P**(L+1)
            gram = (gram[:-1] + np.uint64(_SPACE) * powers[gram_length[:-1]]
                    + token[n - 1:] * powers[gram_length[:-1] + 1])
            gram_length = gram_length[:-1] + 1 + lengths[n - 1:]
        if n >= min_n:
            same_doc = doc[:len(doc) - n + 1] == doc[n - 1:]
            docs.append(doc[:len(doc) - n + 1][same_doc])
            hashes.append(gram[same_doc])
    return np.concatenate(docs), np.concatenate(hashes)


def _span_hashes(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return _hash_spans(_prefix_hashes(codes), starts, ends)


def _prefix_hashes(codes: np.ndarray):
    """(prefix sums of code * P**i, P**-i): span [s, e) hashes to (sum[e] - sum[s]) * P**-s."""
    sums = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes.astype(np.uint64) * _powers(_P, len(codes)), out=sums[1:])
    return sums, _powers(_P_INVERSE, len(codes) + 1)


def _hash_spans(prefix, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    sums, inverse_powers = prefix
    return (sums[ends] - sums[starts]) * inverse_powers[starts]


def _powers(base: np.uint64, n: int) -> np.ndarray:
    """base**i mod 2**64 for i < n (numpy's unsigned products wrap)."""
    factors = np.full(n, base, dtype=np.uint64)
    if n:
        factors[0] = 1
    return np.cumprod(factors, dtype=np.uint64)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)


def _strip_accents(text: str) -> str:
    """scikit-learn's `strip_accents_unicode`: NFKD, then drop the combining marks."""
    codes = _code_points(unicodedata.normalize("NFKD", text))
    kept = codes[~_COMBINING[codes]].astype(np.uint32)
    return kept.tobytes().decode("utf-32-le", "surrogatepass")


class _CodePointClass:
    """Per code point, whether `test(chr(code))` holds, worked out the first time a code point
    is seen (a table over all 1.1 million code points took 0.2 s per process to build, paid by
    every job that scores TF-IDF). Looked up an array of code points at a time."""

    def __init__(self, test):
        self.test = test
        self.known = np.zeros(0x110000, dtype=bool)
        self.value = np.zeros(0x110000, dtype=bool)

    def __getitem__(self, codes: np.ndarray) -> np.ndarray:
        unseen = codes[~self.known[codes]]
        if unseen.size:
            unseen = np.unique(unseen)
            self.value[unseen] = [bool(self.test(chr(code))) for code in unseen.tolist()]
            self.known[unseen] = True  # after the values: a concurrent reader never sees one unset
        return self.value[codes]


_SPACES = _CodePointClass(re.compile(r"\s").match)          # whitespace, as `str.split` and `\s` see it
_WORD_CHARACTERS = _CodePointClass(re.compile(r"\w").match)  # what the token pattern is made of
_COMBINING = _CodePointClass(unicodedata.combining)          # what strip_accents drops after NFKD
