"""Reads Slither's JSON output, prints every finding by impact, and fails (exit 1) on any High or Medium
finding not triaged in audit/triage.json. Run by `make audit` with the audit venv's python."""

import json
import sys
from collections import Counter

IMPACTS = ["High", "Medium", "Low", "Informational", "Optimization"]
BLOCKING = {"High", "Medium"}


def where(result):
    """contract.function of the finding's first element (a local variable or expression: its function)."""
    e = result["elements"][0] if result["elements"] else {}
    name, kind = e.get("name", "?"), e.get("type")
    parent = e.get("type_specific_fields", {}).get("parent", {})
    if kind == "function":
        return f"{parent.get('name', '?')}.{name}"
    if kind in ("variable", "node") and parent.get("type") == "function":
        grand = parent.get("type_specific_fields", {}).get("parent", {})
        return f"{grand.get('name', '?')}.{parent.get('name', '?')}"
    if parent.get("name"):
        return f"{parent['name']}.{name}"
    return name


def location(result):
    e = result["elements"][0] if result["elements"] else {}
    sm = e.get("source_mapping", {})
    lines = sm.get("lines") or [0]
    return f"{sm.get('filename_relative', '?')}:{lines[0]}"


def main(report_path, triage_path):
    report = json.load(open(report_path))
    if not report.get("success"):
        print(f"slither failed: {report.get('error')}", file=sys.stderr)
        return 2
    results = report.get("results", {}).get("detectors", [])
    triage = {(t["detector"], t["where"]): t["reason"] for t in json.load(open(triage_path))["entries"]}
    rows, untriaged, used = [], 0, set()
    for r in sorted(results, key=lambda r: (IMPACTS.index(r["impact"]), r["check"], where(r))):
        key = (r["check"], where(r))
        if r["impact"] in BLOCKING:
            if key in triage:
                status, _ = "triaged", used.add(key)
            else:
                status, untriaged = "UNTRIAGED", untriaged + 1
        else:
            status = "-"
        rows.append((r["impact"], r["confidence"], r["check"], key[1], location(r), status))
    head = ("impact", "confidence", "detector", "where", "location", "status")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    line = lambda x: "  ".join(str(v).ljust(w) for v, w in zip(x, widths)).rstrip()  # noqa: E731
    print(line(head))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    counts = Counter(r["impact"] for r in results)
    print("\n" + ", ".join(f"{i}: {counts.get(i, 0)}" for i in IMPACTS))
    for key in sorted(set(triage) - used):
        print(f"note: stale triage entry (no longer reported): {key[0]} {key[1]}")
    if untriaged:
        print(f"FAIL: {untriaged} High/Medium finding(s) not triaged in {triage_path}")
        return 1
    print(f"OK: every High/Medium finding is triaged in {triage_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
