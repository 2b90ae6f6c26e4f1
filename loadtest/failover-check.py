#!/usr/bin/env python3
"""Independent check of `loadtest/failover-ab.sh ... stop RUN_ID` runs (BENCHMARKS.md,
"A paused engine wakes fenced"): reads the store, not the engines, and counts the
customer messages (`message_in` timeline events) whose engine time falls after the
standby took over and before the paused engine exited. No customer reaches the new
engine before the old one closes its sockets, so every such message was written by a
deposed engine.

    pip install cassandra-driver
    python3 loadtest/failover-check.py RUN_ID...   # Cassandra at 127.0.0.11

Takeover and exit times come from the engines' logs in /tmp/fo (the standby's
"holds the keyspace" line, the old engine's "fenced: another engine" line)."""
import datetime
import re
import sys

from cassandra.cluster import Cluster


def log_ms(path, marker):
    line = next(l for l in open(path) if marker in l)
    stamp = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line).group(1)
    at = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc)
    return int(at.timestamp() * 1000)


session = Cluster(["127.0.0.11"]).connect()
keyspaces = [r.keyspace_name for r in session.execute("SELECT keyspace_name FROM system_schema.keyspaces")]
for run in sys.argv[1:]:
    ks = max(k for k in keyspaces if k.startswith(f"fo_{run}_"))
    took_over = log_ms(f"/tmp/fo/{run}-8182.log", "holds the keyspace")
    exited = log_ms(f"/tmp/fo/{run}-8181.log", "fenced: another")
    messages = [r.at for r in session.execute(f"SELECT kind, at FROM {ks}.timeline") if r.kind == "message_in"]
    deposed = sum(1 for at in messages if took_over <= at <= exited)
    print(f"{run}: {ks}: old engine exited {exited - took_over} ms after the takeover; "
          f"{len(messages)} customer messages stored, {deposed} written by the deposed engine")
