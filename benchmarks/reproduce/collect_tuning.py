"""Collect the learning rates of `sirenkit reproduce NAME --scale S --tune` runs into src/sirenkit/reproduce/tuned.json
and keep their logs here (benchmarks/reproduce/NAME-S-tuning.{json,md}).

    python benchmarks/reproduce/collect_tuning.py DIR [DIR ...]     # each DIR holds a tuning.json and tuning.md

Several DIRs of one experiment and scale (methods tuned in separate runs) are merged; a method tuned twice is an
error. The per-fit records stay in the logs; tuned.json keeps the choices, the grid's scores and where they
came from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TUNED = ROOT / "src" / "sirenkit" / "reproduce" / "tuned.json"
LOGS = Path(__file__).resolve().parent


def main(folders: list[str]) -> int:
    tuned = json.loads(TUNED.read_text(encoding="utf-8"))
    merged: dict[tuple[str, str], dict] = {}
    for folder in folders:
        record = json.loads((Path(folder) / "tuning.json").read_text(encoding="utf-8"))
        key = (record["experiment"], record["scale"])
        entry = merged.setdefault(key, {"experiment": key[0], "scale": key[1], "chosen": {}, "scores": {},
                                        "signals": record["signals"], "seeds": record["seeds"], "sources": []})
        clash = set(entry["chosen"]) & set(record["chosen"])
        if clash:
            raise SystemExit(f"{folder}: {', '.join(sorted(clash))} tuned twice for {key}")
        entry["chosen"].update(record["chosen"])
        entry["scores"].update(record["scores"])
        entry["sources"].append({"command": record["settings"]["command"], "date": record["machine"]["date"],
                                 "cpu": record["machine"]["cpu"], "seconds": record["seconds"],
                                 "fits": record["fits"]})
        name = f"{key[0]}-{key[1]}-tuning-{len(entry['sources'])}"
        (LOGS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        (LOGS / f"{name}.md").write_text((Path(folder) / "tuning.md").read_text(encoding="utf-8"), encoding="utf-8")
    for (experiment, scale), entry in merged.items():
        tuned.setdefault(experiment, {})[scale] = entry
    TUNED.write_text(json.dumps(tuned, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{TUNED}: {', '.join(f'{e} at {s}' for e, s in merged)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
