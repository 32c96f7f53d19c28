#!/usr/bin/env bash
# Builds the Debian packages of nile_reset into target/packages (`make package`):
#   postgresql-<MAJOR>-nile-reset_<VERSION>_<ARCH>.deb   the extension, for each
#       PostgreSQL major given, or by default each tested major whose copy
#       the checkout has (scripts/setup.sh makes them)
#   nile-reset_<VERSION>_<ARCH>.deb   the `nile-reset` binary, its systemd
#       units and an example environment file
#
#   packaging/build.sh [MAJOR...]
#
# The extension is built against the checkout's copy of PostgreSQL, whose
# paths lie under target/; its files are laid out in the package under the
# system's paths (/usr/lib/postgresql/<MAJOR>/lib and
# /usr/share/postgresql/<MAJOR>/extension), as Debian's PostgreSQL expects.
# Release builds (lto = "fat") take minutes the first time; cargo keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

out=$PROJECT_ROOT/target/packages
stage=$PROJECT_ROOT/target/package-build
maintainer=${NILE_RESET_DEB_MAINTAINER:-nile_reset maintainers <maintainers@nile-reset.invalid>}
arch=$(dpkg --print-architecture)
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "nile_reset"))')

# The pg_config of the checkout's copy of PostgreSQL MAJOR.
pg_config_of() { # major
  # shellcheck disable=SC2016 # expanded by the inner shell
  NILE_RESET_PG_MAJOR=$1 bash -c '. scripts/common.sh && echo "$PG_CONFIG"'
}

majors=("$@")
if [ "${#majors[@]}" -eq 0 ]; then
  for major in "${PG_MAJORS[@]:-$PG_MAJOR}"; do
    if [ -x "$(pg_config_of "$major")" ]; then
      majors+=("$major")
    else
      log "no copy of PostgreSQL $major in this checkout: no package for it"
    fi
  done
fi

# The shared-library dependencies of the given files, as Depends entries.
shlibs_of() { # file...
  local dir status=0
  dir=$(mktemp -d)
  mkdir "$dir/debian"
  printf 'Source: nile-reset\n\nPackage: nile-reset\nArchitecture: any\n' >"$dir/debian/control"
  # The extension's references to the server's own symbols are expected to
  # resolve in no library: dpkg-shlibdeps' warnings about them are dropped.
  (cd "$dir" && dpkg-shlibdeps -O "$@" 2>"$dir/warnings") | sed -n 's/^shlibs:Depends=//p' || status=$?
  if [ "$status" -ne 0 ]; then cat "$dir/warnings" >&2; fi
  rm -rf "$dir"
  return "$status"
}

# Writes DEBIAN/control from a template and builds the package.
build_deb() { # root template package_name [sed expression...]
  local root=$1 template=$2 name=$3 size shlibs binaries
  shift 3
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  mapfile -t binaries < <(find "$root" -path "$root/DEBIAN" -prune -o -type f -perm -u+x -print -o -type f -name '*.so' -print)
  shlibs=$(shlibs_of "${binaries[@]}")
  sed -e "s|@VERSION@|$version|g" -e "s|@ARCH@|$arch|g" -e "s|@MAINTAINER@|$maintainer|g" \
    -e "s|@INSTALLED_SIZE@|$size|g" -e "s|@SHLIBS@|$shlibs|g" "$@" "$template" >"$root/DEBIAN/control"
  rm -f "$out/${name}_"*.deb
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${name}_${version}_${arch}.deb" >/dev/null
  log "built $out/${name}_${version}_${arch}.deb"
}

add_docs() { # root package_name
  install -D -m 644 packaging/copyright "$1/usr/share/doc/$2/copyright"
  install -D -m 644 README.md "$1/usr/share/doc/$2/README.md"
}

mkdir -p "$out" "$stage"

for major in "${majors[@]}"; do
  config=$(pg_config_of "$major")
  [ -x "$config" ] || { log "no pg_config for PostgreSQL $major at $config (run scripts/setup.sh)"; exit 1; }
  name=postgresql-$major-nile-reset
  log "building $name $version (release build)"
  pgrx_out=$stage/$name.pgrx
  rm -rf "$pgrx_out"
  cargo pgrx package --pg-config "$config" --out-dir "$pgrx_out" >"$stage/$name.log" 2>&1 ||
    { tail -n 40 "$stage/$name.log" >&2; exit 1; }
  # pgrx writes under the copy's absolute paths: move both folders to the
  # system's paths, and refuse anything else it may have written.
  lib=$pgrx_out$("$config" --pkglibdir)
  ext=$pgrx_out$("$config" --sharedir)/extension
  unexpected=$(find "$pgrx_out" -type f ! -path "$lib/*" ! -path "$ext/*")
  if [ -n "$unexpected" ]; then
    log "cargo pgrx package wrote files outside the library and extension folders: $unexpected"
    exit 1
  fi
  root=$stage/$name
  rm -rf "$root"
  mkdir -p "$root/DEBIAN" "$root/usr/lib/postgresql/$major/lib" "$root/usr/share/postgresql/$major/extension"
  install -m 644 "$lib"/* "$root/usr/lib/postgresql/$major/lib/"
  strip --strip-unneeded "$root/usr/lib/postgresql/$major/lib/nile_reset.so"
  install -m 644 "$ext"/* "$root/usr/share/postgresql/$major/extension/"
  add_docs "$root" "$name"
  build_deb "$root" packaging/extension/control.in "$name" -e "s|@PG_MAJOR@|$major|g"
done

log "building nile-reset $version (release build)"
cargo build --release --quiet -p nile_reset_shim --bin nile-reset
root=$stage/nile-reset
rm -rf "$root"
mkdir -p "$root/DEBIAN"
install -D -m 755 "${CARGO_TARGET_DIR:-$PROJECT_ROOT/target}/release/nile-reset" "$root/usr/bin/nile-reset"
strip --strip-unneeded "$root/usr/bin/nile-reset"
for unit in nile-reset-serve.service nile-reset-send.service; do
  install -D -m 644 "packaging/nile-reset/$unit" "$root/lib/systemd/system/$unit"
done
install -D -m 644 packaging/nile-reset/nile-reset.env "$root/etc/nile-reset/nile-reset.env"
echo /etc/nile-reset/nile-reset.env >"$root/DEBIAN/conffiles"
install -m 755 packaging/nile-reset/postinst packaging/nile-reset/prerm packaging/nile-reset/postrm "$root/DEBIAN/"
add_docs "$root" nile-reset
build_deb "$root" packaging/nile-reset/control.in nile-reset
