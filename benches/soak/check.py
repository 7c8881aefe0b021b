#!/usr/bin/env python3
"""The soak's verdict: reads the journal (crier.db), what the receivers accepted, the proxy's
fault counts, the RSS samples and the run's facts, prints the numbers and exits 1 if a promise
is broken.

  check.py WORK   (WORK/project/crier.db, WORK/received.jsonl, WORK/faults.json,
                   WORK/rss.txt, WORK/run.json, WORK/project/audience.csv)

Promises checked:
  lost = 0        every journal row is `sent`, or `failed` when it is one of the permanent
                  failures the soak makes on purpose (and each of those is `failed`); every
                  `sent` row was received at least once.
  duplicates      a logical message (channel, recipient, round) received more than once carried
                  the journal's id every time and its row is marked in doubt.
  drain           the backlog was 0 within DRAIN_SECONDS of the faults stopping.
  RSS flat        the median RSS of crier in the last 5-minute window of the soak is at most
                  25% above the first window's (with one window, nothing to compare).
"""

import csv
import json
import os
import re
import sqlite3
import statistics
import sys
from collections import Counter, defaultdict

WINDOW = 300
RSS_GROWTH = 1.25


def main():
    work = sys.argv[1]
    run = json.load(open(os.path.join(work, "run.json")))
    faults = json.load(open(os.path.join(work, "faults.json")))
    problems = []

    # --- the audience: which rows fail for good on purpose ---------------------------------
    email_of, expected_fail = {}, set()  # (channel, recipient)
    with open(os.path.join(work, "project", "audience.csv")) as f:
        for row in csv.DictReader(f):
            email_of[row["email"]] = row["id"]
            if row["email"].startswith("bounce-"):
                expected_fail.add(("email", row["id"]))
            if "/perm/" in row["webhook_url"] or "//127.0.0.99:" in row["webhook_url"]:
                expected_fail.add(("hooks", row["id"]))

    # --- the journal ---------------------------------------------------------------------
    db = sqlite3.connect(f"file:{os.path.join(work, 'project', 'crier.db')}?mode=ro", uri=True)
    rows = {}  # (channel, recipient, round) -> dict
    round_re = re.compile(r"Soak round (\d+)")
    updates = db.execute("SELECT id, seq, slots, planned, planned_rows FROM updates ORDER BY seq").fetchall()
    round_of = {}
    for uid, seq, slots, planned, planned_rows in updates:
        m = round_re.search(json.loads(slots).get("progress", ""))
        round_of[uid] = int(m.group(1)) if m else None
        if not planned:
            problems.append(f"update #{seq} was never planned to the end")
    seen_rounds = [r for r in round_of.values() if r is not None]
    if len(seen_rounds) != len(set(seen_rounds)):
        problems.append(f"a round became more than one update: {sorted(Counter(seen_rounds).items())}")
    states = Counter()
    for uid, channel, rcpt, key, state, in_doubt, attempts in db.execute(
        "SELECT update_id, channel, recipient_id, key, state, in_doubt, attempts FROM deliveries"
    ):
        rows[(channel, rcpt, round_of[uid])] = dict(key=key, state=state, in_doubt=bool(in_doubt), attempts=attempts)
        states[(channel, state)] += 1
    bad_rows = db.execute("SELECT COUNT(*) FROM bad_rows").fetchone()[0]
    if bad_rows:
        problems.append(f"{bad_rows} audience rows were set aside")

    # --- what the receivers accepted -------------------------------------------------------
    got = defaultdict(list)  # (channel, recipient, round) -> [id, …]
    phantom = []
    receipts = Counter()
    with open(os.path.join(work, "received.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            receipts[r["ch"]] += 1
            if r["ch"] == "email":
                k = ("email", email_of.get(r["rcpt"], r["rcpt"]), r["round"])
                ident = r["id"].strip("<>").split("@")[0]
            elif r["ch"] == "hook":
                k = ("hooks", r["rcpt"], r["round"])
                ident = r["id"][4:] if r["id"].startswith("msg_") else r["id"]
            elif r["ch"] == "chat":
                k = ("slack", "*", r["round"])
                ident = None  # a chat message has no id: it is the blast's content
            else:
                phantom.append(r)
                continue
            got[k].append(ident)

    # --- lost ------------------------------------------------------------------------------
    lost, perm_failed, wrong_fail = [], 0, []
    for k, row in rows.items():
        channel, rcpt, _ = k
        if (channel, rcpt) in expected_fail:
            if row["state"] == "failed":
                perm_failed += 1
            else:
                wrong_fail.append((k, row["state"]))
        elif row["state"] != "sent":
            lost.append((k, row["state"]))
        elif k not in got:
            lost.append((k, "sent but never received"))
    for k in got:
        if k not in rows:
            phantom.append(k)
    if lost:
        problems.append(f"lost {len(lost)} messages, first {lost[:5]}")
    if wrong_fail:
        problems.append(f"{len(wrong_fail)} rows meant to fail for good did not, first {wrong_fail[:5]}")
    if phantom:
        problems.append(f"{len(phantom)} messages received that the journal does not have, first {phantom[:5]}")

    # --- duplicates ------------------------------------------------------------------------
    dup_logical, dup_extra, dup_in_doubt, dup_bad, wrong_id = 0, 0, 0, [], []
    for k, ids in got.items():
        row = rows.get(k)
        if row is None:
            continue
        if any(i is not None and i != row["key"] for i in ids):
            wrong_id.append((k, row["key"], ids))
        if len(ids) > 1:
            dup_logical += 1
            dup_extra += len(ids) - 1
            if row["in_doubt"]:
                dup_in_doubt += 1
            else:
                dup_bad.append(k)
    if wrong_id:
        problems.append(f"{len(wrong_id)} messages carried an id other than the journal's, first {wrong_id[:3]}")
    if dup_bad:
        problems.append(f"{len(dup_bad)} messages received twice were never in doubt, first {dup_bad[:5]}")
    in_doubt_rows = sum(1 for r in rows.values() if r["in_doubt"])
    # `crier status SOAK-1 --json` (the latest update) counts the same rows in doubt.
    status = json.load(open(os.path.join(work, "status.json")))
    last_round = max(seen_rounds) if seen_rounds else None
    for channel, c in status["channels"].items():
        journal = sum(1 for (ch, _, rnd), r in rows.items() if ch == channel and rnd == last_round and r["in_doubt"])
        if c["in_doubt"] != journal:
            problems.append(f"status --json says {c['in_doubt']} in doubt on {channel}, the journal {journal}")

    # --- drain -----------------------------------------------------------------------------
    if run["backlog_after_drain"] != 0:
        problems.append(f"backlog {run['backlog_after_drain']} after {run['drain_limit']} s of drain")
    elif run["drain_seconds"] is None or run["drain_seconds"] > run["drain_limit"]:
        problems.append(f"the backlog took {run['drain_seconds']} s to drain (limit {run['drain_limit']})")

    # --- RSS -------------------------------------------------------------------------------
    samples = []
    with open(os.path.join(work, "rss.txt")) as f:
        for line in f:
            t, _pid, kb = line.split()
            rel = float(t) - run["start"]
            if 0 <= rel < run["soak_seconds"]:
                samples.append((rel, int(kb)))
    windows = defaultdict(list)
    for rel, kb in samples:
        windows[int(rel // WINDOW)].append(kb)
    keys = sorted(windows)
    # A last window shorter than a minute of samples joins the one before.
    if len(keys) > 1 and len(windows[keys[-1]]) < 30:
        windows[keys[-2]] += windows.pop(keys[-1])
        keys = keys[:-1]
    table = []
    for w in keys:
        v = windows[w]
        table.append((w * WINDOW, min(w * WINDOW + WINDOW, run["soak_seconds"]), len(v), min(v), statistics.median(v), max(v)))
    rss_rule = "one window only: nothing to compare"
    if len(table) >= 2:
        first, last = table[0][4], table[-1][4]
        rss_rule = f"last window median {last / 1024:.1f} MB vs first {first / 1024:.1f} MB: {100 * (last / first - 1):+.1f}% (limit +{100 * (RSS_GROWTH - 1):.0f}%)"
        if last > RSS_GROWTH * first:
            problems.append("RSS grew: " + rss_rule)
    if not samples:
        problems.append("no RSS samples")

    # --- report ----------------------------------------------------------------------------
    sent_rows = sum(1 for r in rows.values() if r["state"] == "sent")
    print()
    print("## Soak results")
    print()
    print(f"- seed {run['seed']}, {run['soak_seconds']} s of faults, {run['recipients']} recipients per blast")
    print(f"- rounds (updates on SOAK-1): {len(updates)}, blast processes started: {run['blast_starts']}, kill -9: {run['kills']}")
    print(f"- journal rows: {len(rows)} (" + ", ".join(f"{c} {s} {n}" for (c, s), n in sorted(states.items())) + ")")
    print(f"- messages received: {sum(receipts.values())} (" + ", ".join(f"{c} {n}" for c, n in sorted(receipts.items())) + ")")
    print(f"- sent rows: {sent_rows}; permanent failures on purpose: {perm_failed} failed as expected "
          f"({len(expected_fail)} recipient×channel pairs × {len(updates)} updates = {len(expected_fail) * len(updates)})")
    print(f"- lost: {len(lost)}")
    print(f"- duplicates: {dup_logical} messages received more than once ({dup_extra} extra copies); "
          f"{dup_in_doubt} of them in doubt in the journal, {len(dup_bad)} not; ids other than the journal's: {len(wrong_id)}")
    print(f"- rows in doubt in the journal: {in_doubt_rows}")
    print(f"- faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(faults["counts"].items())))
    print(f"- drain: backlog 0 after {run['drain_seconds']} s (limit {run['drain_limit']} s)")
    print(f"- RSS of the running crier process, sampled every 2 s ({len(samples)} samples):")
    print()
    print("| window (s) | samples | min (MB) | median (MB) | max (MB) |")
    print("|---|---:|---:|---:|---:|")
    for a, b, n, lo, med, hi in table:
        print(f"| {a}–{b} | {n} | {lo / 1024:.1f} | {med / 1024:.1f} | {hi / 1024:.1f} |")
    print()
    print(f"- RSS rule: {rss_rule}")
    summary = dict(
        rounds=len(updates), kills=run["kills"], blast_starts=run["blast_starts"], rows=len(rows), sent=sent_rows,
        received=dict(receipts), perm_failed=perm_failed, lost=len(lost), duplicates=dup_logical,
        duplicate_copies=dup_extra, duplicates_in_doubt=dup_in_doubt, duplicates_not_in_doubt=len(dup_bad),
        wrong_ids=len(wrong_id), in_doubt_rows=in_doubt_rows, faults=faults["counts"],
        drain_seconds=run["drain_seconds"], rss_windows=table, problems=problems,
    )
    json.dump(summary, open(os.path.join(work, "summary.json"), "w"), indent=1)
    print()
    if problems:
        print("BROKEN PROMISES:")
        for p in problems:
            print(f"- {p}")
        return 1
    print("All promises held.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
