"""The MLflow pyfunc that wraps any TopicStanceModel (logged as models-from-code).

The local engine, `mlflow models serve` and a Spark UDF all load this same thing: it takes a
DataFrame with a `text` column, and optional `headline` and `previous` columns (the article's
headline and the segment before this one) and `article_id` (rows that share one are read as one
article: keep an article's rows in one call); `make predict` fills them all. Given `article_id`
without `headline` or `previous`, it takes them from the rows of each article in the order given
(the first row is the headline), as `make predict` would. It returns one row of decisions and
scores per text.
"""

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from topicstance.models.base import context as article_context
from topicstance.segment import headlines_and_previous


class TopicStancePyfunc(PythonModel):
    def load_context(self, context) -> None:
        from topicstance.models import load_model
        self.model = load_model(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        # Select the columns explicitly: iterating a DataFrame yields its column names.
        texts = model_input["text"]
        blank = texts.isna() | texts.astype(str).str.strip().eq("")
        if blank.any():  # else a null would be read as the word "None" and given labels
            rows = [i for i, b in enumerate(blank, 1) if b]  # counted from 1, as in "of N"
            # An MlflowException, so that the scoring server answers 400 with this message
            # (any other exception becomes its generic "unexpected error", the reason in a trace)
            raise MlflowException(
                f"'text' is missing or empty in row(s) {', '.join(map(str, rows[:10]))}"
                f"{' ...' if len(rows) > 10 else ''} of {len(texts)}: every row needs the "
                "segment's text", error_code=INVALID_PARAMETER_VALUE)
        texts = texts.astype(str).tolist()
        contexts = None
        if {"headline", "previous"} & set(model_input.columns):
            headlines = model_input.get("headline", pd.Series([""] * len(texts)))
            previous = model_input.get("previous", pd.Series([""] * len(texts)))
            contexts = [article_context(h, p) for h, p in zip(headlines.fillna("").astype(str),
                                                      previous.fillna("").astype(str))]
        article_ids = None
        if "article_id" in model_input.columns:
            article_ids = model_input["article_id"].astype(str).tolist()
            if contexts is None:
                contexts = contexts_from_articles(article_ids, texts)
        return self.model.predict_frame(texts, contexts, article_ids)


def contexts_from_articles(article_ids: list[str], texts: list[str]) -> list[str]:
    """Each row's article context (its article's first row as the headline, and the row before
    it in that article), the rows of an article taken in the order given, wherever they are."""
    first = {}
    for i, article_id in enumerate(article_ids):
        first.setdefault(article_id, i)
    order = sorted(range(len(texts)), key=lambda i: (first[article_ids[i]], i))
    headlines, previous = headlines_and_previous([article_ids[i] for i in order],
                                                 [texts[i] for i in order])
    contexts = [""] * len(texts)
    for i, headline, before in zip(order, headlines, previous):
        contexts[i] = article_context(headline, before)
    return contexts
