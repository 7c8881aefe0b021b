#!/usr/bin/env bash
# crier chaos soak: repeated 500-recipient blasts through a fault proxy, with kill -9.
#
#   benches/soak.sh                      # 20 minutes of faults (SOAK_SECONDS=1200), then the drain
#   SOAK_SECONDS=120 benches/soak.sh     # a short try
#
# Not part of `cargo test`. Everything listens on and connects to loopback only. Needs python3
# (stdlib only: benches/soak/*.py); builds crier in release mode unless CRIER names a binary.
#
# Round N is `crier blast update --incident SOAK-1 --set progress="Soak round N: …"
# --next-update-in 30m --yes`: new words, so a new update of the incident. It goes to 500
# recipients on three channels: `email` (SMTP), `hooks` (each recipient's signed webhook, on 16
# loopback hosts) and `slack` (one chat webhook, `url_env`). crier talks to the fault proxy
# (benches/soak/proxy.py), which passes on to the receivers (benches/soak/receivers.py) or
# injects latency, resets, black holes, slow reads, 429 / 5xx answers and SMTP 421 / 451.
# Every KILL_MIN–KILL_MAX s (60–180) the running blast gets kill -9 and the same command is run
# again, which continues that update; `crier run-due` runs after each kill and each round.
#
# Permanent failures are made on purpose, and counted: 5 of every 100 recipients have a
# `bounce-` address (the SMTP receiver answers 550), 5 a webhook path with `/perm/` (the proxy
# answers 400), 5 a webhook on 127.0.0.99 (the proxy answers 410 Gone). Those rows must end
# `failed`; every other row must end `sent`.
#
# After SOAK_SECONDS the faults stop; crier gets DRAIN_SECONDS (120) to bring the journal's
# backlog to 0 (the running blast finishes, or the same blast and `run-due` run again). Then
# benches/soak/check.py prints the numbers and exits 1 if a promise is broken: lost = 0, every
# duplicate carried the same id and was in doubt, the backlog drained, RSS flat (last 5-minute
# window's median at most 25% above the first's).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SOAK_SECONDS=${SOAK_SECONDS:-1200}
DRAIN_SECONDS=${DRAIN_SECONDS:-120}
RECIPIENTS=${RECIPIENTS:-500}
KILL_MIN=${KILL_MIN:-60}
KILL_MAX=${KILL_MAX:-180}
HOSTS=${HOSTS:-16}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
SMTP_UP=${SMTP_UP:-25871}
HTTP_UP=${HTTP_UP:-25872}
SMTP_FRONT=${SMTP_FRONT:-25873}
HTTP_FRONT=${HTTP_FRONT:-25874}
# The longest one crier command may run (a blast waits for its retries; 8 attempts with
# back-off stay well under this).
COMMAND_LIMIT=${COMMAND_LIMIT:-600}

if [ -z "${CRIER:-}" ]; then
  cargo build --release --quiet
  CRIER=$ROOT/target/release/crier
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crier-soak.XXXXXX")
PROJECT=$WORK/project
mkdir -p "$WORK/logs"
RANDOM=$((SEED % 32768))

PIDS=()
CRIER_PID=
cleanup() {
  local rc=$?
  [ -n "$CRIER_PID" ] && kill -9 "$CRIER_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "soak: files kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now() { date +%s; }
rand_between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }

# --- ports free? -------------------------------------------------------------------------------
python3 - "$SMTP_UP" "$HTTP_UP" "$SMTP_FRONT" "$HTTP_FRONT" <<'EOF'
import socket, sys
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers: TIME_WAIT is fine
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(f"soak: port {port} on 127.0.0.1 is taken; set SMTP_UP, HTTP_UP, SMTP_FRONT, HTTP_FRONT")
    finally:
        s.close()
EOF

