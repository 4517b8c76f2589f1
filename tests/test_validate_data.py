"""validate_data: schema, near-duplicates, article sizes and counts, each problem at file:line."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_subprocess_env, read_jsonl, write_jsonl
from topicstance.pipelines.validate_data import validate_data

BIN = Path(sys.executable).parent


def rec(id_, article, text, topics=(), stance="neutral"):
    return {"id": id_, "article_id": article, "text": text, "topics": list(topics),
            "stance": stance, "source": "test"}


SEEDS = [
    rec("s-a-p000", "s-a", "Ukraine had good conversations with Donald Trump, says Zelensky"),
    rec("s-a-p001", "s-a", "Ukraine had good conversations with Trump, says Zelensky"),  # variant
    rec("s-a-p002", "s-a", "The UK has imposed its biggest sanctions package against Russia in "
        "nearly two years, targeting people involved in the Ukraine war.", ["sanctions"]),
    rec("s-b-p000", "s-b", "A court in London heard that the defendant passed a USB stick to men "
        "he believed were Russian intelligence officers.", ["espionage_trial"]),
]
SYNTHETIC = [
    # line 1-4: article syn-a, four segments
    rec("syn-a-s01", "syn-a", "Norway will station two hundred instructors in western Poland to "
        "train Ukrainian artillery crews over the winter.", ["troop_deployment"]),
    rec("syn-a-s02", "syn-a", "The finance committee in Oslo approved the cost of the mission "
        "after a long debate between the coalition partners.", ["domestic_politics"]),
    rec("syn-a-s03", "syn-a", "Heavy snow closed the mountain pass between Bergen and Oslo for "
        "most of Tuesday morning."),
    rec("syn-a-s04", "syn-a", "Moscow called the deployment a hostile act and warned of "
        "consequences.", ["troop_deployment"], "pro_russia"),
    # line 5-6: article syn-b, only two segments; line 6 nearly repeats line 2
    rec("syn-b-s01", "syn-b", "Estonian prosecutors charged a railway worker with photographing "
        "military trains for a foreign service.", ["espionage_trial"]),
    rec("syn-b-s02", "syn-b", "The finance committee in Oslo approved the cost of the mission "
        "after a long debate among the coalition partners.", ["domestic_politics"]),
    # line 7-10: article syn-c; line 8 nearly repeats seeds.jsonl line 3
    rec("syn-c-s01", "syn-c", "Brussels agreed a fresh round of measures against the shadow fleet "
        "of tankers carrying Russian crude.", ["sanctions"]),
    rec("syn-c-s02", "syn-c", "The UK has imposed its biggest sanctions package against Russia in "
        "nearly two years, targeting people involved in the war in Ukraine.", ["sanctions"]),
    rec("syn-c-s03", "syn-c", "Farmers in Latvia expect a record barley harvest after a warm and "
        "wet spring."),
    rec("syn-c-s04", "syn-c", "Kyiv thanked its partners and urged them to keep up the pressure "
        "on the aggressor.", ["sanctions"], "pro_ukraine"),
    # line 11: a label outside the taxonomy
    rec("syn-c-s05", "syn-c", "Officials gave no further details on Wednesday.", [], "pro_mars"),
]


@pytest.fixture
def corpus_files(tmp_path):
    seeds = write_jsonl(tmp_path / "labeled" / "seeds.jsonl", SEEDS)
    synthetic = write_jsonl(tmp_path / "labeled" / "synthetic.jsonl", SYNTHETIC)
    return seeds, synthetic


def labeled_override(*files) -> str:
    """Only these files: the repository's held-out files (coverage_test) are left out."""
    return "data.labeled=[" + ",".join(f"'{f}'" for f in files) + "]"


NO_HELDOUT = "data.heldout=[]"


def test_problems_name_file_and_line(make_config, corpus_files):
    seeds, syn = corpus_files
    cfg = make_config("validate_data", [labeled_override(seeds, syn), NO_HELDOUT])
    problems, report = validate_data(cfg)

    def find(prefix):
        hits = [p for p in problems if p.startswith(prefix)]
        assert hits, f"no problem starting {prefix!r} in:\n" + "\n".join(problems)
        return hits[0]

    assert f"near-duplicate of {syn}:2 " in find(f"{syn}:6: ")
    assert f"near-duplicate of {seeds}:3 " in find(f"{syn}:8: ")
    assert "article syn-b has 2 segments, need 4 to 12" in find(f"{syn}:5: ")
    assert "unknown stance" in find(f"{syn}:11: ")
    assert "10 segments, need 1500" in find(f"{syn}: ")
    # seeds.jsonl keeps its headline variants: no near-duplicate rule applies to it alone.
    assert not [p for p in problems if p.startswith(f"{seeds}:")]
    # syn-a and syn-c have 4 and 4 valid segments: no size problem for them.
    assert not [p for p in problems if "article syn-a " in p or "article syn-c " in p]

    assert report["all"]["segments"] == len(SEEDS) + len(SYNTHETIC) - 1
    assert report["synthetic.jsonl"]["segments"] == len(SYNTHETIC) - 1
    assert report["synthetic.jsonl"]["articles"] == 3
    assert report["seeds.jsonl"]["segments"] == len(SEEDS)
    assert report["synthetic.jsonl"]["topics"]["other"] == 2
    assert report["synthetic.jsonl"]["stances"] == {"pro_ukraine": 1, "pro_russia": 1,
                                                     "neutral": 8}


