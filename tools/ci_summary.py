#!/usr/bin/env python3
"""ci_summary.py -- Print 'N passed, N failed' from meson's testlog.json files.

Skipped tests (exit 77) are counted apart. Exits 1 when a test failed or a log is missing."""
import json
import sys

passed = failed = skipped = 0
missing = []
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except OSError:
        missing.append(path)
for m in missing:
    print(f"ci_summary: no test log at {m} (the build failed?)", file=sys.stderr)
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
