#!/usr/bin/env bash
# The install test (ctest `install`): installs this build into a temporary
# prefix with `cmake --install`, checks every installed file, builds a C
# program against the installed client library through pkg-config, refuses
# bad configuration files, then starts the installed wufeid with --config
# (it must find the installed catalogue by itself) and pings it from that C
# program and from the installed Python package. Bounded: every wait has a
# deadline; the daemon is stopped with SIGTERM and must exit 0.
# usage: install_test.sh BUILD_DIR PYTHON LIBDIR [EXTRA_CFLAGS]
set -euo pipefail
build=$1 python=$2 libdir=$3 cflags=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wufei-install.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "install test: FAIL: $*" >&2; exit 1; }
prefix=$tmp/usr
# Under a prefix other than /usr the Python package goes where Debian's
# python3 looks for that prefix: lib/python3.X/dist-packages.
pydir=lib/python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }

for f in bin/wufeid bin/wufei bin/wufei-demo "$libdir/libwufei_client.a" include/wufei/wfclient.h \
         "$libdir/pkgconfig/wufei.pc" share/wufei/catalogue.tsv share/wufei/demo/shaoxing.day \
         lib/systemd/system/wufeid.service share/doc/wufei/wufeid.conf.example \
         share/doc/wufei/operator.md share/doc/wufei/protocol.md \
         "$pydir/wufei/__init__.py" "$pydir/wufei/client.py"; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
for b in wufeid wufei wufei-demo; do [ -x "$prefix/bin/$b" ] || fail "bin/$b is not executable"; done
cmp -s "$prefix/share/wufei/catalogue.tsv" "$(dirname "$0")/../data/catalogue.tsv" || fail "catalogue differs"
echo "installed files: ok"

unit=$prefix/lib/systemd/system/wufeid.service
grep -qx "User=wufei" "$unit" || fail "the unit has no User=wufei"
grep -qx "StateDirectory=wufei" "$unit" || fail "the unit has no StateDirectory=wufei"
grep -qx "ExecStart=$prefix/bin/wufeid --config $prefix/etc/wufei/wufeid.conf" "$unit" ||
  fail "the unit's ExecStart is not $prefix/bin/wufeid --config ...: $(grep ExecStart "$unit")"
grep -q "@" "$unit" && fail "the unit has an unsubstituted @VAR@"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
fi
echo "systemd unit: ok"

# The example configuration must be accepted as it is (checked with a
# catalogue that does not exist, so that wufeid stops before opening
# anything: exit 1 from the engine, not 2 from the configuration).
set +e
"$prefix/bin/wufeid" --config "$prefix/share/doc/wufei/wufeid.conf.example" --db "$tmp/example-db" \
  --catalogue "$tmp/none.tsv" >/dev/null 2>"$tmp/example.err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "none.tsv" "$tmp/example.err" ||
  fail "the example configuration was refused (exit $rc): $(cat "$tmp/example.err")"
echo "example configuration: accepted"

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
flags=$(pkg-config --cflags --libs wufei) || fail "pkg-config --cflags --libs wufei"
echo "pkg-config --cflags --libs wufei: $flags"
[ "$(pkg-config --modversion wufei)" = "$(sed -n 's/^project(wufei VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../CMakeLists.txt")" ] ||
  fail "wufei.pc has the wrong version"
cat >"$tmp/ping.c" <<'C'
#include <stdio.h>
#include <wfclient.h>
int main(int argc, char **argv)
{
    wfc_opts_t o = {.endpoint = argc > 1 ? argv[1] : NULL, .as = "000000000000000000", .timeout_ms = 5000};
    wfc_t *c = wfc_new(&o);
    const msgpack_object *r;
    if (!c)
        return 2;
    wfc_begin(c, "ping", 0);
    int ok = wfc_call(c, &r) == 0 && wfc_get_bool(r, "ok", false);
    if (ok)
        printf("C client: ping now %lld\n", (long long)wfc_get_int(r, "now", 0));
    else
        fprintf(stderr, "C client: no ping: %s\n", wfc_error(c));
    wfc_destroy(&c);
    return ok ? 0 : 1;
}
C
# shellcheck disable=SC2086
cc $cflags -Wall -Werror -o "$tmp/ping" "$tmp/ping.c" $flags || fail "cannot build against the installed library"
echo "C program built against the installed library: ok"

