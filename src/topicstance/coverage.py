"""The real-coverage corpus: provenance, the outlet split, off-topic rates and furniture scores.

`data/coverage_sources.jsonl` holds one record per coverage page: its url, outlet, country,
date, how it was found, whether it is about the war, which split its outlet is in, and the
page's furniture lines (bylines, prompts, teasers...: everything that is not a segment).
"""

import json
from collections import Counter
from pathlib import Path

from topicstance.segment import Segmenter, _lines

REQUIRED = ("id", "url", "outlet", "country", "date", "found_by", "war", "split", "furniture")
SPLITS = ("train", "test")


def load_sources(path: Path) -> tuple[dict[str, dict], list[str]]:
    """{article id: record} and a list of `file:line: problem` for records that fail checks."""
    sources, problems = {}, []
    outlet_split: dict[str, tuple[str, str]] = {}
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg})")
            continue
        missing = [k for k in REQUIRED if record.get(k) in (None, "")]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if record["split"] not in SPLITS:
            problems.append(f"{where}: split must be one of {SPLITS}, got {record['split']!r}")
        if record["id"] in sources:
            problems.append(f"{where}: duplicate id {record['id']!r}")
        outlet = outlet_key(record["outlet"])
        first = outlet_split.setdefault(outlet, (record["split"], record["id"]))
        if first[0] != record["split"]:
            problems.append(f"{where}: outlet {record['outlet']!r} is in both splits "
                            f"({first[1]} is {first[0]!r})")
        sources[record["id"]] = record
    return sources, problems


def outlet_key(outlet: str) -> str:
    """The printing outlet, for the split: "Daily8 (Kyodo News copy)" and "Daily8" are one."""
    return outlet.split("(")[0].strip().casefold()


def outlets(article_ids, sources: dict) -> list[str]:
    """Each article's printing outlet (`outlet_key`), "" for articles not in `sources`."""
    return [outlet_key(sources[a]["outlet"]) if a in sources else "" for a in article_ids]


def offtopic_rates(article_ids, stances, topic_lists, truth_topic_lists, sources: dict,
                   war_topics, no_side: str) -> dict[str, float]:
    """On segments of articles not about the war: the share given a side, the share given a
    war topic their labels do not carry, and the share given any topic their labels do not
    carry (non-war news may truly be `domestic_politics`, or a spy trial elsewhere)."""
    rows = [(s, set(t), set(truth)) for a, s, t, truth in
            zip(article_ids, stances, topic_lists, truth_topic_lists, strict=True)
            if a in sources and not sources[a]["war"]]
    if not rows:
        return {}
    war_topics = set(war_topics)
    return {"offtopic_n": len(rows),
            "offtopic_side_rate": sum(s != no_side for s, _, _ in rows) / len(rows),
            "offtopic_war_topic_rate": sum(bool((t - truth) & war_topics)
                                           for _, t, truth in rows) / len(rows),
            "offtopic_topic_rate": sum(bool(t - truth) for _, t, truth in rows) / len(rows)}


def furniture_scores(segmenter: Segmenter, pages_dir: Path, sources: dict,
                     split: str = "test") -> dict[str, float]:
    """Run the segmenter over the split's raw pages: the share of furniture lines it keeps as
    segments, and the share of body lines it loses (a body line counts as lost when no segment
    of the page comes from it, nor from the same text elsewhere on the page)."""
    kept = furniture = lost = body = 0
    for article_id, record in sorted(sources.items()):
        if record["split"] != split:
            continue
        text = (Path(pages_dir) / f"{article_id}.txt").read_text(encoding="utf-8")
        marked = Counter(" ".join(f.split()) for f in record["furniture"])
        covered = set()
        for article, segments in segmenter.segment_page(article_id, text, article_id):
            for seg in segments:
                covered.add(article.source_start + seg.start)
        lines = [(" ".join(line.split()), any(start <= c < end for c in covered))
                 for start, end, line in _lines(text) if line]
        kept_texts = {line for line, hit in lines if hit}  # a line printed twice is kept once
        for line, hit in lines:
            hit = hit or line in kept_texts
            if line in marked:
                furniture += 1
                kept += hit
            else:
                body += 1
                lost += not hit
    return {"furniture_lines": furniture, "furniture_kept_rate": kept / max(furniture, 1),
            "body_lines": body, "body_lost_rate": lost / max(body, 1)}
