#!/bin/sh
# Fetches the ANTLR tool jar (from the npm package antlr4ng-cli) into a local folder.
# Called by build/Antlr.targets before Antlr4BuildTasks runs; safe to run concurrently:
# every run works in its own temp folder and publishes the jar with an atomic rename.
# Usage: fetch-antlr.sh <dest-dir> <npm-spec> <jar-name>
set -eu
dest=$1
spec=$2
jar=$3

if [ -f "$dest/$jar" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error VIB3ANTLR: npm is required to fetch the ANTLR tool ($spec) but was not found on PATH; install it (Debian: apt-get install -y nodejs npm)." >&2
  exit 3
fi
if ! command -v tar >/dev/null 2>&1; then
  echo "error VIB3ANTLR: tar is required to unpack the ANTLR tool but was not found on PATH." >&2
  exit 3
fi

mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "vib3: fetching ANTLR tool: npm pack $spec -> $dest/$jar"
# npm's cache is safe to share between concurrent runs; the pack lands in our private temp folder.
( cd "$tmp" && npm pack "$spec" --silent --no-fund --no-audit >/dev/null )
tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)
if [ -z "$tgz" ]; then
  echo "error VIB3ANTLR: 'npm pack $spec' produced no tarball (is the npm registry reachable?)." >&2
  exit 4
fi
tar -xzf "$tgz" -C "$tmp" "package/$jar"
if [ ! -s "$tmp/package/$jar" ]; then
  echo "error VIB3ANTLR: $jar not found in $tgz." >&2
  exit 4
fi
# Same filesystem, so mv is a rename(2): readers see either no jar or the whole jar. If another
# build won the race, its identical file is simply replaced.
mv -f "$tmp/package/$jar" "$dest/$jar"
