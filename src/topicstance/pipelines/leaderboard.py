"""Training runs ranked by a metric, as a markdown or CSV table: every finished training run of
the experiment with the configured taxonomy, or only the children of one sweep's parent run."""

import pandas as pd
from omegaconf import DictConfig

from topicstance import tracking


def leaderboard(cfg: DictConfig) -> pd.DataFrame:
    tracking.configure(cfg.tracking)
    parent = cfg.get("sweep")
    if parent == "latest":
        parent = tracking.latest_parent_run(None, cfg.tracking.experiment)
    # one taxonomy's runs (another's, e.g. a zero-shot start, have other labels and metrics)
    runs = [r for r in tracking.training_runs(parent)
            if r.data.tags.get("taxonomy", cfg.labels.name) == cfg.labels.name]
    params = list(cfg.params)
    if parent:  # a sweep shows what it varied
        swept = tracking.get_run(parent).data.tags.get("sweep_keys", "")
        params += [k for k in swept.split(",") if k and k not in params]
    rows = []
    for run in runs:
        row = {"run_id": run.info.run_id, "run": run.info.run_name,
               "family": run.data.tags.get("model_family"),
               cfg.metric: run.data.metrics.get(cfg.metric)}
        row.update({m: run.data.metrics.get(m) for m in cfg.metrics if m != cfg.metric})
        row.update({p: run.data.params.get(p) for p in params
                    if any(p in r.data.params for r in runs)})
        row["train_digest"] = tracking.dataset_digest(run, "training")
        row["git_commit"] = (run.data.tags.get("git_commit") or "")[:10] or None
        rows.append(row)
    if runs and not any(cfg.metric in r.data.metrics for r in runs):
        logged = sorted({m for r in runs for m in r.data.metrics if "/" in m
                         and m.split("/")[0] in ("dev", "heldout")})
        raise LookupError(f"no training run logged the metric {cfg.metric!r}; rank by one "
                          f"they did with METRIC=..., for example: {', '.join(logged[:6])}")
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["run_id", cfg.metric])
    frame = frame.sort_values(cfg.metric, ascending=bool(cfg.ascending), na_position="last",
                              kind="stable").head(int(cfg.limit)).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt != "markdown":
        raise ValueError(f"format must be markdown or csv, got {fmt!r}")
    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---"
                            for c in frame.columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")
