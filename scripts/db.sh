#!/usr/bin/env bash
# scripts/db.sh: a local PostgreSQL + TimescaleDB for griddiag's tests and benchmarks
# (what `make db` runs). Prints the DSN on the last line of stdout; everything else goes to stderr,
# so `dsn=$(bash scripts/db.sh)` captures only the DSN.
#
# Usage (as root, on Debian 12 or newer):
#     bash scripts/db.sh            # or: make db
#
# What it does, each step skipped when already done (running it again is harmless):
#   1. installs PostgreSQL (the distro default) unless some major version is installed already;
#   2. installs TimescaleDB for that major: the Debian binary package where the release has one
#      (Debian 13: postgresql-17-timescaledb), otherwise it builds Debian's own `timescaledb`
#      source package from the next release (trixie) against the installed PostgreSQL, Apache-2
#      part only (-DAPACHE_ONLY=1; Debian's source is DFSG-clean and has no TSL code);
#   3. creates a dedicated cluster `griddiag` (pg_createcluster) on 5432, or on the next free port
#      when 5432 is taken by another cluster or another program; preloads timescaledb; starts it;
#   4. creates the role and database `griddiag` (local socket, trust: no password) and the
#      timescaledb extension in that database.
# A dedicated cluster leaves any existing `main` cluster and its configuration untouched.
#
# Not root? Installing packages and creating clusters needs root. Either
#   - run `sudo bash scripts/db.sh` once; afterwards this script, `make test` and `make bench` work
#     as any user while the cluster runs (the role connects over the socket without a password), or
#   - point GRIDDIAG_TEST_DSN at an existing PostgreSQL with the timescaledb extension created in
#     that database (`make test` then uses it and does not run this script).
#
# Knobs (environment): GRIDDIAG_PG_MAJOR (default: newest installed), GRIDDIAG_PG_CLUSTER
# (default: griddiag), GRIDDIAG_TSDB_SOURCE_SUITE (default: trixie).
set -euo pipefail

ROLE=griddiag
DB=griddiag
CLUSTER=${GRIDDIAG_PG_CLUSTER:-griddiag}
SOURCE_SUITE=${GRIDDIAG_TSDB_SOURCE_SUITE:-trixie}
export DEBIAN_FRONTEND=noninteractive

log() { echo "db.sh [${SECONDS}s]: $*" >&2; }
die() { echo "db.sh: error: $*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; }
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage; exit 2 ;;
esac

# ---------------------------------------------------------------------------------------------
# helpers

installed_majors() {
    local d
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $d ]] || continue
        d=${d#/usr/lib/postgresql/}
        echo "${d%%/*}"
    done | sort -n
}

# The cluster's DSN. Socket directory from the cluster's own config (Debian: /var/run/postgresql).
dsn_for() { # major cluster
    local port sockdir
    port=$(pg_conftool -s "$1" "$2" show port)
    sockdir=$(pg_conftool -s "$1" "$2" show unix_socket_directories 2>/dev/null || true)
    sockdir=${sockdir%%,*}
    sockdir=${sockdir:-/var/run/postgresql}
    echo "postgresql://$ROLE@/$DB?host=$sockdir&port=$port"
}

cluster_online() { # major cluster
    pg_lsclusters -h "$1" "$2" 2>/dev/null | awk '{print $4}' | grep -qx online
}

# From / : psql as postgres cannot always enter the caller's working directory.
as_postgres_psql() {
    (cd / && PGOPTIONS='-c client_min_messages=warning' \
        runuser -u postgres -- psql -XqAt -v ON_ERROR_STOP=1 -p "$PORT" "$@")
}

# True when the DSN reaches a server where the timescaledb extension exists in the database.
dsn_works() {
    [[ $(psql "$1" -XtAq -c "select 1 from pg_extension where extname = 'timescaledb'" \
        2>/dev/null) == 1 ]]
}

# ---------------------------------------------------------------------------------------------
# not root: reuse a cluster a root run of this script set up, else explain what to do

if [[ $EUID -ne 0 ]]; then
    if command -v pg_lsclusters >/dev/null; then
        for major in $(installed_majors | sort -rn); do
            if [[ ! -d /etc/postgresql/$major/$CLUSTER ]] || ! cluster_online "$major" "$CLUSTER"; then
                continue
            fi
            dsn=$(dsn_for "$major" "$CLUSTER")
            if dsn_works "$dsn"; then
                log "using the running cluster $major/$CLUSTER (not root: nothing installed)"
                echo "$dsn"
                exit 0
            fi
        done
    fi
    die "not root and no running '$CLUSTER' cluster with TimescaleDB found.
  Run 'sudo bash scripts/db.sh' once (it installs PostgreSQL + TimescaleDB and starts the
  cluster), or set GRIDDIAG_TEST_DSN to an existing server's DSN whose database has the
  timescaledb extension (make test / make bench then use it and skip this script)."
