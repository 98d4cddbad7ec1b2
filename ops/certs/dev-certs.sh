#!/bin/sh
# Development PKI for docker-compose: a CA, the NATS server and route certificates, one client certificate per service
# (its SPIFFE ID as the only URI SAN: the NATS user it maps to) and a development key-encryption key. Not for production:
# use SPIRE and a KEK from your secret store.
# Usage: dev-certs.sh <dir> [trust-domain] [node]
#   trust-domain  default x0tta6bl4.mesh (X0_TRUST_DOMAIN of the services)
#   node          default n1: the node of the node-scoped identities (per_node roles of ops/nats/permissions.yaml:
#                 monitor, executor, swarm get spiffe://<td>/x0/<role>/<node>; the others spiffe://<td>/x0/<role>)
# Idempotent: keeps an existing CA and every certificate that still names the identity asked for and is not expiring.
set -eu
dir="$1"
domain="${2:-x0tta6bl4.mesh}"
node="${3:-n1}"
mkdir -p "$dir"
cd "$dir"
# A CA that expires within a day is replaced, and with it every certificate it signed.
if [ -f ca.crt ] && ! openssl x509 -in ca.crt -noout -checkend 86400 >/dev/null; then
  rm -f ca.crt ca.key ca.srl ./*.crt
fi
if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -days 30 -subj "/CN=x0tta6bl4 development CA" 2>/dev/null
fi
issue() { # name, subjectAltName, extendedKeyUsage
  # Kept while it names the same identity and is valid for another day; made again for another identity (an older
  # layout, another trust domain or node) or when it is about to expire.
  if [ -f "$1.crt" ] && openssl x509 -in "$1.crt" -noout -checkend 86400 >/dev/null \
    && [ "$(openssl x509 -in "$1.crt" -noout -ext subjectAltName | sed 1d | tr -d ' ' | sed 's/IPAddress:/IP:/g')" = "$2" ]; then
    return 0
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$1.crt" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue nats "DNS:nats,DNS:nats-1,DNS:nats-2,DNS:nats-3,DNS:localhost,IP:127.0.0.1" serverAuth
# Routes between the NATS servers: the only certificate that maps to the cluster's route user (x0-nats-route).
issue route "DNS:x0-nats-route,DNS:nats-1,DNS:nats-2,DNS:nats-3" serverAuth,clientAuth
for service in analyzer planner crypto rag; do
  issue "$service" "URI:spiffe://$domain/x0/$service" clientAuth
done
for service in monitor executor swarm; do
  issue "$service" "URI:spiffe://$domain/x0/$service/$node" clientAuth
done
# A development key-encryption key (32 random bytes, base64) that seals the services' signing keys.
[ -f kek ] || head -c 32 /dev/urandom | base64 > kek
# Keys are private, each readable by the user of the service that uses it: monitor and executor run as root (uid 0)
# without CAP_DAC_OVERRIDE, so they read only what root owns; the others run as the image's user (uid 1000). The KEK is
# shared: owned by root (the executor) and readable by group 1000 (planner, crypto, swarm).
chmod 644 ./*.crt
chmod 600 ./*.key
chmod 640 kek
if [ "$(id -u)" = 0 ]; then
  chown 0:0 ca.key nats.key route.key monitor.key executor.key
  chown 1000:1000 analyzer.key planner.key crypto.key rag.key swarm.key
  chown 0:1000 kek
fi
echo "development certificates in $dir (trust domain $domain, node $node)"
