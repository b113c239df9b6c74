#!/bin/sh
# lifeboat postinstall: make systemd see the unit. The service is not started: it needs a
# configuration first ('lifeboat config check', then 'systemctl enable --now lifeboat').
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # On upgrade, restart a running daemon on the new binary.
  if [ "$1" = "configure" ] && [ -n "$2" ] && systemctl is-active --quiet lifeboat.service; then
    systemctl restart lifeboat.service || true
  fi
fi
