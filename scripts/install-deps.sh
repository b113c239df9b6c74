#!/usr/bin/env bash
# install-deps.sh: installs every system package lifeboat and its lab need on Debian 12, and
# prepares what libvirtd needs when it runs outside systemd (users, groups, directories).
# Idempotent: a second run changes nothing and returns quickly.
set -euo pipefail

PKGS=(
  libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils
  iproute2 nftables iptables iputils-ping
  busybox-static cpio
  fence-agents ipmitool openipmi
  prometheus-alertmanager prometheus
  etcd-server
  ca-certificates curl gcc pkg-config procps util-linux
  systemd dpkg
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get, users and groups)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The lab starts its own Alertmanager on free ports; the package's service would hold 9093
  # (and 9094). Stop and disable it, but only when this run installed the package.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus-alertmanager; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 || true
    else
      invoke-rc.d prometheus-alertmanager stop >/dev/null 2>&1 || true
      update-rc.d prometheus-alertmanager disable >/dev/null 2>&1 || true
    fi
  fi
  # The prometheus package brings promtool (the alert rules' unit tests); its server would hold
  # 9090 with nothing to scrape. Stop and disable it, but only when this run installed it.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    else
      invoke-rc.d prometheus stop >/dev/null 2>&1 || true
      update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  fi
  # The same for etcd: tests and the lab start their own members on free ports; the package's
  # service would hold 2379/2380 with a data directory nobody uses.
  if printf '%s\n' "${missing[@]}" | grep -qx etcd-server; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now etcd.service >/dev/null 2>&1 || true
    else
      invoke-rc.d etcd stop >/dev/null 2>&1 || true
      update-rc.d etcd disable >/dev/null 2>&1 || true
    fi
  fi
fi

# libvirtd's QEMU driver resolves these before it reads qemu.conf.
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
for d in /var/log/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt; do
  mkdir -p "$d"
done

# The lab's hung-host fault uses the cgroup v1 freezer.
if [ ! -d /sys/fs/cgroup/freezer ] && grep -qw freezer /proc/cgroups; then
  if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/freezer
    mountpoint -q /sys/fs/cgroup/freezer || mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer || true
  fi
fi

echo "install-deps: ok"
