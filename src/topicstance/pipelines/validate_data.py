"""Check every labeled file: schema, taxonomy, duplicates, article sizes, counts.

Exact duplicate ids are checked everywhere. Near-duplicate texts are checked for the files whose
rules ask for it (the written corpus), against every file: the seed pages are kept as the
segmenter cuts them, headline variants included.
"""

from pathlib import Path

from omegaconf import DictConfig

from topicstance import corpus, quality
from topicstance.labels import Taxonomy


def validate_data(cfg: DictConfig) -> tuple[list[str], dict]:
    """Returns (problems, counts per file and in all); no problems means the corpus is good."""
    taxonomy = Taxonomy.from_config(cfg.labels)
    rows, rejected = corpus.load(cfg.data.labeled, taxonomy)
    problems = [str(r) for r in rejected]
    files = [Path(f) for f in cfg.data.labeled]
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
        low, high = rules.article_segments
        for article, n in quality.article_size_problems(list(part["article_id"]), low, high).items():
            first = part[list(part["article_id"]).index(article)]
            problems.append(f"{file}:{first['line']}: article {article} has {n} segments, "
                            f"need {low} to {high}")
        problems += [f"{file}: {p}" for p in
                     quality.count_shortfalls(report[name], taxonomy.no_topic, rules.minimum)]
    return problems, report
