#!/usr/bin/env python3
"""Runs the whole scenario suite against the project's private Postfix (tools/tests/postfix/)
and compares every scenario's verdict with the committed expectation
(reports/compat/postfix.expected.json). Exit 0 = every verdict as expected, 1 = a verdict
changed (the differences are printed), 77 = Postfix is not listening (skipped; a failure with
SMTPH_REQUIRE_POSTFIX=1).

Usage:
  postfix_compat_test.py HARNESS_BIN SOURCE_DIR [--jobs 8] [--runs 1] [--report FILE]
  postfix_compat_test.py HARNESS_BIN SOURCE_DIR --update   # rewrite the expectation

Expectation format (format 1): {"verdicts": {"<scenario id>": "<verdict>" | ["v1", "v2"] |
"any"}, "unlisted": "passed"}: a list allows any of its verdicts (timing-dependent scenarios),
"any" allows every verdict; a scenario missing from "verdicts" must end with "unlisted".
Loopback only: the target is 127.0.0.1.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

VERDICTS = ("passed", "failed", "non-strict", "skipped", "error")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def run_suite(args, port: int, tls_port: int, report: str) -> dict:
    cmd = [args.harness, "run", os.path.join(args.source_dir, "scenarios"),
           "--target", f"127.0.0.1:{port}", "--implicit-target", f"127.0.0.1:{tls_port}",
           "--profile", args.profile, "--insecure", "-j", str(args.jobs), "--report", report]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=600, check=False)
    # 0 = all passed, 1 = something failed, 3 = something could not run: all give a report.
    if proc.returncode not in (0, 1, 3) or not os.path.exists(report):
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"smtp-harness run exited {proc.returncode} without a report")
    with open(report, encoding="utf-8") as f:
        data = json.load(f)
    return {s["id"]: s for s in data["scenarios"]}


def allowed(expect) -> tuple:
    if expect == "any":
        return VERDICTS
    if isinstance(expect, str):
        return (expect,)
    return tuple(expect)


def compare(expected: dict, got: dict) -> list:
    verdicts = expected["verdicts"]
    unlisted = expected.get("unlisted", "passed")
    diffs = []
    for sid in sorted(set(verdicts) | set(got)):
        if sid not in got:
            diffs.append(f"  MISSING  {sid}: expected {verdicts[sid]}, scenario not in the run "
                         "(renamed or removed? update the expectation)")
            continue
        s = got[sid]
        exp = verdicts.get(sid, unlisted)
        if s["verdict"] not in allowed(exp):
            new = "" if sid in verdicts else " (not in the expectation)"
            diffs.append(f"  CHANGED  {sid}{new}: expected {exp}, got {s['verdict']}: "
                         f"{s.get('reason', '')}")
    return diffs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("harness")
    p.add_argument("source_dir")
    p.add_argument("--expected", help="default: SOURCE_DIR/reports/compat/postfix.expected.json")
    p.add_argument("--profile", help="default: SOURCE_DIR/reports/compat/profiles/postfix.json")
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--runs", type=int, default=1, help="repeat the run (stability check)")
    p.add_argument("--report", help="keep the (last) JSON report here")
    p.add_argument("--update", action="store_true",
                   help="write the expectation from this run (keeps 'any'/list entries)")
    args = p.parse_args()
    args.expected = args.expected or os.path.join(args.source_dir, "reports/compat/postfix.expected.json")
    args.profile = args.profile or os.path.join(args.source_dir, "reports/compat/profiles/postfix.json")

    port = int(os.environ.get("SMTPH_POSTFIX_PORT", "2525"))
    tls_port = int(os.environ.get("SMTPH_POSTFIX_TLS_PORT", "2465"))
    if not listening(port) or not listening(tls_port):
        msg = f"Postfix is not listening on 127.0.0.1:{port} and :{tls_port}"
        if os.environ.get("SMTPH_REQUIRE_POSTFIX") == "1":
            print(msg + " (SMTPH_REQUIRE_POSTFIX=1)", file=sys.stderr)
            return 1
        print(msg + ": skipped", file=sys.stderr)
        return 77

    with open(args.expected, encoding="utf-8") as f:
        expected = json.load(f)

    failed = False
    with tempfile.TemporaryDirectory(prefix="postfix-compat-") as tmp:
        for run in range(1, args.runs + 1):
            report = args.report or os.path.join(tmp, "postfix.json")
            got = run_suite(args, port, tls_port, report)
            counts = {v: sum(1 for s in got.values() if s["verdict"] == v) for v in VERDICTS}
            print(f"run {run}: {len(got)} scenarios: " +
                  ", ".join(f"{n} {v}" for v, n in counts.items()))
            if args.update:
                old = expected.get("verdicts", {})
                keep = {sid: v for sid, v in old.items() if v == "any" or isinstance(v, list)}
                expected["verdicts"] = {sid: keep.get(sid, s["verdict"])
                                        for sid, s in sorted(got.items())}
                with open(args.expected, "w", encoding="utf-8") as f:
                    json.dump(expected, f, indent=2)
                    f.write("\n")
                print(f"wrote {args.expected}")
                return 0
            diffs = compare(expected, got)
            if diffs:
                failed = True
                print(f"run {run}: {len(diffs)} verdict(s) differ from {args.expected}:")
                print("\n".join(diffs))
            else:
                print(f"run {run}: every verdict as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
