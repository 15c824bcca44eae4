# ffulab's shell helpers, embedded at the top of every role script (roles/common/files/ffulab-lib.sh).
# A role script prints "ffulab-changed: WHAT" for each change it makes (Ansible's changed_when looks
# for it), "ffulab-step: NAME SECONDS" for each timed step (ffulab collects them) and ends with
# ffulab_done (failed_when wants it); nothing else it prints may hold a secret. No Python runs here: in a TCG guest every Python start-up costs seconds.
set -euo pipefail
umask 022

# One role script at a time on a node (one per service when an FFU step runs the services' parts side by
# side: FFULAB_LOCK names the part): a run killed on the virthost leaves its script running here (SSH
# does not stop it); the rerun's script waits for that one instead of racing it (an unpack, a db_sync).
# Services are started by systemd, so nothing long-lived inherits the lock.
exec {FFULAB_LOCK_FD}>"/run/lock/ffulab-${FFULAB_LOCK:-role-script}.lock"
if ! flock -w 1800 "$FFULAB_LOCK_FD"; then
    echo "ffulab: another ffulab role script has been running here for 30 min: see ps -ef" >&2
    exit 1
fi

# Each timed step also goes to a file per part that ffulab reads while a task runs long (ffulab/deploy/
# watch.py): Ansible shows a task's output only when it ends, an hour later for a compute lab's deploy.
FFULAB_PROGRESS="${FFULAB_PROGRESS_DIR:-/run/ffulab-progress}/${FFULAB_LOCK:-role-script}"
mkdir -p "${FFULAB_PROGRESS%/*}"
: > "$FFULAB_PROGRESS"

ffulab_changed() { echo "ffulab-changed: $*"; }

# the last line of every role script: the task fails without it (a truncated script must not pass)
ffulab_done() { echo "ffulab-done"; }

ffulab_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ffulab_time NAME COMMAND...: run COMMAND, print how long it took
ffulab_time() {
    local name=$1 start rc=0
    shift
    start=$(ffulab_now_ms)
    echo "ffulab-start: $name" >> "${FFULAB_PROGRESS:-/dev/null}"
    "$@" || rc=$?
    ffulab_step "$name" "$start"
    return $rc
}

# ffulab_step NAME START_MS: print the seconds since START_MS
ffulab_step() {
    local ms=$(( $(ffulab_now_ms) - $2 )) line
    printf -v line 'ffulab-step: %s %d.%03d' "$1" $(( ms / 1000 )) $(( ms % 1000 ))
    echo "$line"
    echo "$line" >> "${FFULAB_PROGRESS:-/dev/null}"  # unset where only the functions are sourced
}

# ffulab_put PATH MODE OWNER:GROUP < CONTENT: replace PATH only when content, mode or owner differ.
# Sets FFULAB_PUT_CHANGED=1 when it changed something, else 0.
ffulab_put() {
    local path=$1 mode=$2 owner=$3 tmp
    FFULAB_PUT_CHANGED=0
    mkdir -p "$(dirname "$path")"
    tmp=$(mktemp "$path.ffulab-XXXXXX")
    cat > "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        if [ "$(stat -c '%a %U:%G' "$path")" != "$mode $owner" ]; then
            chmod "$mode" "$path"
            chown "$owner" "$path"
            FFULAB_PUT_CHANGED=1
            ffulab_changed "$path (mode or owner)"
        fi
        return 0
    fi
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$path"
    FFULAB_PUT_CHANGED=1
    ffulab_changed "$path"
}

# ffulab_dir PATH MODE OWNER:GROUP: a directory with that mode and owner
ffulab_dir() {
    local path=$1 mode=$2 owner=$3
    if [ ! -d "$path" ]; then
        mkdir -p "$path"
        ffulab_changed "$path"
    fi
    if [ "$(stat -c '%a %U:%G' "$path")" != "$mode $owner" ]; then
        chmod "$mode" "$path"
        chown "$owner" "$path"
        ffulab_changed "$path (mode or owner)"
    fi
}

# ffulab_system_user NAME HOME: a system user and group without login
ffulab_system_user() {
    if ! getent passwd "$1" > /dev/null; then
        useradd --system --user-group --home-dir "$2" --no-create-home --shell /usr/sbin/nologin "$1"
        ffulab_changed "user $1"
    fi
}

