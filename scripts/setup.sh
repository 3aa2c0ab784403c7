#!/usr/bin/env bash
# Set up everything the quote service needs on this machine, and nothing that is already there.
#
#   scripts/setup.sh [--for-tests]
#
#   1. system packages (LibreOffice headless, fonts for every script, PostgreSQL when there is none, ...)
#   2. PostgreSQL: start the local cluster when it is down, create the role and the database
#   3. .venv made with Debian's /usr/bin/python3 (so LibreOffice's python3-uno is importable),
#      with the project installed; reinstalled only when pyproject.toml changes
#   4. database migrations (quote-service migrate)
#
# DATABASE_URL (environment, else .env, else postgresql:///quote_service) names the database.
# A server elsewhere is only checked; a local one is started, and its role and database created.
# --for-tests also installs what the test suite runs: Chromium (browser tests), PostgreSQL's
# server programs (tests start servers of their own), iproute2 (tests build hosts as
# network namespaces) and wrk (the load generator of bench/api).
# Safe to run again: a second run changes nothing and takes a few seconds.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
SYSTEM_PYTHON=/usr/bin/python3
VENV=$ROOT/.venv
STAMP=$VENV/.installed-from
LOG_DIR=$ROOT/var/log

FOR_TESTS=0
for arg in "$@"; do
    case $arg in
        --for-tests) FOR_TESTS=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
        *) echo "setup: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a noisy command with its output in a log file; show the end of the log if it fails.
run_logged() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "failed: $* (full log: ${log#"$ROOT"/})"
    fi
}

mkdir -p "$LOG_DIR"
# Several checkouts' commands (make test, make demo) may run at once: one setup at a time.
exec 9>"$ROOT/var/.setup.lock"
flock 9

