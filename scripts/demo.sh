#!/usr/bin/env bash
# demo.sh: the main job on an embedded default. Brings a real 3-host KVM lab up (tiny Linux
# guests), starts the lifeboat daemon on it with its embedded store, shows the host table live,
# switches a guest over to another host while pinging it, drains a host for maintenance, cuts a
# host's power and shows the verdict change with its reason, the fence and the restart of its VMs
# elsewhere, powers the host back on until it is healthy again and its VMs come home (failback),
# degrades a host through its BMC so it is emptied by live migration and refilled once repaired,
# shows what-if and failover capacity, cuts a host's management link for 5 s (partitioned: its
# guests answer, nothing is fenced or moved), and removes everything.
# Run through `make demo`. Everything it makes is removed on exit, even after a failure; it only
# ever stops processes it started, by their pid.
set -euo pipefail
LIFEBOAT=${LIFEBOAT:-build/lifeboat}
WORK=$(mktemp -d /tmp/lifeboat-demo.XXXXXX)
DIR=$WORK/lab
DAEMON_PID=""
PING_PID=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  [ -n "$PING_PID" ] && kill "$PING_PID" 2>/dev/null || true
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  if [ -f "$DIR/lab.json" ]; then say "lab down"; "$LIFEBOAT" lab down --dir "$DIR" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

lb() { "$LIFEBOAT" "$@" --config "$DIR/lifeboat.yaml"; }
# watch_hosts SECONDS UNTIL: print the host table every second until a line matches UNTIL.
watch_hosts() {
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do
    printf '\n[%s]\n' "$(date +%T)"
    out=$(lb hosts)
    echo "$out"
    if [ -n "${2:-}" ] && grep -E "$2" <<<"$out" >/dev/null; then return 0; fi
    sleep 1
  done
  [ -z "${2:-}" ]
}

say "lab up: 3 hosts, 3 guests (tiny Linux under TCG), each host with a Redfish BMC"
"$LIFEBOAT" lab up --hosts 3 --vms 3 --dir "$DIR"

say "lifeboat daemon --config $DIR/lifeboat.yaml (embedded store: $DIR/lifeboat.db)"
"$LIFEBOAT" daemon --config "$DIR/lifeboat.yaml" > "$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 50); do lb status >/dev/null 2>&1 && break; sleep 0.2; done
watch_hosts 15 '^h3 +healthy' >/dev/null || true
lb hosts
echo
lb vms

G1_IP=$("$LIFEBOAT" lab status --dir "$DIR" | awk '$1=="g1"{print $3}')
say "lifeboat switchover g1 --to h2: a live migration through the daemon, pinging g1 every 10 ms"
ping -n -D -i 0.01 -W 1 "$G1_IP" > "$WORK/ping.log" 2>&1 &
PING_PID=$!
sleep 1
start=$(date +%s.%N)
lb switchover g1 --to h2
end=$(date +%s.%N)
sleep 1
kill "$PING_PID"; wait "$PING_PID" 2>/dev/null || true; PING_PID=""
gap=$(awk -F'[][]' '/icmp_seq/ {t=$2; if (p && t-p>g) g=t-p; p=t} END {printf "%.0f", g*1000}' "$WORK/ping.log")
printf 'migration took %s s; longest gap between ping replies: %s ms\n' "$(awk "BEGIN{printf \"%.1f\", $end - $start}")" "$gap"
sleep 2
lb vms

say "lifeboat drain h3: maintenance, every VM live-migrated off within the budgets"
lb drain h3
lb hosts
lb undrain h3

say "before anything fails: how many host failures can the cluster absorb, and what if h2 died now?"
lb capacity
echo
lb whatif --fail h2

say "power loss on h2 (every process of the host killed, its NIC dark); the daemon's view, live"
t0=$(date +%s.%N)
"$LIFEBOAT" lab fault --dir "$DIR" h2 power-off
watch_hosts 15 '^h2 +(failed|fenced)'
printf '\nh2 declared failed (and fenced) %s s after the power loss\n' "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")"
say "lifeboat explain host h2"
lb explain host h2

say "recovery: h2 fenced through its BMC (power off verified), its VMs restarted on other hosts"
for _ in $(seq 1 30); do lb recoveries | grep -E 'queued|restarting' >/dev/null || break; sleep 0.5; done
lb recoveries
echo
lb vms

say "power h2 back on through the lab; it must answer for a stable period before it is healthy"
"$LIFEBOAT" lab fault --dir "$DIR" h2 power-on
watch_hosts 40 '^h2 +healthy'

say "failback: once h2 has been healthy for failback.stable_for (20 s in the lab), its VMs come home by live migration"
# wait_home VM HOST SECONDS: wait until the VM runs on its home host again.
wait_home() {
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    lb vms | awk -v vm="$1" -v h="$2" '$1==vm && $2==h {found=1} END {exit !found}' && return 0
    sleep 1
  done
  return 1
}
if wait_home g2 h2 60; then lb vms; else echo "g2 has not come home yet"; lb vms; fi

say "degradation: h3's BMC reports health Critical; h3 is emptied by live migration before it fails"
"$LIFEBOAT" lab fault --dir "$DIR" h3 degrade --health critical --reason "PSU 2 lost input"
watch_hosts 15 '^h3 +degraded' || true
for _ in $(seq 1 60); do lb vms | awk '$2=="h3"{found=1} END{exit found}' && break; sleep 0.5; done
lb vms
lb explain host h3 | sed -n 1,20p   # sed reads to the end: no SIGPIPE (exit 141) under pipefail
say "h3 repaired: healthy once its health stays clear for health.clear_after, then its VMs come home"
"$LIFEBOAT" lab fault --dir "$DIR" h3 repair
watch_hosts 20 '^h3 +healthy' >/dev/null || true
if wait_home g3 h3 60; then lb vms; else echo "g3 has not come home yet"; lb vms; fi

say "a 5 s management blip on h1: libvirt cut off, but its BMC and its guests answer; nothing is fenced or moved"
lb vms > "$WORK/vms-before"
"$LIFEBOAT" lab fault --dir "$DIR" h1 partition
watch_hosts 8 '^h1 +partitioned' || true
sleep 2
"$LIFEBOAT" lab fault --dir "$DIR" h1 heal
watch_hosts 40 '^h1 +healthy' >/dev/null || true
lb hosts
lb vms > "$WORK/vms-after"
if diff -q "$WORK/vms-before" "$WORK/vms-after" >/dev/null; then echo "no VM moved"; else echo "VMs moved:"; diff "$WORK/vms-before" "$WORK/vms-after" || true; fi
lb events --limit 200 | grep -E 'guests_alive|partitioned' | sed -n 1,4p

say "the journal (lifeboat events), last entries"
lb events --limit 15