# ffulab_unit_active UNIT [RESTART]: enable UNIT and have it running; restart it when RESTART is 1
ffulab_unit_active() {
    local unit=$1 restart=${2:-0}
    if [ "$(systemctl is-enabled "$unit" 2>/dev/null)" != enabled ]; then
        systemctl enable --quiet "$unit"
        ffulab_changed "$unit enabled"
    fi
    if ! systemctl is-active --quiet "$unit"; then
        systemctl start "$unit"
        ffulab_changed "$unit started"
    elif [ "$restart" = 1 ]; then
        systemctl restart "$unit"
        ffulab_changed "$unit restarted"
    fi
}

# ffulab_fetch URL SHA256 DEST: download from the undercloud mirror, check the sha256
ffulab_fetch() {
    local url=$1 sum=$2 dest=$3
    curl --fail --silent --show-error --retry 5 --retry-connrefused --retry-delay 2 -o "$dest" "$url" || return 1
    ffulab_fetch_checked "$url" "$sum" "$dest"
}

# ffulab_fetch_checked SOURCE SHA256 FILE: FILE (fetched from SOURCE) has the sha256 of the mirror's index,
# else it is removed and the script fails
ffulab_fetch_checked() {
    local source=$1 sum=$2 dest=$3
    if ! echo "$sum  $dest" | sha256sum --quiet --check --strict -; then
        rm -f "$dest"
        echo "ffulab: $source does not have the sha256 of the mirror's index ($sum)" >&2
        return 1
    fi
}

# ffulab_venv IMAGE SHA256 VENV: the prebuilt venv's squashfs IMAGE (a mirror URL, or a file here) mounted
# read-only at VENV, once per sha256: kept in /var/lib/ffulab/venvs and listed in /etc/fstab (a rebooted
# node mounts it again). Nothing is unpacked: under TCG unpacking a venv took minutes, a mount takes
# milliseconds and a file is decompressed when first read. Sets FFULAB_VENV_CHANGED=1 when it mounted it.
# The services' parts of a deploy run side by side, each listing its venv: fstab is edited under a lock
# (`sed -i` replaces the file, and an entry another part appended meanwhile was lost: glance's mount
# then found no entry on a compute lab's controller), and the mount names its source and options
# rather than reading them back from fstab.
FFULAB_VENVS=/var/lib/ffulab/venvs
FFULAB_FSTAB=${FFULAB_FSTAB:-/etc/fstab}
FFULAB_FSTAB_LOCK=${FFULAB_FSTAB_LOCK:-/run/lock/ffulab-fstab.lock}
FFULAB_VENV_MOUNT="ro,loop,nodev,nosuid"
ffulab_venv() {
    local source=$1 sum=$2 venv=$3 image out
    image=$FFULAB_VENVS/$(basename "$venv").squashfs
    FFULAB_VENV_CHANGED=0
    if [ "$(cat "$image.sha256" 2>/dev/null)" = "$sum" ] && mountpoint -q "$venv"; then
        return 0
    fi
    mkdir -p "$FFULAB_VENVS"
    case $source in
        http://* | https://*) ffulab_time "download $(basename "$source")" ffulab_fetch "$source" "$sum" "$image.part" ;;
        *) cp "$source" "$image.part" && ffulab_fetch_checked "$source" "$sum" "$image.part" ;;
    esac || return 1
    if mountpoint -q "$venv"; then umount --lazy "$venv"; fi  # another build of the same version
    rm -rf "$venv"  # an unpacked venv of an older ffulab
    mv -f "$image.part" "$image"
    mkdir -p "$venv"
    (
        flock 9
        sed -i "\\|^[^ ]* $venv squashfs |d" "$FFULAB_FSTAB"
        echo "$image $venv squashfs $FFULAB_VENV_MOUNT 0 0" >> "$FFULAB_FSTAB"
    ) 9> "$FFULAB_FSTAB_LOCK"
    # mount's hint that fstab changed behind systemd's back is noise here: shown only on failure
    out=$(ffulab_time "mount $venv" mount -t squashfs -o "$FFULAB_VENV_MOUNT" "$image" "$venv" 2>&1) ||
        { echo "$out" >&2; return 1; }
    printf '%s\n' "$out" | grep '^ffulab-step:' || true
    echo "$sum" > "$image.sha256"
    FFULAB_VENV_CHANGED=1
    ffulab_changed "$venv"
}

