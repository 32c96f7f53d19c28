#!/usr/bin/env bash
# What the shape of the two tables that auth.generate_password_token writes
# costs per call: the token upsert into nile_reset.verification_tokens and
# the row queued in nile_reset.email_outbox, against copies of those tables
# with one index or constraint taken away at a time.
#
#   bash bench/table_shape.sh
#
#   BENCH_SECONDS  seconds per pgbench run               (default 6)
#   BENCH_ROUNDS   rounds of the interleaved variants    (default 3)
#   NILE_RESET_TABLE_SHAPE_PORT  the cluster's port (default TABLE_SHAPE_PORT, plus
#                  the major's offset)
#
# The tables come from the extension's own DDL, not from a copy of it: every
# CREATE TABLE, CREATE INDEX and ALTER TABLE statement of sql/*.sql (the
# upgrade scripts aside) on the two tables runs in a throwaway cluster of the
# checkout's PostgreSQL (target/postgresql/<major>), so nothing is built or
# installed. A trigger, policy, rule or statistics object on them stops the
# script: it would be on the write path, and is not modelled here.
#
# The variants, each two tables in a schema of its own:
#   real     the tables exactly as sql/schema.sql creates them
#   without ITEM
#            copies (LIKE ... INCLUDING ALL) without one constraint or index:
#            one variant for each CHECK, PRIMARY KEY, UNIQUE ... and index of
#            the two tables, found in the catalog, so a new one gets its own
#            row; except the identifier's primary key, which the upsert's
#            ON CONFLICT (identifier) needs
#   bare     without all of them
#   bare, written columns only
#            bare, and without the columns the write leaves NULL (nullable,
#            no default, not written)
#
# The measured call is the extension's own statement shape (src/generate.rs,
# issue_and_queue_sql): one statement, the upsert of the token row of one of
# 100000 identifiers (ON CONFLICT (identifier) DO UPDATE) and the outbox row
# inserted from its RETURNING, with the columns the extension writes (read
# from src/generate.rs and src/outbox.rs) and a rendered body of realistic
# width. Prepared once per connection (pgbench -M prepared), as the extension
# keeps its plans, so a call pays for executing, not planning. No resend
# check, no user lookup, no wake-up: the tables alone. 1 client,
# synchronous_commit off (the work of the call, not the commit's flush);
# before each run both tables are truncated and a checkpoint taken (as
# bench/run.sh does for the floor). Rounds are interleaved, each starting at
# the next variant, so drift hits all alike; the table shows the median.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-3}
port=${NILE_RESET_TABLE_SHAPE_PORT:-$((TABLE_SHAPE_PORT + PG_PORT_OFFSET))}
datadir=$PROJECT_ROOT/target/table-shape-cluster
work=$PROJECT_ROOT/target/table-shape
db=shape
# Rows written per variant for the sizes table.
size_rows=10000
die() { echo "bench/table_shape.sh: $*" >&2; exit 1; }

ensure_pg_copy
pgbench=$PG_BIN/pgbench
psql=$PG_BIN/psql
[ -x "$pgbench" ] || pgbench=$(command -v pgbench) || die "no pgbench"

# A cluster left running by an interrupted run.
stop_cluster "$PG_BIN" "$datadir"
cleanup() {
  stop_cluster "$PG_BIN" "$datadir"
  rm -rf "$datadir"
}
trap cleanup EXIT
rm -rf "$datadir" "$work"
mkdir -p "$work"

