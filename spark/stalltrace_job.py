"""stalltrace on Apache Spark: the findings of `stalltrace analyze` over the
packet events of many capture points (`stalltrace extract`), the packet
work spread over the cluster.

    spark-submit spark/stalltrace_job.py EVENTS --out OUT \
        --stalltrace target/release/stalltrace [--parts N]

What runs where, and why it gives the findings `analyze` gives:

1. Spark reads the events of every point and computes, on (point, number,
   time) alone, what stalltrace's reading side computes on one machine:
   each packet's place `g` in the points' stream merged by time, each
   point's clock (the latest time it has reached) at each packet, and the
   batches of 1,024 items that side hands on. That is the plan: a line per
   batch, built on the driver from per-batch aggregates.
2. The packets are grouped by part, the unordered pair of their hosts (an
   ICMP error by the pair it quotes), hashed: a conversation, its ICMP
   errors and the callbacks between its two hosts fall in one part. Each
   part runs `stalltrace track-part` on its packets (Arrow in, through
   `applyInArrow`): the Rust trackers, moved to each point's clock at each
   batch's end, exactly as the parted threads of `analyze --threads N`.
3. Their reports (per batch: the conversations that ended, the moments
   their hosts' facts depend on) stream to the driver in batch order into
   `stalltrace join-parts`, which does what the joining thread does: the
   hosts' ledgers (a server's DNS lookup or ident callback to a third
   host, in another part), matching across points and NAT, diagnosis.

Why the binary and not a PyO3 module: one artefact for `analyze`, the lab
and the cluster (shipped with `--stalltrace`, no wheel per platform and
Python version); a part is one process for thousands of packets, so the
pipe costs nothing next to the tracking.

Writes OUT/findings.parquet, OUT/findings.jsonl/ (the report's findings,
one JSON object a line, exactly as `analyze --json` words them) and
OUT/report.json/ (the whole report on one line).
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid

# The reading side's hand-over size (crates/stalltrace/src/analyze/merge.rs
# BATCH): the plan's batches must be the ones `analyze` makes.
BATCH = 1024
# monotonically_increasing_id(): the partition id above these bits.
ID_BITS = 33
MANIFEST = "_stalltrace-events.json"
# The programs this session has shipped to the executors.
SHIPPED = set()
REPORT_SCHEMA = "part int, batch long, report binary"
# A part's report frame: its batch, its length (crates/stalltrace/src/analyze/distributed.rs).
FRAME = "<QI"
FRAME_SIZE = struct.calcsize(FRAME)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="stalltrace_job.py",
        description="stalltrace analyze on Spark, over packet events from 'stalltrace extract'.",
    )
    ap.add_argument("events", nargs="+", help="a folder 'stalltrace extract' wrote (a path Spark reads: local, hdfs://, s3a://); several are analysed one after the other, each on its own")
    ap.add_argument("--out", required=True, help="where the findings go (a path Spark writes); with several folders, OUT/NAME for each, NAME the folder's last part")
    ap.add_argument("--stalltrace", default="stalltrace", help="the stalltrace binary, shipped to the executors (default: from PATH)")
    ap.add_argument("--parts", type=int, default=0, help="groups of host pairs tracked apart (default: 4 per core of the cluster)")
    ap.add_argument("--each", action="store_true", help="every occurrence on its own, as analyze --each")
    ap.add_argument("--lang", default="en", help="language of the findings' words: en or zh-CN")
    ap.add_argument("--report", help="also write the whole report (JSON) to this local file (with several folders: this local folder, NAME.json in it)")
    return ap.parse_args(argv)


def read_manifest(spark, events):
    # Through Hadoop's file system (any path Spark reads): Spark's readers
    # skip files named with a leading underscore, as this one is so that
    # they read the folder as a data set.
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(events.rstrip("/") + "/" + MANIFEST)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    try:
        stream = fs.open(path)
    except Exception as e:  # py4j's error: the file is not there or not readable
        raise SystemExit(
            f"stalltrace_job: {events}: no readable {MANIFEST}: not a folder 'stalltrace extract' wrote ({e.__class__.__name__})"
        ) from None
    try:
        text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()
    m = json.loads(text)
    if m.get("format") != "stalltrace-events":
        raise SystemExit(f"{events}: not a folder of stalltrace packet events")
    return m


def events_frame(spark, events, manifest):
    """Every point's events, with its input's index `input` (the order
    analyze takes them in, which breaks ties of time)."""
    from pyspark.sql import functions as F

    frames = []
    for i, p in enumerate(manifest["points"]):
        if p["packets"] == 0:
            continue
        d = spark.read.parquet(events.rstrip("/") + "/" + p["dir"])
        frames.append(d.drop("hour").withColumn("input", F.lit(i)))
    df = frames[0]
    for d in frames[1:]:
        df = df.unionByName(d)
    return df.withColumn("number_l", F.col("number").cast("long")).withColumn(
        "ts_ns", F.expr("unix_micros(ts)") * 1000 + F.col("ts_extra_ns").cast("long")
    )


def stream_order(spark, df, slices):
    """(input, number) → g, the packet's place in the merged stream, with
    each point's clock and whether its time went back there.

    analyze merges its inputs as mergecap does: the input whose next
    packet is earliest goes first, ties to the first input. Sorting by the
    latest time each point has reached (then input, then number) gives
    that very order, also where a capture's time goes back: a packet
    stamped early waits behind the one before it in its capture, as it
    does in the merge (the test's points with time going back)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    upto = Window.partitionBy("input").orderBy("number_l")
    before = upto.rowsBetween(Window.unboundedPreceding, -1)
    upto = upto.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    tracked = F.when(~F.col("duplicate"), F.col("ts_ns"))
    keys = (
        df.select("input", "number_l", "ts_ns", "duplicate")
        .withColumn("reached", F.max("ts_ns").over(upto))
        .withColumn("clock_ns", F.max(tracked).over(upto))
        .withColumn("prev_clock", F.max(tracked).over(before))
        .withColumn(
            "went_back",
            F.coalesce(F.col("ts_ns") < F.col("prev_clock"), F.lit(False)),
        )
        .drop("prev_clock")
    )
    ranged = (
        keys.repartitionByRange(slices, "reached", "input", "number_l")
        .sortWithinPartitions("reached", "input", "number_l")
        .withColumn("pid", F.spark_partition_id())
        .withColumn("mid", F.monotonically_increasing_id())
    )
    # Materialized once: the range bounds come from a sample, and the ids
    # must not be drawn twice.
    ranged = ranged.localCheckpoint(eager=True)
    counts = dict(ranged.groupBy("pid").count().collect())
    offsets, total = {}, 0
    for pid in sorted(counts):
        offsets[pid] = total
        total += counts[pid]
    off = spark.createDataFrame(sorted(offsets.items()), "pid int, off long")
    local = F.col("mid") - F.shiftleft(F.col("pid").cast("long"), ID_BITS)
    ordered = ranged.join(F.broadcast(off), "pid").withColumn("g", F.col("off") + local)
    return ordered.drop("pid", "mid", "off"), total


def batches_of(n, sources, firsts, lasts):
    """The batches the reading side makes of n packets: item counts as
    merge.rs's Reader::fill counts them (a point's first packet brings a
    NewPoint item before it, an input's last a Closed item after it).
    Returns [(start g, end g, closed sources)], and the sources with no
    packet (a point and its end at the very start)."""
    empty = [s for s in range(sources) if s not in firsts]
    first_at = {g for g in firsts.values()}
    last_at = {}
    for s, g in lasts.items():
        last_at.setdefault(g, []).append(s)
    special = sorted(first_at | set(last_at))
    single = sources == 1
    out = []
    g, k = 0, 0
    length, start, closed = 0, 0, []
    # The inputs with nothing in them end before any packet is read.
    for s in empty:
        length += 2
        closed.append(s)
    while g < n:
        while length < BATCH and g < n:
            while k < len(special) and special[k] < g:
                k += 1
            nxt = special[k] if k < len(special) else n
            plain = min(nxt - g, BATCH - length, n - g)
            if plain > 0:
                g += plain
                length += plain
                continue
            length += 1 + (1 if g in first_at else 0)
            ended = last_at.get(g, [])
            if ended and not single:
                length += len(ended)
                closed.extend(ended)
            g += 1
        if g >= n and single and lasts:
            # One input: its end is read on the next pull, in this batch
            # if there is room, else in a batch of its own.
            if length < BATCH:
                closed.append(0)
                out.append((start, g, closed))
            else:
                out.append((start, g, closed))
                out.append((g, g, [0]))
            return out, empty
        out.append((start, g, closed))
        length, start, closed = 0, g, []
    if not out or closed:
        out.append((start, g, closed))
    return out, empty


def make_plan(spark, ordered, total, manifest):
    """The plan join-parts and every part read: points, inputs, batches."""
    from pyspark.sql import functions as F

    points = manifest["points"]
    per_src = {
        r["input"]: r
        for r in ordered.groupBy("input")
        .agg(
            F.min("g").alias("first_g"),
            F.max("g").alias("last_g"),
            F.max("ts_ns").alias("last_ns"),
            F.min_by("ts_ns", "g").alias("first_ns"),
            F.count(F.lit(1)).alias("records"),
            F.sum(F.col("duplicate").cast("long")).alias("duplicates"),
        )
        .collect()
    }
    first_ns = {s: r["first_ns"] for s, r in per_src.items()}
    firsts = {s: r["first_g"] for s, r in per_src.items()}
    lasts = {s: r["last_g"] for s, r in per_src.items()}
    batches, empty = batches_of(total, len(points), firsts, lasts)
    starts = [b[0] for b in batches]
    # Point indexes: the empty inputs' points first, then in the order of
    # their first packet.
    order = empty + sorted(firsts, key=lambda s: firsts[s])
    index = {s: i for i, s in enumerate(order)}

    def batch_of_g(g):
        import bisect

        return bisect.bisect_right(starts, g) - 1

    plan_points = []
    for s in order:
        r = per_src.get(s)
        plan_points.append(
            {
                "name": points[s]["name"],
                "interface": points[s].get("interface"),
                "source": s,
                "first_batch": batch_of_g(firsts[s]) if r else 0,
                "first_ns": first_ns.get(s),
                "last_ns": r["last_ns"] if r else None,
            }
        )
    sources = sources_of(manifest, per_src)
    return plan_points, sources, batches, index


def sources_of(manifest, per_src):
    """The plan's inputs: the manifest's points, with what Spark counted."""
    return [
        {
            "file": p.get("file") or p["name"],
            "records": per_src[s]["records"] if s in per_src else 0,
            "duplicates": per_src[s]["duplicates"] if s in per_src else 0,
            # The manifest's [reason, count] pairs, as the report words them.
            "skipped": [dict(reason, count=n) for reason, n in p.get("skipped", [])],
        }
        for s, p in enumerate(manifest["points"])
    ]


def with_batches(spark, ordered, batches, index):
    """Each packet's batch and point index, and the plan's per-batch lines:
    packets seen by its end, its latest time, each point's clock."""
    import pandas as pd
    from pyspark.sql import functions as F

    starts = spark.sparkContext.broadcast([b[0] for b in batches])

    @F.pandas_udf("long")
    def batch_of(g: pd.Series) -> pd.Series:
        import numpy as np

        s = np.asarray(starts.value, dtype=np.int64)
        # Batches of no packet share their start with the next: the last
        # of equal starts is the one that holds the packet.
        return pd.Series(np.searchsorted(s, g.to_numpy(), side="right") - 1)

    pis = spark.createDataFrame(sorted(index.items()), "input int, point_index int")
    ordered = ordered.withColumn("batch", batch_of("g")).join(F.broadcast(pis), "input").cache()
    per_batch = {
        r["batch"]: r
        for r in ordered.groupBy("batch")
        .agg(F.max("ts_ns").alias("max_ns"))
        .collect()
    }
    clocks = {}
    for r in (
        ordered.where(~F.col("duplicate"))
        .groupBy("batch", "point_index")
        .agg(F.max("clock_ns").alias("clock"))
        .collect()
    ):
        clocks.setdefault(r["batch"], []).append((r["point_index"], r["clock"]))
    lines = []
    for b, (_start, end, closed) in enumerate(batches):
        r = per_batch.get(b)
        lines.append(
            {
                "seen": end,
                "max_ns": r["max_ns"] if r else 0,
                "clocks": sorted(clocks.get(b, [])),
                "closed": closed,
            }
        )
    return ordered, lines


def track_parts(spark, df, ordered, parts, binary, plan_path):
    """Groups the packets by part and runs `stalltrace track-part` on each."""
    from pyspark import SparkFiles
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    if binary not in SHIPPED:
        sc.addFile(binary)
        SHIPPED.add(binary)
    sc.addFile(plan_path)
    binary_name = os.path.basename(binary)
    plan_name = os.path.basename(plan_path)
    event_columns = [c for c in df.columns if c not in ("input", "number_l", "ts_ns")]
    keyed = ordered.select("input", "number_l", "g", "batch", "point_index", "clock_ns", "went_back")
    rows = df.join(keyed, ["input", "number_l"]).where(~F.col("duplicate"))
    # The unordered host pair; an ICMP error by the pair it quotes.
    quoted = F.col("quoted_dst").isNotNull()
    a = F.when(quoted, F.coalesce(F.col("quoted_src"), F.col("dst"))).otherwise(F.col("src"))
    b = F.when(quoted, F.col("quoted_dst")).otherwise(F.col("dst"))
    part = F.pmod(F.xxhash64(F.least(a, b), F.greatest(a, b), F.col("vlan")), F.lit(parts))
    rows = rows.withColumn("part", part.cast("int")).select(
        *event_columns, "g", "batch", "point_index", "clock_ns", "went_back", "part"
    )

    def track(table):
        import pyarrow as pa

        program = SparkFiles.get(binary_name)
        if not os.access(program, os.X_OK):
            os.chmod(program, 0o755)
        table = table.sort_by("g")
        part_id = table.column("part")[0].as_py() if table.num_rows else -1
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        done = subprocess.run(
            [program, "track-part", "--plan", SparkFiles.get(plan_name)],
            input=sink.getvalue().to_pybytes(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"stalltrace track-part (part {part_id}) exited {done.returncode}: "
                + done.stderr.decode(errors="replace")
            )
        out = done.stdout
        batches, reports, at = [], [], 0
        while at < len(out):
            batch, n = struct.unpack_from(FRAME, out, at)
            at += FRAME_SIZE
            batches.append(batch)
            reports.append(out[at : at + n])
            at += n
        return pa.table(
            {
                "part": pa.array([part_id] * len(batches), pa.int32()),
                "batch": pa.array(batches, pa.int64()),
                "report": pa.array(reports, pa.binary()),
            }
        )

    return rows.groupBy("part").applyInArrow(track, REPORT_SCHEMA)


def write_plan(path, sources, points, batches):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"sources": sources, "points": points, "batches": batches}, f)


