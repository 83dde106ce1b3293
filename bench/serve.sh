#!/usr/bin/env bash
# Serving benchmark: the registry against nginx serving byte-identical copies of its answers.
#
# Usage: bench/serve.sh            (or: make bench)
#
# Settings (environment):
#   WORKERS=N          worker processes for both servers (default: CPU count)
#   WRK_THREADS=2 WRK_CONNECTIONS=64 DURATION=10s ROUNDS=5
#   CORPUS=DIR         package path to serve (default: a generated one, see below)
#   PORT_OURS=18480 PORT_NGINX=18481
#   KEEP=1             keep the temporary folder (printed) instead of deleting it
#   ANSWERS="zip icon" measure only these answers (default: search package zip large icon)
#   ACCESS_LOG=1       both servers write an access log line per request to a file
#                      (ours at -log-level=info, ECS JSON; nginx's combined format)
#
# What it does: installs nginx and wrk from Debian if missing, generates a corpus with
# bench/make_corpus.py plus zip packages of ~300 KB and ~5 MB, starts the registry,
# fetches five answers with curl and writes them as files for nginx (same bytes, same Content-Type,
# same CORS and Cache-Control lines), checks the copies are identical, then drives both
# servers with wrk in alternation (ours, nginx, ours, nginx ...) and prints the median
# requests/s of each and the ratio ours/nginx. wrk runs on the same cores as the servers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
CORES=$(nproc)
WORKERS=${WORKERS:-$CORES}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-5}
PORT_OURS=${PORT_OURS:-18480}
PORT_NGINX=${PORT_NGINX:-18481}
SEARCH_QUERY=${SEARCH_QUERY:-kibana.version=8.15.0&prerelease=true}

log() { printf '%s\n' "$*" >&2; }

if [[ -n ${ACCESS_LOG:-} ]]; then LOG_LEVEL=info; else LOG_LEVEL=warn; fi

install_tools() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

install_tools
if [[ ! -x $VENV/bin/package-registry ]]; then
    log "creating $VENV"
    make -C "$ROOT" --no-print-directory "$VENV/bin/.installed" VENV="$VENV"
fi
PY=$VENV/bin/python

