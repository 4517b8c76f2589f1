"""The numpy n-gram counting gives exactly scikit-learn's TF-IDF matrix."""

import json
import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from topicstance.config import PROJECT_ROOT
from topicstance.ngrams import _MIX, FastTfidfVectorizer, _HashTable

TRICKY = [
    "Zelenskyy's “peace” plan — café naïve  İstanbul ﬁnance ẞ ΣΑΣ ½ x² ℌello 𝔘nicode",
    "", "   ", "a", "a b c", "I", "x\u00a0y\u2003z\tq\n\n w \x1c v", "日本語のテキスト 中文",
    "e\u0301 cafe\u0301", "under_score __ 42 4 ab-cd", "🙂🙂 test", "end.",
]

# The settings the models use (segment, context, gate, furniture detector) and two more.
SETTINGS = [
    {"ngram_range": (1, 2), "sublinear_tf": True, "strip_accents": "unicode"},
    {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "max_features": 20000},
    {"analyzer": "char_wb", "ngram_range": (2, 4), "min_df": 3, "sublinear_tf": True,
     "lowercase": False},
    {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True},
    {"ngram_range": (2, 3), "lowercase": False, "norm": None, "use_idf": False},
    {"analyzer": "char_wb", "ngram_range": (3, 3)},
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with open(PROJECT_ROOT / "data/labeled/seeds.jsonl", encoding="utf-8") as f:
        seeds = [json.loads(line)["text"] for line in f]
    return seeds + TRICKY


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_fast_transform_equals_scikit_learn(texts, settings):
    train, test = texts[::2] + TRICKY, texts[1::2] + TRICKY
    expected = TfidfVectorizer(**settings).fit(train).transform(test)
    fast = FastTfidfVectorizer(**settings).fit(train)
    assert "_vocabulary_table" not in fast.__dict__
    got = fast.transform(test)
    assert "_vocabulary_table" in fast.__dict__  # the numpy path ran
    assert got.shape == expected.shape and (got != expected).nnz == 0


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_batches_of_only_short_or_empty_documents(texts, settings):
    fast, slow = FastTfidfVectorizer(**settings).fit(texts), TfidfVectorizer(**settings).fit(texts)
    for batch in ([""], ["", ""], ["a"], ["I", ""], [" "], ["ab"], ["to", "be"]):
        assert (fast.transform(batch) != slow.transform(batch)).nnz == 0, batch


def test_a_refit_vectorizer_counts_with_its_new_vocabulary(texts):
    fast = FastTfidfVectorizer(ngram_range=(1, 2))
    fast.fit(texts[:40]).transform(texts[:5])
    refit = fast.fit(texts[40:]).transform(texts[:50])
    assert (refit != TfidfVectorizer(ngram_range=(1, 2)).fit(texts[40:]).transform(texts[:50])).nnz == 0


def test_a_pickled_vectorizer_rebuilds_its_table_and_gives_the_same(texts):
    fast = FastTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(texts)
    before = fast.transform(texts)
    restored = pickle.loads(pickle.dumps(fast))
    assert "_vocabulary_table" not in restored.__dict__
    assert (restored.transform(texts) != before).nnz == 0


@pytest.mark.parametrize("settings", [{"analyzer": "char", "ngram_range": (2, 3)},
                                      {"stop_words": ["the"]}, {"binary": True}], ids=str)
def test_settings_it_does_not_cover_go_through_scikit_learn(texts, settings):
    fast = FastTfidfVectorizer(**settings).fit(texts)
    got = fast.transform(texts)
    assert "_vocabulary_table" not in fast.__dict__
    assert (got != TfidfVectorizer(**settings).fit(texts).transform(texts)).nnz == 0


def test_a_document_holding_the_separator_is_counted_by_scikit_learn(texts):
    odd = texts[:5] + ["null\0byte in the middle"]
    fast = FastTfidfVectorizer().fit(texts + odd)
    assert (fast.transform(odd) != TfidfVectorizer().fit(texts + odd).transform(odd)).nnz == 0


def test_hash_table_finds_every_key_along_long_probe_chains():
    """300 keys sharing one home slot (their products with the mixing constant differ only in
    the low bits) and 300 spread ones are all found; absent keys, zero included, are not."""
    inverse = pow(int(_MIX), -1, 2**64)
    crowded = np.array([(2**62 + i) * inverse % 2**64 for i in range(300)], dtype=np.uint64)
    rng = np.random.default_rng(0)
    keys = np.unique(np.concatenate([crowded, rng.integers(1, 2**63, 300).astype(np.uint64)]))
    table = _HashTable(keys, np.arange(len(keys), dtype=np.int32))
    assert len(set(table._home(crowded).tolist())) == 1
    absent = np.setdiff1d(rng.integers(0, 2**63, 500).astype(np.uint64), keys)
    queries = np.concatenate([keys[::-1], absent, [np.uint64(0)]])
    expected = np.concatenate([np.arange(len(keys))[::-1], np.full(len(absent) + 1, -1)])
    assert table.get(queries).tolist() == expected.tolist()


def test_character_classes_agree_with_python_for_every_code_point_asked():
    """Whitespace, word characters and combining marks are worked out per code point when first
    seen: asked in any order, repeatedly, they agree with `re` and `unicodedata`."""
    import re
    import unicodedata

    from topicstance.ngrams import _COMBINING, _SPACES, _WORD_CHARACTERS

    rng = np.random.default_rng(0)
    codes = np.concatenate([np.arange(0x3100), rng.integers(0, 0x110000, 20_000)])
    rng.shuffle(codes)
    for part in np.array_split(codes, 7):  # later parts partly known already
        chars = [chr(c) for c in part.tolist()]
        assert _SPACES[part].tolist() == [bool(re.match(r"\s", ch)) for ch in chars]
        assert _WORD_CHARACTERS[part].tolist() == [bool(re.match(r"\w", ch)) for ch in chars]
        assert _COMBINING[part].tolist() == [unicodedata.combining(ch) != 0 for ch in chars]
