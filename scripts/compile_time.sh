#!/usr/bin/env bash
# Compile-time benchmark: how long rustc takes, and how much memory it needs, to build a crate that
# declares and uses `nn` networks.
#
# Usage:
#   scripts/compile_time.sh --out FILE [--cases m2,lenet,resnet20,ten]
#                           [--profiles release,debug,check] [--work DIR] [--target-dir DIR]
#                           [--no-workspace-profiles]
#
#   --out FILE        the JSON results (required; rewritten after every measurement, so an
#                     interrupted run keeps what it measured)
#   --cases LIST      comma-separated, from m2, lenet, resnet20, ten (default: all four)
#   --profiles LIST   comma-separated, from release (`cargo build --release`), debug
#                     (`cargo build`), check (`cargo check`) (default: all three)
#   --work DIR        where the throwaway crates go, one directory per case (kept); default a
#                     temporary directory, deleted at the end
#   --target-dir DIR  the crates' target directories go to DIR/<case> (default <work>/<case>/target)
#   --no-workspace-profiles
#                     use cargo's default profiles instead of the `[profile.*]` sections of the
#                     workspace's Cargo.toml (which are copied into each crate by default, so the
#                     builds match the workspace's own examples and benches)
#
# Each case is one binary crate `ct-<case>` whose main.rs is `scripts/compile_time/<case>.rs` (read
# those files for the networks and what main does with them), depending on `nn` and `nn-models` by
# path and using the workspace's Cargo.lock (so the same dependency versions, and no network
# access). The cases:
#   m2        M2 (MODELS.md), forward on one input + one forward_train at batch 32
#   lenet     LeNet-5 on [1, 28, 28], forward + one Trainer::fit (batch 32, one epoch)
#   resnet20  CIFAR ResNet-20 on [3, 32, 32], forward + one Trainer::fit (batch 32, one epoch)
#   ten       M1-M4 and six small networks (residual, batch norm, dropout, PReLU, GELU, average
#             pooling), each forward + one forward_train at batch 32
#
# What is timed, per case and profile (the dependencies are never timed):
#   1. the crate is built with a stub main.rs (`fn main() {}`), which builds `nn` and the other
#      dependencies for that profile (not timed);
#   2. the real main.rs is copied in and the crate is built (timed: the "first" column of the
#      table, a full build of the crate with its dependencies already built);
#   3. `touch src/main.rs` and the crate is built again (timed: the figure written to the JSON).
#      For debug and check (incremental compilation) this is an incremental rebuild after an
#      unchanged edit: the macro expands again and the unchanged queries are reused. A release
#      build is not incremental, so step 3 would rebuild the crate from scratch like step 2: the
#      figure is step 2's and step 3 is skipped (it is run when CARGO_INCREMENTAL=1).
# Wall seconds come from bash's clock around the cargo command; the memory is GNU time's (`time
# -v`) "Maximum resident set size" of the cargo command, which is the largest of any single
# process of the build (rustc compiling the crate), in MiB (1024 KiB).
#
# Output: a JSON array of {"case", "profile", "seconds", "max_rss_mb"} (one per case and profile,
# in the order measured), and a table on stderr as the run goes, with the targets of issue #15:
#   resnet20 release <= 90 s and <= 1.5 GiB     m2 release <= 15 s
#   ten release      <= 60 s and <= 1 GiB       lenet debug (incremental) <= 1.5 s
#
# The machine should be otherwise idle; cargo runs its default number of jobs (CARGO_BUILD_JOBS and
# RUSTFLAGS are honoured; CARGO_TARGET_DIR is not: each case has its own target directory).
# A full run builds the release dependencies four times and the big cases for minutes: for a quick
# check use `--cases m2,lenet --profiles check,debug`. See scripts/compile_time/README.md.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
sources="$script_dir/compile_time"

all_cases=(m2 lenet resnet20 ten)
all_profiles=(release debug check)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

die() {
    echo "compile_time.sh: $*" >&2
    exit 2
}

