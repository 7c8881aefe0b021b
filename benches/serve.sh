#!/usr/bin/env bash
# crier serve under load: /v1/status.json and /widget.js with wrk, while SSE_CLIENTS (default
# 1,000) widgets hold /v1/events open, on one machine (server, clients and wrk share its cores).
#
#   benches/serve.sh
#   SSE_CLIENTS=1000 SECONDS_EACH=10 CONNECTIONS=64 benches/serve.sh
#
# Installs wrk with apt if missing, builds crier in release mode, and talks to 127.0.0.1 only.
# The journal holds one open incident, so the answers are the real, non-empty ones. Prints one
# Markdown table; BENCHMARKS.md records a run. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

SSE_CLIENTS=${SSE_CLIENTS:-1000}
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-8099}

if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
ulimit -n 65536 2>/dev/null || true
cargo build --release --quiet
CRIER=$PWD/target/release/crier
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

"$CRIER" init "$WORK/p" >/dev/null
cd "$WORK/p"
"$CRIER" blast outage-notice --incident BENCH-1 --title "Checkout is failing" \
  --set affected="complete a checkout" --set next_update="in 30 minutes" --yes >/dev/null
"$CRIER" serve --listen 127.0.0.1:"$PORT" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

# SSE_CLIENTS widgets: each opens /v1/events and keeps reading (one Python process, asyncio).
python3 - "$PORT" "$SSE_CLIENTS" "$WORK/sse.ready" <<'PY' &
import asyncio, sys
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
async def client(opened):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    await w.drain()
    first = await r.readuntil(b"\n\n")
    assert b"event: state" in first, first
    opened.append(1)
    while await r.read(4096):
        pass
async def main():
    opened = []
    tasks = [asyncio.create_task(client(opened)) for _ in range(n)]
    while len(opened) < n:
        await asyncio.sleep(0.05)
    open(ready, "w").write(str(len(opened)))
    await asyncio.gather(*tasks)
asyncio.run(main())
PY
PIDS+=($!)
for _ in $(seq 1 600); do [ -s "$WORK/sse.ready" ] && break; sleep 0.1; done
[ -s "$WORK/sse.ready" ] || { echo "the SSE clients did not all connect" >&2; exit 1; }
held=$(cat "$WORK/sse.ready")

rps() {
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT$1" > "$WORK/wrk.txt"
  grep -q "Non-2xx" "$WORK/wrk.txt" && { cat "$WORK/wrk.txt" >&2; exit 1; }
  local r p99
  r=$(awk '/Requests\/sec/ {printf "%d", $2}' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
  echo "| \`$1\` | $held | $CONNECTIONS | $r | $p99 |"
}
echo "| route | SSE clients held | wrk connections | requests/s | p99 latency |"
echo "|---|---:|---:|---:|---:|"
rps /v1/status.json
rps /widget.js
