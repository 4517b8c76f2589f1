
from topicstance.cli import entry_point, one_line_errors


@entry_point("leaderboard")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.leaderboard import leaderboard, render

    with one_line_errors("topicstance-leaderboard", LookupError, ValueError,
                         tracking.TrackingUnavailable):
        print(render(leaderboard(cfg), cfg.format))


if __name__ == "__main__":
    main()
