"""In-process batch inference: pages are segmented as they are read, and a batch of segments is
classified by the pyfunc loaded once into this process."""

from collections.abc import Iterator

import pandas as pd

from topicstance import tracking
from topicstance.segment import Segmenter

MODEL_INPUTS = ["text", "headline", "previous", "article_id"]  # what the pyfunc reads


class LocalEngine:
    def __init__(self, segmenter: Segmenter, model_uri: str, batch_size: int):
        self.segmenter, self.model_uri, self.batch_size = segmenter, model_uri, batch_size
        self.model = tracking.load_pyfunc(model_uri)

    @classmethod
    def from_config(cls, cfg, segmenter: Segmenter, model_uri: str, output_columns: list[str]):
        return cls(segmenter, model_uri, int(cfg.batch_size))

    def describe(self) -> dict:
        """How inference runs, for the run record."""
        return {"engine": "local", **self.model.unwrap_python_model().model.inference_settings()}

    def rows(self, pages: list[dict]) -> list[dict]:
        """Pages (article_id, text, source, ...) -> their segment rows, ready for `run`: a batch
        is bounded by segments. Segmenting many pages in one call is several times faster."""
        page_rows = self.segmenter.rows([(p["article_id"], p["text"], p["source"],
                                          p["ready_cut"]) for p in pages])
        out = []
        for page, rows in zip(pages, page_rows):
            extra = {k: v for k, v in page.items() if k not in ("article_id", "text", "ready_cut")}
            out += [{**row, **extra} for row in rows]
        return out

    def run(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The segment rows with the model's outputs added, in the same order."""
        parts = []
        for batch in _batches(rows, self.batch_size):
            batch = batch.reset_index(drop=True)
            parts.append(pd.concat([batch, self.model.predict(batch[MODEL_INPUTS])], axis=1))
        return pd.concat(parts, ignore_index=True) if parts else rows

    def close(self) -> None:
        pass


def _batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Slices of about `size` rows that never cut an article's (contiguous) rows in two: the
    model reads an article's segments together."""
    ids = rows["article_id"].tolist()
    start = 0
    while start < len(rows):
        end = min(start + size, len(rows))
        while end < len(ids) and ids[end] == ids[end - 1]:
            end += 1
        yield rows.iloc[start:end]
        start = end
