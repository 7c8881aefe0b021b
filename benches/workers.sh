#!/usr/bin/env bash
# crier benchmarks, issue 14: one blast shared by 1, 2 and 3 `crier worker`s on PostgreSQL,
# beside a plain `crier blast` on SQLite, and planning into each journal.
#
#   benches/workers.sh                                 # 20,000 recipients, 1,000,000 planned, 2 rounds
#   N=2000 PLAN_N=50000 RUNS=1 benches/workers.sh      # a quick check that it works
#
# Same servers as benches/run.sh (benches/common.sh: smtp-sink, one nginx on 127.0.0.1 to
# 127.0.0.HOSTS), crier built in release mode once, only loopback addresses. PostgreSQL must run
# on 127.0.0.1:PG_PORT (default 5432) with trust auth for PG_USER (postgres); every run gets a
# fresh database, made from PG_ADMIN_DB (test) and dropped after it (and on exit).
#
# Per round (RUNS rounds, default 2), in this order, so that the machine's drift hits every
# configuration alike: for the email channel (to smtp-sink) and the signed webhook channel (to
# nginx), N recipients each,
#   - SQLite: `crier blast … --yes`, which plans and sends; timed from its start to its exit;
#   - PostgreSQL with W = 1, 2, 3 workers: `crier blast … --yes --enqueue-only`, then W
#     `crier worker`s (poll 1 s) until every row is `sent`, then SIGTERM; the send rate is
#     N over first to last `sent_at`, the wall time runs from the enqueue's start to the last send;
# then planning PLAN_N recipients with `--plan-only` into SQLite and into PostgreSQL (GNU time:
# wall time and peak RSS of crier; PostgreSQL's own memory is not in it).
# CPU seconds come from /proc: crier's processes, every `postgres` process, smtp-sink + nginx,
# over the sending (PostgreSQL: from the workers' start to the last send, so planning is not in
# it; SQLite: the whole blast, planning included). "busy" is the whole machine's CPU use over
# the same interval, out of 100% per core. Prints one Markdown table. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20000}
PLAN_N=${PLAN_N:-1000000}
RUNS=${RUNS:-2}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
WORKER_COUNTS=${WORKER_COUNTS:-"1 2 3"}
TIMEOUT=${TIMEOUT:-900} # seconds a run may take before the script gives up

. benches/common.sh
if ! need psql; then
  apt-get install -y -qq postgresql-client >/dev/null
fi

