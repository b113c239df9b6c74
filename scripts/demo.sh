#!/usr/bin/env bash
# demo.sh: the lab tour. Brings a real 3-host KVM lab up (2 active hosts, 1 standby, 2 guests),
# live-migrates a guest while pinging it, cuts a host's power, fences it through its BMC with
# the real fence_redfish agent, restarts its guests on the standby host, and brings it all down.
# Run through `make demo`. Everything it makes is removed on exit, even after a failure.
set -euo pipefail
LIFEBOAT=${LIFEBOAT:-build/lifeboat}
DIR=${DEMO_DIR:-$(mktemp -d /tmp/lifeboat-demo.XXXXXX)/lab}
PING_PID=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  [ -n "$PING_PID" ] && kill "$PING_PID" 2>/dev/null || true
  if [ -f "$DIR/lab.json" ]; then say "lab down"; "$LIFEBOAT" lab down --dir "$DIR" || true; fi
  rmdir "$(dirname "$DIR")" 2>/dev/null || true
}
trap cleanup EXIT

# uri N / bmc N / cred N: the Nth host's libvirt URI, BMC endpoint and credentials file, from the
# daemon config that `lab up` wrote.
field() { grep -E "^\s+$1:" "$DIR/lifeboat.yaml" | sed -n "${2}p" | awk '{print $2}'; }
uri() { field uri "$1"; }
addr() { uri "$1" | sed -E 's|qemu\+tcp://([^/]+)/system|\1|'; }

say "lab up: 2 active hosts, 1 standby, 2 guests (tiny Linux under TCG)"
"$LIFEBOAT" lab up --hosts 2 --standby 1 --vms 2 --dir "$DIR"

G1_IP=$("$LIFEBOAT" lab status --dir "$DIR" | awk '$1=="g1"{print $3}')
say "live migration of g1 from h1 to h2 while pinging it every 10 ms"
ping -n -D -i 0.01 -W 1 "$G1_IP" > "$DIR/../ping.log" 2>&1 &
PING_PID=$!
sleep 1
start=$(date +%s.%N)
virsh -q -c "$(uri 1)" migrate --live --p2p --persistent --undefinesource g1 "$(uri 2)"
end=$(date +%s.%N)
sleep 1
kill "$PING_PID"; wait "$PING_PID" 2>/dev/null || true; PING_PID=""
gap=$(awk -F'[][]' '/icmp_seq/ {t=$2; if (p && t-p>g) g=t-p; p=t} END {printf "%.0f", g*1000}' "$DIR/../ping.log")
printf 'migration took %s s; longest gap between ping replies: %s ms\n' "$(awk "BEGIN{printf \"%.1f\", $end - $start}")" "$gap"
rm -f "$DIR/../ping.log"
"$LIFEBOAT" lab status --dir "$DIR"

say "keep g1 and g2's definitions, then cut h2's power (a hard power loss)"
for g in g1 g2; do virsh -q -c "$(uri 2)" dumpxml --inactive "$g" > "$DIR/../$g.xml"; done
"$LIFEBOAT" lab fault --dir "$DIR" h2 power-off
"$LIFEBOAT" lab status --dir "$DIR"

say "fence h2 through its BMC with the real fence_redfish agent, and verify it is off"
bmc=$(field endpoint 2 | sed -E 's|https://||')
# Credentials go to the agent on its standard input, never on its command line.
{ echo "ip=${bmc%:*}"; echo "ipport=${bmc##*:}"; echo "ssl_insecure=1"; echo "action=off"
  cat "$(field credentials_file 2)"; } | fence_redfish
set +e
{ echo "ip=${bmc%:*}"; echo "ipport=${bmc##*:}"; echo "ssl_insecure=1"; echo "action=status"
  cat "$(field credentials_file 2)"; } | fence_redfish
rc=$?
set -e
[ "$rc" -eq 2 ] && echo "verified: h2 is powered off (fence_redfish status exit 2)" || { echo "fence not verified (exit $rc)"; exit 1; }

say "restart g1 and g2 on the standby host h3 from their stored definitions"
for g in g1 g2; do
  t0=$(date +%s.%N)
  virsh -q -c "$(uri 3)" define "$DIR/../$g.xml" >/dev/null
  virsh -q -c "$(uri 3)" start "$g" >/dev/null
  printf '%s started on h3 in %s s\n' "$g" "$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")"
  rm -f "$DIR/../$g.xml"
done
for i in $(seq 1 100); do ping -c1 -W1 "$G1_IP" >/dev/null 2>&1 && break; sleep 0.2; done
ping -c1 -W1 "$G1_IP" >/dev/null && echo "g1 answers ping again at $G1_IP"
"$LIFEBOAT" lab status --dir "$DIR"

say "power h2 back on: a fresh libvirtd, its old guests defined but off"
"$LIFEBOAT" lab fault --dir "$DIR" h2 power-on
"$LIFEBOAT" lab status --dir "$DIR"