out=""
cases_arg=""
profiles_arg=""
work=""
target_base=""
workspace_profiles=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="${2:?--out needs a file}"; shift 2 ;;
        --out=*) out="${1#*=}"; shift ;;
        --cases) cases_arg="${2:?--cases needs a list}"; shift 2 ;;
        --cases=*) cases_arg="${1#*=}"; shift ;;
        --profiles) profiles_arg="${2:?--profiles needs a list}"; shift 2 ;;
        --profiles=*) profiles_arg="${1#*=}"; shift ;;
        --work) work="${2:?--work needs a directory}"; shift 2 ;;
        --work=*) work="${1#*=}"; shift ;;
        --target-dir) target_base="${2:?--target-dir needs a directory}"; shift 2 ;;
        --target-dir=*) target_base="${1#*=}"; shift ;;
        --no-workspace-profiles) workspace_profiles=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "compile_time.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done
[[ -n "$out" ]] || { echo "compile_time.sh: --out FILE is required" >&2; usage 2; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed for the memory figure"
command -v cargo >/dev/null || die "cargo is not on PATH"

# Splits the comma-separated list $2 into the array `parsed`, checking each item against the
# allowed ones ($3...).
parse_list() {
    local what="$1" arg="$2"; shift 2
    local item a ok
    IFS=',' read -r -a parsed <<<"$arg"
    [[ ${#parsed[@]} -gt 0 ]] || die "empty $what list"
    for item in "${parsed[@]}"; do
        ok=0
        for a in "$@"; do
            if [[ "$item" == "$a" ]]; then ok=1; fi
        done
        [[ $ok == 1 ]] || die "unknown $what '$item' (known: $*)"
    done
}

cases=("${all_cases[@]}")
if [[ -n "$cases_arg" ]]; then
    parse_list case "$cases_arg" "${all_cases[@]}"
    cases=("${parsed[@]}")
fi
profiles=("${all_profiles[@]}")
if [[ -n "$profiles_arg" ]]; then
    parse_list profile "$profiles_arg" "${all_profiles[@]}"
    profiles=("${parsed[@]}")
fi

if [[ -z "$work" ]]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/nn-compile-time.XXXXXX")
    trap 'rm -rf "$work"' EXIT
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd)
fi
if [[ -n "$target_base" ]]; then
    mkdir -p "$target_base"
    target_base=$(cd "$target_base" && pwd)
fi
out_dir=$(dirname "$out")
mkdir -p "$out_dir"
out="$(cd "$out_dir" && pwd)/$(basename "$out")"

# Writes the crate of case $1 into $2 (main.rs is the stub; `install_main` puts the real one in).
make_crate() {
    local case="$1" dir="$2"
    mkdir -p "$dir/src"
    {
        echo "# Generated by scripts/compile_time.sh (case $case); safe to delete."
        echo "[package]"
        echo "name = \"ct-$case\""
        echo "version = \"0.0.0\""
        echo "edition = \"2021\""
        echo "publish = false"
        echo
        echo "[dependencies]"
        echo "nn = { path = \"$root\" }"
        echo "nn-models = { path = \"$root/nn-models\" }"
        echo
        echo "# A workspace of its own, whatever directory the crate is in."
        echo "[workspace]"
        if [[ $workspace_profiles == 1 ]]; then
            echo
            echo "# The [profile.*] sections of $root/Cargo.toml."
            awk '/^\[/ { keep = ($0 ~ /^\[profile\./) } keep' "$root/Cargo.toml"
        fi
    } >"$dir/Cargo.toml"
    cp "$root/Cargo.lock" "$dir/Cargo.lock"
    echo 'fn main() {}' >"$dir/src/main.rs"
}

install_main() {
    cp "$sources/$1.rs" "$2/src/main.rs"
}

# The cargo arguments of a profile.
cargo_args() {
    case "$1" in
        release) echo "build --release" ;;
        debug) echo "build" ;;
        check) echo "check" ;;
    esac
}

