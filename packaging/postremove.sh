#!/bin/sh
# lifeboat postremove: forget the unit; on purge, remove the store too.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = "purge" ]; then
  rm -rf /var/lib/lifeboat
fi
