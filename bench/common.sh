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
bin=build/server/smtpcheck
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
build_with_bench() {
  scripts/install-deps build test bench
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPCHECK_BUILD_BENCH=ON >/dev/null
  cmake --build build -j "$(nproc)" --target smtpcheck smtp_dialogs >/dev/null
}