# Runs cargo for profile $2 in crate dir $1 with target dir $3, logging to $4.
# Sets `seconds` and `rss_mb`; on failure prints the log's tail and exits.
build() {
    local dir="$1" profile="$2" target="$3" log="$4"
    local -a args
    read -r -a args <<<"$(cargo_args "$profile")"
    local t0 t1 status=0 kb
    t0=$EPOCHREALTIME
    (cd "$dir" && /usr/bin/time -v -o "$log.time" \
        cargo "${args[@]}" --target-dir "$target" --color never) >"$log" 2>&1 || status=$?
    t1=$EPOCHREALTIME
    if [[ $status != 0 ]]; then
        echo "compile_time.sh: 'cargo ${args[*]}' failed in $dir (exit $status); end of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log.time")
    [[ -n "$kb" ]] || die "no 'Maximum resident set size' in $log.time"
    seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    rss_mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
}

# Dies unless the log $3 shows that cargo compiled (or checked) the crate of case $1.
rebuilt() {
    grep -q "^ *\(Compiling\|Checking\) ct-$1 " "$3" ||
        die "case $1, $2: cargo did not rebuild the crate (see $3)"
}

# The target of issue #15 for a case and profile, as "SECONDS MIB" (0 = none), or nothing.
target_of() {
    case "$1/$2" in
        resnet20/release) echo "90 1536" ;;
        m2/release) echo "15 0" ;;
        ten/release) echo "60 1024" ;;
        lenet/debug) echo "1.5 0" ;;
    esac
}

# "met" / "MISSED" against the target, or "" when there is none.
verdict() {
    local case="$1" profile="$2" s="$3" mb="$4" t
    t=$(target_of "$case" "$profile")
    [[ -n "$t" ]] || return 0
    awk -v s="$s" -v mb="$mb" -v t="$t" 'BEGIN {
        split(t, x, " ")
        ok = (s <= x[1]) && (x[2] == 0 || mb <= x[2])
        text = "<= " x[1] " s"; if (x[2] > 0) text = text ", <= " x[2] " MiB"
        printf "%s (%s)", ok ? "met" : "MISSED", text
    }'
}

results=()
write_json() {
    local i
    {
        echo "["
        for i in "${!results[@]}"; do
            if [[ $i -lt $((${#results[@]} - 1)) ]]; then
                echo "  ${results[$i]},"
            else
                echo "  ${results[$i]}"
            fi
        done
        echo "]"
    } >"$out.tmp"
    mv "$out.tmp" "$out"
}
write_json

incremental_release=0
if [[ "${CARGO_INCREMENTAL:-}" == 1 ]]; then incremental_release=1; fi

echo "nn compile time: $(cargo --version), $(rustc --version)" >&2
echo "work: $work  results: $out" >&2
printf '%-9s %-8s %9s %9s %11s  %s\n' case profile "first s" seconds "max RSS MiB" target >&2
for case in "${cases[@]}"; do
    dir="$work/$case"
    target="${target_base:+$target_base/$case}"
    target="${target:-$dir/target}"
    rm -rf "$dir/src" "$dir/logs"
    make_crate "$case" "$dir"
    mkdir -p "$dir/logs"
    for profile in "${profiles[@]}"; do
        log="$dir/logs/$profile"
        # 1. The dependencies, with the stub main.rs (not timed).
        echo 'fn main() {}' >"$dir/src/main.rs"
        build "$dir" "$profile" "$target" "$log-deps.log"
        # 2. The crate, first build.
        install_main "$case" "$dir"
        build "$dir" "$profile" "$target" "$log-first.log"
        first="$seconds"
        rebuilt "$case" "$profile" "$log-first.log"
        # 3. `touch src/main.rs` and build again (incremental profiles).
        if [[ "$profile" != release || $incremental_release == 1 ]]; then
            touch "$dir/src/main.rs"
            build "$dir" "$profile" "$target" "$log-touch.log"
            rebuilt "$case" "$profile" "$log-touch.log"
        fi
        results+=("$(printf '{"case": "%s", "profile": "%s", "seconds": %s, "max_rss_mb": %s}' \
            "$case" "$profile" "$seconds" "$rss_mb")")
        write_json
        printf '%-9s %-8s %9s %9s %11s  %s\n' "$case" "$profile" "$first" "$seconds" "$rss_mb" \
            "$(verdict "$case" "$profile" "$seconds" "$rss_mb")" >&2
    done
done
echo "wrote $out" >&2