# ffulab_venv_current SERVICE VENV [COMMAND...]: /opt/openstack/SERVICE points at the venv the service's
# units run (ffulab reads each service's version there), and each COMMAND of its bin/ is on the PATH
# in /usr/local/bin (where a distribution package would put keystone-manage, glance-manage...)
ffulab_venv_current() {
    local service=$1 venv=$2 command
    shift 2
    if [ "$(readlink "/opt/openstack/$service")" != "$venv" ]; then
        ln -sfn "$venv" "/opt/openstack/$service"
        ffulab_changed "/opt/openstack/$service -> $venv"
    fi
    for command in "$@"; do
        if [ "$(readlink "/usr/local/bin/$command")" != "$venv/bin/$command" ]; then
            ln -sfn "$venv/bin/$command" "/usr/local/bin/$command"
            ffulab_changed "/usr/local/bin/$command -> $venv/bin/$command"
        fi
    done
}

# ffulab_answers URL [SECONDS]: wait until URL answers HTTP below 500 (through haproxy: the public API)
ffulab_answers() {
    local url=$1 wait=${2:-300} start code=000
    start=$(ffulab_now_ms)
    local deadline=$(( $(date +%s) + wait ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        code=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 60 "$url" || true)
        case "$code" in [1234]??) break ;; esac
        sleep 2
    done
    case "$code" in
        [1234]??) ffulab_step "$url answers ($code)" "$start" ;;
        *) echo "ffulab: $url does not answer within $wait s (HTTP $code)" >&2; return 1 ;;
    esac
}

# ffulab_upgrade_check NAME COMMAND...: run an oslo.upgradecheck command (`<service>-status upgrade
# check`: exit 0 success, 1 warning, 2 failure) and print `ffulab-check: upgrade-check STATUS DETAIL`
# for ffulab; a failure (or any other exit) fails the script with the command's output
ffulab_upgrade_check() {
    local name=$1 rc=0 out detail
    shift
    out=$(ffulab_time "$name upgrade check" "$@" 2>&1) || rc=$?
    detail=$(printf '%s\n' "$out" | grep -E '^\| (Check|Result|Details):' | grep -B1 -A1 -E 'Result: (Warning|Failure)' | grep -v '^--$' \
        | sed -E 's/^\| *//; s/ *\|$//' | tr -s ' ' | paste -sd' ' - | cut -c1-1500 || true)
    printf '%s\n' "$out" | grep '^ffulab-step:' || true
    case "$rc" in
        0) echo "ffulab-check: upgrade-check ok $name-status upgrade check: every check succeeded" ;;
        1) echo "ffulab-check: upgrade-check warning ${detail:-$name-status upgrade check exited 1}" ;;
        *)
            echo "ffulab-check: upgrade-check failed exit $rc ${detail}"
            printf '%s\n' "$out" | grep -v '^ffulab-step:' | tail -n 40 >&2
            return 1
            ;;
    esac
}

# ffulab_wsgi_unit NAME USER VENV MODULE PORT WORKERS TIMEOUT: the systemd unit NAME.service serving the
# WSGI application MODULE:application (a file in /usr/local/lib/ffulab) with the venv's gunicorn on
# 127.0.0.1:PORT (haproxy publishes it). Sets FFULAB_PUT_CHANGED=1 when the unit changed.
ffulab_wsgi_unit() {
    local name=$1 user=$2 venv=$3 module=$4 port=$5 workers=$6 timeout=$7
    ffulab_put "/etc/systemd/system/$name.service" 644 root:root <<FFULAB_EOF
# written by ffulab: $name under gunicorn, behind haproxy
[Unit]
Description=OpenStack $name ($venv) under gunicorn
After=network-online.target
Wants=network-online.target

[Service]
User=$user
Group=$user
ExecStart=$venv/bin/gunicorn --name $name --bind 127.0.0.1:$port --workers $workers --timeout $timeout --pythonpath /usr/local/lib/ffulab --access-logfile - $module:application
Restart=on-failure
RestartSec=5
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
FFULAB_EOF
    if [ "$FFULAB_PUT_CHANGED" = 1 ]; then
        systemctl daemon-reload
    fi
}

