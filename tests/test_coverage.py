"""The real-coverage corpus: its files agree with their pages, and the real-text scores."""

import json
from pathlib import Path

from omegaconf import OmegaConf

from conftest import DATA_DIR, read_jsonl
from topicstance import coverage
from topicstance.config import CONF_DIR
from topicstance.segment import Segmenter

PAGES = DATA_DIR / "raw" / "coverage"
SOURCES, PROBLEMS = coverage.load_sources(DATA_DIR / "coverage_sources.jsonl")


def segmenter() -> Segmenter:
    return Segmenter.from_config(OmegaConf.load(CONF_DIR / "segmenter" / "default.yaml"))


def test_every_labeled_segment_is_its_page_text_and_never_furniture():
    assert PROBLEMS == []
    for name in ("coverage.jsonl", "coverage_test.jsonl"):
        for r in read_jsonl(DATA_DIR / "labeled" / name):
            page = (PAGES / f"{r['article_id']}.txt").read_text(encoding="utf-8")
            assert page[r["start"]:r["end"]] == r["text"], r["id"]
            furniture = {" ".join(f.split()) for f in SOURCES[r["article_id"]]["furniture"]}
            assert " ".join(r["text"].split()) not in furniture, r["id"]
            assert SOURCES[r["article_id"]]["split"] == ("test" if "test" in name else "train")


def test_every_body_line_of_every_page_is_labeled():
    """The labeled segments are the page's non-furniture lines, all of them (the corpus takes
    segments as they come): every body line holds the start of a segment, or repeats one."""
    starts, texts = {}, {}
    for name in ("coverage.jsonl", "coverage_test.jsonl"):
        for r in read_jsonl(DATA_DIR / "labeled" / name):
            starts.setdefault(r["article_id"], []).append(r["start"])
            texts.setdefault(r["article_id"], set()).add(" ".join(r["text"].split()))
    for article_id, record in SOURCES.items():
        page = (PAGES / f"{article_id}.txt").read_text(encoding="utf-8")
        furniture = {" ".join(f.split()) for f in record["furniture"]}
        position = 0
        for raw in page.splitlines(keepends=True):
            line = " ".join(raw.split())
            if line and line not in furniture and line not in texts[article_id]:
                assert any(position <= s < position + len(raw) for s in starts[article_id]), (
                    article_id, line)
            position += len(raw)


def test_test_part_spans_many_outlets_and_both_kinds_of_news_in_each_split():
    # The first two rounds put 30% of their outlets in the test part; later rounds only widen
    # training (the test part stays fixed), so its share falls as the corpus grows: what must
    # hold is its own breadth.
    outlets = {coverage.outlet_key(r["outlet"]): r["split"] for r in SOURCES.values()}
    assert sum(s == "test" for s in outlets.values()) >= 50
    for split in coverage.SPLITS:
        kinds = {r["war"] for r in SOURCES.values() if r["split"] == split}
        assert kinds == {True, False}


def test_offtopic_rates_count_only_articles_not_about_the_war():
    sources = {"war-1": {"war": True}, "other-1": {"war": False}}
    rates = coverage.offtopic_rates(
        article_ids=["war-1", "other-1", "other-1", "other-1", "other-1"],
        stances=["pro_russia", "neutral", "pro_ukraine", "neutral", "neutral"],
        topic_lists=[["sanctions"], [], ["sanctions"], ["domestic_politics"], []],
        truth_topic_lists=[["sanctions"], [], [], ["domestic_politics"], []],
        sources=sources, war_topics=["sanctions"], no_side="neutral")
    assert rates == {"offtopic_n": 4, "offtopic_side_rate": 0.25,
                     "offtopic_war_topic_rate": 0.25, "offtopic_topic_rate": 0.25}


def test_furniture_scores_count_kept_furniture_and_lost_body(tmp_path):
    """Scored with the patterns alone (the learned detector has its own tests)."""
    page = ("Ministers agree new sanctions on Russian banks\n"
            "By Jane Doe, Political Correspondent\n"
            "Sign up to our breaking news emails\n"
            "The package freezes the assets of twelve lenders.\n"
            "Ministers agree new sanctions on Russian banks\n")
    (tmp_path / "p1.txt").write_text(page, encoding="utf-8")
    sources = {"p1": {"split": "test", "furniture": ["By Jane Doe, Political Correspondent",
                                                     "Sign up to our breaking news emails"]}}
    rules_only = segmenter()
    rules_only.furniture = None
    scores = coverage.furniture_scores(rules_only, tmp_path, sources)
    # The byline survives the rules, the prompt does not; the repeated headline is kept once.
    assert scores == {"furniture_lines": 2, "furniture_kept_rate": 0.5, "body_lines": 3,
                      "body_lost_rate": 0.0}


def test_sources_records_carry_provenance():
    for record in SOURCES.values():
        assert record["url"].startswith("http") and record["found_by"]
        assert (PAGES / f"{record['id']}.txt").exists()
    assert len({coverage.outlet_key(r["outlet"]) for r in SOURCES.values()}) >= 60
    assert json.loads(Path(DATA_DIR / "coverage_sources.jsonl").read_text().splitlines()[0])


def test_learned_detector_drops_unseen_furniture_and_keeps_body():
    """On the coverage test pages (outlets it never learned from) the detector drops far more
    furniture than the patterns alone (about 95% of it), and loses at most a few short
    crossheads."""
    learned = segmenter()
    rules_only = segmenter()
    rules_only.furniture = None
    with_model = coverage.furniture_scores(learned, PAGES, SOURCES)
    without = coverage.furniture_scores(rules_only, PAGES, SOURCES)
    assert without["furniture_kept_rate"] > 0.5
    assert with_model["furniture_kept_rate"] < 0.07  # 4.8% measured (README)
    assert with_model["body_lost_rate"] < 0.02
