.PHONY: run stop test lint ci bench bench-tables

# The README's two commands.
run:
	bash scripts/run.sh

stop:
	bash scripts/run.sh stop

test:
	bash scripts/test.sh

# Only the lint suites of the test command (rustfmt, clippy, shellcheck).
lint:
	bash scripts/test.sh lint

# What CI runs: the test command as root and as a non-root sudo user.
ci:
	bash .ci/run

bench:
	bash bench/run.sh

# What each index and constraint of the hot path's two tables costs per call.
bench-tables:
	bash bench/table_shape.sh

.PHONY: package
package:
	bash packaging/build.sh
