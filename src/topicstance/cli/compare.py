import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="compare")
def main(cfg) -> None:
    from topicstance.pipelines.compare import comparison_table

    print(comparison_table(cfg))


if __name__ == "__main__":
    main()
