# Two commands do everything: `make run` (default suite -> reports/) and `make test`.
# Each creates .venv and installs the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-cluster lab bench notebooks clean browser

# audit.pdf and the browser test need Debian's Chromium; pdftotext (poppler-utils) checks the PDF.
# Idempotent and quiet: installs only what is missing (as root, or with sudo where available).
browser:
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			chromium poppler-utils >/dev/null; }

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

run: $(STAMP) browser
	$(BIN)/workbench suite --out reports

# The unit tests on two workers: tests/conftest.py groups what shares an expensive fixture (Spark, the
# end-to-end run) and starts the longest groups first. Then nbval over the notebooks, alone: they share one
# run directory. A test is not a release: the notebooks' DP releases spend a throw-away ledger.
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder tests
	WORKBENCH_DP_LEDGER=$$(mktemp -d)/dp_ledger.json $(BIN)/python -m pytest -p no:xdist --nbval-lax \
		--nbval-current-env --nbval-sanitize-with tests/sanitize.cfg notebooks

# The end-to-end parity test (whole audit, DuckDB vs Spark: the same summary.json) against a real Spark
# standalone cluster on this machine, not local[2]: a master and two 1-core workers on 127.0.0.1 from
# pyspark's own spark-class (scripts/spark_cluster.sh), each executor a JVM of its own. The cluster is
# stopped whatever the test's result. A manual target, not in `make test` or .ci/run: 11-12 minutes on the
# shared 2-core machine (7 December 2026, load average 10-17), where three daemons and two executors
# share the two cores with the test's own driver.
test-cluster: $(STAMP)
	url=$$(PYTHON=$(BIN)/python scripts/spark_cluster.sh start) && \
	WORKBENCH_TEST_SPARK_MASTER=$$url $(BIN)/python -m pytest -p no:xdist -q tests/pipeline/test_engine_parity.py; \
	status=$$?; PYTHON=$(BIN)/python scripts/spark_cluster.sh stop; exit $$status

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Re-execute the notebooks and keep only the outputs nbval checks.
notebooks: $(STAMP)
	$(BIN)/python -m workbench.notebooks refresh notebooks/*.ipynb

clean:
	rm -rf reports .pytest_cache
