"""Validation benchmark: `baton validate`'s loader on one large SLA file.

    .venv/bin/python benchmarks/validate.py [--slas 17000]

Writes one `config/slas/*.yaml` of N latency SLAs in flow style (17,000 SLAs = 2 MB, the file
that took 27 s when every file was parsed twice by PyYAML's pure-Python parser), then times
`slas.definitions.load_folder` (CPU seconds, best of three) with the parser Baton uses
(libyaml, parsed once) against the pure-Python parser of the same resolvers, parsed once
and twice in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors import yamlfile  # noqa: E402
from slas.definitions import load_folder  # noqa: E402

HEAD = ("version: baton/v1\nteams:\n  sales: {name: Sales}\njourneys:\n  lead:\n    stages:\n"
        "      - {name: a, owner: sales, on: [x.a]}\n      - {name: b, owner: sales, on: [x.b]}\n"
        "slas:\n")
ITEM = ("  - {{name: sla-{i}, team: sales, kind: latency, journey: lead, from: a, to: b, "
        "threshold: 5m, objective: 99%, window: 7d}}\n")


def best_cpu(folder: Path, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        load_folder(folder)
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slas", type=int, default=17_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "slas").mkdir()
        text = HEAD + "".join(ITEM.format(i=i) for i in range(args.slas))
        (folder / "slas" / "big.yaml").write_text(text)
        print(f"{args.slas:,} SLAs, {len(text) / 1e6:.1f} MB")
        print(f"libyaml, parsed once (Baton):  {best_cpu(folder):6.2f} s CPU")
        fast = yamlfile.FastLoader
        yamlfile.FastLoader = yamlfile.Loader  # type: ignore[misc]
        try:
            print(f"pure Python, parsed once:      {best_cpu(folder, 1):6.2f} s CPU")
            started = time.process_time()
            yaml.compose(text, Loader=yamlfile.Loader)  # the second parse the loader did
            second = time.process_time() - started
            print(f"pure Python, parsed twice:    ~{best_cpu(folder, 1) + second:6.2f} s CPU")
        finally:
            yamlfile.FastLoader = fast  # type: ignore[misc]


if __name__ == "__main__":
    main()
