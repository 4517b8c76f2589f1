import json

import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="bench")
def main(cfg) -> None:
    from topicstance.pipelines.bench import bench

    results = bench(cfg)
    print("| model | precision | seg/s (60-80 words) | dev topic macro-F1 | dev stance macro-F1 |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        print(f"| `{r['family']}` | {r['precision']} | {r['segments_per_second']:.0f} | "
              f"{r['dev_topic_macro_f1']:.3f} | {r['dev_stance_macro_f1']:.3f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
