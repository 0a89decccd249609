#!/usr/bin/env bash
# The Debian package (issue 13), as the ctest entry package.deb runs it:
#   test/package/test_package.sh BUILD_DIR SOURCE_DIR VERSION
# 1. cpack -G DEB in BUILD_DIR (what is built there, not rebuilt) writes BUILD_DIR/package/;
# 2. lintian reports no error (E:) and no missing hardening (hardening-no-*) on the .deb; its
#    other tags are printed;
# 3. systemd-analyze verify accepts the unit from the package, without a word of complaint,
#    and systemd-analyze security rates its exposure 2.0 at most;
# 4. in a throwaway Debian 12 root (debootstrap --variant=minbase bookworm, kept as a tarball in
#    CACHE_DIR so that later runs unpack it in seconds) apt-get installs the .deb with its
#    dependencies; there `smtpcheck --version` prints VERSION, `check-config` accepts the
#    packaged /etc/smtpcheck/smtpcheck.ini before any state file exists, the ini is a conffile,
#    the manual page and the unit are in place, `smtpcheck serve` starts with the packaged
#    configuration (after the unit's ExecStartPre) and drains on SIGTERM, and dpkg -r, then
#    dpkg -P, remove it.
# One line per check (ok/FAIL); the exit status is 1 when one failed. Needs root (chroot, mount,
# dpkg in the root): without it the test fails, it does not skip.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "FAIL: test/package/test_package.sh needs root (debootstrap, chroot, mount); run it as root" >&2
  exit 1