fi

command -v apt-get >/dev/null || die "needs a Debian system (apt-get not found)"

# One run at a time: make test and make bench started together must not race on apt or the cluster.
# flock -o holds the lock in flock's own process: a lock fd inherited by this script would also
# be inherited by the server that pg_ctlcluster daemonizes, and then held forever.
if [[ -z ${GRIDDIAG_DB_LOCKED:-} ]]; then
    lockdir=/run/lock
    [[ -d $lockdir ]] || lockdir=/tmp
    GRIDDIAG_DB_LOCKED=1 exec flock -o "$lockdir/griddiag-db.lock" bash "$0" "$@"
fi

APT_UPDATED=0
apt_update() {
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        apt-get update -qq >&2
        APT_UPDATED=1
    fi
}
apt_install() {
    # Only what is missing: `apt-get install` of an installed package would also upgrade it.
    local p
    local -a missing=()
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] ||
            missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    set -- "${missing[@]}"
    apt_update
    log "apt-get install $*"
    # keep existing config files on upgrades instead of asking (no terminal in CI)
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2
}

# ---------------------------------------------------------------------------------------------
# 1. PostgreSQL: the newest installed major, else the distro default

MAJOR=${GRIDDIAG_PG_MAJOR:-$(installed_majors | tail -n 1)}
if [[ -z $MAJOR ]]; then
    apt_install postgresql
    MAJOR=$(installed_majors | tail -n 1)
    [[ -n $MAJOR ]] || die "installing 'postgresql' gave no /usr/lib/postgresql/*/bin/postgres"
elif [[ ! -x /usr/lib/postgresql/$MAJOR/bin/postgres ]]; then
    apt_install "postgresql-$MAJOR"
fi
command -v pg_createcluster >/dev/null || apt_install postgresql-common
PG_CONFIG=/usr/lib/postgresql/$MAJOR/bin/pg_config
log "PostgreSQL $MAJOR"

# ---------------------------------------------------------------------------------------------
# 2. TimescaleDB for that major

tsdb_installed() {
    [[ -x $PG_CONFIG ]] || return 1
    [[ -f $("$PG_CONFIG" --sharedir)/extension/timescaledb.control ]] &&
        compgen -G "$("$PG_CONFIG" --pkglibdir)/timescaledb*.so" >/dev/null
}

