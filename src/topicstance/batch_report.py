"""`OUTPUT/report.html`: what an analyst reads after a prediction run.

One self-contained file (inline CSS and SVG, no script, nothing fetched at view time), built
from the output folder alone: the segment and article rows and the run records. It shows the
model version and counts, drift flags, a topic x stance heat map, the stance mix per topic, the
trend over run dates, and the most confident segments of every topic x stance cell.
"""

import html
import json
from datetime import datetime
from pathlib import Path

import pandas as pd

from topicstance.outputs import read_articles, read_segments, segment_columns

REPORT_COLUMNS = ("article_id", "segment_id", "start", "end", "topics", "stance", "model_uri",
                  "run_date")
SCORES = ("score_", "prob_")

PALETTE = ["#2b6cb0", "#c53030", "#718096", "#2f855a", "#b7791f", "#6b46c1", "#0987a0"]
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;
max-width:1100px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0}
h3{font-size:14px;margin:16px 0 4px}.muted{color:#4a5568}
dl.counts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:12px 0}
dl.counts div{background:#f7fafc;border:1px solid #e2e8f0;border-radius:6px;padding:6px 10px}
dt{font-size:12px;color:#4a5568}dd{margin:0;font-size:18px;font-weight:600}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #e2e8f0;
padding:4px 6px;text-align:left;vertical-align:top}th{background:#f7fafc;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{color:#9b2c2c;font-weight:600}.ok{color:#276749}.chart{margin:8px 0}
svg text{font:12px system-ui,sans-serif}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
@media print{body{max-width:none;padding:0;font-size:11px}h2{break-after:avoid}
.chart,tr{break-inside:avoid}}
"""


def write(output: Path, cfg) -> Path:
    """Build the report of `output` and write it (atomically) to `output/report.html`."""
    output = Path(output)
    page = build(output, int(cfg.examples_per_cell), int(cfg.max_text_chars))
    target = output / "report.html"
    tmp = target.with_name(".report.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target


def run_records(output: Path) -> list[dict]:
    """The run records of `output`, oldest first."""
    runs = Path(output) / "_runs"
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))] if runs.exists() else []


def latest_taxonomy(records: list[dict], segments: pd.DataFrame) -> dict:
    """The taxonomy of the newest run that recorded one, else the one the columns show."""
    for record in reversed(records):
        if record.get("taxonomy"):
            return record["taxonomy"]
    return {"topics": [c[len("score_"):] for c in segments.columns if c.startswith("score_")],
            "stances": [c[len("prob_"):] for c in segments.columns if c.startswith("prob_")],
            "no_topic": "other"}


def build(output: Path, examples_per_cell: int = 3, max_text_chars: int = 280) -> str:
    records = run_records(output)
    # Every row, but only the columns the report draws from: texts are read only for the
    # examples shown, so its memory grows with the rows' scores, not with their text.
    segments = read_segments(output, columns=[c for c in segment_columns(output)
                                              if c in REPORT_COLUMNS or c.startswith(SCORES)])
    articles = read_articles(output)
    taxonomy = latest_taxonomy(records, segments)
    topics, stances = [*taxonomy["topics"], taxonomy["no_topic"]], taxonomy["stances"]
    cells = cell_counts(segments, taxonomy)
    body = [
        (f"<h1>topicstance report</h1><p class='muted'>{_e(str(output))} &middot; generated "
        f"{datetime.now().isoformat(timespec='seconds')}</p>"),
        _overview(records, segments, articles),
        _drift_section(records),
        ("<h2>Topic &times; stance</h2><p class='muted'>Segments per cell; a segment with two "
        f"topics counts in both rows, one with none is <b>{_e(taxonomy['no_topic'])}</b>.</p>"),
        f"<div class='chart'>{heat_map(cells, topics, stances)}</div>",
        "<h2>Stance mix per topic</h2>",
        _legend(stances),
        f"<div class='chart'>{stance_bars(cells, topics, stances)}</div>",
        "<h2>Trend over run dates</h2>",
        _trend(segments, taxonomy),
        "<h2>Most confident segments per cell</h2>",
        _examples(output, segments, taxonomy, examples_per_cell, max_text_chars),
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>topicstance report</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def cell_counts(segments: pd.DataFrame, taxonomy: dict) -> dict[tuple[str, str], int]:
    """{(topic, stance): segments}; the no-topic name for segments without a topic."""
    counts = {(t, s): 0 for t in [*taxonomy["topics"], taxonomy["no_topic"]]
              for s in taxonomy["stances"]}
    if segments.empty:
        return counts
    for listed, stance in zip(segments["topics"], segments["stance"]):
        for topic in (list(listed) or [taxonomy["no_topic"]]):
            counts[(topic, stance)] = counts.get((topic, stance), 0) + 1
    return counts


# ---- sections ------------------------------------------------------------------------------

def _overview(records: list[dict], segments: pd.DataFrame, articles: pd.DataFrame) -> str:
    finished = [r for r in records if r.get("status") == "finished"]
    latest = finished[-1] if finished else (records[-1] if records else {})
    models = sorted(set(segments["model_uri"])) if len(segments) else []
    dates = sorted(set(segments["run_date"].astype(str))) if len(segments) else []
    counts = [("segments", len(segments)), ("articles", len(articles)),
              ("run dates", len(dates)), ("runs", len(records)),
              ("quarantined inputs", sum(r.get("quarantined", 0) for r in records))]
    items = "".join(f"<div><dt>{_e(name)}</dt><dd id='count-{name.replace(' ', '-')}'>{n:,}</dd>"
                    "</div>" for name, n in counts)
    model_text = ", ".join(f"<code>{_e(m)}</code>" for m in models) or "none yet"
    last = (f"Latest run <code>{_e(latest.get('run_id', ''))}</code> ({_e(latest.get('status', ''))}"
            f", run date {_e(latest.get('run_date', ''))}): {latest.get('segments', 0):,} new "
            f"segments, {latest.get('articles_new', 0):,} new and "
            f"{latest.get('articles_changed', 0):,} changed articles, "
            f"{latest.get('files_unchanged', 0):,} files unchanged, model "
            f"<code>{_e(latest.get('model_uri', ''))}</code>." if latest else "No run yet.")
    return (f"<dl class='counts'>{items}</dl><p>Model version(s) in the output: "
            f"<span id='models'>{model_text}</span>.</p><p>{last}</p>")


def _drift_section(records: list[dict]) -> str:
    checked = [r for r in records if isinstance(r.get("drift"), dict)]
    if not checked:
        return "<h2>Drift</h2><p class='muted'>No run has been checked for drift yet.</p>"
    latest = checked[-1]["drift"]
    if latest.get("status") == "drift":
        head = ("<p class='flag' id='drift-status'>DRIFT in the latest run: "
                + "; ".join(_e(f) for f in latest["flags"])
                + ". Its input does not look like the training data; read README, "
                "\"Drift warnings\".</p>")
    elif latest.get("status") == "ok":
        head = ("<p class='ok' id='drift-status'>No drift in the latest run (every PSI at most "
                f"{latest['threshold']:g}).</p>")
    else:
        head = f"<p class='muted' id='drift-status'>Latest run: {_e(latest.get('status', ''))}.</p>"
    names = ["topics", "stances", "stance_score", "top_topic_score"]
    rows = []
    for r in checked:
        d = r["drift"]
        psi = d.get("psi", {})
        cells = "".join(f"<td class='num'>{psi[n]:.3f}</td>" if n in psi else "<td></td>"
                        for n in names)
        status = d.get("status", "")
        rows.append(f"<tr><td>{_e(r.get('run_date', ''))}</td><td><code>{_e(r['run_id'])}</code>"
                    f"</td><td class='num'>{d.get('segments', r.get('segments', 0)):,}</td>{cells}"
                    f"<td class='{'flag' if status == 'drift' else ''}'>{_e(status)}</td></tr>")
    header = "".join(f"<th>PSI {_e(n)}</th>" for n in names)
    return (f"<h2>Drift</h2>{head}<table><tr><th>run date</th><th>run</th><th>segments</th>"
            f"{header}<th>status</th></tr>{''.join(rows)}</table>")


def _trend(segments: pd.DataFrame, taxonomy: dict) -> str:
    dates = sorted(set(segments["run_date"].astype(str))) if len(segments) else []
    if len(dates) < 2:
        return ("<p class='muted' id='trend-note'>One run date so far: the trend appears once "
                "the output holds several.</p>")
    topics = [*taxonomy["topics"], taxonomy["no_topic"]]
    by_date = {d: segments[segments["run_date"].astype(str) == d] for d in dates}
    series = {t: [float(sum((t in listed) if t != taxonomy["no_topic"] else len(listed) == 0
                            for listed in frame["topics"])) / max(len(frame), 1)
                  for frame in by_date.values()] for t in topics}
    return (_legend(topics) + "<p class='muted'>Share of each run date's segments per topic."
            f"</p><div class='chart'>{line_chart(dates, series)}</div>")


def _examples(output: Path, segments: pd.DataFrame, taxonomy: dict, k: int,
              max_chars: int) -> str:
    if segments.empty:
        return "<p class='muted'>No segments yet.</p>"
    no_topic = taxonomy["no_topic"]
    score_columns = [f"score_{t}" for t in taxonomy["topics"]]
    top_topic = segments[score_columns].max(axis=1) if score_columns else 0.0
    cells = []  # (topic, stance, segments in the cell, its k most confident rows' confidence)
    for topic in [*taxonomy["topics"], no_topic]:
        if topic == no_topic:
            in_topic = segments["topics"].map(len) == 0
            topic_confidence = 1.0 - top_topic
        else:
            in_topic = segments["topics"].map(lambda listed, t=topic: t in listed)
            topic_confidence = segments[f"score_{topic}"]
        for stance in taxonomy["stances"]:
            mask = in_topic & (segments["stance"] == stance)
            if mask.any():
                confidence = (topic_confidence * segments[f"prob_{stance}"])[mask]
                cells.append((topic, stance, int(mask.sum()),
                              confidence.sort_values(ascending=False).iloc[:k]))
    shown = sorted({segments.at[i, "segment_id"] for *_, top in cells for i in top.index})
    texts = read_segments(output, columns=["segment_id", "text"],
                          filters=[("segment_id", "in", shown)])
    text_of = dict(zip(texts["segment_id"], texts["text"]))
    parts = []
    for topic, stance, size, top in cells:
        rows = []
        for i, confidence in top.items():
            seg = segments.loc[i]
            text = text_of.get(seg["segment_id"], "")
            text = text if len(text) <= max_chars else text[:max_chars] + "…"
            rows.append(f"<tr><td>{_e(text)}</td><td><code>{_e(seg['article_id'])}</code>"
                        f"<br>chars {int(seg['start'])}&ndash;{int(seg['end'])}</td>"
                        f"<td class='num'>{confidence:.2f}</td></tr>")
        parts.append(f"<h3>{_e(topic)} &times; {_e(stance)} ({size:,})</h3>"
                     "<table><tr><th>segment</th><th>article, offsets</th><th>confidence"
                     f"</th></tr>{''.join(rows)}</table>")
    return ("<p class='muted'>Confidence: the topic's score (for "
            f"{_e(no_topic)}: one minus the highest topic score) times the stance's probability."
            "</p>" + "".join(parts))


# ---- charts (inline SVG) -------------------------------------------------------------------

def heat_map(cells: dict[tuple[str, str], int], topics: list[str], stances: list[str]) -> str:
    label_w, cell_w, cell_h, top = 150, 130, 34, 24
    width, height = label_w + cell_w * len(stances), top + cell_h * len(topics)
    peak = max(cells.values(), default=0) or 1
    out = [(f"<svg id='heatmap' role='img' aria-label='topic by stance counts' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}'>")]
    for j, stance in enumerate(stances):
        out.append(f"<text x='{label_w + cell_w * j + cell_w / 2}' y='16' "
                   f"text-anchor='middle'>{_e(stance)}</text>")
    for i, topic in enumerate(topics):
        y = top + cell_h * i
        out.append(f"<text x='{label_w - 8}' y='{y + cell_h / 2 + 4}' "
                   f"text-anchor='end'>{_e(topic)}</text>")
        for j, stance in enumerate(stances):
            n = cells.get((topic, stance), 0)
            shade = n / peak
            fill = f"rgb({int(247 - 204 * shade)},{int(250 - 142 * shade)},{int(252 - 76 * shade)})"
            ink = "#fff" if shade > 0.55 else "#1a202c"
            out.append(f"<rect class='cell' data-topic='{_e(topic)}' data-stance='{_e(stance)}' "
                       f"data-count='{n}' x='{label_w + cell_w * j}' y='{y}' width='{cell_w - 2}' "
                       f"height='{cell_h - 2}' fill='{fill}'><title>{_e(topic)} x {_e(stance)}: "
                       f"{n}</title></rect>")
            out.append(f"<text x='{label_w + cell_w * j + cell_w / 2}' y='{y + cell_h / 2 + 4}' "
                       f"text-anchor='middle' fill='{ink}'>{n:,}</text>")
    out.append("</svg>")
    return "".join(out)


def stance_bars(cells: dict[tuple[str, str], int], topics: list[str], stances: list[str]) -> str:
    label_w, bar_w, bar_h, gap = 150, 560, 22, 8
    width, height = label_w + bar_w + 70, (bar_h + gap) * len(topics)
    out = [(f"<svg id='stance-bars' role='img' aria-label='stance mix per topic' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}'>")]
    for i, topic in enumerate(topics):
        y = i * (bar_h + gap)
        total = sum(cells.get((topic, s), 0) for s in stances)
        out.append(f"<text x='{label_w - 8}' y='{y + bar_h / 2 + 4}' "
                   f"text-anchor='end'>{_e(topic)}</text>")
        x = float(label_w)
        for j, stance in enumerate(stances):
            n = cells.get((topic, stance), 0)
            w = bar_w * n / total if total else 0.0
            if w > 0:
                out.append(f"<rect class='bar' data-topic='{_e(topic)}' data-stance='{_e(stance)}'"
                           f" data-count='{n}' x='{x:.1f}' y='{y}' width='{w:.1f}' "
                           f"height='{bar_h}' fill='{PALETTE[j % len(PALETTE)]}'><title>"
                           f"{_e(topic)}: {_e(stance)} {n} of {total} ({n / total:.0%})</title>"
                           "</rect>")
                if w > 34:
                    out.append(f"<text x='{x + w / 2:.1f}' y='{y + bar_h / 2 + 4}' fill='#fff' "
                               f"text-anchor='middle'>{n / total:.0%}</text>")
            x += w
        out.append(f"<text x='{label_w + bar_w + 6}' y='{y + bar_h / 2 + 4}'>{total:,}</text>")
    out.append("</svg>")
    return "".join(out)


def line_chart(dates: list[str], series: dict[str, list[float]]) -> str:
    left, right, top, bottom, width, height = 50, 50, 10, 40, 760, 260
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for values in series.values() for v in values), default=0) or 1
    step = plot_w / max(len(dates) - 1, 1)
    out = [(f"<svg id='trend' role='img' aria-label='topic shares over run dates' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}'>"),
           (f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' "
           "stroke='#a0aec0'/>"),
           f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='#a0aec0'/>",
           f"<text x='{left - 6}' y='{top + 10}' text-anchor='end'>{peak:.0%}</text>",
           f"<text x='{left - 6}' y='{top + plot_h}' text-anchor='end'>0%</text>"]
    for i, d in enumerate(dates):
        out.append(f"<text x='{left + i * step:.1f}' y='{top + plot_h + 18}' "
                   f"text-anchor='middle'>{_e(d)}</text>")
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{left + i * step:.1f},{top + plot_h * (1 - v / peak):.1f}"
                          for i, v in enumerate(values))
        out.append(f"<polyline class='series' data-topic='{_e(name)}' fill='none' "
                   f"stroke='{color}' stroke-width='2' points='{points}'/>")
    out.append("</svg>")
    return "".join(out)


def _legend(names: list[str]) -> str:
    return "<p class='legend'>" + "".join(
        f"<span><i style='background:{PALETTE[k % len(PALETTE)]}'></i>{_e(n)}</span>"
        for k, n in enumerate(names)) + "</p>"


def _e(text) -> str:
    return html.escape(str(text), quote=True)