fi
build=$(realpath "${1:?usage: test_package.sh BUILD_DIR SOURCE_DIR VERSION}")
src=$(realpath "${2:?usage: test_package.sh BUILD_DIR SOURCE_DIR VERSION}")
version=${3:?usage: test_package.sh BUILD_DIR SOURCE_DIR VERSION}
cache_dir=${SMTPCHECK_TEST_CACHE:-/var/cache/smtpcheck-test}
mirror=${SMTPCHECK_TEST_MIRROR:-http://deb.debian.org/debian}

failures=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check "what" command...: ok when the command succeeds.
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

work=$(mktemp -d /tmp/smtpcheck-package-test.XXXXXX)
root="$work/root"
cleanup() {
  local m
  # Whatever is mounted below the root, deepest first.
  for m in $(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# 1. cpack
rm -rf "$build/package"
if ! (cd "$build" && cpack -G DEB --config CPackConfig.cmake) >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log"
  fail "cpack -G DEB in $build"
  exit 1
fi
debs=("$build"/package/smtpcheck_"$version"-1_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  ls -la "$build/package" || true
  fail "cpack wrote one smtpcheck_${version}-1_<arch>.deb"
  exit 1
fi
deb=${debs[0]}
ok "cpack wrote $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb"

# 2. lintian: errors fail, the rest is printed for whoever reads the log.
lintian_out=$(lintian --display-info --pedantic "$deb" 2>&1) || true
[[ -z "$lintian_out" ]] || printf '%s\n' "$lintian_out" | sed 's/^/  lintian: /'
if grep -q '^E: ' <<<"$lintian_out"; then
  fail "lintian: $(grep -c '^E: ' <<<"$lintian_out") error(s)"
else
  ok "lintian: no errors ($(grep -c '^[WIP]: ' <<<"$lintian_out" || true) warnings, infos and pedantic tags)"
fi
# Debian's hardening (SMTPCHECK_HARDENING, full RELRO): lintian names any part that is missing.
if grep -q 'hardening-no-' <<<"$lintian_out"; then
  fail "lintian: the binary lacks hardening ($(grep -o 'hardening-no-[a-z-]*' <<<"$lintian_out" | sort -u | tr '\n' ' '))"
else
  ok "lintian: the binary has Debian's hardening (no hardening-no-* tag)"
fi

# 3. The unit as systemd reads it, in the package's own tree: there ExecStart's
# /usr/bin/smtpcheck exists; /bin/sh (ExecStartPre) and the host's units (the targets the unit
# and its default dependencies name) are added, as any system has them. systemd-analyze verify
# exits 0 on unknown keys and bad values, only saying so: any output fails too.
extract="$work/extract"
dpkg-deb -x "$deb" "$extract"
unit="$extract/lib/systemd/system/smtpcheck.service"
mkdir -p "$extract/bin" && cp /bin/dash "$extract/bin/sh"
cp -an /lib/systemd/system/. "$extract/lib/systemd/system/"
verify_out=$(systemd-analyze verify --man=no --root="$extract" "$unit" 2>&1) && verify_rc=0 || verify_rc=$?
if [[ $verify_rc -eq 0 && -z "$verify_out" ]]; then
  ok "systemd-analyze verify smtpcheck.service"
else
  printf '%s\n' "$verify_out" | sed 's/^/  systemd-analyze: /'
  fail "systemd-analyze verify smtpcheck.service (status $verify_rc)"
fi
# The exposure systemd-analyze security rates (0.0 to 10.0, lower is safer): at most
# MAX_EXPOSURE_TENTHS / 10; the unit as written is 1.4.
max_tenths=${SMTPCHECK_MAX_EXPOSURE_TENTHS:-20}
security_out=$(systemd-analyze security --offline=yes --root="$extract" --threshold="$max_tenths" "$unit" 2>&1) &&
  security_rc=0 || security_rc=$?
exposure=$(grep -o 'exposure level for smtpcheck.service: [0-9.]*' <<<"$security_out" | awk '{ print $NF }' || true)
if [[ $security_rc -eq 0 && -n "$exposure" ]]; then
  ok "systemd-analyze security: exposure $exposure (at most $max_tenths tenths)"
else
  printf '%s\n' "$security_out" | grep -E '^✗|exposure' | sed 's/^/  systemd-analyze: /' || true
  fail "systemd-analyze security: exposure ${exposure:-unknown}, more than $max_tenths tenths (status $security_rc)"
fi

# The conffile is the tree's packaging/smtpcheck.ini, and it names every key of the built-in
# defaults (commented out with its default, or set).
check "/etc/smtpcheck/smtpcheck.ini in the package is packaging/smtpcheck.ini" \
  cmp -s "$extract/etc/smtpcheck/smtpcheck.ini" "$src/packaging/smtpcheck.ini"
missing=$(awk '
  FNR == 1 { file++ }
  /^\[/ { section = $0; next }
  file == 1 && /^[a-z_]+ *=/ { key = $1; sub(/=.*/, "", key); want[section " " key] = 1; next }
  file == 2 && /^;?[a-z_]+ *=/ { key = $1; sub(/^;/, "", key); sub(/=.*/, "", key); have[section " " key] = 1 }
  END { for (k in want) if (!(k in have)) print k }' \
  "$src/config/defaults.ini" "$extract/etc/smtpcheck/smtpcheck.ini")
if [[ -z "$missing" ]]; then
  ok "the packaged ini names every key of config/defaults.ini"
else
  fail "the packaged ini lacks $(tr '\n' ' ' <<<"$missing")"
fi

# 4. A fresh Debian 12 root from the cached tarball (made once by debootstrap). One run at a
# time uses the cache (the tarball, the downloaded .debs apt locks).
mkdir -p "$cache_dir"
exec 9>"$cache_dir/lock"
flock 9
tarball="$cache_dir/bookworm-minbase.tar.zst"
if [[ ! -f $tarball ]]; then
  echo "making $tarball (debootstrap --variant=minbase bookworm, once)"
  debootstrap --variant=minbase bookworm "$work/pristine" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log"; fail "debootstrap --variant=minbase bookworm"; exit 1; }
  tar --numeric-owner --xattrs -C "$work/pristine" -cf - . | zstd -q -T0 -10 -o "$tarball.part"
  mv "$tarball.part" "$tarball"
  rm -rf --one-file-system "$work/pristine"
fi
mkdir "$root"
zstd -dc "$tarball" | tar --numeric-owner --xattrs -C "$root" -xf -
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
# The downloaded dependencies are kept between runs too.
mkdir -p "$cache_dir/apt-archives/partial"
mount --bind "$cache_dir/apt-archives" "$root/var/cache/apt/archives"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

if in_root sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends "/tmp/$1"' sh "$(basename "$deb")" >"$work/apt.log" 2>&1; then
  ok "apt-get install ./$(basename "$deb") with its dependencies in a fresh Debian 12 root"
else
  tail -30 "$work/apt.log"
  fail "apt-get install ./$(basename "$deb") in a fresh Debian 12 root"
  exit 1
fi

out=$(in_root smtpcheck --version 2>&1) || true
if [[ $out == "smtpcheck $version" ]]; then ok "smtpcheck --version prints '$out'"; else fail "smtpcheck --version printed '$out', not 'smtpcheck $version'"; fi

check "no state file before the first start (/var/lib/smtpcheck absent)" test ! -e "$root/var/lib/smtpcheck"
if out=$(in_root smtpcheck check-config --config /etc/smtpcheck/smtpcheck.ini 2>&1); then
  ok "smtpcheck check-config --config /etc/smtpcheck/smtpcheck.ini"
else
  printf '%s\n' "$out" | sed 's/^/  /'
  fail "smtpcheck check-config --config /etc/smtpcheck/smtpcheck.ini"
fi

conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' smtpcheck)
if grep -qE '^ /etc/smtpcheck/smtpcheck\.ini [0-9a-f]{32}$' <<<"$conffiles"; then
  ok "/etc/smtpcheck/smtpcheck.ini is a conffile (dpkg-query)"
else
  fail "/etc/smtpcheck/smtpcheck.ini is not among the conffiles: '$conffiles'"
fi
check "the manual page /usr/share/man/man1/smtpcheck.1.gz is installed (help2man's, with the version)" \
  sh -c "zcat '$root/usr/share/man/man1/smtpcheck.1.gz' | grep -q '^\.TH SMTPCHECK \"1\" .* \"smtpcheck $version\"'"
check "the unit is /lib/systemd/system/smtpcheck.service" test -f "$root/lib/systemd/system/smtpcheck.service"

# The service's start as far as a root without systemd allows: the unit's ExecStartPre, then
# its ExecStart, in a private network namespace (127.0.0.1:8080 of the machine may be taken),
# as a user that is not root; SIGTERM must end it with status 0 (the drain).
pre=$(sed -n 's/^ExecStartPre=//p' "$root/lib/systemd/system/smtpcheck.service")
start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/smtpcheck.service")
mkdir -p -m 0700 "$root/var/lib/smtpcheck"
chown 65534:65534 "$root/var/lib/smtpcheck"
serve_log="$work/serve.log"
unshare --net sh -c '
  ip link set lo up
  exec chroot --userspec=65534:65534 "$1" /usr/bin/env -i PATH=/usr/bin:/bin sh -c "umask 077; cd /var/lib/smtpcheck && $2 && exec $3"
' sh "$root" "$pre" "$start" >"$serve_log" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do
  grep -q 'listening on' "$serve_log" && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if grep -q 'listening on http://127.0.0.1:8080' "$serve_log"; then
  kill -TERM "$serve_pid"
  serve_rc=0
  wait "$serve_pid" || serve_rc=$?
  if [[ $serve_rc -eq 0 ]] && [[ $(stat -c %s "$root/var/lib/smtpcheck/auth.secret") -eq 32 ]]; then
    ok "ExecStartPre made auth.secret (32 octets), smtpcheck serve started on 127.0.0.1:8080 and drained on SIGTERM (status 0)"
  else
    sed 's/^/  serve: /' "$serve_log"
    fail "smtpcheck serve with the packaged configuration: status $serve_rc after SIGTERM, auth.secret $(stat -c %s "$root/var/lib/smtpcheck/auth.secret" 2>&1)"
  fi
else
  kill -KILL "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  sed 's/^/  serve: /' "$serve_log"
  fail "smtpcheck serve with the packaged configuration did not start"
fi

# Removal: dpkg -r leaves the conffile (Debian policy), dpkg -P takes it too.
if in_root dpkg -r smtpcheck >"$work/remove.log" 2>&1 && [[ ! -e $root/usr/bin/smtpcheck ]] &&
   [[ ! -e $root/lib/systemd/system/smtpcheck.service ]] && [[ -f $root/etc/smtpcheck/smtpcheck.ini ]]; then
  ok "dpkg -r smtpcheck removes the package and keeps the conffile"
else
  cat "$work/remove.log"
  fail "dpkg -r smtpcheck"
fi
if in_root dpkg -P smtpcheck >"$work/purge.log" 2>&1 && [[ ! -e $root/etc/smtpcheck/smtpcheck.ini ]]; then
  ok "dpkg -P smtpcheck purges the conffile"
else
  cat "$work/purge.log"
  fail "dpkg -P smtpcheck"
fi

if [[ $failures -eq 0 ]]; then
  echo "package.deb: every check passed"
else
  echo "package.deb: $failures check(s) failed"
  exit 1
fi