# Bad configuration files: clear errors, exit status 2.
expect_refused() { # name, text expected in the error, file contents
  printf '%s\n' "$3" >"$tmp/$1.conf"
  set +e
  "$prefix/bin/wufeid" --config "$tmp/$1.conf" >/dev/null 2>"$tmp/$1.err"
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "$1: exit $rc, not 2: $(cat "$tmp/$1.err")"
  grep -qF -- "$2" "$tmp/$1.err" || fail "$1: no \"$2\" in: $(cat "$tmp/$1.err")"
  echo "refused $1: $(head -1 "$tmp/$1.err")"
}
expect_refused unknown-key "$tmp/unknown-key.conf:2: unknown key \"colour\"" "db = $tmp/db
colour = green"
expect_refused bad-number "map-size\" wants a whole number" "map-size = lots"
expect_refused bad-bool "\"insecure\" wants true or false, not \"maybe\"" "insecure = maybe"
expect_refused no-equals "expected \"key = value\"" "db $tmp/db"
expect_refused twice "\"db\" is set twice" "db = $tmp/a
db = $tmp/b"
expect_refused not-loopback "not tcp://192.0.2.1:5570" "db = $tmp/db
insecure = true
command = tcp://192.0.2.1:5570"
set +e
"$prefix/bin/wufeid" --config "$tmp/missing.conf" >/dev/null 2>"$tmp/missing.err"
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "cannot read the configuration file" "$tmp/missing.err" || fail "a missing --config file: exit $rc"

# The installed daemon on a configuration file; the command line overrides
# the file's (non-loopback, so refused) command endpoint.
cat >"$tmp/wufeid.conf" <<CONF
# a test configuration
db = $tmp/db
command = tcp://192.0.2.1:5570   # overridden on the command line
feed = tcp://127.0.0.1:*
insecure = yes
map-size = 64
batch = 64
quiet = true
metrics = tcp://127.0.0.1:*
dashboard = true
CONF
"$prefix/bin/wufeid" --config "$tmp/wufeid.conf" --command 'tcp://127.0.0.1:*' \
  >"$tmp/wufeid.out" 2>"$tmp/wufeid.err" &
pid=$!
ep=
for _ in $(seq 1 200); do
  ep=$(sed -n 's/^wufeid .* ready on \(.*\)$/\1/p' "$tmp/wufeid.out")
  [ -n "$ep" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ep" ] || fail "the installed wufeid did not start: $(cat "$tmp/wufeid.err")"
echo "installed wufeid ready on $ep"
grep -q "catalogue $prefix/bin/.*share/wufei/catalogue.tsv" "$tmp/wufeid.err" ||
  fail "the installed wufeid did not use the installed catalogue: $(grep catalogue "$tmp/wufeid.err")"
[ -f "$tmp/db/data.mdb" ] || fail "no database in the configured db folder"

http=$(sed -n 's/^.*http on \(tcp:\/\/127\.0\.0\.1:[0-9]*\): \/metrics, \/healthz, dashboard.*$/\1/p' "$tmp/wufeid.err")
[ -n "$http" ] || fail "metrics and dashboard from the configuration file are not served: $(cat "$tmp/wufeid.err")"
timeout 20 "$python" - "http://${http#tcp://}" <<'PY' || fail "the dashboard configured in the file does not answer"
import json, sys, time, urllib.request
for _ in range(50):
    try:
        state = json.load(urllib.request.urlopen(sys.argv[1] + "/api/state", timeout=2))
        break
    except Exception:
        time.sleep(0.1)
else:
    raise SystemExit("no /api/state")
assert isinstance(state, dict), state
assert b"wufei_" in urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=2).read()
print("metrics and dashboard from the configuration file: ok")
PY
timeout 20 "$tmp/ping" "$ep" || fail "the C program could not ping the installed wufeid"
PYTHONPATH=$prefix/$pydir timeout 20 "$python" - "$ep" "$prefix/$pydir" <<'PY' || fail "the installed Python package could not ping"
import sys
import wufei
assert wufei.__file__.startswith(sys.argv[2]), wufei.__file__
with wufei.Client(sys.argv[1], as_firm=wufei.OPERATOR_ID, timeout=5) as op:
    print("Python client: ping now", op.ping())
    op.firm_put("91330600MA2D000001", "柯桥印染厂", ["producer"], 30.08, 120.49, 330603)
# the installed catalogue is loaded: SW07 is a code, NOPE99 is not
with wufei.Client(sys.argv[1], as_firm="91330600MA2D000001", timeout=5) as p:
    assert p.post_offer("SW07", 1000, -5000)["rest"] == 1000
    try:
        p.post_offer("NOPE99", 1000, -5000)
        raise AssertionError("NOPE99 was accepted")
    except wufei.WufeiError as e:
        assert e.err == "E_CODE", e
PY

kill -TERM "$pid"
rc=0
for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid" || rc=$?
pid=
[ $rc -eq 0 ] || fail "the installed wufeid exited $rc: $(cat "$tmp/wufeid.err")"
echo "install test: ok"
