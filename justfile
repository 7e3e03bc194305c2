# sovrium-tui tasks. `just --list` shows them all.

python := ".venv/bin/python"
pg15_bin := "/usr/lib/postgresql/15/bin"

# Install the package and its development tools into .venv.
install:
    test -x {{python}} || python3 -m venv --upgrade-deps .venv
    {{python}} -m pip install -q -e '.[dev]'

sovrium := ".venv/bin/sovrium"

# The main job on the embedded PostgreSQL: validate the example, apply its plans, then status, start-up and history.
demo:
    {{sovrium}} validate examples/crm.yaml
    {{sovrium}} check examples/crm.yaml --plans plans
    {{sovrium}} apply plans --yes
    {{sovrium}} status
    {{sovrium}} migrate examples/crm.yaml
    {{sovrium}} history

# Regenerate plans/ from the example's history (deterministic: same tool, same bytes).
plans:
    rm -rf plans
    SOURCE_DATE_EPOCH=1795564800 {{sovrium}} plan examples/history/crm.v1.yaml --offline --name companies_and_contacts
    SOURCE_DATE_EPOCH=1795564800 {{sovrium}} plan examples/history/crm.v2.yaml --offline --name deals_and_activities
    SOURCE_DATE_EPOCH=1795564800 {{sovrium}} plan examples/crm.yaml --offline --name tags_profiles_and_indexes

# The committed plans are an intact chain whose head is the example schema.
check-plans:
    {{sovrium}} check examples/crm.yaml --plans plans

# Two test processes (pytest-xdist), each with its own server: most of a test's time is spent waiting on
# PostgreSQL or a subprocess, so two halve the wall time on two cores. `just test -n 0` runs in one process.
workers := "2"

# Every test on PostgreSQL 18 (embedded), then the database tests on the machine's PostgreSQL 15 if present.
test *args:
    {{python}} -m pytest -q -n {{workers}} {{args}}
    if [ -x {{pg15_bin}}/postgres ]; then \
        echo "--- database tests on PostgreSQL 15 ({{pg15_bin}})"; \
        SOVRIUM_TEST_PG_BIN={{pg15_bin}} SOVRIUM_TEST_EXPECT_MAJOR=15 {{python}} -m pytest -q -n {{workers}} -m db {{args}}; \
    else \
        echo "--- no PostgreSQL 15 at {{pg15_bin}}: database tests ran on PostgreSQL 18 only"; \
    fi

# Lint and type-check.
lint:
    {{python}} -m ruff check sovrium_tui tests bench
    {{python}} -m ruff format --check sovrium_tui tests bench
    {{python}} -m mypy

# Format the code.
fmt:
    {{python}} -m ruff format sovrium_tui tests bench
    {{python}} -m ruff check --fix sovrium_tui tests bench

# Everything CI runs: lint, types, the committed plans, then the tests on both PostgreSQL versions.
check: lint check-plans test

# Benchmarks (figures and ratios against the raw baseline); not part of the tests. `just bench-fleet`: a fleet rollout.
bench *args:
    {{python}} bench/run.py {{args}}

# Fleet benchmark: 100 and 500 databases one version behind, `apply --targets` vs a shell loop of `apply`.
bench-fleet *args:
    {{python}} bench/fleet.py {{args}}
