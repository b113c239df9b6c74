#!/bin/sh
# lifeboat preremove: stop and disable the service on removal (not on upgrade).
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now lifeboat.service >/dev/null 2>&1 || true
fi