TMP=$(mktemp -d /tmp/serve-bench.XXXXXX)
if [[ -n ${ACCESS_LOG:-} ]]; then NGINX_ACCESS_LOG=$TMP/nginx/access.log; else NGINX_ACCESS_LOG=off; fi
chmod 755 "$TMP" # nginx workers run as an unprivileged user
OURS_PID=""
NGINX_PID=""
cleanup() {
    [[ -n $OURS_PID ]] && kill "$OURS_PID" 2>/dev/null && wait "$OURS_PID" 2>/dev/null
    [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    if [[ -n ${KEEP:-} ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------- corpus
if [[ -z ${CORPUS:-} ]]; then
    CORPUS=$TMP/corpus
    "$PY" "$ROOT/bench/make_corpus.py" "$CORPUS" --packages 24 --versions 400 --seed 1 --quiet
    # One package becomes zips of about 300 KB and 5 MB (incompressible files inside).
    BIG=$("$PY" - "$CORPUS" <<'EOF'
import os, random, sys, zipfile

root = sys.argv[1]
name = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))[0]
source = os.path.join(root, name, sorted(os.listdir(os.path.join(root, name)))[0])
for version, payload_size in (("99.0.0", 290_000), ("99.0.1", 5_000_000)):
    top = f"{name}-{version}"
    with zipfile.ZipFile(os.path.join(root, top + ".zip"), "w", zipfile.ZIP_DEFLATED) as out:
        for folder, dirs, files in os.walk(source):
            dirs.sort()
            rel = os.path.relpath(folder, source)
            prefix = top if rel == "." else f"{top}/{rel}"
            out.writestr(zipfile.ZipInfo(prefix + "/", (2024, 1, 1, 0, 0, 0)), b"")
            for file in sorted(files):
                with open(os.path.join(folder, file), "rb") as handle:
                    data = handle.read()
                if rel == "." and file == "manifest.yml":
                    data = data.replace(
                        next(line for line in data.splitlines() if line.startswith(b"version:")),
                        b"version: " + version.encode(),
                    )
                out.writestr(zipfile.ZipInfo(f"{prefix}/{file}", (2024, 1, 1, 0, 0, 0)), data)
        payload = random.Random(1).randbytes(payload_size)
        info = zipfile.ZipInfo(f"{top}/docs/payload.bin", (2024, 1, 1, 0, 0, 0))
        out.writestr(info, payload, compress_type=zipfile.ZIP_STORED)
print(name)
EOF
)
else
    BIG=""
fi
printf 'package_paths:\n  - %s\n' "$CORPUS" >"$TMP/config.yml"

# ----------------------------------------------------------------------------- our server
log "starting package-registry with $WORKERS workers"
"$VENV/bin/package-registry" -config="$TMP/config.yml" -address="127.0.0.1:$PORT_OURS" \
    -workers="$WORKERS" -require-package-signatures=false -log-level="$LOG_LEVEL" \
    >"$TMP/ours.log" 2>&1 &
OURS_PID=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT_OURS/health" >/dev/null && break
    kill -0 "$OURS_PID" 2>/dev/null || { cat "$TMP/ours.log" >&2; exit 1; }
    sleep 0.2
done

# Pick the URLs: cached /search, the package info and the icon of the first search hit,
# and the big zip (or, with CORPUS set, the first hit's download).
read -r NAME VERSION < <(curl -sf "http://127.0.0.1:$PORT_OURS/search?$SEARCH_QUERY" |
    "$PY" -c 'import json,sys; p=json.load(sys.stdin)[0]; print(p["name"], p["version"])')
if [[ -n $BIG ]]; then
    ZIP="/epr/$BIG/$BIG-99.0.0.zip" LARGE="/epr/$BIG/$BIG-99.0.1.zip"
else
    ZIP="/epr/$NAME/$NAME-$VERSION.zip" LARGE=$ZIP
fi
ICON=$(curl -sf "http://127.0.0.1:$PORT_OURS/package/$NAME/$VERSION/" |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["icons"][0]["path"])')
declare -a KEYS=(search package zip large icon)
declare -A URL=(
    [search]="/search?$SEARCH_QUERY"
    [package]="/package/$NAME/$VERSION/"
    [zip]="$ZIP"
    [large]="$LARGE"
    [icon]="$ICON"
)
declare -A TARGET=([search]=0.90 [package]=0.90 [zip]=0.80 [large]=- [icon]=-)
declare -A LOCATION=(
    [search]=/search [package]="/package/$NAME/$VERSION/"
    [zip]="$ZIP" [large]="$LARGE" [icon]="$ICON"
)

# ----------------------------------------------------------------------------- nginx copy
mkdir -p "$TMP/www" "$TMP/nginx"
declare -A SIZE TYPE CACHE
locations=""
for key in "${KEYS[@]}"; do
    url="http://127.0.0.1:$PORT_OURS${URL[$key]}"
    curl -sf -D "$TMP/www/$key.headers" -o "$TMP/www/$key.body" "$url"
    SIZE[$key]=$(stat -c %s "$TMP/www/$key.body")
    TYPE[$key]=$(awk -F': ' 'tolower($1)=="content-type"{sub(/\r$/,"",$2); print $2}' \
        "$TMP/www/$key.headers")
    CACHE[$key]=$(awk -F': ' 'tolower($1)=="cache-control" && $2 ~ /max-age/ {
        sub(/\r$/,"",$2); print $2}' "$TMP/www/$key.headers")
    locations+="
    location = ${LOCATION[$key]} {
      root $TMP/www;
      try_files /$key.body =404;
      default_type \"${TYPE[$key]}\";
      add_header Cache-Control \"${CACHE[$key]}\";
      add_header Cache-Control public;
      add_header Access-Control-Allow-Origin *;
    }"
done
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  types { }
  access_log $NGINX_ACCESS_LOG;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  gzip off;
  keepalive_requests 100000;
  server_tokens off;
  open_file_cache max=64 inactive=600s;
  open_file_cache_valid 600s;
  client_body_temp_path $TMP/nginx/tmp;
  proxy_temp_path $TMP/nginx/tmp;
  fastcgi_temp_path $TMP/nginx/tmp;
  uwsgi_temp_path $TMP/nginx/tmp;
  scgi_temp_path $TMP/nginx/tmp;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    $locations
  }
}
EOF
mkdir -p "$TMP/nginx/tmp"
"$NGINX" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -e "$TMP/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT_NGINX${URL[icon]}" && break
    sleep 0.1
done
for key in "${KEYS[@]}"; do
    curl -sf -o "$TMP/www/$key.nginx" "http://127.0.0.1:$PORT_NGINX${URL[$key]}"
    cmp -s "$TMP/www/$key.body" "$TMP/www/$key.nginx" || { log "nginx copy of $key differs"; exit 1; }
done

# ----------------------------------------------------------------------------- wrk
rps() { # URL DURATION -> requests/s
    local out
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2" "$1")
    if grep -q "Non-2xx" <<<"$out"; then log "non-2xx answers from $1"; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "package-registry vs nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///')  ($(date -u +%Y-%m-%d))"
echo "cores: $CORES (wrk and both servers share them); workers: $WORKERS each;" \
    "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION, $ROUNDS alternating rounds, median"
printf '%-9s %-58s %9s %10s %10s %7s %7s\n' answer url bytes "ours r/s" "nginx r/s" ratio target
for key in ${ANSWERS:-${KEYS[*]}}; do
    [[ -n ${URL[$key]:-} ]] || { log "unknown answer $key (one of: ${KEYS[*]})"; exit 2; }
    ours_url="http://127.0.0.1:$PORT_OURS${URL[$key]}"
    nginx_url="http://127.0.0.1:$PORT_NGINX${URL[$key]}"
    rps "$ours_url" 2s >/dev/null
    rps "$nginx_url" 2s >/dev/null
    ours="" theirs=""
    for _ in $(seq "$ROUNDS"); do
        ours+=" $(rps "$ours_url" "$DURATION")"
        theirs+=" $(rps "$nginx_url" "$DURATION")"
    done
    o=$(median <<<"$ours")
    n=$(median <<<"$theirs")
    ratio=$(awk -v o="$o" -v n="$n" 'BEGIN {printf "%.2f", o / n}')
    printf '%-9s %-58s %9s %10.0f %10.0f %7s %7s\n' "$key" "${URL[$key]}" "${SIZE[$key]}" \
        "$o" "$n" "$ratio" "${TARGET[$key]}"
    printf '          runs ours:%s  nginx:%s\n' "$ours" "$theirs"
done
