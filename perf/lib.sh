# shellcheck shell=bash disable=SC2154 # $top and $build are set by the script that sources this
# The opening shared by the perf scripts that run enrichd against the embedded broker or
# PostgreSQL. Source it once the options are read, with $top (the source tree) and $build (the
# build directory) set:
#   source "$top/perf/lib.sh" NAME
# It builds the tree into $build if that has no enrichd, exports ENRICHD_BUILD_DIR, sources
# tools/lib.sh, and makes $work, a new temporary directory named after NAME; at exit, lib_cleanup
# stops what lib_spawn started and $work is removed.
[ -x "$build/enrichd" ] || "$top/tools/build.sh" "$build"
export ENRICHD_BUILD_DIR=$build
# shellcheck source=tools/lib.sh
source "$top/tools/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/enrichd-$1.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT
