#!/usr/bin/env bash
# scripts/setup.sh: the Python side of griddiag's setup (what `make setup` runs).
# Creates .venv (Python >= 3.11) if missing and installs the package editable plus the test tools
# of pyproject's [dependency-groups] test. Quick when nothing changed: a stamp file newer than
# pyproject.toml (and this script) skips pip.
#
# Runs as any user. As root on a fresh Debian machine it first installs python3 and python3-venv
# when no usable Python is there; as another user, install those yourself (sudo apt-get install
# python3 python3-venv) or set PYTHON to a Python >= 3.11.
# Extras: GRIDDIAG_EXTRAS=dask bash scripts/setup.sh installs griddiag[dask] as well.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.griddiag-setup-stamp
log() { echo "setup.sh: $*" >&2; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

py_ok() { # python: usable for the venv? (>= 3.11)
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
    local c
    for c in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        command -v "$c" >/dev/null && py_ok "$c" && { echo "$c"; return; }
    done
    return 1
}

apt_python() {
    [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null || return 1
    log "installing python3 and python3-venv with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
}

# An existing venv whose interpreter no longer runs (Python removed or upgraded) is rebuilt.
if [[ -e $VENV && ! -x $VENV/bin/python ]] || { [[ -x $VENV/bin/python ]] && ! py_ok "$VENV/bin/python"; }; then
    log "$VENV is broken or too old; recreating it"
    rm -rf "$VENV"
fi

if [[ ! -x $VENV/bin/python ]]; then
    py=$(find_python) || { apt_python && py=$(find_python); } ||
        die "needs Python >= 3.11 (install python3 and python3-venv, or set PYTHON)"
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    # Debian splits ensurepip into python3-venv: without it venv creation fails half-way.
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_python || die "'$py -m venv' failed: install python3-venv (Debian) and rerun"
        "$py" -m venv "$VENV"
    fi
fi

if [[ -f $STAMP && $STAMP -nt pyproject.toml && $STAMP -nt "$0" &&
    "${GRIDDIAG_EXTRAS:-}" == "$(cat "$STAMP")" ]]; then
    log "$VENV up to date"
    exit 0
fi

# The test group as written in pyproject.toml, listed explicitly: `pip --group` needs pip >= 25.1,
# which a fresh Debian venv does not have. Nested {include-group = ...} entries are followed.
mapfile -t test_reqs < <("$VENV/bin/python" - <<'EOF'
import tomllib

with open("pyproject.toml", "rb") as f:
    groups = tomllib.load(f).get("dependency-groups", {})

def expand(name, seen=()):
    for item in groups.get(name, []):
        if isinstance(item, str):
            yield item
        elif name not in seen:
            yield from expand(item["include-group"], seen + (name,))

print("\n".join(expand("test")))
EOF
)

target=.
[[ -n ${GRIDDIAG_EXTRAS:-} ]] && target=".[${GRIDDIAG_EXTRAS}]"
log "pip install -e $target ${test_reqs[*]}"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target" "${test_reqs[@]}" >&2
echo "${GRIDDIAG_EXTRAS:-}" >"$STAMP"
log "done: $VENV"
