#!/usr/bin/env bash
# build-guest.sh OUTDIR: builds the lab's tiny Linux guest.
#
# Produces OUTDIR/vmlinuz (Debian's cloud kernel), OUTDIR/initrd.img (busybox, the virtio-net
# modules, a generated /init and the agent) and OUTDIR/lb-agent (the in-guest agent, also packed
# into the initrd as /bin/lb-agent). Boot it with a kernel command line such as
#
#   console=ttyS0 lb.name=vm1 lb.ip=192.168.100.10/24 lb.gw=192.168.100.1
#
# and wait for the serial line "lifeboat-guest vm1 up ip=...". The agent then listens on TCP
# port 7777 (protocol: package testenv/guest).
#
# Idempotent: the kernel .deb and its extraction are cached in OUTDIR/.cache, and the initrd is
# rebuilt only when one of its inputs (this script, the agent, busybox, the kernel) changed.
#
# Environment:
#   LB_KERNEL_PKG  kernel package to use (default: what linux-image-cloud-amd64 depends on)
#   BUSYBOX        static busybox binary (default: /bin/busybox from busybox-static)
#   GO             go command (default: go on PATH, else /usr/local/go/bin/go)
#
# Needs: apt (apt-get, apt-cache), dpkg-deb, cpio, gzip, busybox-static, Go, and xz-utils or
# zstd only if the kernel's modules are compressed with them.
set -euo pipefail

# The virtio-net stack, in the only order insmod accepts, then the pvpanic driver (the ISA/ACPI
# device of <panic model='isa'/>), so a kernel panic tells QEMU (guest-panicked).
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net pvpanic pvpanic-mmio)

die() { echo "build-guest: error: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install the Debian package $2"; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/.." && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
CACHE=$OUT/.cache
mkdir -p "$CACHE"

need apt-get apt
need apt-cache apt
need dpkg-deb dpkg
need cpio cpio
need gzip gzip
need sha256sum coreutils
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || command -v "$GO" >/dev/null 2>&1 || die "Go not found: put go on PATH or set GO=/path/to/go"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found: install the Debian package busybox-static"
case "$(ldd "$BUSYBOX" 2>&1 || true)" in
  *'=>'*) die "$BUSYBOX is dynamically linked: install the Debian package busybox-static (not busybox)" ;;
esac

STAGE=
cleanup() { if [ -n "$STAGE" ]; then rm -rf "$STAGE"; fi; rm -f "$CACHE/lb-agent.new" "$OUT/initrd.img.new"; }
trap cleanup EXIT

# --- the agent ---------------------------------------------------------------------------------
log "building lb-agent"
(cd "$REPO" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags='-s -w' -o "$CACHE/lb-agent.new" ./testenv/guest/agent) ||
  die "go build ./testenv/guest/agent failed"
if cmp -s "$CACHE/lb-agent.new" "$OUT/lb-agent"; then
  rm -f "$CACHE/lb-agent.new"
else
  mv -f "$CACHE/lb-agent.new" "$OUT/lb-agent"
fi

# --- the kernel --------------------------------------------------------------------------------
KPKG=${LB_KERNEL_PKG:-}
if [ -z "$KPKG" ]; then
  KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
fi
if [ -z "$KPKG" ]; then
  # No package lists (offline?): fall back to a kernel already in the cache.
  KPKG=$(find "$CACHE" -maxdepth 2 -name .extracted -path '*/linux-image-*' -printf '%h\n' 2>/dev/null | sort -V | tail -n1 | xargs -r basename) || true
