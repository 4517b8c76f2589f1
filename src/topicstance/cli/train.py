import json

import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def main(cfg) -> float:
    from topicstance.pipelines.train import train

    metrics = train(cfg)
    print(json.dumps(metrics))
    return metrics[cfg.registry.metric]  # what a Hydra sweeper optimises


if __name__ == "__main__":
    main()
