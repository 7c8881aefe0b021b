#!/usr/bin/env bash
# crier benchmarks: end-to-end blasts to fast servers on loopback, with the journal on.
#
#   benches/run.sh                 # 100,000 recipients per blast, 1,000,000 planned
#   N=20000 PLAN_N=200000 RUNS=1 benches/run.sh   # a quicker run
#
# Installs what it needs with apt if missing (Postfix's smtp-sink and smtp-source, nginx, wrk,
# GNU time), builds crier in release mode, and sends only to loopback addresses. Each blast runs
# RUNS times (default 3) on a fresh journal; the table shows the median run and the range.
# The webhook audience posts to HOSTS (default 32) customer hosts, 127.0.0.1 to 127.0.0.HOSTS,
# all served by one nginx: per-recipient webhooks go to many customers, and crier keeps at most
# 4 requests in flight per host. Prints one Markdown table; BENCHMARKS.md records a run.
# The servers and the project setup are in benches/common.sh (shared with benches/workers.sh).
# Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
PLAN_N=${PLAN_N:-1000000}
RUNS=${RUNS:-3}
. benches/common.sh

# --- ceilings with the standard tools --------------------------------------------------------
ceiling_smtp() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s 32 -m "$N" -l 2048 -f bench@example.com -t sink@example.com 127.0.0.1:"$SMTP_PORT"
  end=$(date +%s.%N)
  awk -v n="$N" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }'
}
ceiling_http() {
  cat > "$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/json"
EOF
  wrk -t2 -c64 -d10s -s "$WORK/post.lua" "http://127.0.0.1:$HTTP_PORT/hook" | awk '/Requests\/sec/ {print $2}'
}

# Runs a blast in $1, prints "seconds max_rss_kb first_message_ms".
blast() {
  local dir=$1; shift
  local start_ms
  start_ms=$(date +%s%3N)
  ( cd "$dir" && /usr/bin/time -f '%e %M' -o "$WORK/time" "$CRIER" blast outage-notice --incident BENCH-1 \
      --title "Checkout is failing" --set affected="complete a checkout" --set next_update="in 30 minutes" \
      --yes "$@" > "$WORK/out" 2> "$WORK/err" ) || { cat "$WORK/err" >&2; exit 1; }
  local first
  first=$(python3 - "$dir/crier.db" "$start_ms" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT MIN(sent_at) FROM deliveries").fetchone()[0]
print(row - int(sys.argv[2]) if row else "-")
EOF
)
  echo "$(cat "$WORK/time") $first"
}

# Runs `blast $1` RUNS times on a fresh journal; prints the median run's
# "seconds max_rss_kb first_message_ms", then the fastest and slowest seconds.
runs() {
  local dir=$1 all=()
  for _ in $(seq 1 "$RUNS"); do
    rm -f "$dir"/crier.db*
    all+=("$(blast "$dir")")
  done
  printf '%s\n' "${all[@]}" | sort -n | awk -v n="$RUNS" '
    { line[NR] = $0; secs[NR] = $1 }
    END { print line[int((n + 1) / 2)], secs[1], secs[n] }'
}

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)" >&2
echo "Running with N=$N, PLAN_N=$PLAN_N, RUNS=$RUNS, HOSTS=$HOSTS" >&2

SMTP_CEIL=$(ceiling_smtp)
project "$WORK/email" "$N" 'type = "email"
smtp_url = "smtp://127.0.0.1:'"$SMTP_PORT"'"
from = "Acme Status <status@acme.example>"
per_second = 0
max_in_flight = 32'
read -r E_SECS E_RSS E_FIRST E_MIN E_MAX <<<"$(runs "$WORK/email")"

HTTP_CEIL=$(ceiling_http)
export CRIER_BENCH_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
project "$WORK/hooks" "$N" 'type = "webhook"
secret_env = "CRIER_BENCH_SECRET"
per_second = 0
max_in_flight = 64'
read -r H_SECS H_RSS H_FIRST H_MIN H_MAX <<<"$(runs "$WORK/hooks")"

project "$WORK/plan" "$PLAN_N" 'type = "email"
smtp_url = "smtp://127.0.0.1:'"$SMTP_PORT"'"
from = "Acme Status <status@acme.example>"'
read -r P_SECS P_RSS _ <<<"$(blast "$WORK/plan" --plan-only)"

rate() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
E_RATE=$(rate "$N" "$E_SECS"); H_RATE=$(rate "$N" "$H_SECS")
printf '\n| run | recipients | time (s) | rate (msg/s), median of %s | range (msg/s) | loopback ceiling (msg/s) | share of ceiling | peak memory (MB) | first message (ms) |\n' "$RUNS"
printf '|---|---|---|---|---|---|---|---|---|\n'
printf '| email to smtp-sink | %s | %s | %s | %s–%s | %s (smtp-source, 32 sessions) | %s%% | %s | %s |\n' \
  "$N" "$E_SECS" "$E_RATE" "$(rate "$N" "$E_MAX")" "$(rate "$N" "$E_MIN")" "$SMTP_CEIL" "$(pct "$E_RATE" "$SMTP_CEIL")" "$(mb "$E_RSS")" "$E_FIRST"
printf '| signed webhooks to nginx (204), %s hosts | %s | %s | %s | %s–%s | %s (wrk, 64 connections) | %s%% | %s | %s |\n' \
  "$HOSTS" "$N" "$H_SECS" "$H_RATE" "$(rate "$N" "$H_MAX")" "$(rate "$N" "$H_MIN")" "$HTTP_CEIL" "$(pct "$H_RATE" "$HTTP_CEIL")" "$(mb "$H_RSS")" "$H_FIRST"
printf '| plan only (journal rows) | %s | %s | %s rows/s | — | — | — | %s | — |\n' \
  "$PLAN_N" "$P_SECS" "$(rate "$PLAN_N" "$P_SECS")" "$(mb "$P_RSS")"