def quiet_plan(manifest):
    """The plan of inputs without a packet: each a point that ends at once,
    in the first batch."""
    points = manifest["points"]
    batches, empty = batches_of(0, len(points), {}, {})
    plan_points = [
        {"name": points[s]["name"], "interface": points[s].get("interface"), "source": s,
         "first_batch": 0, "first_ns": None, "last_ns": None}
        for s in empty
    ]
    return plan_points, sources_of(manifest, {}), batches, {s: i for i, s in enumerate(empty)}


def join_parts(rows, binary, plan_path, args, workdir):
    """Streams every part's reports (rows of batch, part, report), in batch
    order, into join-parts."""
    report_path = os.path.join(workdir, "report.json")
    cmd = [binary, "join-parts", "--plan", plan_path, "--out", report_path, "--lang", args.lang]
    if args.each:
        cmd.append("--each")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    try:
        for r in rows:
            proc.stdin.write(struct.pack(FRAME, r["batch"], len(r["report"])))
            proc.stdin.write(r["report"])
    finally:
        proc.stdin.close()
        rc = proc.wait()
    if rc != 0:
        raise SystemExit(f"stalltrace join-parts exited {rc}")
    with open(report_path, encoding="utf-8") as f:
        return json.load(f)


def run(spark, args):
    """Analyses every folder named; returns their reports."""
    binary = os.path.abspath(args.stalltrace) if os.path.exists(args.stalltrace) else args.stalltrace
    if not os.path.exists(binary):
        from shutil import which

        binary = which(binary) or binary
    if os.path.isfile(binary) and not os.access(binary, os.X_OK):
        # Shipped with --files, which keeps no mode bits.
        os.chmod(binary, 0o755)
    several = len(args.events) > 1
    names = [e.rstrip("/").rsplit("/", 1)[-1] for e in args.events]
    if several and len(set(names)) != len(names):
        raise SystemExit("stalltrace_job: the folders' last parts must differ (they name the outputs)")
    if several and args.report:
        os.makedirs(args.report, exist_ok=True)
    reports = []
    for events, name in zip(args.events, names):
        out = args.out.rstrip("/") + ("/" + name if several else "")
        report = run_one(spark, args, binary, events, out)
        if args.report:
            path = os.path.join(args.report, name + ".json") if several else args.report
            with open(path, "w", encoding="utf-8") as f:
                json.dump(report, f, ensure_ascii=False, indent=2)
        reports.append(report)
    return reports