# --- The DDL of the two tables, from sql/ ----------------------------------
# Statements start at a line beginning with CREATE or ALTER and end at the
# first line ending with a semicolon (comments stripped); those that name
# one of the two tables are kept or refused by kind. schema.sql first (it
# creates the tables), then the other files of the install; the upgrade
# scripts (nile_reset--*.sql) are not part of it.
table_ddl() {
  local files=(sql/schema.sql) f
  for f in sql/*.sql; do
    case $f in sql/schema.sql | sql/nile_reset--*) ;; *) files+=("$f") ;; esac
  done
  awk '
    function flush() {
      if (stmt ~ /nile_reset\.(verification_tokens|email_outbox)([^A-Za-z0-9_]|$)/) {
        if (stmt ~ /^(CREATE (UNLOGGED )?TABLE|CREATE (UNIQUE )?INDEX|ALTER TABLE)/) {
          printf "%s\n", stmt
        } else if (stmt ~ /^CREATE (CONSTRAINT )?(TRIGGER|POLICY|RULE|STATISTICS)/) {
          printf "%s: not modelled by bench/table_shape.sh:\n%s\n", FILENAME, stmt > "/dev/stderr"
          bad = 1
        }
      }
      stmt = ""; open = 0
    }
    FNR == 1 && open { flush() }
    /^(CREATE|ALTER) / && !open { open = 1; stmt = "" }
    open {
      line = $0
      sub(/[[:space:]]*--.*$/, "", line)
      stmt = stmt line "\n"
      if (line ~ /;[[:space:]]*$/) flush()
    }
    END { if (open) flush(); exit bad }
  ' "${files[@]}"
}
ddl=$(table_ddl) || die "the tables have objects this script does not model (above)"
[ -n "$ddl" ] || die "found no DDL of the two tables in sql/"

# --- The columns the extension writes, from src/ ----------------------------
# The column list of an INSERT, found in a source file by a pattern.
column_list() { # file pattern
  tr '\n' ' ' <"$1" | grep -oE "$2[[:space:]]*\\([^)]*\\)" | head -n 1 |
    sed -E 's/.*\(([^)]*)\)$/\1/; s/[[:space:]]+//g; s/,/ /g'
}
read -ra token_columns <<<"$(column_list src/generate.rs 'INSERT INTO nile_reset\.verification_tokens AS t')"
read -ra outbox_columns <<<"$(column_list src/outbox.rs 'nile_reset\.email_outbox AS q')"
[ "${#token_columns[@]}" -gt 0 ] || die "found no token INSERT column list in src/generate.rs"
[ "${#outbox_columns[@]}" -gt 0 ] || die "found no outbox column list in src/outbox.rs"

# What each column gets: p.email is the identifier (u<n>@example.com), i the
# upserted token row. Values of the real width: a uuid user id, a hex
# SHA-256, the default password_reset template rendered with its link.
digest=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
link="'http://localhost:3000/reset?token=$digest&identifier=' || replace(p.email, '@', '%40') || '&callbackUrl=http%3A%2F%2Flocalhost%3A3000%2Fdone'"
body="E'Hello ' || p.email || E',\\n\\nSomeone asked to reset the password of the account ' || p.email
      || E'.\\nTo choose a new password, open this link:\\n\\n' || $link
      || E'\\n\\nThe link works once and expires soon. If you did not ask for this, ignore this email.\\n'"
value_of() { # table column
  case $1.$2 in
    verification_tokens.identifier) echo "p.email" ;;
    verification_tokens.user_id) echo "'0190f5b2-7d4c-7a8e-9b1f-3c2d4e5f6a7b'" ;;
    verification_tokens.token) echo "'$digest'" ;;
    verification_tokens.expires) echo "now() + interval '1 hour'" ;;
    verification_tokens.created) echo "now()" ;;
    email_outbox.kind) echo "'password_reset'" ;;
    email_outbox.recipient) echo "p.email" ;;
    email_outbox.sender) echo "'no-reply@localhost'" ;;
    email_outbox.subject) echo "'Reset your password'" ;;
    email_outbox.body) echo "$body" ;;
    # NULL, as for the shipped templates: none of them has an HTML part.
    email_outbox.html_body) echo "CAST(NULL AS text)" ;;
    email_outbox.link_expires) echo "i.expires" ;;
    *) die "the extension writes $1.$2, for which this script has no value: give it one in value_of" ;;
  esac
}
joined() { # separator item...
  local sep=$1 out=$2
  shift 2
  for item in "$@"; do out+="$sep$item"; done
  echo "$out"
}
token_values=() outbox_values=() token_updates=()
for c in "${token_columns[@]}"; do
  token_values+=("$(value_of verification_tokens "$c")")
  if [ "$c" != identifier ]; then token_updates+=("$c = excluded.$c"); fi
done
for c in "${outbox_columns[@]}"; do outbox_values+=("$(value_of email_outbox "$c")"); done

# The two writes into the tables of schema, for the identifiers of source (a
# query with a column email), as one statement. No :: casts: pgbench would
# take ::name for a variable.
two_writes() { # schema source
  cat <<SQL
WITH p AS ($2),
issued AS (
  INSERT INTO $1.verification_tokens AS t ($(joined ', ' "${token_columns[@]}"))
  SELECT $(joined ', ' "${token_values[@]}") FROM p
  ON CONFLICT (identifier) DO UPDATE SET $(joined ', ' "${token_updates[@]}")
  RETURNING t.identifier, t.expires)
INSERT INTO $1.email_outbox ($(joined ', ' "${outbox_columns[@]}"))
SELECT $(joined ', ' "${outbox_values[@]}")
  FROM issued i JOIN p ON p.email = i.identifier
RETURNING id;
SQL
}

# --- The cluster and the variants ------------------------------------------
log "table shape: a throwaway cluster of PostgreSQL $PG_MAJOR on port $port"
start_cluster "$PG_BIN" "$datadir" "$port"
q() { "$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }
"$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
{
  echo "SET client_min_messages = warning;"
  echo "CREATE SCHEMA nile_reset;"
  echo "$ddl"
} | q
q <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA shape;

-- The constraints (but NOT NULL) and the indexes (but those of a
-- constraint) of schema s's two tables; arbiter: the identifier's unique
-- index, which ON CONFLICT (identifier) needs. def names the table as "T".
CREATE FUNCTION shape.items(s text)
RETURNS TABLE (tbl text, item text, kind text, def text, arbiter boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog
AS $$
    SELECT t.relname::text, con.conname::text, 'constraint', pg_get_constraintdef(con.oid),
           t.relname = 'verification_tokens' AND con.contype IN ('p', 'u')
           AND con.conkey = ARRAY[(SELECT a.attnum FROM pg_attribute a
                                    WHERE a.attrelid = t.oid AND a.attname = 'identifier')]
      FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
     WHERE t.relnamespace = s::regnamespace AND t.relname IN ('verification_tokens', 'email_outbox')
       AND con.contype IN ('c', 'p', 'u', 'f', 'x')
    UNION ALL
    SELECT t.relname::text, i.relname::text, 'index',
           regexp_replace(pg_get_indexdef(ix.indexrelid), ' ON (ONLY )?\S+ USING ', ' ON T USING '), false
      FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
     WHERE t.relnamespace = s::regnamespace AND t.relname IN ('verification_tokens', 'email_outbox')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid)
$$;

-- The columns of schema s's table t, as a column definition each.
CREATE FUNCTION shape.columns(s text, t text)
RETURNS TABLE (name text, def text)
LANGUAGE sql STABLE SET search_path = pg_catalog
AS $$
    SELECT a.attname::text,
           format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
           || CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation
                   THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
           || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                                 WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
           || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                   WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END
           || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
      FROM pg_attribute a
      JOIN pg_type ty ON ty.oid = a.atttypid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = format('%I.%I', s, t)::regclass AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum
$$;

-- Schema s with copies of the two tables without the items `removed`; with
-- `written` (table.column entries), only the columns written, NOT NULL or
-- with a default. Checks the copies have exactly the items they should.
CREATE FUNCTION shape.make_variant(s text, removed text[], written text[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog
AS $$
DECLARE
    t text;
    r record;
    cols text;
BEGIN
    EXECUTE format('CREATE SCHEMA %I', s);
    FOREACH t IN ARRAY ARRAY['verification_tokens', 'email_outbox'] LOOP
        IF written IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I (LIKE nile_reset.%I INCLUDING ALL EXCLUDING INDEXES EXCLUDING CONSTRAINTS)',
                           s, t, t);
        ELSE
            SELECT string_agg(c.def, ', ') INTO cols
              FROM shape.columns('nile_reset', t) c
              JOIN pg_attribute a ON a.attrelid = format('nile_reset.%I', t)::regclass AND a.attname = c.name
             WHERE a.attnotnull OR a.atthasdef OR a.attidentity <> '' OR t || '.' || c.name = ANY (written);
            EXECUTE format('CREATE TABLE %I.%I (%s)', s, t, cols);
        END IF;
        FOR r IN SELECT * FROM shape.items('nile_reset') i WHERE i.tbl = t AND i.item <> ALL (removed) LOOP
            IF r.kind = 'constraint' THEN
                EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', s, t, r.item, r.def);
            ELSE
                EXECUTE replace(r.def, ' ON T USING ', format(' ON %I.%I USING ', s, t));
            END IF;
        END LOOP;
    END LOOP;
    IF EXISTS ((SELECT tbl, item, kind, def FROM shape.items('nile_reset') WHERE item <> ALL (removed))
               EXCEPT ALL (SELECT tbl, item, kind, def FROM shape.items(s)))
       OR EXISTS ((SELECT tbl, item, kind, def FROM shape.items(s))
                  EXCEPT ALL (SELECT tbl, item, kind, def FROM shape.items('nile_reset') WHERE item <> ALL (removed))) THEN
        RAISE EXCEPTION 'variant % does not have the items it should', s;
    END IF;
    IF written IS NULL AND EXISTS (
        (SELECT t.t, c.* FROM unnest(ARRAY['verification_tokens', 'email_outbox']) t, shape.columns('nile_reset', t.t) c)
        EXCEPT ALL (SELECT t.t, c.* FROM unnest(ARRAY['verification_tokens', 'email_outbox']) t, shape.columns(s, t.t) c)) THEN
        RAISE EXCEPTION 'variant % does not have the columns of the real tables', s;
    END IF;
END
$$;
SQL

# The variants: name, schema, items removed ({a,b}), written columns or "".
names=() schemas=() removed=() written=()
add_variant() { names+=("$1"); schemas+=("$2"); removed+=("$3"); written+=("$4"); }
items=() legend=()
while IFS=$'\t' read -r tbl item def; do
  items+=("$item")
  legend+=("$tbl.$item: $def")
done < <(q -tA -F $'\t' -c "SELECT tbl, item, def FROM shape.items('nile_reset') WHERE NOT arbiter ORDER BY tbl DESC, kind, item")
[ "$(q -tA -c "SELECT count(*) FROM shape.items('nile_reset') WHERE arbiter")" = 1 ] ||
  die "verification_tokens has no unique index on identifier alone, which the upsert's ON CONFLICT needs"
add_variant real nile_reset "" ""
for i in "${!items[@]}"; do add_variant "without ${items[$i]}" "v$i" "{${items[$i]}}" ""; done
all_items="{$(joined , "${items[@]}")}"
written_columns=()
for c in "${token_columns[@]}"; do written_columns+=("verification_tokens.$c"); done
for c in "${outbox_columns[@]}"; do written_columns+=("email_outbox.$c"); done
add_variant bare bare "$all_items" ""
add_variant "bare, written columns only" bare_written "$all_items" "{$(joined , "${written_columns[@]}")}"

for v in "${!names[@]}"; do
  if [ "${schemas[$v]}" != nile_reset ]; then
    q -o /dev/null -v s="${schemas[$v]}" -v removed="${removed[$v]}" -v written="${written[$v]}" <<'SQL'
SELECT shape.make_variant(:'s', :'removed'::text[], nullif(:'written', '')::text[]);
SQL
  fi
  {
    echo '\set id random(1, 100000)'
    two_writes "${schemas[$v]}" "SELECT 'u' || :id || '@example.com' AS email"
  } >"$work/v$v.pgbench"
done
{
  echo "-- The statement of variant real (bench/table_shape.sh), as pgbench runs it."
  cat "$work/v0.pgbench"
} >"$work/statement.sql"
log "variants: $(joined ' | ' "${names[@]}")"

# --- Throughput ------------------------------------------------------------
results=$work/results.tsv
: >"$results"
run_variant() { # round index
  local v=$2 s=${schemas[$2]} tps
  q -c "TRUNCATE $s.verification_tokens, $s.email_outbox RESTART IDENTITY" -c "CHECKPOINT"
  if ! PGOPTIONS="-c synchronous_commit=off" "$pgbench" -n -M prepared -h 127.0.0.1 -p "$port" -U postgres \
    -c 1 -j 1 -T "$seconds" -f "$work/v$v.pgbench" "$db" >"$work/pgbench.txt" 2>&1; then
    tail -n 20 "$work/pgbench.txt" >&2
    die "pgbench failed: ${names[$v]}"
  fi
  tps=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.txt")
  printf '%s\t%s\t%s\n' "$1" "$v" "$tps" >>"$results"
  log "round $1 ${names[$v]}: $tps tps"
}
count=${#names[@]}
log "throughput: $rounds round(s) x $count variants, ${seconds}s each, 1 client, synchronous_commit off"
for round in $(seq "$rounds"); do
  for k in $(seq 0 $((count - 1))); do run_variant "$round" $(((k + round - 1) % count)); done
done

# --- Sizes -----------------------------------------------------------------
sizes=$work/sizes.tsv
: >"$sizes"
for v in "${!names[@]}"; do
  s=${schemas[$v]}
  q -c "TRUNCATE $s.verification_tokens, $s.email_outbox RESTART IDENTITY" >/dev/null
  two_writes "$s" "SELECT 'u' || g || '@example.com' AS email FROM generate_series(1, $size_rows) g" |
    q -o /dev/null
  q -tA -F $'\t' -c "
    SELECT $v, (SELECT count(*) FROM shape.columns('$s', 'verification_tokens')),
           round((SELECT avg(pg_column_size(t.*)) FROM $s.verification_tokens t)),
           round(pg_relation_size('$s.verification_tokens') / 1024.0 * 1000 / $size_rows, 1),
           round(pg_indexes_size('$s.verification_tokens') / 1024.0 * 1000 / $size_rows, 1),
           (SELECT count(*) FROM shape.columns('$s', 'email_outbox')),
           round((SELECT avg(pg_column_size(o.*)) FROM $s.email_outbox o)),
           round(pg_relation_size('$s.email_outbox') / 1024.0 * 1000 / $size_rows, 1),
           round(pg_indexes_size('$s.email_outbox') / 1024.0 * 1000 / $size_rows, 1)" >>"$sizes"
  q -c "TRUNCATE $s.verification_tokens, $s.email_outbox RESTART IDENTITY" >/dev/null
done

# --- Report ----------------------------------------------------------------
printf '%s\n' "${names[@]}" >"$work/names.txt"
report() {
  awk -F '\t' -v rounds="$rounds" -v seconds="$seconds" -v major="$PG_MAJOR" -v rows="$size_rows" '
    FILENAME ~ /names.txt$/ { name[FNR - 1] = $0; n = FNR; next }
    FILENAME ~ /results.tsv$/ { runs[$2] = runs[$2] " " $3; next }
    { size[$1] = $2 " | " $3 " B | " $4 " kB | " $5 " kB | " $6 " | " $7 " B | " $8 " kB | " $9 " kB" }
    function median(list,   v, k, i, j, t) {
      k = split(list, v, " ")
      for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    }
    END {
      printf "\nTable shape: the two writes of generate_password_token, PostgreSQL %s, 1 client, synchronous_commit off, median of %d round(s) x %ss\n\n", major, rounds, seconds
      printf "| variant | tps | vs real | µs/call | µs vs real | runs (tps) |\n|---|---:|---:|---:|---:|---|\n"
      base = median(runs[0])
      for (v = 0; v < n; v++) {
        m = median(runs[v]); list = runs[v]; sub(/^ /, "", list); gsub(/ /, ", ", list)
        printf "| %s | %.0f | %.3f | %.1f | %+.1f | %s |\n", name[v], m, m / base, 1e6 / m, 1e6 / m - 1e6 / base, list
      }
      printf "\nSizes after one call for each of %s identifiers (columns; row: avg pg_column_size; heap and indexes: per 1000 rows)\n\n", rows
      printf "| variant | token columns | token row | token heap | token indexes | outbox columns | outbox row | outbox heap | outbox indexes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
      for (v = 0; v < n; v++) printf "| %s | %s |\n", name[v], size[v]
    }' "$work/names.txt" "$results" "$sizes"
  echo
  echo "Items (removed one at a time by the \"without\" variants, all by bare):"
  printf '  %s\n' "${legend[@]}"
  echo
  echo "The statement (variant real): $work/statement.sql; raw runs: $results"
}
report | tee "$work/report.md"
