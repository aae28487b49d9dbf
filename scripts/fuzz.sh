#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads server bytes, with AFL++
# through cargo-afl on the stable toolchain (docs/fuzzing.md):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default: 60 seconds, every target
#   scripts/fuzz.sh 300                      # the longer measured run
#   scripts/fuzz.sh 30 imap smtp             # some targets only
#
# Builds fuzz/ (its own crate) with AFL instrumentation, then runs each target
# for SECONDS from its seed corpus (fuzz/seeds/TARGET) and prints, per target,
# the executions, their speed, the paths found and the crashes and hangs.
# Every crash is copied to fuzz/regressions/TARGET/, which the normal suite
# replays (tests/fuzz_props.rs), so a crash stays a failing test until fixed.
# Exits 1 when any target crashed or hung, 0 otherwise.
#
# Needs a C compiler and make (AFL++ is built from the source cargo-afl ships)
# and crates.io; nothing else from the network. The first run installs
# cargo-afl and builds AFL++ under fuzz/target/ (a few minutes), later runs
# reuse them. Set MAILCHECK_FUZZ_JOBS=N to run N targets side by side (default
# 1: the machine's cores are shared).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
seconds=${1:-60}
shift || true
all_targets=(smtp_reply smtp pop3 imap sasl autoconfig cert driver refusal)
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
jobs=${MAILCHECK_FUZZ_JOBS:-1}

if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "fuzz.sh: SECONDS must be a whole number of seconds, got '$seconds'" >&2
  exit 2
fi
for t in "${targets[@]}"; do
  if [[ ! -d fuzz/seeds/$t ]]; then
    echo "fuzz.sh: no target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

# cargo-afl and the AFL++ it builds live inside the fuzz crate's target dir, so
# nothing outside the repository changes. The version matches fuzz/Cargo.lock.
tools=$root/fuzz/target/tools
export PATH=$tools/bin:$PATH
export XDG_DATA_HOME=$tools/share
afl_version=$(sed -n '/^name = "afl"$/{n;s/^version = "\(.*\)"$/\1/p}' fuzz/Cargo.lock)
if [[ "$(cargo afl --version 2>/dev/null)" != *"$afl_version"* ]]; then
  echo "== installing cargo-afl $afl_version"
  cargo install --locked --root "$tools" --version "$afl_version" cargo-afl
fi
if ! compgen -G "$XDG_DATA_HOME/afl.rs/*/afl.rs-$afl_version/afl/bin/afl-fuzz" >/dev/null; then
  echo "== building AFL++"
  cargo afl config --build
fi

echo "== building the targets"
(cd fuzz && cargo afl build --release --bins)

# AFL++ settings for a shared machine that is not tuned for fuzzing: no CPU
# pinning, no frequency or core-dump checks, plain logs instead of the UI.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_FAST_CAL=1 AFL_NO_WARN_INSTABILITY=1

run_target() {
  local t=$1 out=fuzz/out/$1
  rm -rf "$out"
  mkdir -p "$out"
  local dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=(-x "fuzz/dict/$t.dict")
  # -V: stop after SECONDS; -t: a run that takes over 2 s is a hang.
  cargo afl fuzz -V "$seconds" -t 2000 -i "fuzz/seeds/$t" -o "$out" "${dict[@]}" \
    "fuzz/target/release/$t" >"$out/log" 2>&1 || true
}

echo "== fuzzing ${targets[*]} for ${seconds}s each"
running=0
for t in "${targets[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

stat() { sed -n "s/^$1 *: *//p" "$2" 2>/dev/null; }

status=0
printf '\n%-11s %12s %10s %7s %8s %7s %6s\n' target executions exec/s paths coverage crashes hangs
for t in "${targets[@]}"; do
  stats=fuzz/out/$t/default/fuzzer_stats
  if [[ ! -f $stats ]]; then
    printf '%-11s did not start, see fuzz/out/%s/log\n' "$t" "$t"
    status=1
    continue
  fi
  crashes=$(stat saved_crashes "$stats")
  hangs=$(stat saved_hangs "$stats")
  printf '%-11s %12s %10s %7s %8s %7s %6s\n' "$t" "$(stat execs_done "$stats")" \
    "$(stat execs_per_sec "$stats")" "$(stat corpus_count "$stats")" \
    "$(stat bitmap_cvg "$stats")" "$crashes" "$hangs"
  if ((crashes + hangs > 0)); then
    status=1
    mkdir -p "fuzz/regressions/$t"
    for f in fuzz/out/"$t"/default/{crashes,hangs}/id:*; do
      [[ -f $f ]] || continue
      cp "$f" "fuzz/regressions/$t/$(sha1sum "$f" | cut -c1-16)"
    done
  fi
done
if ((status != 0)); then
  echo
  echo "Crashes and hangs were copied to fuzz/regressions/; the suite replays them"
  echo "(cargo test --test fuzz_props). Fix the parser and keep them there."
fi
exit "$status"