# ffulab_units_masked WHY UNIT...: stop and mask the units that exist and are not masked yet, in one
# systemctl call (each call reloads systemd, ~1 min under TCG with a node's other parts reloading beside
# it), tried three times: one such call timed out on a loaded compute lab's controller
ffulab_units_masked() {
    local why=$1 unit try todo=()
    shift
    for unit in "$@"; do
        if [ "$(systemctl is-enabled "$unit" 2>/dev/null)" != masked ] && systemctl cat "$unit" > /dev/null 2>&1; then
            todo+=("$unit")
        fi
    done
    [ "${#todo[@]}" -gt 0 ] || return 0
    for try in 1 2 3; do
        if systemctl mask --now --quiet "${todo[@]}"; then
            break
        elif [ "$try" = 3 ]; then
            echo "ffulab: systemctl mask --now ${todo[*]} failed 3 times" >&2
            return 1
        fi
        echo "ffulab: systemctl mask --now ${todo[*]} failed (try $try of 3): again in 10 s" >&2
        sleep "${FFULAB_RETRY_SECONDS:-10}"
    done
    for unit in "${todo[@]}"; do
        ffulab_changed "$unit masked: $why"
    done
}

# ffulab_units_stopped UNIT...: stop each unit that runs (FFU step 2: the service is upgraded offline)
ffulab_units_stopped() {
    local unit
    for unit in "$@"; do
        if systemctl is-active --quiet "$unit"; then
            systemctl stop "$unit"
            ffulab_changed "$unit stopped"
        fi
    done
}

# --- the identity API (keystone v3) with curl and jq: no Python start-up in the guest ----------------
# FFULAB_IDENTITY_URL, FFULAB_ADMIN_PASSWORD must be exported; ffulab_identity_token sets FFULAB_TOKEN and
# FFULAB_TOKEN_HEADER (a 0600 file curl reads the header from).
ffulab_identity_token() {
    local body headers
    # passwords reach jq through its environment ($ENV), never its command line (ps shows that)
    body=$(jq -cn '{auth: {identity: {methods: ["password"], password: {user:
        {name: "admin", domain: {name: "Default"}, password: $ENV.FFULAB_ADMIN_PASSWORD}}}, scope: {project: {name: "admin",
        domain: {name: "Default"}}}}}')
    # the identity API may still be starting (a node deploys its services side by side): wait for it
    local deadline=$(( $(date +%s) + ${FFULAB_IDENTITY_WAIT:-1200} ))
    while :; do
        headers=$(printf '%s' "$body" | curl --fail --silent --show-error --max-time 120 -D - -o /dev/null \
            -H 'Content-Type: application/json' --data @- "$FFULAB_IDENTITY_URL/auth/tokens" 2>/dev/null) && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "ffulab: no token from $FFULAB_IDENTITY_URL within ${FFULAB_IDENTITY_WAIT:-1200} s" >&2
            return 1
        fi
        sleep 5
    done
    FFULAB_TOKEN=$(printf '%s\n' "$headers" | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *//p' | tr -d '\r')
    [ -n "$FFULAB_TOKEN" ] || return 1
    # the token goes to curl in a header file (-H @FILE), never on its command line
    FFULAB_TOKEN_HEADER=$(mktemp)
    trap 'rm -f "$FFULAB_TOKEN_HEADER"' EXIT
    printf 'X-Auth-Token: %s\n' "$FFULAB_TOKEN" > "$FFULAB_TOKEN_HEADER"
}