def run_one(spark, args, binary, events, out):
    clock = Stopwatch()
    manifest = read_manifest(spark, events)
    parts = args.parts or 4 * spark.sparkContext.defaultParallelism
    with tempfile.TemporaryDirectory(prefix="stalltrace-job-") as workdir:
        # Named apart: Spark ships each file name once per session.
        plan_path = os.path.join(workdir, f"plan-{uuid.uuid4().hex}.json")
        if all(p["packets"] == 0 for p in manifest["points"]):
            # Nothing to track: the points and their ends are the report
            # (each said to have no IP traffic), never "no stall found".
            plan_points, sources, batches, index = quiet_plan(manifest)
            total, lines = 0, [{"seen": 0, "max_ns": 0, "clocks": [], "closed": batches[0][2]}]
            write_plan(plan_path, sources, plan_points, lines)
            clock.lap("plan")
            report = join_parts([], binary, plan_path, args, workdir)
            clock.lap("join")
        else:
            df = events_frame(spark, events, manifest)
            slices = max(1, spark.sparkContext.defaultParallelism)
            ordered, total = stream_order(spark, df, slices)
            plan_points, sources, batches, index = make_plan(spark, ordered, total, manifest)
            ordered, lines = with_batches(spark, ordered, batches, index)
            write_plan(plan_path, sources, plan_points, lines)
            clock.lap("plan")
            from pyspark import StorageLevel

            reports = track_parts(spark, df, ordered, parts, binary, plan_path)
            # Tracked once: sorting them would run the parts again for its
            # sample.
            reports = reports.persist(StorageLevel.MEMORY_AND_DISK)
            reports.count()
            clock.lap("parts")
            rows = reports.orderBy("batch", "part").toLocalIterator()
            report = join_parts(rows, binary, plan_path, args, workdir)
            clock.lap("join")
            reports.unpersist()
            ordered.unpersist()
    write_outputs(spark, report, out)
    clock.lap("write")
    print(
        f"stalltrace_job: {events}: {plural(total, 'packet')} of "
        f"{plural(len(plan_points), 'capture point')} in {plural(len(batches), 'batch', 'batches')}, "
        f"{plural(parts, 'part')}: {plural(len(report['findings']), 'finding')} into {out} "
        f"({clock})",
        file=sys.stderr,
    )
    return report


