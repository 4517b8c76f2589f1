"""`topicstance-agreement`: two labeling passes compared, the figures the data card quotes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import DATA_DIR, clean_subprocess_env
from topicstance.config import CONF_DIR
from topicstance.labels import Taxonomy
from topicstance.quality import agreement

BIN = Path(sys.executable).parent
TAXONOMY = Taxonomy.from_config(OmegaConf.load(CONF_DIR / "labels" / "default.yaml"))


def test_agreement_known_answers():
    first = [{"id": "a", "topics": ["sanctions"], "stance": "neutral"},
             {"id": "b", "topics": ["sanctions", "troop_deployment"], "stance": "pro_ukraine"},
             {"id": "c", "topics": [], "stance": "pro_russia"},
             {"id": "d", "topics": ["sanctions"], "stance": "neutral"},
             {"id": "only-first", "topics": [], "stance": "neutral"}]
    second = [{"id": "d", "topics": [], "stance": "neutral"},
              {"id": "a", "topics": ["sanctions"], "stance": "neutral"},
              {"id": "b", "topics": ["sanctions"], "stance": "pro_russia"},
              {"id": "c", "topics": [], "stance": "pro_russia"}]
    scores = agreement(first, second, TAXONOMY)  # matched by id, whatever the order
    assert scores["segments"] == 4
    assert scores["topic_f1"]["sanctions"] == pytest.approx(0.8)  # 2 shared of 3 + 2
    assert scores["topic_f1"]["troop_deployment"] == 0.0
    assert scores["topic_f1"]["espionage_trial"] == 1.0  # neither pass uses it: no disagreement
    assert scores["topic_sets_identical"] == 0.5
    assert scores["stance_agreement"] == 0.75
    with pytest.raises(ValueError, match="share no segment id"):
        agreement(first, [{"id": "z", "topics": [], "stance": "neutral"}], TAXONOMY)


def _run(*args):
    return subprocess.run([str(BIN / "topicstance-agreement"), *map(str, args)], check=False,
                          env=clean_subprocess_env(), capture_output=True, text=True, timeout=120)


def test_the_console_script_gives_the_data_cards_figures_for_the_test_part_recheck():
    result = _run(DATA_DIR / "labeled" / "coverage_test.jsonl",
                  DATA_DIR / "agreement" / "coverage_test_recheck.jsonl")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["segments"] == 752
    assert scores["topic_f1"] == {"sanctions": 0.933, "troop_deployment": 0.857,
                                  "espionage_trial": 0.983, "domestic_politics": 0.931}
    assert (scores["stance_kappa"], scores["stance_agreement"]) == (0.865, 0.963)


def test_unreadable_passes_are_set_aside_and_end_in_one_error_line(tmp_path):
    result = _run(tmp_path / "first.jsonl", tmp_path / "second.jsonl")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "first.jsonl:0: cannot read" in result.stdout
    assert result.stderr.strip() == "topicstance-agreement: error: the two passes share no segment id"