# --- the project -------------------------------------------------------------------------------
"$CRIER" init "$PROJECT" >/dev/null
rm "$PROJECT/channels/file.toml"
# The receivers are on loopback: the network guard reaches them through the allow list.
printf '\n[network]\nallow_private = ["127.0.0.0/8"]\n' >> "$PROJECT/crier.toml"
cat > "$PROJECT/channels/email.toml" <<EOF
type = "email"
smtp_url = "smtp://127.0.0.1:$SMTP_FRONT"
from = "Soak Status <status@soak.example>"
per_second = 100
max_in_flight = 8
timeout_secs = 5
EOF
cat > "$PROJECT/channels/hooks.toml" <<EOF
type = "webhook"
secret_env = "SOAK_WEBHOOK_SECRET"
per_second = 0
max_in_flight = 64
timeout_secs = 5
EOF
cat > "$PROJECT/channels/slack.toml" <<EOF
type = "slack"
url_env = "SOAK_SLACK_URL"
timeout_secs = 5
EOF
python3 - "$PROJECT/audience.csv" "$RECIPIENTS" "$HTTP_FRONT" "$HOSTS" <<'EOF'
import sys
path, n, port, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with open(path, "w") as f:
    f.write("id,email,name,webhook_url\n")
    for i in range(1, n + 1):
        email = f"bounce-{i}@example.com" if i % 100 == 71 else f"person{i}@example.com"
        if i % 100 == 13:
            url = f"http://127.0.0.{1 + i % hosts}:{port}/hook/perm/cus_{i}"
        elif i % 100 == 47:
            url = f"http://127.0.0.99:{port}/hook/gone/cus_{i}"
        else:
            url = f"http://127.0.0.{1 + i % hosts}:{port}/hook/cus_{i}"
        f.write(f"cus_{i},{email},Person {i},{url}\n")
EOF
export SOAK_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
export SOAK_SLACK_URL="http://127.0.0.1:$HTTP_FRONT/slack/T0SOAK/B0SOAK/$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export NO_COLOR=1
unset CRIER_CONFIG CRIER_NOW
"$CRIER" --config "$PROJECT/crier.toml" check >/dev/null