# Print "URI<TAB>keyring" of the first enabled binary entry for SUITE in this machine's own apt
# sources (deb822 *.sources and one-line *.list / sources.list). The mirror is taken from the
# machine so that no host name is hard-coded here and a local mirror or proxy keeps working.
apt_entry_for_suite() { # suite
    local want=$1 f
    local -a deb822=() oneline=()
    for f in /etc/apt/sources.list.d/*.sources; do [[ -f $f ]] && deb822+=("$f"); done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && oneline+=("$f")
    done
    {
        if ((${#deb822[@]})); then
            awk -v want="$want" '
                function flush(   n, i, s, u) {
                    if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
                        n = split(suites, s, /[ \t]+/)
                        for (i = 1; i <= n; i++) if (s[i] == want) {
                            split(uris, u, /[ \t]+/); print u[1] "\t" signed; found = 1
                        }
                    }
                    types = uris = suites = signed = enabled = ""
                }
                found { exit }
                FNR == 1 { flush() }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                /^[A-Za-z-]+:/ {
                    key = tolower(substr($0, 1, index($0, ":") - 1))
                    val = substr($0, index($0, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "enabled") enabled = tolower(val)
                    else if (key == "signed-by" && val ~ /^\//) signed = val
                }
                END { if (!found) flush() }
            ' "${deb822[@]}"
        fi
        if ((${#oneline[@]})); then
            awk -v want="$want" '
                $1 == "deb" {
                    i = 2; opts = ""
                    if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) opts = opts " " $(i++); opts = opts " " $(i++) }
                    if ($(i + 1) != want) next
                    signed = ""
                    if (match(opts, /signed-by=[^] \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
                    print $i "\t" signed
                }
            ' "${oneline[@]}"
        fi
    } | head -n 1
}

install_tsdb_from_source() {
    local codename work src sec_entry entry uri keyring
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [[ -n $codename ]] || die "cannot tell this release's codename from /etc/os-release"

    entry=$(apt_entry_for_suite "$codename")
    [[ -n $entry ]] || die "no 'deb ... $codename' entry in /etc/apt/sources* to take the mirror from"
    uri=${entry%%$'\t'*}
    keyring=${entry#*$'\t'}
    # Debian's archive keyring of an older release already carries the next release's keys.
    [[ -n $keyring ]] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    sec_entry=$(apt_entry_for_suite "$codename-security")

    work=$(mktemp -d /var/tmp/griddiag-timescaledb.XXXXXX)
    # shellcheck disable=SC2064 # expand $work now
    trap "rm -rf '$work'" EXIT
    mkdir -p "$work/lists/partial" "$work/parts" "$work/src"

    # A deb-src-only list in a private apt configuration: the system's sources, package lists and
    # caches are never touched, no binary of the other release can ever be installed, and there is
    # nothing to clean up afterwards but this temporary directory.
    {
        echo "deb-src [signed-by=$keyring] $uri $SOURCE_SUITE $SOURCE_SUITE-updates main"
        if [[ -n $sec_entry ]]; then
            echo "deb-src [signed-by=$keyring] ${sec_entry%%$'\t'*} $SOURCE_SUITE-security main"
        fi
    } >"$work/sources.list"
    local -a apt_src=(
        -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root"
    )

    # Build tools and the server headers of the installed major (apt may bring the server to the
    # same minor release as its headers: a routine security update). dpkg-dev unpacks the source.
    apt_install build-essential cmake dpkg-dev xz-utils libssl-dev "postgresql-server-dev-$MAJOR"

    log "fetching Debian's timescaledb source package from $SOURCE_SUITE (deb-src only)"
    apt-get "${apt_src[@]}" update -qq >&2
    (cd "$work/src" && apt-get "${apt_src[@]}" source -qq timescaledb >&2)
    src=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
    [[ -n $src ]] || die "apt-get source timescaledb gave no source tree"
    log "building ${src##*/} for PostgreSQL $MAJOR (log: $work/build.log)"

    # The options Debian's own debian/rules uses, plus no test suites (they need a PG source tree)
    # and warnings not fatal (a newer compiler may warn where upstream's CI did not). Release
    # (upstream's default) rather than Debian's RelWithDebInfo: no debug info, a third faster to
    # build. BUILD_FORCE_REMOVE: bootstrap would otherwise ask on stdin about an old build dir.
    # (&&-chained: set -e does not act inside an `if` condition.)
    if ! (
        cd "$src" &&
        BUILD_FORCE_REMOVE=true ./bootstrap \
            -DCMAKE_BUILD_TYPE=Release \
            -DPG_CONFIG="$PG_CONFIG" \
            -DAPACHE_ONLY=1 \
            -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF \
            -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF &&
        make -C build -j"$(nproc)" &&
        make -C build install
    ) >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" >&2
        trap - EXIT
        die "building timescaledb failed; full log in $work/build.log"
    fi
    # Keep the list of installed files: `xargs rm < that file` uninstalls what dpkg does not know.
    mkdir -p /var/lib/griddiag
    cp "$src/build/install_manifest.txt" "/var/lib/griddiag/timescaledb-pg$MAJOR.manifest"
    rm -rf "$work"
    trap - EXIT
}

TSDB_JUST_INSTALLED=0
if tsdb_installed; then
    log "TimescaleDB already installed for PostgreSQL $MAJOR"
else
    apt_update
    candidate=$(apt-cache policy "postgresql-$MAJOR-timescaledb" 2>/dev/null |
        awk '/Candidate:/ {print $2}')
    if [[ -n $candidate && $candidate != "(none)" ]]; then
        apt_install "postgresql-$MAJOR-timescaledb"
    else
        install_tsdb_from_source
    fi
    tsdb_installed || die "TimescaleDB is still not installed for PostgreSQL $MAJOR"
    TSDB_JUST_INSTALLED=1
fi

# ---------------------------------------------------------------------------------------------
# 3. the cluster

