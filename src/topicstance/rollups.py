"""Article rows: one line per article, rolled up from its predicted segments.

Written beside every segment part as `OUTPUT/articles/run_date=.../part-<run id>-<n>.parquet`
(same name, same commit: see `topicstance.outputs`). All segments of an article sit in one part,
so each part's articles are complete.
"""

import pandas as pd
import pyarrow as pa


def article_schema(taxonomy: dict) -> pa.Schema:
    """Columns for a taxonomy `{"topics": [...], "stances": [...], "no_topic": ...}`."""
    fields = [("article_id", pa.string()), ("title", pa.string()), ("source", pa.string()),
              ("content_hash", pa.string()), ("run_id", pa.string()), ("segments", pa.int64())]
    fields += [(f"share_{t}", pa.float64()) for t in [*taxonomy["topics"], taxonomy["no_topic"]]]
    fields += [("topics", pa.list_(pa.string()))]
    fields += [(f"share_{s}", pa.float64()) for s in taxonomy["stances"]]
    fields += [("stance", pa.string()), ("stance_confidence", pa.float64())]
    fields += [(f"top_{s}_segment", pa.string()) for s in taxonomy["stances"]]
    fields += [("model_uri", pa.string())]
    return pa.schema(fields)


def article_rows(segments: pd.DataFrame, taxonomy: dict, dominant_share: float) -> pd.DataFrame:
    """One row per article of `segments` (rows of one part, in article order):

    - `title`: its first segment (the headline line), `segments`: how many it has;
    - `share_<topic>`: the share of its segments with that topic (`share_<no topic>`: none);
    - `topics`: the topics on at least `dominant_share` of its segments, most frequent first;
    - `share_<stance>`: its stance mix; `stance`: the stance with the highest mean probability
      over its segments, `stance_confidence`: that mean;
    - `top_<stance>_segment`: the id of its segment most clearly of that stance (the highest
      probability among those predicted so), or null.
    """
    topics, stances, no_topic = taxonomy["topics"], taxonomy["stances"], taxonomy["no_topic"]
    schema = article_schema(taxonomy)
    rows = []
    for article_id, group in segments.groupby("article_id", sort=False):
        n = len(group)
        topic_share = {t: sum(t in listed for listed in group["topics"]) / n for t in topics}
        row = {"article_id": article_id, "title": group["text"].iloc[0],
               "source": group["source"].iloc[0], "content_hash": group["content_hash"].iloc[0],
               "run_id": group["run_id"].iloc[0], "segments": n,
               "model_uri": group["model_uri"].iloc[0]}
        row.update({f"share_{t}": share for t, share in topic_share.items()})
        row[f"share_{no_topic}"] = sum(len(listed) == 0 for listed in group["topics"]) / n
        row["topics"] = sorted((t for t, share in topic_share.items() if share >= dominant_share),
                               key=lambda t: -topic_share[t])
        mix = group["stance"].value_counts()
        row.update({f"share_{s}": float(mix.get(s, 0)) / n for s in stances})
        mean_prob = {s: float(group[f"prob_{s}"].mean()) for s in stances}
        row["stance"] = max(stances, key=lambda s: mean_prob[s])
        row["stance_confidence"] = mean_prob[row["stance"]]
        for s in stances:
            of_stance = group[group["stance"] == s]
            row[f"top_{s}_segment"] = (of_stance.loc[of_stance[f"prob_{s}"].idxmax(), "segment_id"]
                                       if len(of_stance) else None)
        rows.append(row)
    return pd.DataFrame(rows, columns=schema.names)
