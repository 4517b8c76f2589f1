"""The model comparison tables: the newest training run of each variant (each family, and the
ablation rows: one change each), from MLflow, and the segmenter's furniture scores on the
coverage test pages.

Which numbers are on real text: `seeds` (the five real pages) and `coverage test` (real coverage
rewritten from outlets no model trained on); `dev` is a held-out slice of the training mix.
"""

from pathlib import Path

from omegaconf import DictConfig

from topicstance import coverage, tracking
from topicstance.labels import Taxonomy
from topicstance.segment import Segmenter

TEST = "heldout/coverage_test"
MAIN = [("dev/topic_macro_f1", "dev topic"), ("dev/stance_macro_f1", "dev stance"),
        ("heldout/seeds/topic_macro_f1", "seeds topic"),
        ("heldout/seeds/stance_macro_f1", "seeds stance"),
        (f"{TEST}/topic_macro_f1", "coverage test topic"),
        (f"{TEST}/stance_macro_f1", "coverage test stance"),
        (f"{TEST}/offtopic_side_rate", "non-war: side"),
        (f"{TEST}/offtopic_war_topic_rate", "non-war: war topic"),
        (f"{TEST}/offtopic_topic_rate", "non-war: any wrong topic"),
        ("train_seconds", "train s"), ("dev/segments_per_second", "dev seg/s")]


def per_class_columns(cfg: DictConfig) -> list[tuple[str, str]]:
    taxonomy = Taxonomy.from_config(cfg.labels)
    return ([(f"{TEST}/topic_f1/{t}", t) for t in taxonomy.topics]
            + [(f"{TEST}/stance_f1/{s}", s) for s in taxonomy.stances])


def comparison_table(cfg: DictConfig) -> str:
    tracking.configure(cfg.tracking)
    runs = tracking.latest_runs_by_variant("train", cfg.get("run_name"))
    order = {variant: i for i, variant in enumerate(cfg.variants)}
    runs = sorted((r for r in runs if r["variant"] in order), key=lambda r: order[r["variant"]])
    sources, problems = coverage.load_sources(Path(cfg.data.coverage_sources))
    if problems:
        raise ValueError(problems[0])
    furniture = coverage.furniture_scores(Segmenter.from_config(cfg.segmenter),
                                          Path(cfg.data.coverage_pages), sources)
    return "\n".join([
        "Macro-F1 by model (seeds and coverage test are real text no model trained on):", "",
        _table(runs, MAIN), "",
        "Per-class F1 on the coverage test part:", "", _table(runs, per_class_columns(cfg)), "",
        (f"Segmenter on the coverage test pages: {furniture['furniture_kept_rate']:.1%} of "
        f"{furniture['furniture_lines']} furniture lines kept as segments, "
        f"{furniture['body_lost_rate']:.1%} of {furniture['body_lines']} body lines lost.")])


def _table(runs: list[dict], columns: list[tuple[str, str]]) -> str:
    lines = ["| model | " + " | ".join(title for _, title in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for r in runs:
        cells = [_format(r["metrics"].get(key)) for key, _ in columns]
        lines.append(f"| `{r['variant']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"