# A port is busy when another cluster is configured on it (even if stopped: starting it later
# would clash) or when anything listens on it (TCP on localhost, or a socket-only server).
port_busy() { # port [own-cluster-to-ignore "major/name"]
    local p=$1 ignore=${2:-}
    if pg_lsclusters -h 2>/dev/null | awk -v p="$p" -v ig="$ignore" \
        '$3 == p && $1 "/" $2 != ig {f = 1} END {exit !f}'; then
        return 0
    fi
    if command -v ss >/dev/null; then
        [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && return 0
    elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        return 0
    fi
    if [[ -S /var/run/postgresql/.s.PGSQL.$p ]]; then
        # 0 accepting, 1 rejecting (starting up): someone owns it; 2 no answer: a stale socket file
        local rc=0
        pg_isready -q -h /var/run/postgresql -p "$p" || rc=$?
        [[ $rc == 0 || $rc == 1 ]] && return 0
    fi
    return 1
}

free_port() { # [own-cluster-to-ignore]
    local p
    for ((p = 5432; p < 5532; p++)); do
        port_busy "$p" "${1:-}" || { echo "$p"; return; }
    done
    die "no free port in 5432-5531"
}

CONF_DIR=/etc/postgresql/$MAJOR/$CLUSTER
if [[ ! -d $CONF_DIR ]]; then
    port=$(free_port)
    log "creating cluster $MAJOR/$CLUSTER on port $port"
    # UTF-8 whatever the caller's locale (CI often runs with none: that would give SQL_ASCII).
    pg_createcluster --port "$port" --locale C.UTF-8 --encoding UTF8 "$MAJOR" "$CLUSTER" >&2
fi

# Our settings live in the cluster's conf.d, included by Debian's postgresql.conf.
mkdir -p "$CONF_DIR/conf.d"
conf_file=$CONF_DIR/conf.d/griddiag.conf
conf_want="# written by griddiag's scripts/db.sh
shared_preload_libraries = 'timescaledb'
# TimescaleDB takes one lock per chunk: tests and benchmarks touch many chunks in one transaction.
max_locks_per_transaction = 256"
conf_changed=0
if [[ ! -f $conf_file || $(<"$conf_file") != "$conf_want" ]]; then
    echo "$conf_want" >"$conf_file"
    chown --reference="$CONF_DIR/postgresql.conf" "$conf_file"
    conf_changed=1
fi

# The griddiag role may connect over the local socket without a password (first match wins in
# pg_hba.conf, so the line goes on top). Other roles keep Debian's peer authentication.
hba=$CONF_DIR/pg_hba.conf
hba_line="local   all   $ROLE   trust"
if ! grep -qxF "$hba_line" "$hba"; then
    { echo "# griddiag (scripts/db.sh): test role over the local socket, no password"
      echo "$hba_line"
      cat "$hba"; } >"$hba.griddiag-new"
    chown --reference="$hba" "$hba.griddiag-new"
    chmod --reference="$hba" "$hba.griddiag-new"
    mv "$hba.griddiag-new" "$hba"
    conf_changed=1
fi

if cluster_online "$MAJOR" "$CLUSTER"; then
    # Preloaded libraries (and a freshly installed timescaledb) need a restart, not a reload.
    PORT=$(pg_conftool -s "$MAJOR" "$CLUSTER" show port)
    loaded=$(as_postgres_psql -d postgres -c 'show shared_preload_libraries' 2>/dev/null || true)
    if [[ $loaded != *timescaledb* || $TSDB_JUST_INSTALLED == 1 ]]; then
        log "restarting cluster $MAJOR/$CLUSTER"
        pg_ctlcluster "$MAJOR" "$CLUSTER" restart >&2
    elif [[ $conf_changed == 1 ]]; then
        pg_ctlcluster "$MAJOR" "$CLUSTER" reload >&2
    fi
else
    port=$(pg_conftool -s "$MAJOR" "$CLUSTER" show port)
    if port_busy "$port" "$MAJOR/$CLUSTER"; then
        new=$(free_port "$MAJOR/$CLUSTER")
        log "port $port is taken by another server; moving cluster $MAJOR/$CLUSTER to $new"
        pg_conftool "$MAJOR" "$CLUSTER" set port "$new"
    fi
    log "starting cluster $MAJOR/$CLUSTER"
    pg_ctlcluster "$MAJOR" "$CLUSTER" start >&2 || {
        tail -n 20 "/var/log/postgresql/postgresql-$MAJOR-$CLUSTER.log" >&2 || true
        die "cluster $MAJOR/$CLUSTER did not start"
    }
fi
PORT=$(pg_conftool -s "$MAJOR" "$CLUSTER" show port)

# ---------------------------------------------------------------------------------------------
# 4. role, database, extension

as_postgres_psql -d postgres >&2 <<SQL
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE DATABASE $DB OWNER $ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB') \gexec
SQL
# CREATE EXTENSION needs a superuser (timescaledb is not a trusted extension), hence postgres.
as_postgres_psql -d "$DB" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >&2
# After an upgrade of the extension's files, move the database to the new version. TimescaleDB
# wants ALTER EXTENSION as the first command of its session, hence a session of its own.
versions=$(as_postgres_psql -d "$DB" -c "select e.extversion || ' ' || a.default_version
    from pg_extension e join pg_available_extensions a on a.name = e.extname
    where e.extname = 'timescaledb'")
if [[ ${versions% *} != "${versions#* }" ]]; then
    log "updating extension timescaledb ${versions% *} -> ${versions#* }"
    as_postgres_psql -d "$DB" -c 'ALTER EXTENSION timescaledb UPDATE' >&2
fi

DSN=$(dsn_for "$MAJOR" "$CLUSTER")
dsn_works "$DSN" || die "the server is up but $DSN does not reach a database with timescaledb"
log "TimescaleDB ${versions#* } on PostgreSQL $MAJOR, cluster $CLUSTER, port $PORT"
echo "$DSN"
