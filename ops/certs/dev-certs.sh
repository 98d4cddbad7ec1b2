#!/bin/sh
# Development PKI for docker-compose: a CA, the NATS server certificate and one client certificate
# per service with its SPIFFE ID as URI SAN. Not for production: use SPIRE or your own CA there.
# Usage: dev-certs.sh <dir> [trust-domain]. Idempotent: keeps an existing CA and certificates.
set -eu
dir="$1"
domain="${2:-x0tta6bl4.mesh}"
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -days 30 -subj "/CN=x0tta6bl4 development CA" 2>/dev/null
fi
issue() { # name, subjectAltName, extendedKeyUsage
  [ -f "$1.crt" ] && return 0
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$1.crt" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue nats "DNS:nats,DNS:localhost,IP:127.0.0.1" serverAuth
for service in monitor analyzer planner executor; do
  issue "$service" "URI:spiffe://$domain/x0/$service" clientAuth
done
# Keys are private; client keys belong to the services' non-root user (uid 1000 in the image).
chmod 644 ./*.crt
chmod 600 ./*.key
if [ "$(id -u)" = 0 ]; then chown 1000:1000 monitor.key analyzer.key planner.key executor.key; fi
echo "development certificates in $dir"
