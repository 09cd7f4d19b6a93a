#!/usr/bin/python3
"""Turns bench/run.sh's raw rows (results.csv) into markdown tables and checks the targets.

    analyze.py results.csv [--system system.txt] [--elapsed SECONDS] > summary.md

Definitions (live suites):
  expected    = rule counter x records per packet (the nft rule that logs, or the iptables
                NFQUEUE rule): what the kernel handed to the reader's group or queue
  captured    = records the reader recorded (counted in its file by libpcap, or the null
                reader's own count); for NFQUEUE also at most what passed the queue (the
                prerouting counter after the verdict), so dropped packets count as lost too
  loss %      = (expected - captured) / expected
  records/s   = captured / the sender's wall time (the rate the reader kept up with)
  user, sys   = reader user and system CPU seconds (wait4 rusage, all threads) per million
                records captured (= microseconds per record), apart and summed
  x null, x floor, x tcpdump
              = the tool's CPU per record divided by that reader's in the same repetition and
                rate (the tools of one (repetition, rate) slot ran one after another), then the
                median over the repetitions. null counts records; floor is the same program
                also writing nfcap's bytes per record to the same file system
  bytes/rec   = size of the reader's output file / records captured
  own count   = the loss the reader itself reported (nfcap's summary line; the null and floor
                readers' sequence or id gaps), worst run; "≥ N" when it was a lower bound
Cells show the median over the repetitions, with [min-max] when they differ.
"""
import argparse
import csv
import re
import statistics
import sys
from collections import defaultdict

# The targets of the performance issue (see targets() and bench/README.md).
CPU_X_TCPDUMP = 0.8       # NFLOG: nfcap's CPU per record at most 0.8x tcpdump's, at every point
CPU_X_FLOOR = 1.25        # ... and at most 1.25x the floor reader's
X8_LOSSLESS_RUNS = 10     # NFLOG x8 flat out: the issue asks 10 lossless runs of 10
NFQ_PACED_RATE = 50_000   # NFQUEUE: the paced point of the CPU targets (packets/s)
NFQ_CPU_X_NULL = 1.2      # ... CPU per packet at most 1.2x the null reader's, below tcpdump's
NFQ_RATE_RATIO = 0.95     # NFQUEUE flat out: at least 0.95x the null reader's rate, zero loss
DEFERRED_X_AUTO = 0.8     # library, flat out: deferred verdicts at least 0.8x --auto-accept's rate
REWRITE_X_AUTO = 0.6      # ... and every packet rewritten at least 0.6x, both with zero loss
PY_LOSS_X_ORIGINAL = 0.5  # Python, API defaults, flat out: at most half the original's loss
PY_CPU_RATES = (100_000, 300_000)  # ... CPU per packet at these paced rates at most the original's
PY_ORIGINAL_LOSS = (28, 55)  # the original's loss with its defaults, as the issue measured it
REPLAY_X_EDITCAP = 2.0    # replay: at least 2x editcap's records/s
INSTR_PER_RECORD = 1000   # replay under callgrind: at most 1,000 instructions per record
RSS_LIMIT_MIB = 64        # peak RSS in every nfcap run
RSS_GROWTH_MIB = 2        # long run's peak over the short runs' of the same point: "grew" above
NOT_MEASURED = "not measured in this run"
FULL_RECORDS = {"nflog": 1_000_000, "nflog-x8": 3_200_000, "nfqueue": 1_000_000}
FULL_REPS = 5


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def cell(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    m = fmt(statistics.median(vals))
    lo, hi = fmt(min(vals)), fmt(max(vals))
    return m if lo == hi else f"{m} [{lo}–{hi}]"


def f_loss(v):
    return "0" if v == 0 else f"{v:.3f}"


def f_rate(v):
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"


def f_cpu(v):
    return f"{v:.3f}"


def f_ratio(v):
    return f"{v:.2f}"


def f_mib(v):
    return f"{v:.1f}"


def f_bytes(v):
    return f"{v:.1f}"


def f_own_loss(value, certainty):
    """A reader's own loss count: '≥ N' when the reader said it was a lower bound."""
    if value is None:
        return "n/a"
    return f"≥ {int(value):,}" if certainty == "at_least" else f"{int(value):,}"


def rate_label(r, per_packet=1):
    r = int(r)
    if r == 0:
        return "flat out"
    text = f"{r // 1000}k pps"
    if per_packet > 1:
        text += f" ({r * per_packet // 1000}k rec/s)"
    return text


class Run:
    """One live measurement with its derived figures."""

    def __init__(self, r):
        self.r = r
        self.suite, self.tool, self.rep = r["suite"], r["tool"], r["rep"]
        self.rate = int(r["rate"])
        k = int(r["records_per_packet"] or 1)
        matched = num(r["matched"]) or 0
        self.expected = matched * k
        rec = num(r["records"])
        self.records = rec
        captured = rec
        passed = num(r["passed"])
        if self.suite == "nfqueue" and captured is not None and passed is not None:
            captured = min(captured, passed)
        self.loss = (100.0 * (self.expected - captured) / self.expected
                     if self.expected and captured is not None else None)
        wall = num(r["send_wall_s"])
        self.rec_per_s = rec / wall if rec is not None and wall else None
        self.offered = self.expected / wall if wall else None
        cpu = (num(r["utime_s"]) or 0) + (num(r["stime_s"]) or 0)
        self.cpu_per_m = cpu / rec * 1e6 if rec else None
        self.user_per_m = (num(r["utime_s"]) or 0) / rec * 1e6 if rec else None
        self.sys_per_m = (num(r["stime_s"]) or 0) / rec * 1e6 if rec else None
        rss = num(r["maxrss_kb"])
        self.rss_mib = rss / 1024 if rss is not None else None
        fb = num(r.get("file_bytes"))
        self.bytes_per_rec = fb / rec if fb is not None and rec else None
        self.own_lost = num(r["reader_lost"])
        self.own_certainty = r.get("lost_certainty") or "NA"
        self.cpus = r.get("cpus") or "NA"
        self.threads = int(num(r.get("threads")) or 0)
        sent = num(r["sent"])
        self.sent_records = sent * k if sent is not None else None
        self.note = r["note"]


def sustained(by, tool, rates, per_packet):
    best = None
    for rate in rates:
        xs = by[(tool, rate)]
        if not xs or any(x.loss is None or x.loss > 0 for x in xs):
            break
        if rate == 0:
            offered = median([x.offered for x in xs])
            best = f"≥ {f_rate(offered)} rec/s" if offered else best
        else:
            best = f"{f_rate(rate * per_packet)} rec/s"
    return best or f"< {f_rate(rates[0] * per_packet)} rec/s" if rates[0] else best or "loses flat out"


def slot_ratios(rs, tool, rate, ref, attr):
    """Per repetition, tool's figure / ref's figure at the same rate: same-slot ratios."""
    slot = {(x.tool, x.rate, x.rep): x for x in rs}
    vals = []
    for rep in sorted({x.rep for x in rs}):
        a, b = slot.get((tool, rate, rep)), slot.get((ref, rate, rep))
        if a and b and getattr(a, attr) and getattr(b, attr):
            vals.append(getattr(a, attr) / getattr(b, attr))
    return vals


def counts_line(rs, suite, mode=None):
    """What each point ran: the mode, records per run and repetitions, and whether that is the
    full mode's."""
    sent = [x.sent_records for x in rs if x.sent_records is not None]
    reps = len({x.rep for x in rs})
    lo, hi = (int(min(sent)), int(max(sent))) if sent else (0, 0)
    span = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
    want = FULL_RECORDS.get(suite, 1_000_000)
    in_mode = f" (mode {mode})" if mode else ""
    text = f"Each point{in_mode}: {span} records sent per run, {reps} repetitions."
    if lo < want or reps < FULL_REPS:
        text = (f"**Reduced counts{in_mode}, not a full run: {span} records per run, {reps} "
                f"repetitions** "
                f"(full mode: ≥ {want:,} records per run, ≥ {FULL_REPS} repetitions).")
    return text


def own_loss_cell(xs):
    """The worst run's own loss count, '≥ N' when that run's count was a lower bound."""
    known = [x for x in xs if x.own_lost is not None]
    if not known:
        return "n/a"
    worst = max(known, key=lambda x: (x.own_lost, x.own_certainty == "at_least"))
    return f_own_loss(worst.own_lost, worst.own_certainty)


def live_table(runs, suite, out, mode=None):
    rs = [x for x in runs if x.suite == suite]
    if not rs:
        return
    per_packet = int(rs[0].r["records_per_packet"] or 1)
    nfq = suite == "nfqueue"
    tools, rates = [], []
    for x in rs:
        if x.tool not in tools:
            tools.append(x.tool)
        if x.rate not in rates:
            rates.append(x.rate)
    rates.sort(key=lambda v: (v == 0, v))
    by = defaultdict(list)
    for x in rs:
        by[(x.tool, x.rate)].append(x)
    refs = [t for t in ("null", "floor", "tcpdump") if t in tools]

    out.append(counts_line(rs, suite, mode))
    out.append("")
    unit = "packets" if nfq else "records"
    head = (f"| offered | tool | loss % median | loss % worst | own count | {unit}/s | "
            f"user s/M | sys s/M | CPU s/M | " + " | ".join(f"CPU × {t}" for t in refs) + " |")
    sep = "|---|---|---|---|---|---|---|---|---|" + "---|" * len(refs)
    if nfq and "null" in refs:
        head += " rate × null |"
        sep += "---|"
    head += " bytes/rec | peak RSS MiB |"
    sep += "---|---|"
    out += [head, sep]
    for rate in rates:
        for t in tools:
            xs = by[(t, rate)]
            if not xs:
                continue
            losses = [x.loss for x in xs if x.loss is not None]
            line = (f"| {rate_label(rate, per_packet)} | {t} | {cell(losses, f_loss)} | "
                    f"{f_loss(max(losses)) if losses else 'n/a'} | {own_loss_cell(xs)} | "
                    f"{cell([x.rec_per_s for x in xs], f_rate)} | "
                    f"{cell([x.user_per_m for x in xs], f_cpu)} | "
                    f"{cell([x.sys_per_m for x in xs], f_cpu)} | "
                    f"{cell([x.cpu_per_m for x in xs], f_cpu)} |")
            for ref in refs:
                line += (" — |" if ref == t else
                         f" {cell(slot_ratios(rs, t, rate, ref, 'cpu_per_m'), f_ratio)} |")
            if nfq and "null" in refs:
                line += (" — |" if t == "null" else
                         f" {cell(slot_ratios(rs, t, rate, 'null', 'rec_per_s'), f_ratio)} |")
            rss = [x.rss_mib for x in xs if x.rss_mib is not None]
            line += (f" {cell([x.bytes_per_rec for x in xs if x.bytes_per_rec is not None], f_bytes)} |"
                     f" {f_mib(max(rss)) if rss else 'n/a'} |")
            out.append(line)
    # Sustained: the highest offered rate at which every repetition lost nothing, and so did
    # every lower rate; "≥" when that held flat out (the sender, not the reader, was the limit).
    out.append("")
    out.append(f"Sustained (highest offered rate with no loss in any repetition, nor at any lower rate; "
               f"≥: held flat out, where the sender was the limit): " + "; ".join(
                   f"{t} {sustained(by, t, rates, per_packet)}" for t in tools) + ".")
    out.append("")
    out.append(pinning_line(rs))
    notes = sorted({f"{x.tool} {rate_label(x.rate)} rep {x.rep}: {x.note}" for x in rs if x.note})
    if notes:
        out.append("")
        out.append("Notes: " + "; ".join(notes) + ".")


def pinning_line(rs):
    """Whether every thread of every reader ran on one CPU, as read from /proc after the traffic."""
    checked = [x for x in rs if x.cpus != "NA"]
    if not checked:
        return "Pinning: not checked (no cpus column in these rows)."
    threads = defaultdict(int)
    for x in checked:
        threads[x.tool] = max(threads[x.tool], x.threads)
    per_tool = ", ".join(f"{t} {n}" for t, n in threads.items())
    # Pinned: one CPU (a plain number in Cpus_allowed_list), the same in every run.
    single = [x.cpus for x in checked if x.cpus.isdigit()]
    cpu = max(set(single), key=single.count) if single else None
    bad = sorted({f"{x.tool} {rate_label(x.rate)} rep {x.rep}: {x.cpus}" for x in checked
                  if x.cpus != cpu})
    if not bad:
        return (f"Pinning: in all {len(checked)} runs every thread of the reader (and of any process "
                f"it started) was allowed CPU {cpu} only (most threads seen: {per_tool}).")
    return "**Pinning failed** (CPUs allowed): " + "; ".join(bad) + "."


def nfcap_ratio_table(runs, out):
    """nfcap's CPU per record against the null, floor and tcpdump readers of the same slots."""
    rows = []
    for suite in ("nflog", "nflog-x8", "nfqueue"):
        rs = [x for x in runs if x.suite == suite]
        if not any(x.tool == "nfcap" for x in rs) or not any(
                x.tool in ("null", "floor", "tcpdump") for x in rs):
            continue
        per_packet = int(rs[0].r["records_per_packet"] or 1)
        for rate in sorted({x.rate for x in rs}, key=lambda v: (v == 0, v)):
            cells = [cell(slot_ratios(rs, "nfcap", rate, ref, "cpu_per_m"), f_ratio)
                     for ref in ("null", "floor", "tcpdump")]
            rows.append(f"| {suite} | {rate_label(rate, per_packet)} | " + " | ".join(cells) + " |")
    if not rows:
        return
    out += ["## nfcap's CPU per record, as a ratio to the other readers of the same slots", "",
            "× floor is nfcap's own cost beyond getting the records and writing as many bytes; "
            "× null includes the cost of the bytes. Median [min–max] of the per-repetition ratios.",
            "", "| suite | offered | × null | × floor | × tcpdump |", "|---|---|---|---|---|"]
    out += rows + [""]


def calibration_lines(runs, out):
    cal = [x for x in runs if x.suite.startswith("calib-")]
    if not cal:
        return
    parts = []
    for x in cal:
        fb = num(x.r.get("file_bytes"))
        parts.append(f"{x.suite[len('calib-'):]}: {x.bytes_per_rec:.3f} bytes per record "
                     f"({int(fb):,} bytes, {int(x.records):,} records)"
                     if x.bytes_per_rec and fb is not None and x.records else f"{x.suite}: failed")
    out += ["Floor reader's bytes per record: until nfcap's first run of a suite, what nfcap wrote "
            "in a flat-out calibration run before it (file size / records, the file's fixed blocks "
            "included): " + "; ".join(parts) + "; then what nfcap's latest run of the suite wrote "
            "(nfcap's records grow a little over the benchmark: they carry the kernel's global "
            "NFLOG sequence number). The bytes/rec columns show both, run by run.", ""]


def replay_figures(rows):
    """Per repetition and tool of the replay suite: records/s, CPU per M records, RSS, records."""
    replay = defaultdict(dict)
    for r in rows:
        if r["suite"] != "replay":
            continue
        wall = num(r["wall_s"])
        n = num(r["records"])
        cpu = (num(r["utime_s"]) or 0) + (num(r["stime_s"]) or 0)
        replay[r["rep"]][r["tool"]] = {
            "rps": n / wall if n and wall else None,
            "cpu": cpu / n * 1e6 if n else None,
            "rss": (num(r["maxrss_kb"]) or 0) / 1024,
            "n": n,
            "in": num(r["matched"]),
        }
    return replay


def verdict_cell(ok):
    """True: met; False: missed; None: no data; a string says what held (e.g. too few runs)."""
    if ok is None:
        return NOT_MEASURED
    if isinstance(ok, str):
        return ok
    return "met" if ok else "**missed**"


def rates_of(rs):
    return sorted({x.rate for x in rs}, key=lambda v: (v == 0, v))


def nflog_cpu_target(runs, suite, ref, limit):
    """nfcap's CPU per record / ref's, median of the same-slot ratios per point, the worst point."""
    rs = [x for x in runs if x.suite == suite]
    per_packet = int(rs[0].r["records_per_packet"] or 1) if rs else 1
    points = []
    for rate in rates_of(rs):
        vals = slot_ratios(rs, "nfcap", rate, ref, "cpu_per_m")
        if vals:
            points.append((rate, median(vals), vals))
    if not points:
        return None, NOT_MEASURED
    rate, worst, vals = max(points, key=lambda p: p[1])
    figure = f"worst point: {rate_label(rate, per_packet)} {cell(vals, f_ratio)}"
    if len(points) > 1:
        figure += "; every point: " + ", ".join(f"{rate_label(r)} {m:.2f}" for r, m, _ in points)
    missing = [what for what, present in
               (("flat out", any(r == 0 for r, _, _ in points)),
                ("paced rates", any(r > 0 for r, _, _ in points))) if not present]
    if missing:
        figure += f"; {' and '.join(missing)}: {NOT_MEASURED}"
    if worst > limit:
        return False, figure
    if missing:  # met where measured: say where
        return f"met ({'flat out' if 'paced rates' in missing else 'paced rates'} only)", figure
    return True, figure


def lossless(xs):
    return [x for x in xs if x.loss is not None and x.loss <= 0]


def null_ceiling(runs, suite):
    """The paced rates (packets/s) of SUITE up to the null reader's ceiling, and that ceiling
    as text: the null reader's median flat-out records/s, and no paced rate above the first one
    where the null reader itself lost anything."""
    rs = [x for x in runs if x.suite == suite]
    per_packet = int(rs[0].r["records_per_packet"] or 1) if rs else 1
    null_top = [x.offered for x in rs if x.tool == "null" and x.rate == 0 and x.offered]
    ceiling = median(null_top)
    rates = []
    for rate in [r for r in rates_of(rs) if r > 0]:
        nulls = [x for x in rs if x.tool == "null" and x.rate == rate]
        if ceiling is not None and rate * per_packet > ceiling:
            break
        if nulls and len(lossless(nulls)) < len(nulls):
            break
        rates.append(rate)
    text = (f"null's flat-out rate {f_rate(ceiling)} records/s" if ceiling is not None
            else "null's flat-out rate not measured: every paced rate")
    return rates, text


def python_targets(nfq, target):
    """The Python issue's targets: NetfilterQueue's accept-all script on nfcap's module
    ("python", "python-tuned") against the same script on the original NetfilterQueue
    ("original", "original-tuned"), measured in the same run when it was given."""
    if not any(x.tool.startswith("python") for x in nfq):
        return
    have_original = any(x.tool == "original" for x in nfq)

    top = [x for x in nfq if x.tool == "python-tuned" and x.rate == 0]
    name = "Python, NetfilterQueue's script on nfcap, tuned (max_len 65536, 64 MiB), flat out: zero loss"
    if not top:
        target(name, None, NOT_MEASURED)
    else:
        k, n = len(lossless(top)), len(top)
        rate = slot_ratios(nfq, "python-tuned", 0, "nfcap", "rec_per_s")
        target(name, k == n, f"{k} of {n} runs lossless; rate × nfcap --auto-accept "
               f"{cell(rate, f_ratio)}")

    ours = [x.loss for x in nfq if x.tool == "python" and x.rate == 0 and x.loss is not None]
    theirs = [x.loss for x in nfq if x.tool == "original" and x.rate == 0 and x.loss is not None]
    name = (f"Python, the same script with the API's defaults, flat out: loss ≤ "
            f"{PY_LOSS_X_ORIGINAL:g}× the original's (medians)")
    if not ours:
        target(name, None, NOT_MEASURED)
    elif theirs:
        target(name, median(ours) <= PY_LOSS_X_ORIGINAL * median(theirs),
               f"nfcap {f_loss(median(ours))} % [worst {f_loss(max(ours))}], the original "
               f"{f_loss(median(theirs))} % [worst {f_loss(max(theirs))}], same run")
    else:
        lo, hi = PY_ORIGINAL_LOSS
        target(name, median(ours) <= PY_LOSS_X_ORIGINAL * lo,
               f"nfcap {f_loss(median(ours))} % [worst {f_loss(max(ours))}]; the original not in "
               f"this run (the issue measured {lo}–{hi} %)")

    name = ("Python, the same script with the API's defaults: CPU per packet at "
            + " and ".join(rate_label(r) for r in PY_CPU_RATES) + " ≤ the original's "
            "(median of the same-slot ratios per point, worst point)")
    if not have_original:
        target(name, None, NOT_MEASURED + " (no original: NFQ_ORIGINAL)")
    else:
        parts, worst = [], None
        for rate in PY_CPU_RATES:
            vals = slot_ratios(nfq, "python", rate, "original", "cpu_per_m")
            if vals:
                parts.append(f"{rate_label(rate)}: × original {cell(vals, f_ratio)}")
                worst = median(vals) if worst is None else max(worst, median(vals))
        target(name, None if worst is None else worst <= 1.0,
               "; ".join(parts) if parts else NOT_MEASURED)

    # Not a target: what the callback costs, per packet, over the module's batch form.
    parts = []
    for rate in rates_of([x for x in nfq if x.tool == "python-batch"]):
        slot = {(x.tool, x.rep): x.user_per_m for x in nfq if x.rate == rate}
        per = [slot[("python", rep)] - slot[("python-batch", rep)]
               for rep in sorted({x.rep for x in nfq})
               if slot.get(("python", rep)) is not None and slot.get(("python-batch", rep)) is not None]
        if per:
            parts.append(f"{rate_label(rate)}: {median(per) * 1000:,.0f} ns")
    if parts:
        target("Python: the binding's callback, per packet (user time of \"python\" − \"python-batch\", "
               "same repetition; a figure, not a target)", "figure", "; ".join(parts))


def targets(runs, rows, replay, cg):
    """The performance issue's targets, one table row each; a target whose data this run does not
    have says so."""
    out = []

    def target(name, ok, figure):
        out.append(f"| {name} | {figure} | {verdict_cell(ok)} |")

    # NFLOG CPU per record, at 1 and at 8 records per packet, every point.
    for suite, what in (("nflog", "1 record per packet"), ("nflog-x8", "8 records per packet")):
        for ref, limit, whose in (("tcpdump", CPU_X_TCPDUMP, "tcpdump's"),
                                  ("floor", CPU_X_FLOOR, "the floor reader's")):
            ok, figure = nflog_cpu_target(runs, suite, ref, limit)
            target(f"NFLOG, {what}, flat out and paced: nfcap's CPU per record ≤ {limit:g}× {whose} "
                   "(median of the same-slot ratios per point, worst point)", ok, figure)

    # NFLOG x8 flat out: every run lossless (the calibration run is one of them).
    top = [x for x in runs if x.suite in ("nflog-x8", "calib-nflog-x8") and x.tool == "nfcap"
           and x.rate == 0]
    name = (f"NFLOG, 8 records per packet, flat out, default settings: zero loss in every run "
            f"({X8_LOSSLESS_RUNS} of {X8_LOSSLESS_RUNS})")
    if not top:
        target(name, None, NOT_MEASURED)
    else:
        k, n = len(lossless(top)), len(top)
        losses = [x.loss for x in top if x.loss is not None]
        figure = f"{k} of {n} runs lossless"
        cal = [x for x in top if x.suite.startswith("calib-")]
        if cal:  # nfcap's calibration run before the suite is such a run too
            rest = [x for x in top if x not in cal]
            figure += (f" (the suite's {len(lossless(rest))} of {len(rest)}, the calibration "
                       f"run{'s' if len(cal) > 1 else ''} {len(lossless(cal))} of {len(cal)})")
        figure += (f"; loss worst {f_loss(max(losses)) if losses else 'n/a'} %; nfcap's own count, "
                   f"worst run: {own_loss_cell(top)}")
        ok = False if k < n else True if n >= X8_LOSSLESS_RUNS else (
            f"not decided: {n} runs, fewer than {X8_LOSSLESS_RUNS}")
        target(name, ok, figure)

    # NFLOG paced: zero loss at every rate up to the null reader's ceiling.
    parts, all_ok, checked = [], True, []
    for suite in ("nflog", "nflog-x8"):
        rates, ceiling = null_ceiling(runs, suite)
        xs = [x for x in runs if x.suite == suite and x.tool == "nfcap" and x.rate in rates]
        if not xs:
            parts.append(f"{suite}: {NOT_MEASURED}")
            continue
        checked.append(suite)
        k, n = len(lossless(xs)), len(xs)
        all_ok = all_ok and k == n
        per_packet = int(xs[0].r["records_per_packet"] or 1)
        text = (f"{suite}: {', '.join(rate_label(r, per_packet) for r in rates)} "
                f"(up to the {ceiling}): "
                f"{k} of {n} runs lossless")
        if k < n:
            bad = max((x for x in xs if x.loss is not None), key=lambda x: x.loss)
            text += f", worst {f_loss(bad.loss)} % at {rate_label(bad.rate)}"
        parts.append(text)
    ok = None if not checked else False if not all_ok else True if len(checked) == 2 else (
        f"met ({checked[0]} only)")
    target("NFLOG, 1 and 8 records per packet, default settings: zero loss at every paced rate up "
           "to the null reader's ceiling", ok, "; ".join(parts) if checked else NOT_MEASURED)

    # NFQUEUE at 50k packets/s: CPU per packet against the null reader and tcpdump.
    nfq = [x for x in runs if x.suite == "nfqueue"]
    paced = rate_label(NFQ_PACED_RATE)
    for ref, limit, name in (
            ("null", NFQ_CPU_X_NULL, f"≤ {NFQ_CPU_X_NULL:g}× the null reader's"),
            ("tcpdump", 1.0, "below tcpdump's")):
        vals = slot_ratios(nfq, "nfcap", NFQ_PACED_RATE, ref, "cpu_per_m")
        m = median(vals)
        ok = None if m is None else (m <= limit if ref == "null" else m < limit)
        target(f"NFQUEUE --auto-accept at {paced}: CPU per packet {name}", ok,
               f"× {ref}: {cell(vals, f_ratio)}" if vals else NOT_MEASURED)

    # NFQUEUE flat out: rate against the null reader's, zero loss.
    vals = slot_ratios(nfq, "nfcap", 0, "null", "rec_per_s")
    top = [x for x in nfq if x.tool == "nfcap" and x.rate == 0]
    name = f"NFQUEUE --auto-accept, flat out: ≥ {NFQ_RATE_RATIO:g}× the null reader's rate, zero loss"
    if not vals or not top:
        target(name, None, NOT_MEASURED)
    else:
        k, n = len(lossless(top)), len(top)
        losses = [x.loss for x in top if x.loss is not None]
        target(name, median(vals) >= NFQ_RATE_RATIO and k == n,
               f"rate × null {cell(vals, f_ratio)}; {k} of {n} runs lossless (worst "
               f"{f_loss(max(losses)) if losses else 'n/a'} %)")

    # The library's deferred verdicts and rewrites, flat out, against nfcap --auto-accept.
    for tool, limit, what in (
            ("deferred", DEFERRED_X_AUTO, "every packet held and decided by a worker thread in "
             "batches of 64"),
            ("rewrite", REWRITE_X_AUTO, "every packet held, rewritten and decided by a worker")):
        vals = slot_ratios(nfq, tool, 0, "nfcap", "rec_per_s")
        top = [x for x in nfq if x.tool == tool and x.rate == 0]
        name = (f"NFQUEUE library, {what}, flat out: ≥ {limit:g}× nfcap --auto-accept's rate, "
                "zero loss")
        if not vals or not top:
            target(name, None, NOT_MEASURED)
            continue
        k, n = len(lossless(top)), len(top)
        losses = [x.loss for x in top if x.loss is not None]
        target(name, median(vals) >= limit and k == n,
               f"rate × nfcap {cell(vals, f_ratio)}; {k} of {n} runs lossless (worst "
               f"{f_loss(max(losses)) if losses else 'n/a'} %)")

    python_targets(nfq, target)

    # Replay: speed against editcap, instructions per record.
    speed = [d["nfcap"]["rps"] / d["editcap"]["rps"] for d in replay.values()
             if "nfcap" in d and "editcap" in d and d["nfcap"]["rps"] and d["editcap"]["rps"]]
    target(f"Replay: nfcap -r ≥ {REPLAY_X_EDITCAP:g}× editcap -F pcapng's records/s",
           median(speed) >= REPLAY_X_EDITCAP if speed else None,
           f"nfcap's records/s ÷ editcap's: {cell(speed, f_ratio)}" if speed else NOT_MEASURED)
    ir, n = (num(cg["nfcap"]["instructions"]), num(cg["nfcap"]["records"])) if "nfcap" in cg else (None, None)
    if ir and n:
        figure = f"{ir / n:,.0f} instructions per record over {int(n):,} records (whole run)"
        small = cg.get("nfcap-1k")
        if small and num(small["instructions"]) and num(small["records"]) and n > num(small["records"]):
            figure += (f"; marginal {(ir - num(small['instructions'])) / (n - num(small['records'])):,.0f}")
        target(f"Replay under callgrind: ≤ {INSTR_PER_RECORD:,} instructions per record",
               ir / n <= INSTR_PER_RECORD, figure)
    else:
        target(f"Replay under callgrind: ≤ {INSTR_PER_RECORD:,} instructions per record", None,
               NOT_MEASURED)

    # Peak RSS: below the limit everywhere, and flat over the long runs.
    rss_all = [(num(r["maxrss_kb"]) / 1024, r["suite"]) for r in rows
               if r["tool"] == "nfcap" and num(r["maxrss_kb"]) is not None]
    if rss_all:
        peak, where = max(rss_all)
        target(f"Peak RSS < {RSS_LIMIT_MIB} MiB in every nfcap run", peak < RSS_LIMIT_MIB,
               f"highest: {peak:.1f} MiB ({where}), over {len(rss_all)} nfcap runs")
    else:
        target(f"Peak RSS < {RSS_LIMIT_MIB} MiB in every nfcap run", None, NOT_MEASURED)
    parts, grew, any_data = [], False, False
    for long_suite, label, short in (
            ("rss-live", "long live capture",
             lambda r: r["suite"] == "nflog" and r["rate"] == "0"),
            ("rss-replay", "replay from a pipe", lambda r: r["suite"] == "replay")):
        longs = [r for r in rows if r["suite"] == long_suite and r["tool"] == "nfcap"
                 and num(r["maxrss_kb"]) is not None]
        shorts = [r for r in rows if short(r) and r["tool"] == "nfcap" and num(r["maxrss_kb"]) is not None]
        if not longs or not shorts:
            continue
        any_data = True
        lp = max(num(r["maxrss_kb"]) for r in longs) / 1024
        sp = max(num(r["maxrss_kb"]) for r in shorts) / 1024
        ln = max((num(r["records"]) or 0) for r in longs)
        sn = max((num(r["records"]) or 0) for r in shorts)
        up = lp - sp > RSS_GROWTH_MIB
        # The long capture's own samples: its second half's peak against its first half's. With
        # them, they decide (a peak against other runs' says how far a writer fell behind once,
        # not whether memory rises with the run's length); without them, the peaks do.
        halves = [tuple(int(v) for v in m.group(1, 2)) for r in longs
                  for m in [re.search(r"rss-halves-KB=(\d+)/(\d+)", r.get("note") or "")] if m]
        within = ""
        if halves:
            first, second = (max(h[0] for h in halves) / 1024, max(h[1] for h in halves) / 1024)
            within_up = second - first > RSS_GROWTH_MIB
            grew = grew or within_up
            within = (f" (sampled every 0.2 s: peak {first:.1f} MiB in the run's first half, "
                      f"{second:.1f} in its second: "
                      + (f"grew by {second - first:.1f} MiB" if within_up else "did not grow") + ")")
        else:
            grew = grew or up
        parts.append(f"{label}, {int(ln):,} records: peak {lp:.1f} MiB against {sp:.1f} MiB over "
                     f"{int(sn):,} records at the same point: "
                     + (f"grew by {lp - sp:.1f} MiB" if up else "did not grow") + within)
    target(f"Peak RSS stays flat over the long run (grew: its second half's peak more than "
           f"{RSS_GROWTH_MIB} MiB above its first half's; without samples, above the shorter runs "
           "of the same point)", (not grew) if any_data else None,
           "; ".join(parts) if any_data else NOT_MEASURED)

    pinned = [x for x in runs if x.cpus != "NA"]
    if pinned:
        single = [x.cpus for x in pinned if x.cpus.isdigit()]
        cpu = max(set(single), key=single.count) if single else None
        off = [x for x in pinned if x.cpus != cpu]
        target("Every reader, all its threads included, on one CPU", not off,
               f"{len(pinned) - len(off)} of {len(pinned)} runs on CPU {cpu} only"
               + ("; not: " + ", ".join(f"{x.suite} {x.tool} {rate_label(x.rate)} rep {x.rep} "
                                       f"({x.cpus})" for x in off) if off else ""))
    else:
        target("Every reader, all its threads included, on one CPU", None, NOT_MEASURED)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--system")
    ap.add_argument("--elapsed")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.csv, newline="")))
    live_suites = ("nflog", "nflog-x8", "nfqueue", "rss-live",
                   "calib-nflog", "calib-nflog-x8", "calib-nfqueue")
    runs = [Run(r) for r in rows if r["suite"] in live_suites]
    out = ["# nfcap performance", ""]
    mode = None
    if a.system:
        sysinfo = dict(line.rstrip("\n").split(": ", 1) for line in open(a.system) if ": " in line)
        out.append(f"`{sysinfo.get('command', 'bench/run.sh')}` on {sysinfo.get('date', '?')}: "
                   f"{sysinfo.get('cpu', '?')}, kernel {sysinfo.get('kernel', '?')}, "
                   f"{sysinfo.get('nfcap', 'nfcap')}"
                   + (f", {a.elapsed} s in all" if a.elapsed else "") + ".")
        out.append(f"Peers: tcpdump {sysinfo.get('tcpdump', '?')}; dumpcap {sysinfo.get('dumpcap', '?')}; "
                   f"ulogd2 {sysinfo.get('ulogd2', '?')}; {sysinfo.get('editcap', 'editcap')}. "
                   f"Load average before the run: {sysinfo.get('load average before the run', '?')}, "
                   f"after: {sysinfo.get('load average after the run', '?')}.")
        mode = sysinfo.get("mode")
        if mode == "flat":
            out.append("")
            out.append("**Mode flat: only the flat-out points of NFLOG at 1 and at 8 records per "
                       "packet, with the full mode's counts and repetitions and every NFLOG reader; "
                       "no paced rates, NFQUEUE, replay, callgrind or long capture (the targets "
                       f"that need them say \"{NOT_MEASURED}\").**")
        elif mode == "paced":
            out.append("")
            out.append("**Mode paced: every NFLOG point of the full mode (1 and 8 records per "
                       "packet, paced and flat out), with the full mode's counts and repetitions and "
                       "the readers the targets name (null, floor, nfcap, tcpdump); no dumpcap, "
                       "ulogd, NFQUEUE, replay, callgrind or long capture (the targets that need "
                       f"them say \"{NOT_MEASURED}\").**")
        elif mode == "verdicts":
            out.append("")
            out.append("**Mode verdicts: only NFQUEUE at 50k packets/s and flat out, nfcap "
                       "--auto-accept against the library's deferred verdicts (deferred, rewrite), "
                       "the null reader and tcpdump, with the full mode's counts and repetitions; "
                       "no NFLOG, floor reader, replay or callgrind (the targets that need them say "
                       f"\"{NOT_MEASURED}\").**")
        elif mode == "memory":
            out.append("")
            out.append("**Mode memory: the full mode's replay (against editcap), callgrind and long "
                       "live capture, with NFLOG at 1 record per packet flat out (nfcap and the null "
                       "reader, 3 repetitions) as the shorter runs the long capture is held against; "
                       "no paced rates, 8 records per packet or NFQUEUE (the targets that need them "
                       f"say \"{NOT_MEASURED}\").**")
        elif mode == "python":
            out.append("")
            out.append("**Mode python: only NFQUEUE at 100k and 300k packets/s and flat out, nfcap "
                       "--auto-accept against NetfilterQueue's accept-all script (bench/py/nfq_accept.py) "
                       "on nfcap's netfilterqueue module (python, python-tuned), nfcap's own module's "
                       "batch form (python-batch) and, when given, the original NetfilterQueue "
                       "(original, original-tuned), with the full mode's counts and repetitions (the "
                       f"targets that need other readers say \"{NOT_MEASURED}\").**")
        elif mode != "full":
            out.append("")
            out.append(f"**Mode {mode or '?'}: counts and repetitions below the full mode's "
                       f"(≥ 1 M records per live point, 3.2 M with 8 log rules, ≥ {FULL_REPS} "
                       "repetitions); each table says what it ran.**")
        out.append("")

    # ---- targets
    replay = replay_figures(rows)
    cg = {r["tool"]: r for r in rows if r["suite"] == "callgrind"}
    target_rows = targets(runs, rows, replay, cg)

    reduced = any(counts_line([x for x in runs if x.suite == su], su).startswith("**")
                  for su in ("nflog", "nflog-x8", "nfqueue") if any(x.suite == su for x in runs))
    out += ["## Targets", ""]
    if reduced:
        out += ["Reduced counts: the verdicts below say what this run showed, not what nfcap does.", ""]
    out += ["| target | this run | |", "|---|---|---|"] + target_rows + [""]

    # ---- live tables
    calibration_lines(runs, out)
    nfcap_ratio_table(runs, out)
    titles = {
        "nflog": "NFLOG, group 7, 1 record per packet",
        "nflog-x8": "NFLOG, group 7, 8 log rules: 8 records per packet",
        "nfqueue": "NFQUEUE, queue 5 (nfcap --auto-accept; null and floor = batch verdicts; "
                   "deferred and rewrite = samples/deferred_verdicts.cpp, batches of 64; python* and "
                   "original* = bench/py)",
    }
    for suite in ("nflog", "nflog-x8", "nfqueue"):
        if any(x.suite == suite for x in runs):
            out += [f"## {titles[suite]}", ""]
            live_table(runs, suite, out, mode)
            out.append("")

    # ---- replay
    if replay:
        out += ["## Replay of a tcpdump NFLOG recording", ""]
        n_in = next(iter(replay.values()))
        n_in = next(iter(n_in.values()))["in"]
        out.append(f"{int(n_in):,} records in, pinned to one CPU, output to a file on disk "
                   "(pcap_count: libpcap reading the file and nothing else, the floor).")
        out.append("")
        out += ["| tool | records/s | CPU s per M records | × editcap speed | peak RSS MiB |",
                "|---|---|---|---|---|"]
        for tool in ("nfcap", "editcap", "pcap_count"):
            ds = [d[tool] for d in replay.values() if tool in d]
            if not ds:
                continue
            ratio = [d[tool]["rps"] / d["editcap"]["rps"] for d in replay.values()
                     if tool in d and "editcap" in d and d[tool]["rps"] and d["editcap"]["rps"]]
            out.append(f"| {tool} | {cell([d['rps'] for d in ds], f_rate)} | "
                       f"{cell([d['cpu'] for d in ds], f_cpu)} | {cell(ratio, f_ratio)} | "
                       f"{f_mib(max(d['rss'] for d in ds))} |")
        out.append("")

    # ---- callgrind
    if cg:
        out += ["## Instructions per record (callgrind, replay)", "",
                "| command | instructions / record (100,000 records, whole run) | marginal (100k run − 1k run) / 99,000 |",
                "|---|---|---|"]
        for tool, label in (("nfcap", "nfcap -r"), ("editcap", "editcap -F pcapng")):
            if tool not in cg:
                continue
            ir, n = num(cg[tool]["instructions"]), num(cg[tool]["records"])
            small = cg.get(f"{tool}-1k")
            marg = "n/a"
            if small and num(small["instructions"]) and ir:
                marg = f"{(ir - num(small['instructions'])) / (n - num(small['records'])):,.0f}"
            out.append(f"| {label} | {ir / n:,.0f} | {marg} |" if ir and n else f"| {label} | n/a | n/a |")
        out.append("")

    # ---- RSS
    out += ["## nfcap peak RSS", "", "| run | records | peak RSS MiB |", "|---|---|---|"]
    groups = [("live NFLOG runs (all rates)", lambda r: r["suite"] in ("nflog", "nflog-x8")),
              ("live NFQUEUE runs (all rates)", lambda r: r["suite"] == "nfqueue"),
              ("long live NFLOG capture, flat out, to a file", lambda r: r["suite"] == "rss-live"),
              ("replay, to a file", lambda r: r["suite"] == "replay"),
              ("replay from a pipe, to /dev/null", lambda r: r["suite"] == "rss-replay")]
    for label, pred in groups:
        rs = [r for r in rows if r["tool"] == "nfcap" and pred(r) and num(r["maxrss_kb"]) is not None]
        if not rs:
            continue
        top = max(rs, key=lambda r: num(r["maxrss_kb"]))
        n = num(top["records"])
        out.append(f"| {label} | {int(n):,} | {num(top['maxrss_kb']) / 1024:.1f} |"
                   if n is not None else f"| {label} | ? | {num(top['maxrss_kb']) / 1024:.1f} |")
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
