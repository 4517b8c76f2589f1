"""In-process batch inference: the segments table in, the same rows with predictions out."""

from collections.abc import Callable, Iterator

import pandas as pd

PredictFn = Callable[[pd.DataFrame], pd.DataFrame]
MODEL_INPUTS = ("text", "headline", "previous", "article_id")


class LocalEngine:
    def __init__(self, batch_size: int):
        self.batch_size = batch_size

    def run(self, segments: pd.DataFrame, predict: PredictFn) -> pd.DataFrame:
        """`predict` takes a frame with a `text` column (and the article columns `headline`,
        `previous` and `article_id` when the segments have them) and returns one row per input
        row."""
        columns = [c for c in MODEL_INPUTS if c in segments.columns]
        parts = []
        for batch in _batches(segments, self.batch_size):
            predicted = predict(batch[columns].reset_index(drop=True))
            parts.append(pd.concat([batch.reset_index(drop=True), predicted], axis=1))
        if not parts:
            return segments
        return pd.concat(parts, ignore_index=True)


def _batches(segments: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Slices of about `size` rows that never cut an article's (contiguous) rows in two: the
    model reads an article's segments together."""
    ids = segments["article_id"].tolist() if "article_id" in segments.columns else None
    start = 0
    while start < len(segments):
        end = min(start + size, len(segments))
        while ids is not None and end < len(ids) and ids[end] == ids[end - 1]:
            end += 1
        yield segments.iloc[start:end]
        start = end
