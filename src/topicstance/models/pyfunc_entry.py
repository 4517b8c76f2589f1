"""Entry file MLflow runs to build the pyfunc when it loads a logged model (models-from-code)."""

from mlflow.models import set_model

from topicstance.models.pyfunc import TopicStancePyfunc

set_model(TopicStancePyfunc())