class Stopwatch:
    """Seconds each step took, for the closing line."""

    def __init__(self):
        self.start = self.last = time.monotonic()
        self.laps = []

    def lap(self, name):
        now = time.monotonic()
        self.laps.append((name, now - self.last))
        self.last = now

    def __str__(self):
        steps = ", ".join(f"{n} {s:.1f} s" for n, s in self.laps)
        return f"{time.monotonic() - self.start:.1f} s: {steps}"


def plural(n, one, many=None):
    return f"{n} {one if n == 1 else (many or one + 's')}"


def write_outputs(spark, report, out):
    out = out.rstrip("/")
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in report["findings"]]
    text = spark.createDataFrame([(line,) for line in lines], "value string")
    text.coalesce(1).write.mode("overwrite").text(out + "/findings.jsonl")
    whole = spark.createDataFrame(
        [(json.dumps(report, ensure_ascii=False, separators=(",", ":")),)], "value string"
    )
    whole.coalesce(1).write.mode("overwrite").text(out + "/report.json")
    if lines:
        findings = spark.read.json(spark.sparkContext.parallelize(lines, 1))
        findings.write.mode("overwrite").parquet(out + "/findings.parquet")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    # Local mode: the workers run the Python this job runs in (pyarrow and
    # pandas there); on a cluster, spark-submit's settings say.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.appName("stalltrace").getOrCreate()
    try:
        run(spark, args)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
