import hydra

from topicstance.cli import CONFIG_PATH, one_line_errors


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="leaderboard")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.leaderboard import leaderboard, render

    with one_line_errors("topicstance-leaderboard", LookupError, ValueError,
                         tracking.TrackingUnavailable):
        print(render(leaderboard(cfg), cfg.format))


if __name__ == "__main__":
    main()
