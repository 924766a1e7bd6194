#!/usr/bin/env bash
# Compares envelope throughput (benches/envelope.rs, release build) with
# `openssl speed -evp aes-256-gcm` on the same payload sizes, one thread.
# Usage: crates/crypto/benches/compare-openssl.sh   (from anywhere)
set -euo pipefail
command -v openssl >/dev/null || { echo "openssl not found: install it (apt-get install openssl)" >&2; exit 1; }
cd "$(dirname "$0")/../../.."
SIZES=(64 1024 65536)
SECONDS_PER_SIZE=${SECONDS_PER_SIZE:-3}

ours=$(cargo bench -q -p rempart-crypto --bench envelope 2>/dev/null | grep '^envelope ')

declare -A ssl
for n in "${SIZES[@]}"; do
  # The last line of `openssl speed` holds the rate in 1000s of bytes/s.
  kbps=$(openssl speed -seconds "$SECONDS_PER_SIZE" -evp aes-256-gcm -bytes "$n" 2>/dev/null \
    | awk '/^AES-256-GCM|^aes-256-gcm/ {v=$NF} END {print v}' | tr -d 'k')
  ssl[$n]=$(awk -v k="$kbps" 'BEGIN {printf "%.1f", k/1000}')
done

printf '%-8s %8s %12s %12s %12s %8s\n' op bytes rempart_MB/s openssl_MB/s ratio goal
while read -r _ op n mbps; do
  goal=""
  [ "$n" = 1024 ] && goal=">=0.70"
  [ "$n" = 65536 ] && goal=">=0.90"
  ratio=$(awk -v a="$mbps" -v b="${ssl[$n]}" 'BEGIN {printf "%.2f", a/b}')
  printf '%-8s %8s %12s %12s %12s %8s\n' "$op" "$n" "$mbps" "${ssl[$n]}" "$ratio" "$goal"
done <<< "$ours"
