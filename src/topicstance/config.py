"""Where the project's configuration lives, and the resolvers its YAML uses."""

import os
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"


def project_root() -> str:
    """The project folder: `TOPICSTANCE_ROOT` if set, else the checkout this package runs from."""
    return os.environ.get("TOPICSTANCE_ROOT", str(PROJECT_ROOT))


if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", project_root)
