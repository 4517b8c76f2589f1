"""Thin `@hydra.main` entry points: compose the config, call one pipeline function."""

import os

# Weights and tokenizers come from local folders only; never ask a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from topicstance.config import CONF_DIR

CONFIG_PATH = str(CONF_DIR)
