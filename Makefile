# The two commands of the quick start are `make demo` and `make test`; both run `make setup` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000

.PHONY: setup system test-system bench-system demo lint test bench bench-quick styles screenshots serve clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: system $(STAMP) .venv-csw/.installed  ## install Debian packages and .venv (idempotent, quick the second time)

system:  ## Debian packages: PostgreSQL, PostGIS, nginx (the front of sdi serve), acl, QGIS Server 3.22 (the WMS at /wms), and GDAL as a test client (via sudo when not root)
	@bash docker/install-system-deps.sh gdal-bin nginx acl python3-qgis qgis-providers qgis-server-wms qgis-server-wmts

$(STAMP): pyproject.toml
	@echo "sdi setup: creating $(VENV) and installing sdi into it"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# pycsw 2.6.2 pins OWSLib<0.29 and needs SQLAlchemy 1.x: its own venv, run by sdi serve at /csw (sdi/server/csw.py)
.venv-csw/.installed:
	@test -x .venv-csw/bin/python || $(PYTHON) -m venv .venv-csw
	@.venv-csw/bin/python -m pip install -q "pycsw==2.6.2" "sqlalchemy>=1.4,<2" psycopg2-binary gunicorn && touch $@

demo: setup  ## start PostGIS, load the sample gmina and serve it at http://127.0.0.1:5000
	$(BIN)/sdi demo --port $(PORT)

test-system:  ## Debian packages the tests also use: QGIS 3.22 (python3-qgis, qgis-providers), about 1.5 GB, and headless Chromium (the XSS test)
	@bash docker/install-system-deps.sh gdal-bin nginx acl python3-qgis qgis-providers qgis-server-wms qgis-server-wmts chromium docker-compose

lint: setup  ## ruff (lint rules and format), mypy (strict on sdi.core and sdi.cli) and import-linter (the package's layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup test-system lint  ## lint, then the test suite on a real, throw-away PostGIS, with GDAL and QGIS as clients; then the API under load
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15
	$(BIN)/python benchmarks/api_load.py --seconds 60 --connections 32

bench-system: setup  # wrk from Debian; tipg (and uvicorn), the other server measured, and matplotlib for the scaling plot, into .venv
	@bash docker/install-system-deps.sh gdal-bin wrk
	@$(BIN)/python -m pip install -q -e '.[dev,bench]'

bench: setup bench-system  ## loading (sdi, ogr2ogr, geopandas, binary COPY) at 1M points, the 300k file and 200k polygons; serving (sdi, stock pygeoapi, tipg; wrk); scaling to 10M, and 10M in 2,477 cities; reads over 0-2 replicas x 1-2 API nodes; the API under load; the art. 13f analysis at goal size; the capacity model; then every goal of issues 17, 21 and 22, met or not
	$(BIN)/python benchmarks/load_bench.py 1000000 200000 --out benchmarks/results/load.json
	$(BIN)/python benchmarks/load_bench.py 300000 0 --out benchmarks/results/load_300k.json
	$(BIN)/python benchmarks/serve_bench.py 200000 --seconds 10 --out benchmarks/results/serve.json
	$(BIN)/python benchmarks/scaling.py 10000 100000 1000000 10000000 --out benchmarks/results/scaling.json
	$(BIN)/python benchmarks/scaling.py 10000000 --seconds 10 --cities 2477 --out benchmarks/results/scaling_national.json
	$(BIN)/python benchmarks/replica_bench.py 200000 --seconds 5 --rounds 3 --out benchmarks/results/replicas.json
	$(BIN)/python benchmarks/api_load.py --seconds 60 --connections 32
	$(BIN)/python benchmarks/analysis_bench.py --goal --out benchmarks/results/analysis.json
	$(BIN)/python benchmarks/capacity.py --replicas-json benchmarks/results/replicas.json
	$(BIN)/python benchmarks/goals.py --out benchmarks/results/goals.json

bench-quick: setup bench-system  ## the same code on small data, in about 8 minutes: CI runs it so that it cannot rot (no timing is checked)
	$(BIN)/python benchmarks/load_bench.py 20000 5000 --out benchmarks/results/load_quick.json
	$(BIN)/python benchmarks/load_bench.py 3000 0 --out benchmarks/results/load_300k_quick.json
	$(BIN)/python benchmarks/serve_bench.py 20000 --seconds 1 --out benchmarks/results/serve_quick.json
	$(BIN)/python benchmarks/scaling.py 1000 10000 --seconds 1 --out benchmarks/results/scaling_quick.json
	$(BIN)/python benchmarks/scaling.py 1000 --seconds 1 --cities 20 --out benchmarks/results/scaling_national_quick.json
	$(BIN)/python benchmarks/replica_bench.py 5000 --seconds 1 --rounds 1 --out benchmarks/results/replicas_quick.json
	$(BIN)/python benchmarks/api_load.py --seconds 10 --connections 8 --out benchmarks/results/api_load_quick.json
	$(BIN)/python benchmarks/analysis_bench.py --out benchmarks/results/analysis_quick.json
	$(BIN)/python benchmarks/capacity.py --replicas-json benchmarks/results/replicas_quick.json
	$(BIN)/python benchmarks/goals.py --suffix _quick --out benchmarks/results/goals_quick.json

styles: test-system  ## rebuild styles/*.qml and *.sld from styles/symbology.yaml and styles/results.yaml, with QGIS
	QT_QPA_PLATFORM=offscreen /usr/bin/python3 styles/build.py
	QT_QPA_PLATFORM=offscreen /usr/bin/python3 styles/build_results.py

screenshots: setup test-system  ## refresh the README's QGIS pictures in docs/ (made by the QGIS tests)
	SDI_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_qgis.py tests/test_api_coverages.py -k qgis

clean:  ## stop the embedded cluster and delete .sdi and .venv
	-@test -x $(BIN)/sdi && $(BIN)/sdi db stop
	rm -rf .sdi $(VENV)