# --- receivers, proxy, RSS sampler ---------------------------------------------------------------
BACKSTOP=$((SOAK_SECONDS + DRAIN_SECONDS + 2 * COMMAND_LIMIT))
nice -n 10 python3 benches/soak/receivers.py "$SMTP_UP" "$HTTP_UP" "$WORK/received.jsonl" "$BACKSTOP" > "$WORK/logs/receivers.log" 2>&1 &
PIDS+=($!)
nice -n 10 python3 benches/soak/proxy.py "$SMTP_FRONT" "$SMTP_UP" "$HTTP_FRONT" "$HTTP_UP" "$HOSTS" "$WORK/faults.json" "$SEED" "$BACKSTOP" > "$WORK/logs/proxy.log" 2>&1 &
PROXY=$!
PIDS+=("$PROXY")
sample_rss() { # every 2 s: "unix-time pid VmRSS-kB" of the crier blast running now
  local end=$(($(now) + BACKSTOP)) pid rss
  while [ "$(now)" -lt "$end" ]; do
    pid=$(cat "$WORK/crier.pid" 2>/dev/null || true)
    [ -n "$pid" ] && pid=$(pgrep -P "$pid" 2>/dev/null | head -1 || true)
    if [ -n "$pid" ] && rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$rss" ]; then
      echo "$(date +%s.%N) $pid $rss"
    fi
    sleep 2
  done
}
sample_rss > "$WORK/rss.txt" &
PIDS+=($!)
sleep 1
for f in received.jsonl faults.json; do
  [ -e "$WORK/$f" ] || { sleep 2; [ -e "$WORK/$f" ] || [ "$f" = received.jsonl ] || { cat "$WORK"/logs/*.log >&2; exit 1; }; }
done
touch "$WORK/received.jsonl"

# --- crier ---------------------------------------------------------------------------------------
# `crier ARGS` in the background under nice, bounded by COMMAND_LIMIT; the pid of its
# `timeout` in CRIER_PID (crier is its child). A blast's is written to crier.pid for the RSS
# sampler; other commands (run-due) are not sampled.
start_crier() {
  local name=$1; shift
  (cd "$PROJECT" && exec nice -n 10 timeout -s KILL "$COMMAND_LIMIT" "$CRIER" "$@") > "$WORK/logs/$name.out" 2>&1 &
  CRIER_PID=$!
  if [ "$1" = blast ]; then echo "$CRIER_PID" > "$WORK/crier.pid"; else rm -f "$WORK/crier.pid"; fi
}
# The pid of crier itself (the child of `timeout`), for kill -9 and the RSS samples.
crier_child() { pgrep -P "$1" 2>/dev/null | head -1 || true; }
run_due() {
  start_crier "run-due-$1" run-due
  wait "$CRIER_PID" || log "run-due exited $?"
  CRIER_PID=
}
backlog() {
  python3 - "$PROJECT/crier.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'retry', 'attempting')").fetchone()[0]
unplanned = db.execute("SELECT COUNT(*) FROM updates WHERE planned = 0").fetchone()[0]
print(rows + unplanned)
EOF
}

START=$(now)
END=$((START + SOAK_SECONDS))
NEXT_KILL=$((START + $(rand_between "$KILL_MIN" "$KILL_MAX")))
ROUND=0 KILLS=0 STARTS=0
log "soak: seed $SEED, $SOAK_SECONDS s, $RECIPIENTS recipients, work in $WORK"
blast_args() {
  BLAST=(blast update --incident SOAK-1 --title "Soak: checkout is failing"
    --set progress="Soak round $ROUND: we are still working on it." --next-update-in 30m --yes)
}
# Runs the current round's blast until it exits by itself, killing it (and running it again)
# whenever a kill is due. Returns 1 when the soak's time is up with the blast still running.
run_round() {
  local attempt=0 rc pid
  while :; do
    STARTS=$((STARTS + 1))
    start_crier "round-$ROUND-$attempt" "${BLAST[@]}"
    LAST_OUT=$WORK/logs/round-$ROUND-$attempt.out
    while kill -0 "$CRIER_PID" 2>/dev/null; do
      if [ "$(now)" -ge "$END" ]; then return 1; fi
      pid=$(crier_child "$CRIER_PID")
      if [ "$(now)" -ge "$NEXT_KILL" ] && [ -n "$pid" ]; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$CRIER_PID" 2>/dev/null || true
        KILLS=$((KILLS + 1))
        NEXT_KILL=$(($(now) + $(rand_between "$KILL_MIN" "$KILL_MAX")))
        log "round $ROUND: kill -9 #$KILLS (crier pid $pid); next kill in $((NEXT_KILL - $(now))) s"
        CRIER_PID=
        run_due "kill-$KILLS"
        attempt=$((attempt + 1))
        continue 2
      fi
      sleep 0.5
    done
    rc=0
    wait "$CRIER_PID" || rc=$?
    CRIER_PID=
    case $rc in
      0 | 1) return 0 ;; # 1: some messages failed for good (the permanent failures on purpose)
      *) log "round $ROUND: crier exited $rc"; tail -20 "$WORK/logs/round-$ROUND-$attempt.out" >&2; exit 1 ;;
    esac
  done
}

while [ "$(now)" -lt "$END" ]; do
  ROUND=$((ROUND + 1))
  blast_args
  run_round || break
  log "round $ROUND done: $(grep -E '^ *(email|hooks|slack) ' "$LAST_OUT" | tr -s ' \n' ' ' | cut -c1-200)"
  run_due "round-$ROUND"
done

# --- the drain -----------------------------------------------------------------------------------
kill -USR1 "$PROXY"
OFF=$(now)
log "faults off after $ROUND rounds and $KILLS kills; draining (at most $DRAIN_SECONDS s)"
DRAINED=
while :; do
  B=$(backlog)
  if [ "$B" -eq 0 ]; then DRAINED=$(($(now) - OFF)); break; fi
  if [ $(($(now) - OFF)) -gt "$DRAIN_SECONDS" ]; then break; fi
  if [ -z "$CRIER_PID" ] || ! kill -0 "$CRIER_PID" 2>/dev/null; then
    [ -n "$CRIER_PID" ] && { wait "$CRIER_PID" || true; }
    # Continue the latest update (the same command), then retries of the earlier ones.
    STARTS=$((STARTS + 1))
    start_crier "drain-$STARTS" "${BLAST[@]}"
    wait "$CRIER_PID" || true
    CRIER_PID=
    run_due "drain-$STARTS"
  fi
  sleep 1
done
if [ -n "$CRIER_PID" ]; then wait "$CRIER_PID" || true; CRIER_PID=; fi
BACKLOG_END=$(backlog)
log "backlog $BACKLOG_END, drained in ${DRAINED:-(not drained)} s"
(cd "$PROJECT" && "$CRIER" status SOAK-1 --json) > "$WORK/status.json" || true
kill "$PROXY"
sleep 2
python3 - "$WORK/run.json" <<EOF
import json, sys
json.dump(dict(seed=$SEED, start=$START, soak_seconds=$SOAK_SECONDS, recipients=$RECIPIENTS, kills=$KILLS,
               blast_starts=$STARTS, rounds=$ROUND, drain_limit=$DRAIN_SECONDS,
               drain_seconds=${DRAINED:-None}, backlog_after_drain=$BACKLOG_END), open(sys.argv[1], "w"))
EOF
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); crier $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%Y-%m-%dT%H:%MZ)"
python3 benches/soak/check.py "$WORK"
