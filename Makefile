.PHONY: install run dev test codegen codegen-check typecheck build bench clean

install:
	npm ci

run:
	npm ci --no-audit --no-fund
	npm start

dev:
	npm run dev

test:
	bash scripts/ensure-test-deps.sh
	npm ci --no-audit --no-fund
	npm test

codegen:
	npm run codegen

codegen-check:
	npm run codegen:check

typecheck:
	npm run typecheck

build:
	npm run build

bench:
	npm run bench

clean:
	rm -rf dist coverage
