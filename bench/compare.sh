#!/usr/bin/env bash
# Import throughput against DuckDB, in one run on one machine: generates Datadog NDJSON and
# Guance line protocol with `rum-explorer generate`, then times, as whole processes with the
# file in the page cache, `rum-explorer import` and the DuckDB peer (bench/duckdb_peer.py:
# read_json into a table, then a sorted session list), and prints the ratio.
#
#   bench/compare.sh [SESSIONS...]        default: 10000
#
# Guance JSON and CSV (one file per kind) are timed too, for MB/s and events/s; DuckDB reads
# the NDJSON only.
#
# Each side runs RUNS times (default 3), alternating, and the medians are compared: this
# machine's timings swing by a third from one run to the next.
#
# FORMATS (default "ndjson lp guance-json csv") picks the formats; ORDER=time generates the
# events in time order across sessions, as an explorer's export comes, and SPAN_HOURS=N starts
# the sessions within N hours (many overlap), e.g.
#   ORDER=time SPAN_HOURS=1 FORMATS=ndjson bench/compare.sh 100000
#
# Needs python3 with duckdb (`pip install duckdb`; installed here if missing) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000)
python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb
cargo build --release --quiet
bin=target/release/rum-explorer
# The generated files are kept in BENCH_DIR for the next run; without it they go to a
# temporary folder that is removed at exit. The databases are removed either way: a 100k-session
# run leaves 4 GB of input and 2.5 GB of databases, and a full disk once failed CI here.
if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR
  mkdir -p "$work"
  trap 'rm -rf "$work"/ours.sqlite* "$work"/peer.duckdb* "$work"/time.txt "$work"/out.txt "$work"/err.txt' EXIT
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)'), $($bin --version)"

# Runs a command as a whole process; prints "seconds peak_rss_mb".
measure() {
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || { cat "$work/err.txt" >&2; return 1; }
  awk '{printf "%.2f %.0f\n", $1, $2/1024}' "$work/time.txt"
}

runs=${RUNS:-3}
order=${ORDER:-session}
span=${SPAN_HOURS:-}
generate_options=(--seed 7 --order "$order")
[ -n "$span" ] && generate_options+=(--span-hours "$span")
# Files of another order or span get names of their own, so kept files are not mixed up.
tag=""
[ "$order" != session ] && tag="$tag-$order"
[ -n "$span" ] && tag="$tag-${span}h"

# Median of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '\n%-9s %-11s %9s %9s %8s | %9s %8s | %7s | %6s %8s %10s\n' sessions format MB lines events "ours s" "ours MB" "duck s" ratio "MB/s" "events/s"
for n in "${sizes[@]}"; do
  for format in ${FORMATS:-ndjson lp guance-json csv}; do
    case $format in
      guance-json) file="$work/rum-$n$tag.json" ;;
      *) file="$work/rum-$n$tag.$format" ;;
    esac
    if [ "$format" = csv ]; then
      # One file per event kind: rum-N-view.csv, rum-N-action.csv, ...
      [ -s "$work/rum-$n$tag-view.csv" ] || $bin generate --sessions "$n" --format csv --out "$file" "${generate_options[@]}" 2>/dev/null
      files=("$work/rum-$n$tag"-*.csv)
    else
      [ -s "$file" ] || $bin generate --sessions "$n" --format "$format" --out "$file" "${generate_options[@]}" 2>/dev/null
      files=("$file")
    fi
    cat "${files[@]}" >/dev/null # into the page cache
    mb=$(awk -v b="$(cat "${files[@]}" | wc -c)" 'BEGIN {printf "%.0f", b/1048576}')
    lines=$(cat "${files[@]}" | wc -l)
    ours_runs=(); duck_runs=(); ours_mb=0
    for _ in $(seq "$runs"); do
      rm -f "$work/ours.sqlite"*
      read -r s rss < <(measure $bin import --db "$work/ours.sqlite" "${files[@]}")
      ours_runs+=("$s"); [ "$rss" -gt "$ours_mb" ] && ours_mb=$rss
      if [ "$format" = ndjson ]; then
        read -r s _duck_mb < <(measure python3 bench/duckdb_peer.py "$file" "$work/peer.duckdb")
        duck_runs+=("$s")
      fi
    done
    ours_s=$(printf '%s\n' "${ours_runs[@]}" | median)
    events=$($bin stats --db "$work/ours.sqlite" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_total"])')
    duck_s="-"; ratio="-"
    if [ "$format" = ndjson ]; then
      duck_s=$(printf '%s\n' "${duck_runs[@]}" | median)
      ratio=$(awk -v a="$ours_s" -v b="$duck_s" 'BEGIN {printf "%.2f", a/b}')
      echo "  runs: ours ${ours_runs[*]} s; duckdb ${duck_runs[*]} s" >&2
    else
      echo "  runs: ours ${ours_runs[*]} s" >&2
    fi
    printf '%-9s %-11s %9s %9s %8s | %9s %8s | %7s | %6s %8s %10s\n' "$n" "$format" "$mb" "$lines" "$events" "$ours_s" "$ours_mb" "$duck_s" "$ratio" \
      "$(awk -v m="$mb" -v s="$ours_s" 'BEGIN {printf "%.0f", m/s}')" "$(awk -v e="$events" -v s="$ours_s" 'BEGIN {printf "%.0f", e/s}')"
  done
done
echo
echo "ratio = median rum-explorer import seconds / median DuckDB seconds over $runs alternating runs, whole processes (target <= 0.5)."
echo "ours MB = highest peak resident memory of the import process over the runs."
