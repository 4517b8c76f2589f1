"""The model comparison table: the newest training run of each family, from MLflow."""

from omegaconf import DictConfig

from topicstance import tracking

COLUMNS = [("dev/topic_macro_f1", "dev topic macro-F1"), ("dev/topic_micro_f1", "dev topic micro-F1"),
           ("dev/stance_macro_f1", "dev stance macro-F1"), ("dev/stance_accuracy", "dev stance acc."),
           ("heldout/seeds/topic_macro_f1", "seeds topic macro-F1"),
           ("heldout/seeds/stance_macro_f1", "seeds stance macro-F1"),
           ("train_seconds", "train s"), ("dev/segments_per_second", "dev seg/s")]


def comparison_table(cfg: DictConfig) -> str:
    tracking.configure(cfg.tracking)
    runs = tracking.latest_runs_by_family("train", cfg.get("run_name"))
    order = {family: i for i, family in enumerate(cfg.families)}
    runs = sorted((r for r in runs if r["family"] in order), key=lambda r: order[r["family"]])
    lines = ["| model | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for r in runs:
        cells = [_format(r["metrics"].get(key)) for key, _ in COLUMNS]
        lines.append(f"| `{r['family']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"
