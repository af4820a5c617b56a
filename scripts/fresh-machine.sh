#!/usr/bin/env bash
# Runs the README's quick-start commands the way a new user's machine would: in a fresh, minimal
# Debian 12 root (debootstrap --variant=minbase, then chroot) holding a clean clone of this
# checkout's HEAD. Only this machine's apt sources, trusted certificates and npm configuration are
# copied in; nothing installed on this machine is there, so an install step that scripts/setup.sh
# misses fails here as it would for a user. CI runs it first (.ci/run); docs/development.md.
#
#   scripts/fresh-machine.sh                          the README's commands, in order
#   scripts/fresh-machine.sh --quickstart-args "--steps 50"
#                                                     ... with these appended to the first command
#                                                     (quickstart.sh passes them to `dcgan train`)
#   scripts/fresh-machine.sh [--keep] -- CMD...       run CMD (words joined, run by bash) in the clone
#                                                     instead, e.g. -- scripts/setup.sh
#
# Environment (each also settable by the option named):
#   FRESH_QUICKSTART_ARGS   arguments appended to the README's first command (--quickstart-args)
#   FRESH_KEEP=1            keep the root (and the logs) afterwards to look inside (--keep)
#   FRESH_BASE              the cached base root (default /var/tmp/dcgan-fresh-base, about 250 MB)
#   FRESH_REBUILD_BASE=1    make the base root again (--rebuild-base)
#   FRESH_WORKDIR           where the per-run root and logs go (default /var/tmp; a full run
#                           takes about 5 GB)
#   FRESH_HEARTBEAT         seconds between "still running" lines (default 180)
#   FRESH_TAIL_OK, FRESH_TAIL_FAIL   log lines shown after a command passes (12) or fails (60)
#
# Needs root (debootstrap, chroot, mounts); installs debootstrap with apt-get when missing.
# The commands are read from the first ```sh block of the README in the clone (comments
# stripped), so this script follows the README. Each command's output goes to a log; its
# progress lines ("[setup] ...", "[test] ...") are echoed as they come, with the elapsed time per
# command at the end, and the log's tail when it fails. The exit status is the failed command's
# (0 when all passed). Mounts exist only in a private mount namespace, so they vanish with it;
# the root is removed on every exit, Ctrl-C included, unless kept.
set -euo pipefail
# One block, read whole before it runs: editing this file during a run cannot change that run.
{

me=fresh-machine
say() { printf '[%s] %s\n' "$me" "$*"; }
die() { printf '[%s] error: %s\n' "$me" "$*" >&2; exit 2; }
fmt_time() { local s=$1; if ((s >= 60)); then printf '%dm %02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

quickstart_args=${FRESH_QUICKSTART_ARGS:-}
keep=${FRESH_KEEP:-0}
rebuild_base=${FRESH_REBUILD_BASE:-0}
base=${FRESH_BASE:-/var/tmp/dcgan-fresh-base}
workdir=${FRESH_WORKDIR:-/var/tmp}
custom=()
while (($#)); do
  case $1 in
    --quickstart-args) (($# >= 2)) || die "--quickstart-args needs a value"; quickstart_args=$2; shift 2 ;;
    --quickstart-args=*) quickstart_args=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    --rebuild-base) rebuild_base=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; custom=("$@"); break ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts); run it as root, e.g. sudo $0"
for tool in git unshare chroot; do
  command -v "$tool" >/dev/null || die "'$tool' not found"
done
repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse HEAD)

# ---- Clean-up, on every exit (Ctrl-C and SIGTERM included) ------------------------------------
root=""       # this run's root
logs=""       # this run's logs
child=""      # the running namespace (unshare); killing it kills everything inside
follower=""   # echoes progress lines from the running command's log
base_tmp=""   # a base root being made
heartbeat=""  # prints a line now and then during a long command
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    say "stopping the commands in the fresh root"
    kill -KILL "$child" 2>/dev/null || true   # --kill-child: the namespace's processes die with it
    wait "$child" 2>/dev/null || true
  fi
  for p in "$follower" "$heartbeat"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  for d in "$base_tmp" "$root"; do
    if [ -z "$d" ] || [ ! -d "$d" ]; then continue; fi
    # The mounts were made in private namespaces and are gone; never delete through a leftover.
    if grep -qF " $d/" /proc/self/mounts; then
      say "unmounting leftovers under $d"
      grep -F " $d/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
    fi
  done
  [ -n "$base_tmp" ] && rm -rf --one-file-system "$base_tmp" "$base_tmp.log"
  if [ -n "$root" ] && [ -d "$root" ]; then
    if [ "$keep" = 1 ]; then
      say "kept the root: $root (enter it with: unshare -m sh -c 'mount --rbind /dev $root/dev && mount -t proc proc $root/proc && exec chroot $root bash')"
    else
      rm -rf --one-file-system "$root"
    fi
  fi
  if [ -n "$logs" ] && [ -d "$logs" ]; then
    if [ "$rc" = 0 ] && [ "$keep" != 1 ]; then rm -rf "$logs"; else say "logs kept in $logs"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM
trap 'exit 129' HUP

# Runs "$@" in the background and waits, so that a signal reaches our traps at once (bash defers
# traps while a foreground command runs).
run_waited() {
  "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# ---- This machine's Debian mirror, from its apt sources (never hard-coded) ----------------------
source_files=()
[ -f /etc/apt/sources.list ] && source_files+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && source_files+=("$f")   # only the names apt reads; "*.disabled" and the like are not
done
((${#source_files[@]})) || die "no apt sources in /etc/apt"
mirror=$(awk '
  # one-line format: deb [options] URI SUITE COMPONENTS...
  /^[[:space:]]*deb[[:space:]]/ {
    n = split($0, w, /[[:space:]]+/); i = 1; while (w[i] == "") i++
    i++; if (w[i] ~ /^\[/) { while (w[i] !~ /\]$/) i++; i++ }
    if (w[i + 1] == "bookworm") { print w[i]; exit }
  }
  # deb822 format: stanzas of Types/URIs/Suites, separated by blank lines
  /^[[:space:]]*$/ { if (deb && suite) { print uri; exit } deb = suite = 0; uri = "" }
  /^Types:/  { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
  /^URIs:/   { uri = $2 }
  /^Suites:/ { suite = ($0 ~ /[[:space:]]bookworm([[:space:]]|$)/) }
  /^Enabled:[[:space:]]*no/ { deb = 0 }
  END { if (deb && suite && uri != "") print uri }
' "${source_files[@]}" | head -n1)
[ -n "$mirror" ] || die "cannot find this machine's Debian bookworm mirror in /etc/apt"

# ---- The base root: debootstrap --variant=minbase once, cached --------------------------------
start_all=$(date +%s)
if [ "$rebuild_base" = 1 ] && [ -d "$base" ]; then
  say "--rebuild-base: removing the cached base root $base"
  rm -rf --one-file-system "$base"
fi
if [ ! -x "$base/bin/bash" ]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; } \
      >/tmp/dcgan-fresh-apt.log 2>&1 || { tail -n 20 /tmp/dcgan-fresh-apt.log; die "cannot install debootstrap"; }
    rm -f /tmp/dcgan-fresh-apt.log
  fi
  say "making the minimal Debian 12 base root in $base (once; debootstrap --variant=minbase bookworm, mirror from /etc/apt)"
  [ ! -e "$base" ] || rm -rf --one-file-system "$base"   # an incomplete one
  mkdir -p "$(dirname "$base")"
  base_tmp=$(mktemp -d "$base.tmp.XXXXXX")
  t0=$(date +%s)
  # In a private mount namespace too: debootstrap mounts /proc and /sys in the target.
  if ! run_waited unshare --mount --propagation private --pid --fork --kill-child \
         debootstrap --variant=minbase bookworm "$base_tmp" "$mirror" >"$base_tmp.log" 2>&1; then
    tail -n 30 "$base_tmp.log"; rm -f "$base_tmp.log"
    die "debootstrap failed"
  fi
  rm -f "$base_tmp.log"
  mv -T "$base_tmp" "$base" 2>/dev/null || rm -rf --one-file-system "$base_tmp"   # another run won the race
  base_tmp=""
  say "base root made in $(fmt_time $(($(date +%s) - t0)))"
else
  say "base root: $base (cached; FRESH_REBUILD_BASE=1 makes it again)"
fi

# ---- This run's root: a fresh copy of the base, this machine's sources and certificates --------
mkdir -p "$workdir"
root=$(mktemp -d "$workdir/dcgan-fresh-run.XXXXXX")
logs=$(mktemp -d "$workdir/dcgan-fresh-logs.XXXXXX")
say "fresh copy of the base root in $root"
cp -a "$base/." "$root/"
chmod 755 "$root"

# apt: this machine's sources (the files apt reads), and the keyrings they name if the root lacks them.
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
for f in "${source_files[@]}"; do
  cp -p "$f" "$root$f"
  sed -nE 's/.*[Ss]igned-[Bb]y[:=][[:space:]]*([^] ]+).*/\1/p' "$f" | while read -r k; do
    if [ -f "$k" ] && [ ! -e "$root$k" ]; then mkdir -p "$root$(dirname "$k")"; cp -p "$k" "$root$k"; fi
  done
done
# npm: this machine's configuration (the registry setup.sh's `npm install` uses).
for f in /etc/npmrc /usr/etc/npmrc "$HOME/.npmrc"; do
  if [ -f "$f" ]; then
    dest=$f; [ "$f" = "$HOME/.npmrc" ] && dest=/root/.npmrc
    mkdir -p "$root$(dirname "$dest")"; cp -p "$f" "$root$dest"
  fi
done
# Trusted certificates (public ones: apt and npm verify TLS against them), name resolution.
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
cp -a /etc/ssl/certs/. "$root/etc/ssl/certs/" 2>/dev/null || true
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp -L /etc/hosts "$root/etc/hosts" 2>/dev/null || true

# ---- A clean clone of HEAD -------------------------------------------------------------------
project=/root/dcgan
subject=$(git -C "$repo" log -1 --format=%s); ((${#subject} <= 60)) || subject="${subject:0:57}..."
say "clean clone of HEAD $(git -C "$repo" rev-parse --short HEAD) ($subject) into $project"
changes=$(git -C "$repo" status --porcelain --untracked-files=no | wc -l)
untracked=$(git -C "$repo" status --porcelain --untracked-files=normal | grep -c '^??' || true)
if ((changes + untracked)); then
  say "note: this checkout has $changes uncommitted change(s) and $untracked untracked file(s); they are NOT" \
      "tested here: only the commit $(git -C "$repo" rev-parse --short HEAD) is (commit first to test them)"
fi
git clone -q --no-checkout "$repo" "$root$project"
git -C "$root$project" -c advice.detachedHead=false checkout -q "$head"

# ---- The commands ----------------------------------------------------------------------------
if ((${#custom[@]})); then
  cmds=("${custom[*]}")
  [ -z "$quickstart_args" ] || say "note: --quickstart-args is ignored with a command of your own"
else
  # The README's first ```sh block, comment-only lines, trailing "# comments" and blank lines removed.
  mapfile -t cmds < <(awk '/^```sh[[:space:]]*$/ {f = 1; next} /^```/ {if (f) exit} f' "$root$project/README.md" |
                      sed -E 's/(^|[[:space:]]+)#.*$//' | grep -v '^[[:space:]]*$' || true)
  ((${#cmds[@]})) || die "no commands: the README (of HEAD) has no \`\`\`sh block with commands"
  [ -z "$quickstart_args" ] || cmds[0]="${cmds[0]} $quickstart_args"
  say "the README's quick start: ${#cmds[@]} command(s)"
fi

status=0
n=0
for c in "${cmds[@]}"; do
  n=$((n + 1))
  log="$logs/command-$n.log"
  : >"$log"
  say "[$n/${#cmds[@]}] \$ $c"
  t0=$(date +%s)
  # A private mount and PID namespace: /dev, /proc and /sys are mounted inside it only and vanish
  # with it; killing unshare (--kill-child) kills every process inside. The command runs with a
  # clean environment and default signal handling (a background job starts with SIGINT ignored).
  rc=0
  # shellcheck disable=SC2016  # the $1/$2 are the inner shell's
  unshare --mount --propagation private --pid --fork --kill-child /bin/bash -c '
      r=$1; shift
      # The root bind-mounted onto itself: "/" inside is a mount point, as on a real machine (tests
      # that make "/" private in a mount namespace of their own need that).
      mount --bind "$r" "$r" && mount --rbind /dev "$r/dev" && mount -t proc proc "$r/proc" &&
        mount -t sysfs sys "$r/sys" || exit 125
      chroot "$r" /usr/bin/env -i --default-signal=INT,QUIT,TERM HOME=/root USER=root LOGNAME=root \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
        /bin/bash -c "$1"
      exit $?   # (not exec: this shell stays PID 1, the command and its children are ordinary processes)
      ' _ "$root" "cd $project && $c" </dev/null >"$log" 2>&1 &
  child=$!
  # Progress: the scripts' own stage lines ("[setup] ...", "[test] ...", "[fuzz] ..."), as they come.
  tail -n +1 -F --pid="$child" "$log" 2>/dev/null | grep --line-buffered -E '^\[[a-z][a-z0-9_-]*\] ' |
    sed -u 's/^/      /' &
  follower=$!
  # And every few minutes without them, a sign of life: the elapsed time and the log's last line.
  ( every=${FRESH_HEARTBEAT:-180}; next=$every; cmd_child=$child
    while kill -0 "$cmd_child" 2>/dev/null; do
      sleep 5
      if (($(date +%s) - t0 >= next)); then
        next=$((next + every))
        say "[$n/${#cmds[@]}] still running ($(fmt_time $(($(date +%s) - t0)))); last line: $(tail -n1 "$log" | tr -d '\r' | cut -c1-80)"
      fi
    done ) &
  heartbeat=$!
  wait "$child" || rc=$?
  child=""
  wait "$follower" 2>/dev/null || true
  follower=""
  kill "$heartbeat" 2>/dev/null || true; wait "$heartbeat" 2>/dev/null || true
  heartbeat=""
  took=$(fmt_time $(($(date +%s) - t0)))
  if [ "$rc" = 0 ]; then
    say "[$n/${#cmds[@]}] ok in $took; its last lines:"
    tail -n "${FRESH_TAIL_OK:-12}" "$log" | sed 's/^/      | /'
  else
    status=$rc
    say "[$n/${#cmds[@]}] FAILED (exit $rc) after $took: \$ $c"
    say "the last ${FRESH_TAIL_FAIL:-60} lines of its log ($log):"
    tail -n "${FRESH_TAIL_FAIL:-60}" "$log" | sed 's/^/      | /'
    break
  fi
done

if [ "$status" = 0 ]; then
  say "PASSED: all ${#cmds[@]} command(s) in a fresh Debian 12 root, $(fmt_time $(($(date +%s) - start_all))) in all"
else
  say "FAILED: see above; rerun with FRESH_KEEP=1 to keep the root and look inside"
fi
exit "$status"
}
