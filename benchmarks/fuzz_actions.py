"""The long run of the action-table fuzz (tests/apps/test_fuzz_actions.py): N generated cases per action, with
the counts of exit codes per action and the distinct refusal messages.

    python benchmarks/fuzz_actions.py [--examples 450]      # 24 actions x 450 = 10,800 cases

Runs pytest on the fuzz test with IMSYNTH_FUZZ_EXAMPLES and IMSYNTH_FUZZ_LOG set, then reads the log. A case that
exits 1, prints a traceback or leaves a partial output fails the test (and this script's exit code). Writes
docs/results/fuzz_actions.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=450)
    parser.add_argument("--out", default="docs/results/fuzz_actions.json")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp()) / "cases.jsonl"
    started = time.perf_counter()
    environment = {**os.environ, "IMSYNTH_FUZZ_EXAMPLES": str(args.examples), "IMSYNTH_FUZZ_LOG": str(log)}
    test = "tests/apps/test_fuzz_actions.py"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", test], env=environment)
    cases = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    by_action = collections.defaultdict(collections.Counter)
    for case in cases:
        by_action[case["action"]][str(case["code"])] += 1
    codes = collections.Counter(str(case["code"]) for case in cases)
    messages = collections.Counter(case["error"].split(": ", 2)[-1][:80] for case in cases if case["code"] == 2)
    report = {
        "examples_per_action": args.examples,
        "cases": len(cases),
        "exit_codes": dict(codes),
        "by_action": {name: dict(counts) for name, counts in sorted(by_action.items())},
        "distinct_refusals": len(messages),
        "commonest_refusals": messages.most_common(15),
        "seconds": round(time.perf_counter() - started),
        "pytest_exit_code": result.returncode,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({key: report[key] for key in ("cases", "exit_codes", "distinct_refusals", "seconds")}))
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
