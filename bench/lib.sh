# shellcheck shell=bash
# The extension as the benchmarks install it (bench/run.sh,
# bench/enumeration.sh): built with `cargo pgrx package` and laid into a
# private copy of the checkout's PostgreSQL, so that a benchmark never
# overwrites the library the tests load from the checkout's copy, nor runs
# against a build someone else installed there meanwhile. Sourced after
# scripts/common.sh and tests/release_lib.sh (private_installation,
# collect_package, install_files).

# The bin folder of the private installation under dir.
bench_bin() { # dir
  echo "$1/postgresql${PG_BIN#"$PG_PREFIX"}"
}

# Builds the extension (profile release or debug) and makes the private
# installation under dir; its build log is dir/package.log.
bench_installation() { # profile dir
  local profile=$1 dir=$2 flags=()
  if [ "$profile" = debug ]; then flags=(--debug); fi
  ensure_pg_copy
  mkdir -p "$dir"
  rm -rf "$dir/package"
  if ! cargo pgrx package "${flags[@]}" --pg-config "$PG_CONFIG" --out-dir "$dir/package" >"$dir/package.log" 2>&1; then
    tail -n 40 "$dir/package.log" >&2
    return 1
  fi
  collect_package "$dir/package" "$PG_CONFIG" "$dir/files"
  private_installation "$dir/postgresql"
  install_files "$dir/files" "$dir/postgresql${PG_CONFIG#"$PG_PREFIX"}"
}

# The mean tps of a pgbench run (-P 1) over its per-second progress lines
# after the lead-in ("progress: 3.0 s, 5215.3 tps, ..."); the last line may
# be missing when the run ends first, no more than that.
tps_after_lead() { # lead seconds pgbench-output
  awk -v lead="$1" -v seconds="$2" '
    /^progress: / { t = $2 + 0; if (t > lead + 0.5 && t < lead + seconds + 0.5) { sum += $4; n++ } }
    END {
      if (n == 0 || n < seconds - 1) {
        printf "pgbench printed %d progress lines after the lead-in, not %d\n", n, seconds > "/dev/stderr"
        exit 1
      }
      printf "%.1f\n", sum / n
    }' "$3"
}
