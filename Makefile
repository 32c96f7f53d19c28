.PHONY: run stop test bench

# The README's two commands.
run:
	bash scripts/run.sh

stop:
	bash scripts/run.sh stop

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

.PHONY: package
package:
	bash packaging/build.sh
