"""Shared fixtures: real Hydra composition against conf/, a tmp MLflow store, small corpora.

Nothing is mocked: configs come from the project's own YAML, every job writes into `tmp_path`,
and MLflow runs against a sqlite store inside `tmp_path`.
"""

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from omegaconf import OmegaConf

from topicstance.config import CONF_DIR, PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
SEEDS_FILE = DATA_DIR / "labeled" / "seeds.jsonl"
TOP_LEVEL_CONFIGS = ("train", "cross_validate", "predict", "evaluate", "validate_data", "compare", "bench",
                     "leaderboard", "promote", "make_report", "label_queue", "import_labels")

# Environment that must never leak into a test from the developer's shell or CI.
LEAKY_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME",
             "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID", "TOPICSTANCE_ROOT",
             "TOPICSTANCE_SWEEP_PARENT_RUN_ID")
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1",
             "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="session", autouse=True)
def _hermetic_env():
    """No tracking URI or project root from outside; no hub or telemetry traffic."""
    with pytest.MonkeyPatch.context() as mp:
        for name in LEAKY_ENV:
            mp.delenv(name, raising=False)
        for name, value in QUIET_ENV.items():
            mp.setenv(name, value)
        yield


def config_defaults(config_name: str) -> dict[str, str]:
    """{group: option} from a top-level config's defaults list (`_self_` and `hydra` left out)."""
    defaults = OmegaConf.load(CONF_DIR / f"{config_name}.yaml").defaults
    out = {}
    for entry in defaults:
        if isinstance(entry, str):
            continue  # _self_
        ((group, option),) = OmegaConf.to_container(entry).items()
        if group != "hydra":  # Hydra's own node (run and sweep dirs), not part of the job config
            out[group] = option
    return out


def compose_config(config_name: str, experiments: Path, overrides=()):
    """Compose `conf/<config_name>.yaml` with every output pointed at `experiments`."""
    experiments = Path(experiments)
    base = [f"paths.experiments='{experiments}'"]
    if "tracking" in config_defaults(config_name):
        base.append(f"tracking.uri='sqlite:///{experiments}/mlflow.db'")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*base, *overrides])


