"""In-process batch inference: the segments table in, the same rows with predictions out."""

from collections.abc import Callable

import pandas as pd

PredictFn = Callable[[pd.DataFrame], pd.DataFrame]


class LocalEngine:
    def __init__(self, batch_size: int):
        self.batch_size = batch_size

    def run(self, segments: pd.DataFrame, predict: PredictFn) -> pd.DataFrame:
        """`predict` takes a frame with a `text` column (and the article context columns
        `headline` and `previous` when the segments have them) and returns one row per input
        row."""
        columns = [c for c in ("text", "headline", "previous") if c in segments.columns]
        parts = []
        for start in range(0, len(segments), self.batch_size):
            batch = segments.iloc[start:start + self.batch_size]
            predicted = predict(batch[columns].reset_index(drop=True))
            parts.append(pd.concat([batch.reset_index(drop=True), predicted], axis=1))
        if not parts:
            return segments
        return pd.concat(parts, ignore_index=True)
