#!/bin/sh
# Development PKI for docker-compose: a CA, the NATS server certificate, one client certificate per service (SPIFFE ID
# as URI SAN) and a development key-encryption key. Not for production: use SPIRE and a KEK from your secret store.
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
issue nats "DNS:nats,DNS:nats-1,DNS:nats-2,DNS:nats-3,DNS:localhost,IP:127.0.0.1" serverAuth
# Routes between the NATS servers: the only certificate that maps to the cluster's route user (x0-nats-route).
issue route "DNS:x0-nats-route,DNS:nats-1,DNS:nats-2,DNS:nats-3" serverAuth,clientAuth
for service in monitor analyzer planner executor crypto rag swarm; do
  issue "$service" "URI:spiffe://$domain/x0/$service" clientAuth
done
# A development key-encryption key (32 random bytes, base64) that seals the services' signing keys.
[ -f kek ] || head -c 32 /dev/urandom | base64 > kek
# Keys are private; client keys and the KEK belong to the services' non-root user (uid 1000 in the image).
chmod 644 ./*.crt
chmod 600 ./*.key kek
if [ "$(id -u)" = 0 ]; then chown 1000:1000 monitor.key analyzer.key planner.key executor.key crypto.key rag.key swarm.key kek; fi
echo "development certificates in $dir"
