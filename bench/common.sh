# Shared by the bench scripts: argument parsing, cores, ports, medians, ratios, cleanup.
# Sourced after `cd` to the project root; sets rounds, duration, client_cpu, bin.
rounds=${rounds:-3} duration=${duration:-5} connections=${connections:-64}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${BENCH_BIN:-build/server/smtpcheck}  # BENCH_BIN=path: another build (an older one, to compare)
client_cpu=$(( $(nproc) > 1 ? 1 : 0 ))
pids=()
work=$(mktemp -d)
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# wrk's latency line ("50%  123.45us") in microseconds
wrk_percentile_us() {
  awk -v p="$1" '$1 == p { v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                          m = (u=="us") ? 1 : (u=="ms") ? 1000 : (u=="s") ? 1000000 : 1; printf "%.0f", v*m }'
}
# BENCH_SKIP_BUILD=1 (the bench.quick test under ctest): use build/ as the test run built it.
build_with_bench() {
  if [[ -n ${BENCH_SKIP_BUILD:-} ]]; then
    [[ -x $bin && -x build/bench/smtp_dialogs ]] || { echo "BENCH_SKIP_BUILD: build/ lacks the binaries" >&2; exit 1; }
    return 0
  fi
  scripts/install-deps build test bench
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPCHECK_BUILD_BENCH=ON >/dev/null
  cmake --build build -j "$(nproc)" --target smtpcheck smtp_dialogs >/dev/null
}
# Builds only when a binary is missing (scripts that must not rebuild on every run).
ensure_built() { [[ -x build/server/smtpcheck && -x build/bench/smtp_dialogs ]] || build_with_bench; }
# smtpcheck on core 0 with one thread, user bench / bench-password, loopback destinations
# allowed, test mails to sink@example.com: start_smtpcheck PORT [--set KEY=VALUE]...
start_smtpcheck() {
  local port=$1; shift
  taskset -c 0 $bin serve --set "server.listen=127.0.0.1:$port" --set server.threads=1 --set log.access=false \
    --set log.level=error --set "users.bench=$(echo bench-password | $bin hash-password)" \
    --set smtp.allow_private_destinations=true --set smtp.allowed_ports=* --set smtp.test_recipient=sink@example.com "$@" &
  pids+=($!)
}
# A peer reference server (bench/peers: node or python) on core 0 with the same user and
# recipient: start_peer node|python PORT. bench/peers/install must have run.
start_peer() {
  local env=(PEER_USER=bench PEER_PASSWORD=bench-password PEER_RECIPIENT=sink@example.com)
  case "$1" in
    node) env "${env[@]}" taskset -c 0 node bench/peers/node/server.js "$2" & ;;
    python) env "${env[@]}" taskset -c 0 /usr/bin/python3 bench/peers/python/server.py "$2" & ;;
    *) echo "unknown peer $1" >&2; return 2 ;;
  esac
  pids+=($!)
}
# Postfix's smtp-sink on 127.0.0.1:PORT (as nobody when root), not pinned: start_sink PORT
start_sink() {
  local user=(); [[ $(id -u) -eq 0 ]] && user=(-u nobody)
  /usr/sbin/smtp-sink "${user[@]}" "127.0.0.1:$1" 1024 &
  pids+=($!)
}
test_url() { echo "http://127.0.0.1:$1/api/v1/Agents/CustomerService/TestSmtpServer"; }
# start_smtpcheck's user, as an Authorization value; and a wrk script that POSTs the JSON body
# $1 with it: post_script BODY > FILE
basic="Basic $(printf 'bench:bench-password' | base64)"
post_script() {
  cat <<LUA
wrk.method = "POST"
wrk.body = '$1'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$basic"
LUA
}