# ffulab_identity METHOD PATH [JSON]: one identity API call with the admin token; prints the answer
ffulab_identity() {
    local method=$1 path=$2 data=${3:-}
    if [ -n "$data" ]; then
        printf '%s' "$data" | curl --fail --silent --show-error --max-time 120 -X "$method" \
            -H @"$FFULAB_TOKEN_HEADER" -H 'Content-Type: application/json' --data @- "$FFULAB_IDENTITY_URL$path"
    else
        curl --fail --silent --show-error --max-time 120 -X "$method" -H @"$FFULAB_TOKEN_HEADER" \
            "$FFULAB_IDENTITY_URL$path"
    fi
}

# ffulab_identity_service_project: FFULAB_SERVICE_PROJECT, the id of the project "service" of the service
# users, made if missing. Services registering side by side race to make it: the one whose create is
# refused (409 Conflict) takes the project the other made.
ffulab_identity_service_project() {
    local query="/projects?name=service&domain_id=default"
    FFULAB_SERVICE_PROJECT=$(ffulab_identity GET "$query" | jq -r '.projects[0].id // empty')
    [ -z "$FFULAB_SERVICE_PROJECT" ] || return 0
    if FFULAB_SERVICE_PROJECT=$(ffulab_identity POST /projects '{"project": {"name": "service", "domain_id":
            "default", "description": "service users of the lab"}}' | jq -r '.project.id // empty') \
            && [ -n "$FFULAB_SERVICE_PROJECT" ]; then
        ffulab_changed "identity project service"
        return 0
    fi
    FFULAB_SERVICE_PROJECT=$(ffulab_identity GET "$query" | jq -r '.projects[0].id // empty')
    [ -n "$FFULAB_SERVICE_PROJECT" ] || { echo "identity: no project service, and making it failed" >&2; return 1; }
}

# ffulab_identity_register NAME TYPE ENDPOINT PASSWORD: the service user NAME (admin and service roles in
# project "service"), the service NAME of TYPE and its public, internal and admin endpoints at ENDPOINT
# in $FFULAB_REGION, as a deployment tool's role registers its service; changes only what differs
ffulab_identity_register() {
    local name=$1 type=$2 endpoint=$3 password=$4 project user role found body
    ffulab_identity_token
    ffulab_identity_service_project || return 1
    project=$FFULAB_SERVICE_PROJECT
    user=$(ffulab_identity GET "/users?name=$name&domain_id=default" | jq -r '.users[0].id // empty')
    body=$(FFULAB_SECRET=$password jq -cn --arg n "$name" --arg pr "$project" \
        '{user: {name: $n, domain_id: "default", password: $ENV.FFULAB_SECRET, default_project_id: $pr, enabled: true}}')
    if [ -z "$user" ]; then
        user=$(ffulab_identity POST /users "$body" | jq -r .user.id)
        ffulab_changed "identity user $name"
    elif ! FFULAB_SECRET=$password jq -cn --arg n "$name" '{auth: {identity: {methods: ["password"], password:
            {user: {name: $n, domain: {id: "default"}, password: $ENV.FFULAB_SECRET}}}}}' | curl --fail --silent --max-time 120 \
            -o /dev/null -H 'Content-Type: application/json' --data @- "$FFULAB_IDENTITY_URL/auth/tokens"; then
        ffulab_identity PATCH "/users/$user" "$body" > /dev/null
        ffulab_changed "identity user $name (password)"
    fi
    for role in admin service; do
        found=$(ffulab_identity GET "/roles?name=$role" | jq -r '.roles[0].id // empty')
        [ -n "$found" ] || continue
        if ! curl --fail --silent --max-time 120 -o /dev/null -I -H @"$FFULAB_TOKEN_HEADER" \
                "$FFULAB_IDENTITY_URL/projects/$project/users/$user/roles/$found"; then
            ffulab_identity PUT "/projects/$project/users/$user/roles/$found" > /dev/null
            ffulab_changed "identity role $role for $name on project service"
        fi
    done
    ffulab_identity_service "$name" "$type" "$endpoint"
}