sql() { # $1 = database, $2 = statement; prints unaligned rows
  PGOPTIONS=--client-min-messages=warning psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"
}
DB_SEQ=0
DBS=()
new_db() { # sets DB to the name of a fresh database
  DB_SEQ=$((DB_SEQ + 1))
  DB="crier_bench_$$_$DB_SEQ"
  sql "$PG_ADMIN_DB" "CREATE DATABASE $DB" >/dev/null
  DBS+=("$DB")
}
drop_db() { sql "$PG_ADMIN_DB" "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }
WORKER_PIDS=()
stop_workers() {
  local p
  for p in "${WORKER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${WORKER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  WORKER_PIDS=()
}
drop_dbs() { local d; for d in "${DBS[@]}"; do drop_db "$d" || true; done; }
CLEANUPS+=(stop_workers pg_watch_quiet drop_dbs)

# --- CPU accounting from /proc ----------------------------------------------------------------
HZ=$(getconf CLK_TCK)
ticks() { # sum of user + system ticks of the given pids (those still alive)
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
# PostgreSQL's backends come and go with the connections, so `postgres` processes are sampled
# every 0.5 s ("pid ticks" lines) while a run lasts; each counts from its first sample (a
# process that was not there at the start counts from zero) to its last. Counted: the server's
# own processes (WAL writer, checkpointer, …) and the backends connected to database $DB, not
# the backends of other databases (other users of the server).
pg_sample() {
  local p title stat
  for p in $(pgrep -x postgres); do
    { read -r -d '' title < "/proc/$p/cmdline"; read -r stat < "/proc/$p/stat"; } 2>/dev/null || continue
    case $title in *" $DB "*) ;; *"("*")"*|*"[local]"*) continue ;; esac
    stat=(${stat#*) })
    echo "$p $((stat[11] + stat[12]))"
  done
}
PG_WATCH=
pg_watch_quiet() { pg_watch_stop > /dev/null; }
pg_watch_start() {
  pg_sample > "$WORK/pg-base"
  ( while :; do pg_sample; sleep 0.5; done > "$WORK/pg-samples" ) &
  PG_WATCH=$!
}
pg_watch_stop() { # prints the CPU seconds of PostgreSQL since pg_watch_start
  [ -n "$PG_WATCH" ] || return 0
  kill "$PG_WATCH" 2>/dev/null || true; wait "$PG_WATCH" 2>/dev/null || true; PG_WATCH=
  pg_sample >> "$WORK/pg-samples"
  secs "$(awk 'NR == FNR { base[$1] = $2; next } $2 > last[$1] { last[$1] = $2 }
    END { for (p in last) t += last[p] - (p in base ? base[p] : 0); print t + 0 }' "$WORK/pg-base" "$WORK/pg-samples")"
}
server_ticks() { ticks "$SINK_PID" "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true); }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; } # busy idle
secs() { awk -v t="$1" -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz }'; }
busy_pct() { # $1 = "busy idle" before, $2 = after; use in percent of one core
  awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ")
    busy = y[1] - x[1]; all = busy + y[2] - x[2]; printf "%.0f", all ? 100 * n * busy / all : 0 }'
}
peak_mb() { # highest VmHWM of the given pids, in MB
  local m=0 p k
  for p in "$@"; do
    k=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    [ "${k:-0}" -gt "$m" ] && m=$k
  done
  awk -v k="$m" 'BEGIN { printf "%.0f", k / 1024 }'
}

# --- the projects -------------------------------------------------------------------------------
EMAIL='type = "email"
smtp_url = "smtp://127.0.0.1:'"$SMTP_PORT"'"
from = "Acme Status <status@acme.example>"
per_second = 0
max_in_flight = 32'
export CRIER_BENCH_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
HOOKS='type = "webhook"
secret_env = "CRIER_BENCH_SECRET"
per_second = 0
max_in_flight = 64'

use_store() { # $1 = project dir, $2 = store url
  sed -i "s|^url = \"[^\"]*\"|url = \"$2\"|" "$1/crier.toml"
  grep -q "^url = \"$2\"" "$1/crier.toml" || { echo "error: could not set the store in $1/crier.toml" >&2; exit 1; }
}
pg_project() { # $1 = sqlite project to copy, $2 = new dir
  cp -r "$1" "$2"
  # The workers poll every second, crier's default and its shortest: durations are whole
  # units and positive ("200ms" and "0s" are refused), so the documented 100 ms floor of
  # `[worker] poll` cannot be written. The send rate (first to last `sent_at`) does not see it.
}
project "$WORK/email" "$N" "$EMAIL"
pg_project "$WORK/email" "$WORK/email-pg"
project "$WORK/hooks" "$N" "$HOOKS"
pg_project "$WORK/hooks" "$WORK/hooks-pg"
project "$WORK/plan" "$PLAN_N" "$EMAIL"
pg_project "$WORK/plan" "$WORK/plan-pg"

BLAST=(blast outage-notice --incident BENCH-1 --title "Checkout is failing"
  --set affected="complete a checkout" --set next_update="in 30 minutes" --yes)
RESULTS=$WORK/results
: > "$RESULTS"
# One line per run: label rate wall_rate wall_s crier_cpu pg_cpu servers_cpu busy_pct peak_mb

fail() { # $1 = message, then files to show
  echo "error: $1" >&2; shift
  local f; for f in "$@"; do echo "--- $f" >&2; tail -n 20 "$f" >&2 || true; done
  exit 1
}

sqlite_blast() { # $1 = label, $2 = dir
  local dir=$2 srv0 b0 srv1 b1
  rm -f "$dir"/crier.db*
  srv0=$(server_ticks); b0=$(busy_ticks)
  ( cd "$dir" && /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$CRIER" "${BLAST[@]}" \
      > "$WORK/out" 2> "$WORK/err" ) || fail "the SQLite blast in $dir failed" "$WORK/err"
  srv1=$(server_ticks); b1=$(busy_ticks)
  local wall rss user sys sent
  read -r wall rss user sys < "$WORK/time"
  sent=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM deliveries WHERE state = '"'sent'"'").fetchone()[0])' "$dir/crier.db")
  [ "$sent" = "$N" ] || fail "the SQLite blast in $dir sent $sent of $N" "$WORK/err"
  local rate
  rate=$(awk -v n="$N" -v s="$wall" 'BEGIN { printf "%.0f", n / s }')
  echo "$1 $rate $rate $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }') \
- $(secs $((srv1 - srv0))) $(busy_pct "$b0" "$b1") \
$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')" >> "$RESULTS"
}

pg_blast() { # $1 = label, $2 = dir, $3 = workers
  local dir=$2 workers=$3 db start_ms
  new_db; db=$DB
  use_store "$dir" "postgres://$PG_USER@127.0.0.1:$PG_PORT/$db"
  start_ms=$(date +%s%3N)
  ( cd "$dir" && "$CRIER" "${BLAST[@]}" --enqueue-only > "$WORK/out" 2> "$WORK/err" ) ||
    fail "the enqueue in $dir failed" "$WORK/err"
  local srv0 b0 i
  pg_watch_start; srv0=$(server_ticks); b0=$(busy_ticks)
  for i in $(seq 1 "$workers"); do
    ( cd "$dir" && exec "$CRIER" worker > "$WORK/worker-$i.log" 2>&1 ) &
    WORKER_PIDS+=($!)
  done
  local counts sent total last_sent=-1 last_change=$SECONDS
  while :; do
    counts=$(sql "$db" "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FROM deliveries")
    sent=${counts%|*}; total=${counts#*|}
    [ "$total" -gt 0 ] && [ "$sent" = "$total" ] && break
    if [ "$sent" != "$last_sent" ]; then last_sent=$sent; last_change=$SECONDS; fi
    local p
    for p in "${WORKER_PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || fail "a worker exited early ($sent of $total sent)" "$WORK"/worker-*.log
    done
    if [ $((SECONDS - last_change)) -gt 60 ] || [ "$SECONDS" -gt $((RUN_START + TIMEOUT)) ]; then
      sql "$db" "SELECT state, count(*) FROM deliveries GROUP BY state" >&2
      fail "no progress on $db for 60 s ($sent of $total sent)" "$WORK"/worker-*.log
    fi
    sleep 0.2
  done
  local pg srv1 b1 crier_t peak
  pg=$(pg_watch_stop); srv1=$(server_ticks); b1=$(busy_ticks)
  crier_t=$(ticks "${WORKER_PIDS[@]}"); peak=$(peak_mb "${WORKER_PIDS[@]}")
  stop_workers
  [ "$total" = "$N" ] || fail "$db has $total deliveries, not $N" "$WORK/out"
  local first last
  IFS='|' read -r first last <<<"$(sql "$db" "SELECT MIN(sent_at), MAX(sent_at) FROM deliveries")"
  drop_db "$db"
  awk -v l="$1" -v n="$N" -v f="$first" -v z="$last" -v s="$start_ms" 'BEGIN {
    printf "%s %.0f %.0f %.2f ", l, n * 1000 / (z - f > 0 ? z - f : 1), n * 1000 / (z - s), (z - s) / 1000 }' >> "$RESULTS"
  echo "$(secs "$crier_t") $pg $(secs $((srv1 - srv0))) $(busy_pct "$b0" "$b1") $peak" >> "$RESULTS"
}

plan() { # $1 = label, $2 = dir, $3 = sqlite|postgres
  local dir=$2 db="" pg=- b0 b1
  if [ "$3" = postgres ]; then
    new_db; db=$DB
    use_store "$dir" "postgres://$PG_USER@127.0.0.1:$PG_PORT/$db"
  else
    rm -f "$dir"/crier.db*
  fi
  [ -z "$db" ] || pg_watch_start
  b0=$(busy_ticks)
  ( cd "$dir" && /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$CRIER" "${BLAST[@]}" --plan-only \
      > "$WORK/out" 2> "$WORK/err" ) || fail "planning in $dir failed" "$WORK/err"
  b1=$(busy_ticks)
  [ -z "$db" ] || pg=$(pg_watch_stop)
  if [ -n "$db" ]; then
    local rows
    rows=$(sql "$db" "SELECT count(*) FROM deliveries")
    [ "$rows" = "$PLAN_N" ] || fail "$db has $rows deliveries, not $PLAN_N" "$WORK/out"
    drop_db "$db"
  fi
  local wall rss user sys
  read -r wall rss user sys < "$WORK/time"
  awk -v l="$1" -v n="$PLAN_N" -v w="$wall" -v k="$rss" -v u="$user" -v s="$sys" -v pg="$pg" -v b="$(busy_pct "$b0" "$b1")" 'BEGIN {
    printf "%s %.0f %.0f %s %.1f %s - %s %.0f\n", l, n / w, n / w, w, u + s, pg, b, k / 1024 }' >> "$RESULTS"
}

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), PostgreSQL $(sql "$PG_ADMIN_DB" 'SHOW server_version' | cut -d' ' -f1)" >&2
echo "Running with N=$N, PLAN_N=$PLAN_N, RUNS=$RUNS, HOSTS=$HOSTS, workers $WORKER_COUNTS; the configurations alternate within each round" >&2
for round in $(seq 1 "$RUNS"); do
  for ch in email hooks; do
    RUN_START=$SECONDS
    echo "round $round: $ch, SQLite" >&2
    sqlite_blast "$ch-sqlite-0" "$WORK/$ch"
    for w in $WORKER_COUNTS; do
      RUN_START=$SECONDS
      echo "round $round: $ch, PostgreSQL, $w worker(s)" >&2
      pg_blast "$ch-postgres-$w" "$WORK/$ch-pg" "$w"
    done
  done
  echo "round $round: planning $PLAN_N into SQLite, then PostgreSQL" >&2
  plan plan-sqlite-0 "$WORK/plan" sqlite
  plan plan-postgres-0 "$WORK/plan-pg" postgres
done

# --- the table ----------------------------------------------------------------------------------
stat() { # $1 = label, $2 = field (2..); prints "median min max" over the runs
  awk -v l="$1" -v f="$2" '$1 == l { v[++n] = $f }
    END { if (!n || v[1] == "-") { print "- - -"; exit }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      print m, v[1], v[n] }' "$RESULTS"
}
med() { stat "$1" "$2" | awk '{ if ($1 == "-") printf "—"; else printf "%.1f", $1 }'; }
fmt() { awk -v x="$1" 'BEGIN { if (x == "-") printf "—"; else printf "%.0f", x }'; }
row() { # $1 = label, $2 = what, $3 = journal, $4 = workers
  local m lo hi
  read -r m lo hi <<<"$(stat "$1" 2)"
  printf '| %s | %s | %s | %s | %s–%s | %s | %s | %s / %s / %s | %s | %s |\n' "$2" "$3" "$4" \
    "$(fmt "$m")" "$(fmt "$lo")" "$(fmt "$hi")" "$(fmt "$(stat "$1" 3 | cut -d' ' -f1)")" "$(med "$1" 4)" \
    "$(med "$1" 5)" "$(med "$1" 6)" "$(med "$1" 7)" "$(fmt "$(stat "$1" 8 | cut -d' ' -f1)")%" "$(fmt "$(stat "$1" 9 | cut -d' ' -f1)")"
}
printf '\n| run | journal | workers | rate (msg/s; plan: rows/s), median of %s | range | rate over the wall time | wall time (s) | CPU s: crier / PostgreSQL / servers | machine busy (%% of one core, %s cores) | peak memory per crier process (MB) |\n' "$RUNS" "$(nproc)"
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for ch in email hooks; do
  what="email to smtp-sink"
  [ "$ch" = hooks ] && what="signed webhooks to nginx (204), $HOSTS hosts"
  row "$ch-sqlite-0" "$what, $N" SQLite "— (the blast sends)"
  for w in $WORKER_COUNTS; do row "$ch-postgres-$w" "$what, $N" PostgreSQL "$w"; done
done
row plan-sqlite-0 "plan only, $PLAN_N" SQLite —
row plan-postgres-0 "plan only, $PLAN_N" PostgreSQL —
echo
echo "Rates: SQLite, N over the blast's time (planning included); PostgreSQL, N over first to last sent_at; the wall time runs from the enqueue's start to the last send. Median and range over $RUNS rounds; the configurations alternate within each round."
