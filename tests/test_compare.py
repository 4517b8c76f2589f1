"""The comparison's targets: every run of a sweep marked against the goals on real text."""

import pandas as pd
from omegaconf import OmegaConf

from conftest import compose_config
from topicstance.pipelines.compare import TEST, _furniture_line, targets_table

TARGETS = OmegaConf.create([{"metric": "topic_macro_f1", "at_least": 0.9},
                            {"metric": "offtopic_side_rate", "at_most": 0.01},
                            {"metric": "stance_f1/of_another_taxonomy", "at_least": 0.75}])


def test_each_run_is_marked_against_each_target():
    table = pd.DataFrame([
        {"run": "good", f"{TEST}/topic_macro_f1": 0.91, f"{TEST}/offtopic_side_rate": 0.01},
        {"run": "weak", f"{TEST}/topic_macro_f1": 0.899, f"{TEST}/offtopic_side_rate": 0.02},
        {"run": "unscored", f"{TEST}/topic_macro_f1": None, f"{TEST}/offtopic_side_rate": 0.0},
    ])
    lines = targets_table(table, TARGETS).splitlines()  # no run has the third: left out
    assert lines[0] == "| run | topic_macro_f1 >= 0.9 | offtopic_side_rate <= 0.01 | met |"
    assert lines[2] == "| `good` | 0.910 yes | 0.010 yes | 2 of 2 |"  # a goal reached exactly is met
    assert lines[3] == "| `weak` | 0.899 **no** | 0.020 **no** | 0 of 2 |"
    assert lines[4] == "| `unscored` | - | 0.000 yes | 1 of 2 |"  # no metric: not met


def test_the_segmenter_line_says_which_targets_it_meets(tmp_path):
    cfg = compose_config("compare", tmp_path)
    line = _furniture_line(cfg)
    kept = float(line.split("pages: ")[1].split("%")[0]) / 100
    verdict = line.split("furniture_kept_rate <= 0.05: ")[1].split(";")[0]
    assert verdict == ("met" if kept <= 0.05 else "**not met**")
    assert "body_lost_rate <= 0.0: " in line
