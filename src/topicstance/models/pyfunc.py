"""The MLflow pyfunc that wraps any TopicStanceModel (logged as models-from-code).

The local engine, `mlflow models serve` and a Spark UDF all load this same thing: it takes a
DataFrame with a `text` column and returns one row of decisions and scores per text.
"""

import pandas as pd
from mlflow.pyfunc import PythonModel


class TopicStancePyfunc(PythonModel):
    def load_context(self, context) -> None:
        from topicstance.models import load_model
        self.model = load_model(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        # Select the column explicitly: iterating a DataFrame yields its column names.
        return self.model.predict_frame(model_input["text"].astype(str).tolist())
