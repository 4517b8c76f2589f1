"""Article rows: one line per article, rolled up from its predicted segments.

Written beside every segment part as `OUTPUT/articles/run_date=.../part-<run id>-<n>.parquet`
(same name, same commit: see `topicstance.outputs`). All segments of an article sit in one part,
so each part's articles are complete.
"""

import numpy as np
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
    if segments.empty:
        return pd.DataFrame(columns=schema.names)
    segments = segments.reset_index(drop=True)
    by_article = segments.groupby("article_id", sort=False)
    first = by_article[["text", "source", "content_hash", "run_id", "model_uri"]].first()
    rows = pd.DataFrame({"article_id": first.index, "title": first["text"].to_numpy()},
                        index=first.index)
    for column in ("source", "content_hash", "run_id"):
        rows[column] = first[column]
    rows["segments"] = by_article.size()
    rows["model_uri"] = first["model_uri"]
    listed = segments["topics"].explode()  # one row per (segment, topic); NaN for none
    shares = pd.DataFrame({f"share_{t}": (listed == t).groupby(level=0).any() for t in topics}
                          ).groupby(segments["article_id"], sort=False).mean()
    for t in topics:
        rows[f"share_{t}"] = shares[f"share_{t}"]
    rows[f"share_{no_topic}"] = listed.isna().groupby(level=0).all().groupby(
        segments["article_id"], sort=False).mean()
    rows["topics"] = [sorted((t for t in topics if share[f"share_{t}"] >= dominant_share),
                             key=lambda t, share=share: -share[f"share_{t}"])
                      for share in shares.to_dict("records")]
    for s in stances:
        rows[f"share_{s}"] = (segments["stance"] == s).groupby(segments["article_id"],
                                                                sort=False).mean()
    mean_prob = by_article[[f"prob_{s}" for s in stances]].mean()
    best = mean_prob.to_numpy().argmax(axis=1)  # the first of equals, in taxonomy order
    rows["stance"] = [stances[k] for k in best]
    rows["stance_confidence"] = mean_prob.to_numpy()[np.arange(len(best)), best]
    segment_ids = segments["segment_id"].to_numpy()
    for s in stances:
        of_stance = segments[segments["stance"] == s]
        top = of_stance.groupby("article_id", sort=False)[f"prob_{s}"].idxmax()  # first of equals
        top_id = dict(zip(top.index, segment_ids[top.to_numpy()]))
        rows[f"top_{s}_segment"] = [top_id.get(article_id) for article_id in rows.index]
    return rows[schema.names].reset_index(drop=True)
