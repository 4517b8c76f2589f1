import json

import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="predict")
def main(cfg) -> None:
    from topicstance.pipelines.predict import predict

    print(json.dumps(predict(cfg)))


if __name__ == "__main__":
    main()