fi
[ -n "$KPKG" ] || die "cannot tell which kernel linux-image-cloud-amd64 means: run 'apt-get update' (or set LB_KERNEL_PKG)"
KVER=${KPKG#linux-image-}
KDIR=$CACHE/$KPKG

if [ ! -f "$KDIR/.extracted" ]; then
  DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*.deb" | sort -V | tail -n1)
  if [ -z "$DEB" ]; then
    log "downloading $KPKG"
    (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$KPKG" >&2) ||
      die "apt-get download $KPKG failed: run 'apt-get update' and check the network"
    DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*.deb" | sort -V | tail -n1)
    [ -n "$DEB" ] || die "apt-get download $KPKG left no .deb in $CACHE"
  fi
  log "extracting $(basename "$DEB")"
  rm -rf "$KDIR" "$KDIR.tmp"
  dpkg-deb -x "$DEB" "$KDIR.tmp" || die "dpkg-deb -x $DEB failed (corrupt download? delete it and retry)"
  touch "$KDIR.tmp/.extracted"
  mv "$KDIR.tmp" "$KDIR"
fi
# Drop other kernels' cached packages and extractions.
find "$CACHE" -maxdepth 1 -name 'linux-image-*' ! -name "$KPKG" ! -name "${KPKG}_*.deb" -exec rm -rf {} +

VMLINUZ=$KDIR/boot/vmlinuz-$KVER
MODDIR=$KDIR/lib/modules/$KVER
[ -f "$VMLINUZ" ] || die "$KPKG has no boot/vmlinuz-$KVER"
[ -d "$MODDIR" ] || die "$KPKG has no lib/modules/$KVER"
cmp -s "$VMLINUZ" "$OUT/vmlinuz" || cp -f "$VMLINUZ" "$OUT/vmlinuz"

# Locate each module: a file (.ko, .ko.xz, .ko.zst, .ko.gz), or built into the kernel.
declare -A MODFILE=()
LOAD=()
for m in "${MODULES[@]}"; do
  f=$(find "$MODDIR/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) -print -quit)
  if [ -n "$f" ]; then
    MODFILE[$m]=$f
    LOAD+=("$m")
    case "$f" in
      *.xz) need xz xz-utils ;;
      *.zst) need zstd zstd ;;
    esac
  elif grep -q "/$m\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then
    log "module $m is built into $KVER"
  else
    die "module $m not found in $KPKG"
  fi
done

# --- the initrd --------------------------------------------------------------------------------
STAMP=$CACHE/initrd.stamp
want=$({
  echo "$KPKG ${LOAD[*]}"
  sha256sum "$SCRIPT" "$OUT/lb-agent" "$BUSYBOX" | cut -d' ' -f1
  for m in "${LOAD[@]}"; do sha256sum "${MODFILE[$m]}" | cut -d' ' -f1; done
} | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/initrd.img" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  log "initrd.img is up to date"
  log "done: $OUT/vmlinuz ($KVER), $OUT/initrd.img, $OUT/lb-agent"
  exit 0
fi

log "building initrd.img"
STAGE=$(mktemp -d "$CACHE/root.XXXXXX")
R=$STAGE/root
mkdir -p "$R"/{bin,dev,etc,lib/modules,proc,sys,tmp,run}
chmod 1777 "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done
ln -s bin "$R/sbin"
cp "$OUT/lb-agent" "$R/bin/lb-agent"
for m in "${LOAD[@]}"; do
  f=${MODFILE[$m]}
  case "$f" in
    *.ko) cp "$f" "$R/lib/modules/$m.ko" ;;
    *.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
    *.gz) gzip -dc "$f" >"$R/lib/modules/$m.ko" ;;
  esac
done
if [ "$(id -u)" -eq 0 ]; then
  # The kernel opens /dev/console for /init before devtmpfs is mounted.
  mknod -m 600 "$R/dev/console" c 5 1
  mknod -m 666 "$R/dev/null" c 1 3
fi
echo "127.0.0.1 localhost" >"$R/etc/hosts"

cat >"$R/init" <<'EOF'
#!/bin/sh
# /init of the lifeboat lab guest, generated by scripts/build-guest.sh. It is PID 1: it never
# exits. Kernel parameters: lb.name=NAME lb.ip=A.B.C.D/NN [lb.gw=A.B.C.D].
PATH=/bin
export PATH
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { echo "lifeboat-guest: $*"; }

for m in @MODULES@; do
  insmod "/lib/modules/$m.ko" || say "ERROR: insmod $m failed"
done

name='' ip='' gw=''
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    lb.name=*) name=${arg#lb.name=} ;;
    lb.ip=*) ip=${arg#lb.ip=} ;;
    lb.gw=*) gw=${arg#lb.gw=} ;;
  esac
done
[ -n "$name" ] || name=lifeboat-guest
hostname "$name"
[ -z "$ip" ] || echo "${ip%/*} $name" >>/etc/hosts
ip link set lo up

problem=''
i=0
while [ ! -e /sys/class/net/eth0 ] && [ "$i" -lt 100 ]; do usleep 100000; i=$((i + 1)); done
case "$ip" in
  '') problem='no lb.ip=A.B.C.D/NN on the kernel command line' ;;
  */*) ;;
  *) problem="lb.ip=$ip lacks its /NN prefix length" ;;
esac
if [ -z "$problem" ]; then
  if [ ! -e /sys/class/net/eth0 ]; then
    problem='no eth0 (is the NIC virtio?)'
  elif ! ip addr add "$ip" dev eth0 || ! ip link set eth0 up; then
    problem="cannot configure eth0 with $ip"
  elif [ -n "$gw" ] && ! ip route add default via "$gw" dev eth0; then
    problem="cannot add the default route via $gw"
  fi
fi

(
  while :; do
    /bin/lb-agent
    say "lb-agent exited with status $?; restarting in 1 s"
    sleep 1
  done
) &

i=0
while ! netstat -ltn 2>/dev/null | grep -q ':7777 ' && [ "$i" -lt 300 ]; do usleep 100000; i=$((i + 1)); done
netstat -ltn 2>/dev/null | grep -q ':7777 ' || problem="${problem:+$problem; }lb-agent not listening on :7777"

up=$(cut -d' ' -f1 /proc/uptime)
if [ -z "$problem" ]; then
  echo "lifeboat-guest $name up ip=$ip gw=${gw:-none} agent=:7777 uptime=${up}s"
else
  echo "lifeboat-guest $name FAILED: $problem (uptime=${up}s)"
fi

# PID 1 must not exit; wait also reaps orphans.
while :; do
  wait
  sleep 1
done
EOF
sed -i "s/@MODULES@/${LOAD[*]}/" "$R/init"
chmod 755 "$R/init"

(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  gzip -9n >"$OUT/initrd.img.new"
mv -f "$OUT/initrd.img.new" "$OUT/initrd.img"
echo "$want" >"$STAMP"
log "done: $OUT/vmlinuz ($KVER), $OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB), $OUT/lb-agent"
