"""Check every labeled file: schema, taxonomy, duplicates, article sizes, counts, provenance.

Exact duplicate ids are checked everywhere. Near-duplicate texts are checked for the files whose
rules ask for it (the written corpus and the coverage corpus), against every file: the seed
pages are kept as the segmenter cuts them, headline variants included. Coverage articles must
each have a provenance record, a page under `data/raw/coverage/` holding their segments and
furniture lines, and sit in the file of their outlet's split.
"""

from collections import Counter
from pathlib import Path

import datasets
from omegaconf import DictConfig

from topicstance import corpus, coverage, quality
from topicstance.labels import Taxonomy


def validate_data(cfg: DictConfig) -> tuple[list[str], dict]:
    """Returns (problems, counts per file and in all); no problems means the corpus is good."""
    datasets.disable_progress_bars()  # one filter per file: bars would bury the counts
    taxonomy = Taxonomy.from_config(cfg.labels)
    files = [Path(f) for f in [*cfg.data.labeled, *(cfg.data.get("heldout") or [])]]
    rows, rejected = corpus.load(files, taxonomy)
    problems = [str(r) for r in rejected]
    checked = {str(f) for f in files if cfg.files.get(f.name, {}).get("near_duplicates")}
    for i, j, similarity in quality.near_duplicates(list(rows["text"]), cfg.near_duplicate_threshold):
        if rows[i]["file"] not in checked and rows[j]["file"] not in checked:
            continue
        problems.append(f"{rows[j]['file']}:{rows[j]['line']}: near-duplicate of "
                        f"{rows[i]['file']}:{rows[i]['line']} (similarity {similarity:.2f})")
    report = {"all": corpus.counts(rows, taxonomy)}
    for file in files:
        name = file.name
        part = rows.filter(lambda r, path=str(file): r["file"] == path)
        report[name] = corpus.counts(part, taxonomy)
        rules = cfg.files.get(name)
        if rules is None:
            continue
        if rules.get("article_segments"):
            low, high = rules.article_segments
            for article, n in quality.article_size_problems(list(part["article_id"]), low,
                                                            high).items():
                first = part[list(part["article_id"]).index(article)]
                problems.append(f"{file}:{first['line']}: article {article} has {n} segments, "
                                f"need {low} to {high}")
        if rules.get("minimum"):
            problems += [f"{file}: {p}" for p in
                         quality.count_shortfalls(report[name], taxonomy.no_topic, rules.minimum)]
        if rules.get("split"):
            sources_problems, provenance = _check_coverage(cfg, file, part, rules.split)
            problems += sources_problems
            report[f"{name} provenance"] = provenance
    return problems, report


def _check_coverage(cfg, file: Path, part, split: str) -> tuple[list[str], dict]:
    """Every article of a coverage file: a provenance record in its outlet's split, a page that
    holds each segment at its offsets, furniture lines that are on the page, and no side taken
    in an article marked not about the war."""
    sources_path = Path(cfg.data.coverage_sources)
    if not sources_path.exists():
        return [f"{sources_path}: missing (provenance of {file.name})"], {}
    sources, problems = coverage.load_sources(sources_path)
    pages = Path(cfg.data.coverage_pages)
    articles = {}
    for row in part:
        articles.setdefault(row["article_id"], []).append(row)
    for article_id, segs in articles.items():
        where = f"{file}:{segs[0]['line']}"
        record = sources.get(article_id)
        if record is None:
            problems.append(f"{where}: article {article_id} has no record in {sources_path.name}")
            continue
        if record["split"] != split:
            problems.append(f"{where}: article {article_id} is in split {record['split']!r} "
                            f"but this file holds split {split!r}")
        if not record["war"]:
            problems += [f"{file}:{s['line']}: {s['id']} takes a side ({s['stance']}) but its "
                         f"article {article_id} is marked not about the war"
                         for s in segs if s["stance"] != cfg.no_side_stance]
        page = pages / f"{article_id}.txt"
        if not page.exists():
            problems.append(f"{where}: page {page} is missing")
            continue
        text = page.read_text(encoding="utf-8")
        lines = {" ".join(line.split()) for line in text.splitlines()}
        problems += [f"{where}: {article_id} furniture line not on its page: {f[:60]!r}"
                     for f in record["furniture"] if " ".join(f.split()) not in lines]
    chosen = [sources[a] for a in articles if a in sources]
    provenance = {"articles": len(chosen),
                  "outlets": len({coverage.outlet_key(r["outlet"]) for r in chosen}),
                  "countries": len({r["country"] for r in chosen}),
                  "about the war": sum(r["war"] for r in chosen),
                  "not about the war": sum(not r["war"] for r in chosen),
                  "furniture lines": sum(len(r["furniture"]) for r in chosen),
                  "by country": dict(Counter(r["country"] for r in chosen).most_common(8))}
    return problems, provenance