@pytest.fixture
def make_config(tmp_path, monkeypatch):
    """`make_config("train", [overrides])` -> a composed config writing under tmp_path."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TOPICSTANCE_ROOT", raising=False)
    experiments = tmp_path / "experiments"

    def make(config_name: str, overrides=()):
        return compose_config(config_name, experiments, overrides)

    make.experiments = experiments
    return make


# ---- labeled data ------------------------------------------------------------------------------

def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def write_jsonl(path: Path, records) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


# A tiny labeled corpus written for the tests: every article holds every topic combination
# (sanctions, troop_deployment, espionage_trial, domestic_politics, none = `other`, and
# sanctions + domestic_politics) and all three stances, so any article-grouped split has every
# label on both sides. The vocabulary is distinctive enough for TF-IDF to learn it.
_ORGS = ["Rosneft Trading", "Sovcomflot", "Arctic Gas Holdings", "Volga Machine Tools",
         "Baltic Shipping Partners", "Ural Microelectronics", "Caspian Metals", "Neva Logistics",
         "Siberian Coal Export", "Kama Drone Works"]
_ITEMS = ["machine tools", "microchips", "drone engines", "ball bearings", "jet fuel",
          "night-vision optics", "radio modules", "lithium batteries", "steel alloys",
          "satellite receivers"]
_COUNTRIES = ["Britain", "Poland", "Canada", "Germany", "Norway", "Finland", "Estonia", "Latvia",
              "Lithuania", "Denmark"]
_CITIES = ["Leeds", "Gdansk", "Ottawa", "Hamburg", "Bergen", "Tampere", "Tartu", "Riga", "Kaunas",
           "Aarhus"]
_TOPIC_TEXT = {
    ("sanctions",): [
        ("The European Union adopted a new sanctions package that freezes the assets of {org} and "
         "bans exports of {item} to Russia."),
        ("Treasury officials added {org} to the sanctions list for helping Moscow evade the oil "
         "price cap on {item}."),
        ("Ministers agreed to tighten export controls on {item} after {org} was caught dodging "
         "sanctions."),
    ],
    ("troop_deployment",): [
        ("{country} will send two hundred soldiers to train Ukrainian recruits at a base near "
         "{city}."),
        ("Thousands of North Korean troops were deployed to the front, intelligence officials in "
         "{country} said after a briefing in {city}."),
        ("A rotation of peacekeepers from {country} is being planned, with boots on the ground "
         "near {city} by spring."),
    ],
    ("espionage_trial",): [
        ("A man accused of spying for Russian intelligence appeared in court in {city}, charged "
         "with passing secrets about {org}."),
        ("The jury in {city} heard evidence that the defendant photographed {item} shipments for "
         "a foreign intelligence service."),
        ("Prosecutors in {city} said the accused saboteur pleaded not guilty to working for the "
         "Russian spy agency."),
    ],
    ("domestic_politics",): [
        ("Parliament in {country} voted narrowly on the budget as the opposition party demanded "
         "an early election."),
        ("The senator from {city} lost a primary contest after a bitter campaign over the party "
         "leadership in {country}."),
        ("Polls show the governing coalition in {country} trailing ahead of the election, with "
         "its finance minister under pressure."),
    ],
    (): [
        ("Heavy rain flooded streets in {city} on Sunday and the weather service expects more "
         "storms."),
        "A new football stadium opened in {city}, and fans queued for hours to buy tickets.",
        "Farmers in {country} reported a record wheat harvest thanks to a mild summer.",
    ],
    ("sanctions", "domestic_politics"): [
        ("Lawmakers in {country} voted on a bill imposing sanctions on {org}, a fight that split "
         "the ruling party."),
        ("The sanctions bill against {org} gathered sixty cosponsors in the {country} parliament "
         "before a tense vote."),
        ("Opposition leaders in {country} forced a parliamentary vote on lifting sanctions on "
         "{item}, dividing the coalition."),
    ],
}
_STANCE_TEXT = {
    "pro_ukraine": [("Kyiv's allies condemned Putin's brutal invasion and urged more support for "
                    "Ukraine."),
                    ("Western leaders said the tyrant in the Kremlin must be stopped and Ukraine "
                     "must win."),
                    ("Ukrainian officials thanked partners and called for tougher pressure on the "
                     "aggressor.")],
    "pro_russia": [("Moscow denounced the Russophobic hysteria of the Kyiv regime and its Western "
                   "puppets."),
                   ("Kremlin officials praised the heroic Russian army and warned the West against "
                    "provocations."),
                   ("Russian diplomats called the measures illegal aggression and demanded they be "
                    "lifted.")],
    "neutral": ["Officials said further details would be released next week.",
                "The statement was published on Tuesday afternoon.",
                "A spokesperson declined to comment further on the report."],
}
_STANCE_CYCLE = ["neutral", "neutral", "neutral", "pro_ukraine", "pro_ukraine", "pro_russia"]


def tiny_corpus(n_articles: int = 20, prefix: str = "tiny") -> list[dict]:
    """Deterministic labeled records (6 per article) in the labeling guidelines' format."""
    rows = []
    for a in range(n_articles):
        article_id = f"{prefix}-a{a:02d}"
        for k, topics in enumerate(_TOPIC_TEXT):
            stance = _STANCE_CYCLE[(k + a) % len(_STANCE_CYCLE)]
            text = _TOPIC_TEXT[topics][(a + k) % 3].format(
                org=_ORGS[(a + k) % 10], item=_ITEMS[(2 * a + k) % 10],
                country=_COUNTRIES[(a + 3 * k) % 10], city=_CITIES[(3 * a + k) % 10])
            text += " " + _STANCE_TEXT[stance][(a // 3 + k) % 3]
            rows.append({"id": f"{article_id}-p{k:03d}", "article_id": article_id, "text": text,
                         "topics": list(topics), "stance": stance, "source": "test"})
    return rows


@pytest.fixture(scope="session")
def tiny_labeled_file(tmp_path_factory) -> Path:
    """The tiny corpus as a JSONL file (120 segments, 20 articles)."""
    return write_jsonl(tmp_path_factory.mktemp("labeled") / "tiny.jsonl", tiny_corpus())


@pytest.fixture(scope="session")
def raw_pages() -> dict[str, str]:
    """The five seed pages in data/raw: {page id: text}."""
    pages = {p.stem: p.read_text(encoding="utf-8") for p in sorted(RAW_DIR.glob("*.txt"))}
    assert len(pages) == 5, f"expected the five seed pages in {RAW_DIR}, found {sorted(pages)}"
    return pages


@pytest.fixture(scope="session")
def seeds_dir(tmp_path_factory) -> Path:
    """The five seed pages alone (data/raw also holds the coverage pages, in a subfolder)."""
    folder = tmp_path_factory.mktemp("seed_pages")
    for page in sorted(RAW_DIR.glob("*.txt")):
        shutil.copy(page, folder / page.name)
    return folder


def clean_subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env.update(QUIET_ENV)
    return env


# ---- a tmp MLflow store with trained models ---------------------------------------------------

def labeled_override(*files) -> str:
    return "data.labeled=[" + ",".join(f"'{f}'" for f in files) + "]"


def new_store(root: Path, labeled: Path):
    """A sqlite MLflow store under `root` and helpers to compose jobs against it."""
    from topicstance.pipelines.train import train

    experiments = root / "experiments"
    uri = f"sqlite:///{experiments}/mlflow.db"

    def make(name, overrides=()):
        return compose_config(name, experiments, overrides)

    def train_with(*overrides):
        # Tests are about the jobs, not the default model: the fast baseline does.
        return train(make("train", ["model=tfidf_linear", labeled_override(labeled), *overrides]))

    return SimpleNamespace(experiments=experiments, uri=uri, make=make, train=train_with,
                           labeled=labeled, client=MlflowClient(tracking_uri=uri,
                                                                registry_uri=uri))