def test_clean_corpus_has_no_problems(make_config, corpus_files):
    seeds, _ = corpus_files
    problems, report = validate_data(make_config("validate_data", [labeled_override(seeds), NO_HELDOUT]))
    assert problems == []
    assert report["seeds.jsonl"]["articles"] == 2


def test_missing_file_is_a_problem(make_config, corpus_files, tmp_path):
    seeds, _ = corpus_files
    missing = tmp_path / "labeled" / "nothere.jsonl"
    problems, _ = validate_data(make_config("validate_data", [labeled_override(seeds, missing), NO_HELDOUT]))
    assert problems == [f"{missing}:0: cannot read: No such file or directory"]


def test_near_duplicates_found_whatever_the_path_spelling(make_config, corpus_files):
    seeds, syn = corpus_files
    spelled = f"{syn.parent}//{syn.name}"
    problems, report = validate_data(make_config("validate_data",
                                                 [labeled_override(seeds, spelled),
                                                  NO_HELDOUT]))
    assert report["synthetic.jsonl"]["segments"] == len(SYNTHETIC) - 1
    assert any("near-duplicate" in p for p in problems)


def run_cli(tmp_path, *overrides):
    return subprocess.run(
        [str(BIN / "topicstance-validate-data"), f"paths.experiments='{tmp_path / 'exp'}'",
         NO_HELDOUT, *overrides],
        check=False, cwd=tmp_path, env=clean_subprocess_env(), capture_output=True, text=True,
        timeout=120)


def test_cli_exits_nonzero_on_problems(corpus_files, tmp_path):
    seeds, syn = corpus_files
    result = run_cli(tmp_path, labeled_override(seeds, syn))
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{syn}:6: near-duplicate of {syn}:2" in result.stderr
    assert f"{syn}:5: article syn-b has 2 segments" in result.stderr
    assert "synthetic.jsonl: 10 segments in 3 articles" in result.stdout
    assert not (tmp_path / "outputs").exists()  # Hydra writes under paths.experiments
    assert (tmp_path / "exp" / "hydra").is_dir()


def test_cli_exits_zero_on_a_clean_corpus(corpus_files, tmp_path):
    seeds, _ = corpus_files
    result = run_cli(tmp_path, labeled_override(seeds))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "all labeled files are valid" in result.stdout

    quiet = run_cli(tmp_path, labeled_override(seeds), "quiet=true")  # as make train runs it
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.stdout.strip().splitlines() == [
        (f"labeled data valid: {len(read_jsonl(seeds))} segments in "
        f"{len({r['article_id'] for r in read_jsonl(seeds)})} articles (counts per file: make "
        "validate-data)")]


def test_quiet_cli_still_names_every_problem(corpus_files, tmp_path):
    seeds, syn = corpus_files
    result = run_cli(tmp_path, labeled_override(seeds, syn), "quiet=true")
    assert result.returncode == 1 and f"{syn}:6: near-duplicate of {syn}:2" in result.stderr
    assert "segments in" not in result.stdout


# ---- coverage provenance --------------------------------------------------------------------

def source(id_, outlet, split, furniture):
    return {"id": id_, "url": f"https://example.org/{id_}", "outlet": outlet, "country": "UK",
            "date": "2025-01-01", "found_by": "test", "war": True, "split": split,
            "furniture": furniture}


def test_coverage_files_need_provenance_pages_and_one_split_per_outlet(make_config, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "cov-1.txt").write_text("Headline one\nBy A Writer\nBody of one.\n")
    (pages / "cov-2.txt").write_text("Headline two\nBody of two.\n")
    train = write_jsonl(tmp_path / "labeled" / "coverage.jsonl", [
        rec("cov-1-p000", "cov-1", "Headline one"), rec("cov-1-p001", "cov-1", "Body of one."),
        rec("cov-2-p000", "cov-2", "Headline two"),  # its source says split test
        rec("cov-2-p001", "cov-2", "Body of two.", stance="pro_russia"),  # cov-2 is not war
        rec("cov-3-p000", "cov-3", "No provenance for this one.")])
    test = write_jsonl(tmp_path / "labeled" / "coverage_test.jsonl", [
        rec("cov-4-p000", "cov-4", "Its page is missing.")])
    sources = write_jsonl(tmp_path / "sources.jsonl", [
        source("cov-1", "The Daily Example", "train", ["By A Writer", "Share this article"]),
        {**source("cov-2", "Other Outlet", "test", []), "war": False},
        source("cov-4", "The Daily Example (AP copy)", "test", [])])
    problems, report = validate_data(make_config("validate_data", [
        labeled_override(train), f"data.heldout=['{test}']",
        f"data.coverage_sources='{sources}'", f"data.coverage_pages='{pages}'"]))
    text = "\n".join(problems)
    assert f"{train}:1: cov-1 furniture line not on its page: 'Share this article'" in text
    assert f"{train}:3: article cov-2 is in split 'test' but this file holds split 'train'" in text
    assert f"{train}:4: cov-2-p001 takes a side (pro_russia) but its article cov-2 is marked " \
           "not about the war" in text
    assert f"{train}:5: article cov-3 has no record in sources.jsonl" in text
    assert f"{test}:1: page {pages / 'cov-4.txt'} is missing" in text
    assert f"{sources}:3: outlet 'The Daily Example (AP copy)' is in both splits" in text
    assert report["coverage.jsonl provenance"]["articles"] == 2
