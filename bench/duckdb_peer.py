#!/usr/bin/env python3
"""The peer rum-explorer is measured against: what a user would do with DuckDB instead.

Loads a Datadog RUM NDJSON file with read_json into a table of a DuckDB database file, then
aggregates it into a sorted session list (a table), as `rum-explorer import` leaves a
persisted session list. Prints the in-process seconds of each step as JSON.

usage: duckdb_peer.py EVENTS.ndjson DB.duckdb
"""
import json
import os
import sys
import time

import duckdb

events_path, db_path = sys.argv[1], sys.argv[2]
for suffix in ("", ".wal"):
    if os.path.exists(db_path + suffix):
        os.remove(db_path + suffix)

started = time.perf_counter()
con = duckdb.connect(db_path)
con.execute(
    "CREATE TABLE events AS SELECT * FROM read_json(?, format = 'newline_delimited', union_by_name = true,"
    " maximum_object_size = 268435456)",
    [events_path],
)
loaded = time.perf_counter()
con.execute(
    """
    CREATE TABLE sessions AS
    SELECT session.id AS session_id,
           min(date) AS start_ms,
           max(date) AS end_ms,
           any_value(session.type) AS session_type,
           count(DISTINCT view.id) FILTER (WHERE type IN ('view', 'view_update')) AS view_count,
           count(*) FILTER (WHERE type = 'action') AS action_count,
           count(*) FILTER (WHERE type = 'error') AS error_count,
           count(*) FILTER (WHERE type = 'resource') AS resource_count,
           count(*) FILTER (WHERE type = 'long_task') AS long_task_count,
           arg_min(view.url, date) AS first_view_url,
           arg_max(view.url, date) AS last_view_url,
           any_value(usr.id) AS user_id,
           any_value(browser.name) AS browser,
           any_value(os.name) AS os,
           any_value(geo.country) AS country
    FROM events
    GROUP BY session.id
    ORDER BY start_ms
    """
)
con.execute("CHECKPOINT")
done = time.perf_counter()
rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
sessions = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
con.close()
print(json.dumps({"load_s": loaded - started, "aggregate_s": done - loaded, "total_s": done - started,
                  "rows": rows, "sessions": sessions, "duckdb": duckdb.__version__}))
