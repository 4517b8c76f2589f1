"""A sweep's comparison: one row per child run of its parent run, in the order the sweep ran
them, and (when the config has a segmenter) the furniture scores on the coverage test pages.
The sweep callback logs it to the parent run; `topicstance-compare` prints it again for any
parent (the newest `compare_models` sweep by default).

Which numbers are on real text: `seeds` (the five real pages) and `coverage test` (real coverage
rewritten from outlets no model trained on); `dev` is a held-out slice of the training mix.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from topicstance import coverage, tracking
from topicstance.io import DataError
from topicstance.labels import Taxonomy

TEST = "heldout/coverage_test"
MAIN = [("dev/topic_macro_f1", "dev topic"), ("dev/stance_macro_f1", "dev stance"),
        ("heldout/seeds/topic_macro_f1", "seeds topic"),
        ("heldout/seeds/stance_macro_f1", "seeds stance"),
        (f"{TEST}/topic_macro_f1", "coverage test topic"),
        (f"{TEST}/stance_macro_f1", "coverage test stance"),
        (f"{TEST}/stance_side_flip_rate", "coverage test: side flipped"),
        (f"{TEST}/offtopic_side_rate", "non-war: side"),
        (f"{TEST}/offtopic_war_topic_rate", "non-war: war topic"),
        (f"{TEST}/offtopic_topic_rate", "non-war: any wrong topic"),
        ("train_seconds", "train s"), ("dev/segments_per_second", "dev seg/s")]
CHARTED = [key for key, _ in MAIN if key.endswith("macro_f1")]


@dataclass
class Comparison:
    markdown: str          # the tables, as printed and logged (comparison.md)
    table: pd.DataFrame    # one row per child run, every compared metric (comparison.csv/.json)
    labels: dict[str, str]  # child run id -> its row name
    failed: list[str]      # row names of the children that did not finish

    def chart(self):
        from topicstance import plots

        charted = {key: self.table[key].tolist() for key in CHARTED if key in self.table}
        return plots.runs_compared(self.table["run"].tolist(), charted)


def compare(cfg: DictConfig) -> Comparison:
    """The comparison of `cfg.parent_run`, or of the newest sweep named `cfg.sweep_name`."""
    tracking.configure(cfg.tracking)
    parent = cfg.get("parent_run") or tracking.latest_parent_run(cfg.sweep_name,
                                                                 cfg.tracking.experiment)
    return comparison(cfg, str(parent))


def comparison(cfg: DictConfig, parent_run_id: str) -> Comparison:
    swept = [k for k in tracking.get_run(parent_run_id).data.tags.get("sweep_keys", "").split(",")
             if k]
    children = tracking.child_runs(parent_run_id)
    labels = {c.info.run_id: row_label(c, swept) for c in children}
    columns = [c for c in MAIN + per_class_columns(cfg)
               if any(c[0] in child.data.metrics for child in children)]
    table = pd.DataFrame([{"run": labels[c.info.run_id], "run_id": c.info.run_id,
                           "variant": c.data.tags.get("variant"), "status": c.info.status,
                           **{key: c.data.metrics.get(key) for key, _ in columns}}
                          for c in children],
                         columns=["run", "run_id", "variant", "status", *(k for k, _ in columns)])
    main = [c for c in MAIN if c in columns]
    per_class = [c for c in per_class_columns(cfg) if c in columns]
    held_out = [name for key, name in (("heldout/seeds/topic_macro_f1", "seeds"),
                                       (f"{TEST}/topic_macro_f1", "coverage test"))
                if key in table]  # the seeds only where the sweep left them out of training
    parts = [f"Sweep {parent_run_id}: {len(children)} runs", "",
             "Macro-F1 by run" + (f" ({' and '.join(held_out)}: real text no model trained on)"
                                  if held_out else "") + ":", "",
             _markdown(table, main)]
    if per_class:
        parts += ["", "Per-class F1 on the coverage test part:", "", _markdown(table, per_class)]
    if cfg.get("targets") and any(f"{TEST}/{t.metric}" in table for t in cfg.targets.runs):
        parts += ["", "Targets on the coverage test part (each value, then whether it meets its goal):",
                  "", targets_table(table, cfg.targets.runs)]
    if "segmenter" in cfg and cfg.data.get("coverage_sources"):
        parts += ["", _furniture_line(cfg)]
    failed = table.loc[table["status"] != "FINISHED", "run"].tolist()
    return Comparison("\n".join(parts), table, labels, failed)


def targets_table(table: pd.DataFrame, targets) -> str:
    """One row per run: each target's metric on the coverage test part, marked met or not, and
    how many of the targets the run meets (a run without the metric: not met). A target no run
    has (a class of another taxonomy) is left out."""
    targets = [t for t in targets if f"{TEST}/{t.metric}" in table]
    lines = ["| run | " + " | ".join(_goal(t) for t in targets) + " | met |",
             "|---|" + "---:|" * (len(targets) + 1)]
    for _, row in table.iterrows():
        cells, met = [], 0
        for target in targets:
            value = row.get(f"{TEST}/{target.metric}")
            if value is None or pd.isna(value):
                cells.append("-")
                continue
            ok = meets(value, target)
            met += ok
            cells.append(f"{value:.3f} {'yes' if ok else '**no**'}")
        lines.append(f"| `{row['run']}` | " + " | ".join(cells) + f" | {met} of {len(targets)} |")
    return "\n".join(lines)


def meets(value: float, target) -> bool:
    if "at_least" in target:
        return value >= target["at_least"]
    return value <= target["at_most"]


def _goal(target) -> str:
    if "at_least" in target:
        return f"{target['metric']} >= {target['at_least']}"
    return f"{target['metric']} <= {target['at_most']}"


def row_label(run, swept_keys: list[str]) -> str:
    """The run's variant and the values its sweep varied (`tfidf_linear C=4 word_ngram_max=2`);
    a swept config group (`model`) is already in the variant."""
    values = [f"{key.rsplit('.', 1)[-1]}={run.data.params[key]}" for key in swept_keys
              if key in run.data.params]
    return " ".join([run.data.tags.get("variant") or run.data.tags.get("model_family", "?"),
                     *values])


def per_class_columns(cfg: DictConfig) -> list[tuple[str, str]]:
    taxonomy = Taxonomy.from_config(cfg.labels)
    return ([(f"{TEST}/topic_f1/{t}", t) for t in taxonomy.topics]
            + [(f"{TEST}/stance_f1/{s}", s) for s in taxonomy.stances])


def _furniture_line(cfg: DictConfig) -> str:
    from topicstance.segment import Segmenter

    sources, problems = coverage.load_sources(Path(cfg.data.coverage_sources))
    if problems:
        raise DataError(problems[0])
    furniture = coverage.furniture_scores(Segmenter.from_config(cfg.segmenter),
                                          Path(cfg.data.coverage_pages), sources)
    line = (f"Segmenter on the coverage test pages: {furniture['furniture_kept_rate']:.1%} of "
            f"{furniture['furniture_lines']} furniture lines kept as segments, "
            f"{furniture['body_lost_rate']:.1%} of {furniture['body_lines']} body lines lost.")
    if cfg.get("targets"):
        line += " Targets: " + "; ".join(
            f"{_goal(t)}: {'met' if meets(furniture[t.metric], t) else '**not met**'}"
            for t in cfg.targets.segmenter) + "."
    return line


def _markdown(table: pd.DataFrame, columns: list[tuple[str, str]]) -> str:
    lines = ["| run | " + " | ".join(title for _, title in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for _, row in table.iterrows():
        name = row["run"] + ("" if row["status"] == "FINISHED" else f" ({row['status']})")
        cells = [_format(key, row[key]) for key, _ in columns]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format(key: str, value) -> str:
    if value is None or pd.isna(value):
        return "-"
    if key.startswith(("dev/", "heldout/")) and not key.endswith("per_second"):
        return f"{value:.3f}"  # scores and rates
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