# ffulab_identity_service NAME TYPE ENDPOINT: the service NAME of TYPE and its public, internal and admin
# endpoints at ENDPOINT in $FFULAB_REGION (a second type for the same API: cinder's volumev3); needs
# the admin token (ffulab_identity_token, or ffulab_identity_register before it)
ffulab_identity_service() {
    local name=$1 type=$2 endpoint=$3 service interface found
    [ -n "${FFULAB_TOKEN_HEADER:-}" ] || ffulab_identity_token
    service=$(ffulab_identity GET "/services?type=$type" | jq -r --arg n "$name" '[.services[] | select(.name == $n)][0].id // empty')
    if [ -z "$service" ]; then
        service=$(ffulab_identity POST /services "$(jq -cn --arg n "$name" --arg t "$type" \
            '{service: {name: $n, type: $t, enabled: true}}')" | jq -r .service.id)
        ffulab_changed "identity service $name ($type)"
    fi
    for interface in public internal admin; do
        found=$(ffulab_identity GET "/endpoints?service_id=$service&interface=$interface" \
            | jq -r --arg r "$FFULAB_REGION" '[.endpoints[] | select(.region_id == $r)][0] | "\(.id) \(.url)" // empty')
        if [ -z "$found" ] || [ "$found" = "null null" ]; then
            ffulab_identity POST /endpoints "$(jq -cn --arg s "$service" --arg i "$interface" --arg u "$endpoint" \
                --arg r "$FFULAB_REGION" '{endpoint: {service_id: $s, interface: $i, url: $u, region_id: $r, enabled: true}}')" > /dev/null
            ffulab_changed "identity endpoint $name $interface $endpoint"
        elif [ "${found#* }" != "$endpoint" ]; then
            ffulab_identity PATCH "/endpoints/${found%% *}" "$(jq -cn --arg u "$endpoint" '{endpoint: {url: $u}}')" > /dev/null
            ffulab_changed "identity endpoint $name $interface $endpoint"
        fi
    done
}

# --- database schema checks (no Python: each start-up costs tens of seconds under TCG) ---------------

# ffulab_alembic_heads VERSIONS_DIR: the revisions no other migration file of VERSIONS_DIR revises or
# depends on (depends_on counts as a parent: glance's contract head depends on its expand head)
ffulab_alembic_heads() {
    comm -23 <(sed -n "s/^revision = ['\"]\(.*\)['\"]\$/\1/p" "$1"/*.py | sort -u) \
        <(sed -n "s/^down_revision = ['\"]\(.*\)['\"]\$/\1/p; s/^depends_on = ['\"]\(.*\)['\"]\$/\1/p" "$1"/*.py | sort -u) \
        | xargs
}

# ffulab_db_versions USER PASSWORD HOST DATABASE: the rows of DATABASE's alembic_version, sorted, one line
ffulab_db_versions() {
    MYSQL_PWD=$2 mariadb --protocol=tcp -h "$3" -u "$1" -D "$4" -N -B \
        -e 'SELECT version_num FROM alembic_version ORDER BY 1' 2>/dev/null | xargs || true
}

# ffulab_schema_at_head SERVICE VERSIONS_DIR USER PASSWORD HOST DATABASE: `ffulab-check: schema-at-head`
# ok when the database's alembic versions are the installed release's heads, else failed (exit 1)
ffulab_schema_at_head() {
    local service=$1 heads current
    heads=$(ffulab_alembic_heads "$2")
    current=$(ffulab_db_versions "$3" "$4" "$5" "$6")
    if [ -z "$heads" ] || [ "$current" != "$heads" ]; then
        echo "ffulab-check: schema-at-head failed the $service database is at ${current:-(nothing)}, the installed release's heads are ${heads:-(none found in $2)}"
        return 1
    fi
    echo "ffulab-check: schema-at-head ok $current"
}

# ffulab_installed_version VENV DIST: the Version of distribution DIST in VENV (its dist-info METADATA)
ffulab_installed_version() {
    sed -n 's/^Version: //p' "$1"/lib/python3*/site-packages/"$2"-*.dist-info/METADATA 2>/dev/null | head -n 1
}

# ffulab_check_version SERVICE VENV DIST WANTED: `ffulab-check: version` ok, or failed (exit 1)
ffulab_check_version() {
    local installed
    installed=$(ffulab_installed_version "$2" "$3")
    if [ "$installed" != "$4" ]; then
        echo "ffulab-check: version failed $2 holds $1 ${installed:-(none)}, not $4"
        return 1
    fi
    echo "ffulab-check: version ok $1 $installed"
}
