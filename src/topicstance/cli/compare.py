import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="compare")
def main(cfg) -> None:
    from topicstance.pipelines.compare import compare

    print(compare(cfg).markdown)


if __name__ == "__main__":
    main()