# ---------------------------------------------------------------- database address
# The application reads .env too (python-dotenv); the environment wins, as there.
if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
    line=$(grep -E '^[[:space:]]*(export[[:space:]]+)?DATABASE_URL=' .env | tail -n 1 || true)
    if [ -n "$line" ]; then
        value=${line#*DATABASE_URL=}
        value=${value%$'\r'}
        value=${value#[\"\']}
        value=${value%[\"\']}
        DATABASE_URL=$value
    fi
fi
DB_URL=${DATABASE_URL:-postgresql:///quote_service}

# Split postgresql://[user[:password]@][host][:port][/dbname][?host=...&port=...]
DB_USER='' DB_PASSWORD='' DB_HOST='' DB_PORT='' DB_NAME='' DB_PARSED=0
if [[ $DB_URL =~ ^postgres(ql)?://([^/?]*)(/([^?]*))?(\?(.*))?$ ]]; then
    DB_PARSED=1
    authority=${BASH_REMATCH[2]}
    DB_NAME=${BASH_REMATCH[4]}
    query=${BASH_REMATCH[6]}
    if [[ $authority == *@* ]]; then
        userinfo=${authority%@*}
        authority=${authority##*@}
        DB_USER=${userinfo%%:*}
        [[ $userinfo == *:* ]] && DB_PASSWORD=${userinfo#*:}
    fi
    if [[ $authority =~ ^\[(.*)\](:([0-9]+))?$ ]]; then # [ipv6]:port
        DB_HOST=${BASH_REMATCH[1]} DB_PORT=${BASH_REMATCH[3]}
    else
        DB_HOST=${authority%%:*}
        [[ $authority == *:* ]] && DB_PORT=${authority#*:}
    fi
    IFS='&' read -r -a params <<<"$query"
    for p in "${params[@]}"; do
        case $p in
            host=*) DB_HOST=${p#host=} ;;
            port=*) DB_PORT=${p#port=} ;;
            user=*) DB_USER=${p#user=} ;;
            dbname=*) DB_NAME=${p#dbname=} ;;
        esac
    done
fi
DB_USER=${DB_USER:-${PGUSER:-$(id -un)}}
DB_NAME=${DB_NAME:-${PGDATABASE:-$DB_USER}}
DB_PORT=${DB_PORT:-${PGPORT:-5432}}
[[ $DB_HOST == %2[Ff]* ]] && DB_HOST=${DB_HOST//%2[Ff]//}
DB_HOST=${DB_HOST:-${PGHOST:-}}
case $DB_HOST in
    '' | /* | localhost | 127.0.0.1 | ::1) DB_LOCAL=$DB_PARSED ;;
    *) DB_LOCAL=0 ;;
esac

db_answers() { command -v pg_isready >/dev/null && pg_isready -q -t 3 -d "$DB_URL"; }
clusters() { command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null || true; }

# ---------------------------------------------------------------- 1. system packages
packages=(
    libreoffice-writer-nogui libreoffice-core-nogui python3-uno # headless DOCX -> PDF, UNO bridge
    python3-venv make poppler-utils                             # venv; make; pdftotext/pdffonts
    fonts-dejavu-core fonts-liberation fonts-noto-core fonts-noto-cjk # Latin/Greek/Cyrillic, Office metrics, other scripts, CJK
    fonts-symbola                                               # emoji and symbols, in outlines LibreOffice embeds in the PDF
    postgresql-client
)
[ "$FOR_TESTS" -eq 1 ] && packages+=(chromium postgresql iproute2 wrk)
if [ "$DB_LOCAL" -eq 1 ] && ! db_answers && [ -z "$(clusters)" ]; then
    packages+=(postgresql)
fi

step "System packages"
missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
for pkg in "${packages[@]}"; do
    grep -qx "$pkg install ok installed" <<<"$installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    info "all ${#packages[@]} present"
else
    install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    if ! is_root; then
        echo "setup: missing system packages: ${missing[*]}" >&2
        echo "setup: run as root, then run this script again:" >&2
        echo "    sudo sh -c '$install_cmd'" >&2
        exit 1
    fi
    info "installing: ${missing[*]}"
    run_logged "$LOG_DIR/setup-apt.log" sh -c "$install_cmd"
    info "installed (log: var/log/setup-apt.log)"
fi

# ---------------------------------------------------------------- 2. PostgreSQL
step "PostgreSQL ($DB_URL)"
if [ "$DB_LOCAL" -eq 0 ]; then
    db_answers || die "no database server answers at $DB_URL (it is not local: start it, or fix DATABASE_URL)"
    info "server answers (not local: role and database are left as they are)"
else
    if db_answers; then
        info "server answers"
    else
        # Prefer the cluster on the port we connect to.
        cluster=$(clusters | awk -v port="$DB_PORT" '$3 == port {print $1, $2, $4; exit}')
        if [ -z "$cluster" ]; then
            [ -n "$(clusters)" ] && die "no PostgreSQL cluster listens on port $DB_PORT (pg_lsclusters shows the others)"
            version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
            [ -n "$version" ] || die "PostgreSQL server is not installed"
            is_root || die "no PostgreSQL cluster: as root, run: pg_createcluster --port $DB_PORT $version main"
            info "creating cluster $version/main on port $DB_PORT"
            run_logged "$LOG_DIR/setup-postgres.log" pg_createcluster --port "$DB_PORT" "$version" main
            cluster="$version main down"
        fi
        read -r pg_version pg_name pg_status <<<"$cluster"
        [ "$pg_status" = down ] ||
            die "cluster $pg_version/$pg_name is $pg_status but does not answer at $DB_URL (check the host and port)"
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
            start_cmd=(systemctl start "postgresql@$pg_version-$pg_name")
        else
            start_cmd=(pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" start)
        fi
        is_root || die "PostgreSQL is down: as root, run: ${start_cmd[*]}"
        info "starting cluster $pg_version/$pg_name"
        run_logged "$LOG_DIR/setup-postgres.log" "${start_cmd[@]}"
        for _ in $(seq 60); do
            db_answers && break
            sleep 0.5
        done
        db_answers || die "PostgreSQL $pg_version/$pg_name started but does not answer at $DB_URL"
        info "server answers"
    fi

    if psql "$DB_URL" -XAtqc 'select 1' >/dev/null 2>&1; then
        info "role $DB_USER and database $DB_NAME exist"
    else
        # Administer as the postgres superuser, over the local socket of the same port.
        pg_admin_args=(-X -At -q -p "$DB_PORT" -d postgres -v ON_ERROR_STOP=1)
        [[ $DB_HOST == /* ]] && pg_admin_args+=(-h "$DB_HOST")
        if [ "$(id -un)" = postgres ]; then
            as_postgres() { "$@"; }
        elif is_root; then
            as_postgres() { (cd / && runuser -u postgres -- "$@"); }
        else
            die "cannot connect to $DB_URL; as root, run:
    runuser -u postgres -- createuser -p $DB_PORT -s $DB_USER
    runuser -u postgres -- createdb -p $DB_PORT -O $DB_USER $DB_NAME"
        fi
        sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }
        sql_ident() { printf '"%s"' "${1//\"/\"\"}"; }
        if [ "$(as_postgres psql "${pg_admin_args[@]}" -c "select 1 from pg_roles where rolname = $(sql_literal "$DB_USER")")" != 1 ]; then
            info "creating role $DB_USER (may create databases: the tests make their own)"
            as_postgres psql "${pg_admin_args[@]}" -c "create role $(sql_ident "$DB_USER") login createdb"
        fi
        if [ -n "$DB_PASSWORD" ]; then
            as_postgres psql "${pg_admin_args[@]}" \
                -c "alter role $(sql_ident "$DB_USER") password $(sql_literal "$DB_PASSWORD")"
        fi
        if [ "$(as_postgres psql "${pg_admin_args[@]}" -c "select 1 from pg_database where datname = $(sql_literal "$DB_NAME")")" != 1 ]; then
            info "creating database $DB_NAME"
            as_postgres psql "${pg_admin_args[@]}" \
                -c "create database $(sql_ident "$DB_NAME") owner $(sql_ident "$DB_USER") encoding 'UTF8' template template0"
        fi
        psql "$DB_URL" -XAtqc 'select 1' >/dev/null ||
            die "role and database are there, yet $DB_URL refuses the connection (see pg_hba.conf)"
        info "role $DB_USER and database $DB_NAME ready"
    fi
fi

# ---------------------------------------------------------------- 3. virtual environment
step "Python environment (.venv)"
[ -x "$SYSTEM_PYTHON" ] || die "$SYSTEM_PYTHON is missing (python3 package)"
"$SYSTEM_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$SYSTEM_PYTHON is $("$SYSTEM_PYTHON" -V 2>&1); the service needs Python 3.11 or newer"
system_python_real=$(readlink -f "$SYSTEM_PYTHON")

venv_ok() {
    local cfg=$VENV/pyvenv.cfg
    [ -f "$cfg" ] && [ -x "$VENV/bin/python" ] || return 1
    grep -qx 'include-system-site-packages = true' "$cfg" || return 1
    local home executable
    home=$(sed -n 's/^home = //p' "$cfg")
    executable=$(sed -n 's/^executable = //p' "$cfg")
    [ "$home" = "$(dirname "$SYSTEM_PYTHON")" ] || return 1
    [ -z "$executable" ] || [ "$(readlink -f "$executable")" = "$system_python_real" ] || return 1
    [ "$(readlink -f "$VENV/bin/python")" = "$system_python_real" ] || return 1
}

if [ -d "$VENV" ] && ! venv_ok; then
    info "existing .venv was not made by $SYSTEM_PYTHON with system site packages: recreating it"
    rm -rf "$VENV"
fi
if [ ! -d "$VENV" ]; then
    info "creating .venv with $SYSTEM_PYTHON ($("$SYSTEM_PYTHON" -V 2>&1))"
    run_logged "$LOG_DIR/setup-venv.log" "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
fi

want_stamp="$(sha256sum pyproject.toml | cut -d' ' -f1) .[test] $system_python_real"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$want_stamp" ]; then
    info "project installed, pyproject.toml unchanged"
else
    info "installing the project and its test dependencies (pip install -e '.[test]')"
    rm -f "$STAMP"
    run_logged "$LOG_DIR/setup-pip.log" "$VENV/bin/python" -m pip install \
        --disable-pip-version-check --no-input -e '.[test]'
    printf '%s\n' "$want_stamp" >"$STAMP"
    info "installed (log: var/log/setup-pip.log)"
fi
"$VENV/bin/python" -c 'import uno' 2>/dev/null ||
    die "LibreOffice's Python bridge (uno) is not importable from .venv: is python3-uno installed?"

# ---------------------------------------------------------------- 4. migrations
step "Database migrations"
if [ -x "$VENV/bin/quote-service" ] &&
    "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("quote_service.cli") is None)' 2>/dev/null; then
    DATABASE_URL=$DB_URL "$VENV/bin/quote-service" migrate
else
    info "skipped: the quote-service command is not available yet"
fi

step "Ready (${SECONDS}s)"
