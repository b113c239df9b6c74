#!/usr/bin/env bash
# package.sh OUTDIR: builds the lifeboat .deb into OUTDIR (default build/) with nfpm (pinned, run
# through the Go module proxy): /usr/bin/lifeboat built with -trimpath and stripped, the systemd
# unit, the commented example /etc/lifeboat/lifeboat.yaml (a conffile) and the directories.
# Prints the package's path on its last line. Used by 'make package' and by packaging's test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
OUT=$(realpath -m "${1:-build}")
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
# Debian versions must start with a digit: 0.1.0~git<describe> sorts before a real 0.1.0.
PKG_VERSION=${PKG_VERSION:-0.1.0~git$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9.+~\n' '.')}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
mkdir -p "$OUT/package"
go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o "$OUT/package/lifeboat" ./cmd/lifeboat
sed -e "s|@LIFEBOAT_BIN@|$OUT/package/lifeboat|" -e "s|@LIFEBOAT_PKG_VERSION@|$PKG_VERSION|" \
  packaging/nfpm.yaml > "$OUT/package/nfpm.yaml"
go run "$NFPM" package --config "$OUT/package/nfpm.yaml" --packager deb --target "$OUT/" >&2
ls -t "$OUT"/lifeboat_*_amd64.deb | sed -n 1p
