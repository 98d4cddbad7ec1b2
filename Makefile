# x0tta6bl4: `make up` runs the stack, `make test` runs every test. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps bpf vm up test typecheck lint supply unit docs bench

help:
	@echo "make up    - install what is missing, then run nats-server and every service (Ctrl-C stops)"
	@echo "make test  - install what is missing, then typecheck, lint, run the supply-chain checks and every test"
	@echo "make supply - supply-chain checks: bun audit, secretlint, licences, shellcheck, workflows, Dockerfiles, SBOM (docs/supply-chain.md)"
	@echo "make docs  - regenerate docs/asyncapi.yaml from the contracts"
	@echo "make bench - run bun run bench:loop (writes bench/results/loop.json)"
	@echo "make bpf   - compile bpf/*.bpf.c (CO-RE, vmlinux.h from this kernel's BTF) and the monitor's libbpf shim"
	@echo "make vm    - download Debian's kernel package and build the lab VM's initramfs into .x0/vm (x0 lab vm boots it)"

deps:
	@scripts/bootstrap.sh

bpf: deps
	$(MAKE) -C bpf

vm: deps
	scripts/vm-image.sh

up: deps bpf
	bun cli/src/up.ts

test: deps bpf vm typecheck lint supply unit

typecheck:
	bun run typecheck

lint:
	bun run lint

# Fails on a high or critical advisory, a secret, a licence outside scripts/supply/licenses.json, a shellcheck finding or
# an invalid workflow; writes .x0/sbom/x0tta6bl4.cdx.json. An advisory source that does not answer fails only with X0_AUDIT_REQUIRED=1.
supply: deps
	bun run check:supply

# The whole log is kept in .x0/test.log; after a failure, why each test failed is printed last (scripts/test-digest.sh).
unit:
	@mkdir -p .x0
	@set -o pipefail; bun test --timeout 60000 2>&1 | tee .x0/test.log || { scripts/test-digest.sh .x0/test.log; exit 1; }

docs: deps
	bun run docs:asyncapi

bench: deps
	bun run bench:loop
