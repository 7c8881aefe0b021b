# Shared by the benchmark scripts (sourced, from the repository's root): installs the servers
# and tools if missing, builds crier in release mode once, starts Postfix's smtp-sink on
# 127.0.0.1:SMTP_PORT and one nginx answering 204 on 127.0.0.1 to 127.0.0.HOSTS:HTTP_PORT,
# and defines `project`. Everything is removed on exit: the servers, WORK, and whatever the
# sourcing script lists in CLEANUPS (functions, run first).
SMTP_PORT=${SMTP_PORT:-2525}
HTTP_PORT=${HTTP_PORT:-8088}
HOSTS=${HOSTS:-32}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need smtp-sink || ! need smtp-source || ! need nginx || ! need wrk || [ ! -x /usr/bin/time ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postfix nginx-light wrk time >/dev/null
  # The packages start their own daemons; the benchmark runs its own on other ports.
  (postfix stop; service nginx stop) >/dev/null 2>&1 || true
fi

cargo build --release --quiet
CRIER=$PWD/target/release/crier
WORK=$(mktemp -d)
PIDS=()
CLEANUPS=()
cleanup() {
  for f in "${CLEANUPS[@]}"; do "$f" || true; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM # so that the EXIT trap cleans up after a kill too

# --- servers -------------------------------------------------------------------------------
smtp-sink -u nobody 127.0.0.1:"$SMTP_PORT" 1024 &
PIDS+=($!)
SINK_PID=$!
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  server { $(for h in $(seq 1 "$HOSTS"); do printf 'listen 127.0.0.%s:%s; ' "$h" "$HTTP_PORT"; done) location / { return 204; } }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
NGINX_PID=$!
sleep 1

# --- a crier project -------------------------------------------------------------------------
project() { # $1 = dir, $2 = rows, $3 = channel file content
  "$CRIER" init "$1" >/dev/null
  rm "$1/channels/file.toml"
  # The customer hosts are on loopback: the network guard reaches them through the allow list.
  printf '\n[network]\nallow_private = ["127.0.0.0/8"]\n' >> "$1/crier.toml"
  printf '%s\n' "$3" > "$1/channels/bench.toml"
  python3 - "$1/audience.csv" "$2" "$HTTP_PORT" "$HOSTS" <<'PY'
import sys
path, n, port, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with open(path, "w") as f:
    f.write("id,email,name,webhook_url,plan\n")
    for i in range(n):
        f.write(f"cus_{i},person{i}@example.com,Person {i},http://127.0.0.{1 + i % hosts}:{port}/hook/cus_{i},pro\n")
PY
}
