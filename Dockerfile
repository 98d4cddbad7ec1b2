# syntax=docker/dockerfile:1
# One image for every x0tta6bl4 service; the command picks the service:
#   docker run x0tta6bl4 services/analyzer/src/main.ts
# (docker-compose.yml and k8s/ do exactly that). The crypto service has its own image with liboqs.
ARG BUN_VERSION=1.4.5

# BPF objects and the monitor's libbpf shim. CO-RE: vmlinux.h comes from the build host's BTF,
# and the objects relocate to the kernel they are loaded on.
FROM debian:bookworm-slim AS bpf
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src/bpf
COPY bpf/ ./
RUN make

# Dependencies, installed exactly as locked.
FROM oven/bun:${BUN_VERSION} AS deps
WORKDIR /app
COPY . .
RUN bun install --frozen-lockfile --production

FROM oven/bun:${BUN_VERSION}-slim AS runtime
# libbpf for the monitor (bun:ffi loads libbpf.so.1); iproute2 for the executor's actuators; softhsm2 for a
# development KEK token (X0_KEK_SOURCE=pkcs11; a real HSM mounts its own PKCS#11 module instead).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 iproute2 ca-certificates softhsm2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app ./
COPY --from=bpf /src/bpf/build ./bpf/build
# Signing keys (sealed under the KEK) and the rag's index live here; a volume mounted on either starts owned by the
# service user (a folder the image lacks would start root's, unwritable for it).
RUN mkdir -p /var/lib/x0/keys /var/lib/x0/rag && chown bun:bun /var/lib/x0/keys /var/lib/x0/rag
# Non-root by default; monitor and executor are run as root with only the capabilities they need.
USER bun
ENV X0_HTTP_HOST=0.0.0.0 \
    X0_KEY_DIR=/var/lib/x0/keys
ENTRYPOINT ["bun"]
CMD ["cli/src/x0.ts", "--help"]
