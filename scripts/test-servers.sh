#!/usr/bin/env bash
# Real mail servers on loopback for mailcheck's third test ring.
#
#   scripts/test-servers.sh start    install (if missing), configure and start
#                                    Dovecot (POP3/IMAP), Postfix (SMTP), dnsmasq (DNS) and
#                                    an OAuth2/OpenID Connect server (oidc-provider, npm)
#                                    and Prometheus (for the exporter test)
#   scripts/test-servers.sh stop     stop everything a previous `start` started
#   scripts/test-servers.sh status   show what is running and listening
#
# Everything generated lives in ${MAILCHECK_TEST_SERVERS:-/tmp/mailcheck-test-servers}.
# Servers listen on 127.0.0.2 and ::1 only. See docs/test-servers.md.
# Needs root (ports below 1024, apt-get). Safe to re-run: `start` stops a previous run first.

set -Eeuo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES=$REPO_ROOT/fixtures/servers
RUNDIR=${MAILCHECK_TEST_SERVERS:-/tmp/mailcheck-test-servers}
MARKER=.mailcheck-test-servers
HOST4=127.0.0.2
HOST6=::1
NAME=mail.mailcheck.test
DOMAIN=mailcheck.test
WAIT_SECONDS=${MAILCHECK_TEST_SERVERS_WAIT:-20}
TCP_PORTS=(110 995 143 993 25 587 465 53 9443)
# Postfix's capped listener (127.0.0.2 only; see postfix-master.cf.in).
CAPPED_PORT=2525
# Prometheus listens here and scrapes the `mailcheck serve` tests start on EXPORTER.
PROMETHEUS=$HOST4:9090
EXPORTER=$HOST4:9925
# The OAuth2 authorization server (fixtures/oauth: panva's oidc-provider on Node.js),
# on 127.0.0.2 only; Dovecot's oauth2 passdb asks its introspection endpoint.
OAUTH_DIR=$REPO_ROOT/fixtures/oauth
OAUTH_PORT=9443
OAUTH_ISSUER=https://auth.$DOMAIN:$OAUTH_PORT
EXPECTED_WARNINGS='no upstream servers configured|SSL_accept error from .*: lost connection'

# prometheus: the real Prometheus (and promtool) the exporter is tested with;
# chromium: the headless browser the exporter's status page is checked in.
PACKAGES=(dovecot-core dovecot-pop3d dovecot-imapd dovecot-lmtpd postfix dnsmasq-base
  openssl procps iproute2 util-linux prometheus chromium)

# Test accounts: user, password. alice is the one written to the env file.
USERS=("alice@$DOMAIN" "bob@$DOMAIN")
PASSWORDS=("correct horse battery staple" "hunter2-but-longer")

log() { printf '[test-servers %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
  printf '[test-servers] ERROR: %s\n' "$*" >&2
  exit 1
}

check_rundir() {
  case $RUNDIR in
    /*) ;;
    *) die "MAILCHECK_TEST_SERVERS must be an absolute path (got '$RUNDIR')" ;;
  esac
  RUNDIR=${RUNDIR%/}
  case $RUNDIR in
    "" | /tmp | /var | /var/tmp | /root | /home | /etc | /usr)
      die "refusing to use '$RUNDIR' as the runtime directory (it is wiped on start)" ;;
    *[[:space:]]*) die "MAILCHECK_TEST_SERVERS must not contain whitespace" ;;
  esac
}

require_root() {
  [[ $EUID -eq 0 ]] || die "must run as root (binds ports < 1024, may apt-get install)"
}

have_ipv6() {
  [[ -r /proc/net/if_inet6 ]] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

# ---------------------------------------------------------------------------------------
# Packages

pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local t0=$SECONDS created_policy=0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages from starting their own daemons (dnsmasq-base has none, but
  # dovecot-core and postfix do). Only remove the policy file if we created it.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
    # shellcheck disable=SC2064
    trap "rm -f /usr/sbin/policy-rc.d" EXIT
  fi
  debconf-set-selections <<EOF
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string $NAME
EOF
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >&2
  if [[ $created_policy -eq 1 ]]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  log "installed in $((SECONDS - t0)) s"
}

# The OAuth2 server's npm packages, exactly as package-lock.json pins them (npm ci),
# when they are missing or older than the lock file. Node.js comes with the machine;
# Debian's nodejs is the fallback.
ensure_oauth_modules() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing Node.js from Debian"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >&2
  fi
  local stamp=$OAUTH_DIR/node_modules/.package-lock.json
  if [[ ! -e $stamp || $OAUTH_DIR/package-lock.json -nt $stamp ]]; then
    log "installing the OAuth2 server's npm packages (npm ci)"
    (cd "$OAUTH_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

# ---------------------------------------------------------------------------------------
# Stop / status

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

read_pid() {
  local f=$1 pid
  [[ -r $f ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [[ -n $pid ]] || return 1
  printf '%s' "$pid"
}

# wait_gone PID NAME: wait up to 10 s for PID to exit, then SIGKILL it.
wait_gone() {
  local pid=$1 name=$2 i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "$name (pid $pid) did not exit, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

stop_servers() {
  [[ -d $RUNDIR ]] || return 0
  local pid name pids=() names=()

  # Signal all three first and then wait, since Dovecot takes ~3 s to exit.
  if pid=$(read_pid "$RUNDIR/postfix/spool/pid/master.pid") && pid_alive "$pid"; then
    log "stopping postfix (pid $pid)"
    postfix -c "$RUNDIR/postfix/etc" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid") names+=(postfix)
  fi
  for name in dovecot/run/master.pid dnsmasq/dnsmasq.pid prometheus/prometheus.pid oauth/oauth.pid; do
    if pid=$(read_pid "$RUNDIR/$name") && pid_alive "$pid"; then
      log "stopping ${name%%/*} (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid") names+=("${name%%/*}")
    fi
  done
  local i
  for i in "${!pids[@]}"; do
    wait_gone "${pids[$i]}" "${names[$i]}"
  done
  rm -f "$RUNDIR/ready"
}

listeners() {
  # Anything on our addresses, whoever started it.
  ss -Hltnup 2>/dev/null | awk -v h4="$HOST4:" '
    index($5, h4) == 1 || index($5, "[::1]:") == 1 { print }' || true
}

status_servers() {
  local pid
  echo "runtime dir: $RUNDIR"
  if [[ -e $RUNDIR/ready ]]; then echo "state: ready"; else echo "state: not ready"; fi
  for pair in "postfix:$RUNDIR/postfix/spool/pid/master.pid" \
    "dovecot:$RUNDIR/dovecot/run/master.pid" "dnsmasq:$RUNDIR/dnsmasq/dnsmasq.pid" \
    "prometheus:$RUNDIR/prometheus/prometheus.pid" "oauth:$RUNDIR/oauth/oauth.pid"; do
    if pid=$(read_pid "${pair#*:}") && pid_alive "$pid"; then
      echo "${pair%%:*}: running (pid $pid)"
    else
      echo "${pair%%:*}: not running"
    fi
  done
  echo "listening on $HOST4 / ::1:"
  listeners | sed 's/^/  /'
  [[ -e $RUNDIR/ready ]]
}

# ---------------------------------------------------------------------------------------
# Start

prepare_rundir() {
  if [[ -e $RUNDIR ]]; then
    if [[ -n $(ls -A "$RUNDIR" 2>/dev/null) && ! -e $RUNDIR/$MARKER ]]; then
      die "$RUNDIR exists, is not empty and was not made by this script; not wiping it"
    fi
    rm -rf "$RUNDIR"
  fi
  mkdir -p "$RUNDIR"
  chmod 755 "$RUNDIR"
  touch "$RUNDIR/$MARKER"
  mkdir -p "$RUNDIR"/{logs,tls,dovecot/run,dovecot/state,postfix/etc,postfix/spool,postfix/data,dnsmasq,mail,prometheus/data,oauth}
}

check_ports_free() {
  local busy
  busy=$(listeners)
  if [[ -n $busy ]]; then
    die "something is already listening on $HOST4 or [::1] (not started by this script?):
$busy"
  fi
}

# make_ca DIR CN: a self-signed ECDSA P-256 CA, valid from a day ago for 90 days.
make_ca() {
  local dir=$1 cn=$2
  mkdir -p "$dir/newcerts"
  : >"$dir/index.txt"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key")
  CADIR=$dir openssl req -new -config "$FIXTURES/openssl-ca.cnf" -key "$dir/ca.key" \
    -subj "/O=mailcheck tests/CN=$cn" -out "$dir/ca.csr"
  CADIR=$dir openssl ca -batch -notext -config "$FIXTURES/openssl-ca.cnf" -selfsign \
    -create_serial -keyfile "$dir/ca.key" -startdate "$START_DATE" -enddate "$END_DATE" \
    -extensions v3_ca -in "$dir/ca.csr" -out "$dir/ca.pem" 2>"$dir/openssl.log" ||
    { cat "$dir/openssl.log" >&2; return 1; }
}

make_certs() {
  START_DATE=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
  END_DATE=$(date -u -d '89 days' +%Y%m%d%H%M%SZ)
  local tls=$RUNDIR/tls
  make_ca "$tls/ca" "mailcheck test CA"
  make_ca "$tls/untrusted-ca" "mailcheck untrusted test CA"

  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls/server.key")
  CADIR=$tls/ca openssl req -new -config "$FIXTURES/openssl-ca.cnf" -key "$tls/server.key" \
    -subj "/O=mailcheck tests/CN=$NAME" -out "$tls/server.csr"
  CADIR=$tls/ca openssl ca -batch -notext -config "$FIXTURES/openssl-ca.cnf" \
    -startdate "$START_DATE" -enddate "$END_DATE" -extensions v3_server \
    -in "$tls/server.csr" -out "$tls/server.pem" 2>"$tls/openssl.log" ||
    { cat "$tls/openssl.log" >&2; return 1; }
  openssl verify -CAfile "$tls/ca/ca.pem" -verify_hostname "$NAME" "$tls/server.pem" >/dev/null
  cat "$tls/server.pem" "$tls/ca/ca.pem" >"$tls/fullchain.pem"

  # Stable, short paths for tests and people.
  cp "$tls/ca/ca.pem" "$RUNDIR/ca.pem"
  cp "$tls/ca/ca.key" "$RUNDIR/ca.key"
  mkdir -p "$RUNDIR/untrusted-ca"
  cp "$tls/untrusted-ca/ca.pem" "$tls/untrusted-ca/ca.key" "$RUNDIR/untrusted-ca/"
  chmod 600 "$RUNDIR/ca.key" "$RUNDIR/untrusted-ca/ca.key"
}

make_users() {
  local users=$RUNDIR/dovecot/users i hash
  : >"$users"
  for i in "${!USERS[@]}"; do
    hash=$(printf '%s' "${PASSWORDS[$i]}" | openssl passwd -6 -stdin)
    printf '%s:{SHA512-CRYPT}%s::::::\n' "${USERS[$i]}" "$hash" >>"$users"
  done
  chown root:dovecot "$users"
  chmod 640 "$users"
  (umask 077 && printf '%s' "${PASSWORDS[0]}" >"$RUNDIR/alice.password")
  (umask 077 && printf '%s' "${PASSWORDS[1]}" >"$RUNDIR/bob.password")

  # One message in alice's INBOX so POP3 STAT / IMAP SELECT show something.
  local md=$RUNDIR/mail/$DOMAIN/alice/Maildir
  mkdir -p "$md"/{new,cur,tmp}
  cat >"$md/new/1700000000.M1P1.mailcheck" <<EOF
Return-Path: <postmaster@$DOMAIN>
From: Postmaster <postmaster@$DOMAIN>
To: Alice <alice@$DOMAIN>
Subject: Welcome to the mailcheck test server
Date: Tue, 14 Nov 2023 22:13:20 +0000
Message-ID: <welcome@$DOMAIN>

This message is here so that mailboxes are not empty.
EOF
  chown -R mail:mail "$RUNDIR/mail"
  chmod 700 "$RUNDIR/mail"
}

# render TEMPLATE OUT: substitute @RUNDIR@ and friends.
render() {
  sed -e "s|@RUNDIR@|$RUNDIR|g" \
    -e "s|@LISTEN@|$DOVECOT_LISTEN|g" \
    -e "s|@MAIL_UID@|$(id -u mail)|g" \
    -e "s|@MAIL_GID@|$(id -g mail)|g" \
    -e "s|@INET_PROTOCOLS@|$INET_PROTOCOLS|g" \
    -e "s|@DNSMASQ_USER@|nobody|g" \
    -e "s|@HOST4@|$HOST4|g" \
    -e "s|@OAUTH_ISSUER@|$OAUTH_ISSUER|g" \
    -e "s|@OAUTH_DOVECOT_SECRET@|${OAUTH_DOVECOT_SECRET:-}|g" \
    "$1" >"$2"
}

# daemon_io NAME CMD...: run a command that leaves a daemon behind with its stdio on
# logs/NAME-stdio.log, so the daemon does not hold our caller's stdout/stderr open
# (a CI log pipe, or `start | tee` would otherwise never see end-of-file).
daemon_io() {
  local name=$1
  shift
  "$@" </dev/null >>"$RUNDIR/logs/$name-stdio.log" 2>&1 || {
    local rc=$?
    log "'$*' failed (exit $rc)"
    return "$rc"
  }
}

start_dnsmasq() {
  local conf=$RUNDIR/dnsmasq/dnsmasq.conf
  render "$FIXTURES/dnsmasq.conf.in" "$conf"
  : >"$RUNDIR/logs/dnsmasq.log"
  chown nobody "$RUNDIR/logs/dnsmasq.log"
  dnsmasq --conf-file="$conf" --test >/dev/null 2>&1 || dnsmasq --conf-file="$conf" --test
  daemon_io dnsmasq dnsmasq --conf-file="$conf"
}

start_dovecot() {
  local conf=$RUNDIR/dovecot/dovecot.conf
  render "$FIXTURES/dovecot.conf.in" "$conf"
  (umask 027 && render "$FIXTURES/dovecot-oauth2.conf.ext.in" "$RUNDIR/dovecot/dovecot-oauth2.conf.ext")
  chgrp dovecot "$RUNDIR/dovecot/dovecot-oauth2.conf.ext"
  doveconf -c "$conf" -n >/dev/null
  daemon_io dovecot dovecot -c "$conf"
}

start_postfix() {
  local etc=$RUNDIR/postfix/etc addr listeners=""
  render "$FIXTURES/postfix-main.cf.in" "$etc/main.cf"
  for addr in "${SMTP_ADDRS[@]}"; do
    listeners+=$(sed "s|@ADDR@|$addr|g" "$FIXTURES/postfix-listeners.cf.in")$'\n'
  done
  render "$FIXTURES/postfix-master.cf.in" "$etc/master.cf.tmp"
  awk -v l="$listeners" '/^# @SMTPD_LISTENERS@/ { printf "%s", l; next } { print }' \
    "$etc/master.cf.tmp" >"$etc/master.cf"
  rm -f "$etc/master.cf.tmp"
  touch "$RUNDIR/logs/postfix.log"
  chown postfix:postfix "$RUNDIR/postfix/data"
  chmod 700 "$RUNDIR/postfix/data"
  # Creates the queue directories with the right owners and checks the configuration.
  daemon_io postfix postfix -c "$etc" check
  daemon_io postfix postfix -c "$etc" start
}

# Prometheus does not daemonise: run it in the background as its own system user
# (made by the package), its output on logs/prometheus.log, its pid in a file.
start_prometheus() {
  local dir=$RUNDIR/prometheus
  cp "$REPO_ROOT/examples/prometheus/alerts.yml" "$dir/alerts.yml"
  sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@EXPORTER@|$EXPORTER|g" \
    "$FIXTURES/prometheus.yml.in" >"$dir/prometheus.yml"
  promtool check config "$dir/prometheus.yml" >"$RUNDIR/logs/promtool.out" 2>&1 ||
    { cat "$RUNDIR/logs/promtool.out" >&2; return 1; }
  chown -R prometheus: "$dir"
  setpriv --reuid=prometheus --regid=prometheus --init-groups \
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="$PROMETHEUS" --log.level=warn \
    </dev/null >>"$RUNDIR/logs/prometheus.log" 2>&1 &
  echo $! >"$dir/prometheus.pid"
}

# http_ok HOST PORT PATH: a plain HTTP GET answered 200 (pure bash, no curl needed).
http_ok() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'GET $3 HTTP/1.0\r\nHost: $1\r\n\r\n' >&3 &&
    head -n 1 <&3" 2>/dev/null | grep -q ' 200 '
}

# The OAuth2 server: oidc-provider with the test users, three mailcheck clients
# (public; short-lived tokens; with a client secret) and Dovecot as a resource server.
# It writes its pid file once it listens.
start_oauth() {
  local dir=$RUNDIR/oauth
  OAUTH_DOVECOT_SECRET=$(openssl rand -hex 16)
  (umask 077 && openssl rand -hex 16 | tr -d '\n' >"$dir/client.secret")
  (umask 077 && cat >"$dir/config.json" <<EOF
{
  "issuer": "$OAUTH_ISSUER",
  "host": "$HOST4",
  "port": $OAUTH_PORT,
  "cert": "$RUNDIR/tls/server.pem",
  "key": "$RUNDIR/tls/server.key",
  "pidfile": "$dir/oauth.pid",
  "users": { "${USERS[0]}": "${PASSWORDS[0]}", "${USERS[1]}": "${PASSWORDS[1]}" },
  "dovecot_secret": "$OAUTH_DOVECOT_SECRET",
  "secret_client_secret": "$(cat "$dir/client.secret")",
  "cookie_key": "$(openssl rand -hex 16)"
}
EOF
  )
  setsid node "$OAUTH_DIR/server.mjs" "$dir/config.json" </dev/null >>"$RUNDIR/logs/oauth.log" 2>&1 &
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# dns_rcode NAME TYPE: ask the test DNS server over TCP; prints "RCODE ANCOUNT".
# Pure bash so the check needs no dig/python.
dns_rcode() {
  local name=$1 qtype=$2 q="" label len
  for label in ${name//./ }; do
    printf -v len '\\x%02x' "${#label}"
    q+="$len$label"
  done
  q+='\x00\x00'"$(printf '\\x%02x' "$qtype")"'\x00\x01'
  local body='\x13\x37\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'"$q"
  local n msg
  n=$(printf '%b' "$body" | wc -c)
  printf -v msg '\\x%02x\\x%02x%s' $((n / 256)) $((n % 256)) "$body"
  (
    exec 3<>"/dev/tcp/$HOST4/53" || exit 1
    printf '%b' "$msg" >&3
    timeout 3 head -c 14 <&3 | od -An -tu1
  ) 2>/dev/null | awk 'NF >= 10 { print $6 % 16, $9 * 256 + $10 }'
}

wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS)) host port pending
  while :; do
    pending=()
    for host in "${TEST_HOSTS[@]}"; do
      for port in "${TCP_PORTS[@]}"; do
        [[ ($port == 53 || $port == "$OAUTH_PORT") && $host != "$HOST4" ]] && continue
        port_open "$host" "$port" || pending+=("$host:$port")
      done
    done
    port_open "$HOST4" "$CAPPED_PORT" || pending+=("$HOST4:$CAPPED_PORT")
    http_ok "${PROMETHEUS%:*}" "${PROMETHEUS##*:}" /-/ready || pending+=("prometheus($PROMETHEUS)")
    if [[ ${#pending[@]} -eq 0 ]]; then
      local r
      r=$(dns_rcode "$NAME" 1 || true)
      [[ $r == "0 1" ]] && return 0
      pending+=("dns($NAME A -> '$r')")
    fi
    if ((SECONDS >= deadline)); then
      log "not answering after ${WAIT_SECONDS} s: ${pending[*]}"
      return 1
    fi
    sleep 0.2
  done
}

write_env() {
  cat >"$RUNDIR/env" <<EOF
MAILCHECK_TEST_HOST=$HOST4
MAILCHECK_TEST_HOST6=$( ((HAVE_IPV6)) && echo "$HOST6")
MAILCHECK_TEST_NAME=$NAME
MAILCHECK_TEST_CA=$RUNDIR/ca.pem
MAILCHECK_TEST_UNTRUSTED_CA=$RUNDIR/untrusted-ca/ca.pem
MAILCHECK_TEST_DNS=$HOST4:53
MAILCHECK_TEST_USER=${USERS[0]}
MAILCHECK_TEST_PASSWORD_FILE=$RUNDIR/alice.password
MAILCHECK_TEST_USER2=${USERS[1]}
MAILCHECK_TEST_PASSWORD2_FILE=$RUNDIR/bob.password
MAILCHECK_TEST_SERVER_CERT=$RUNDIR/tls/server.pem
MAILCHECK_TEST_CAPPED_PORT=$CAPPED_PORT
MAILCHECK_TEST_POSTFIX_LOG=$RUNDIR/logs/postfix.log
MAILCHECK_TEST_PROMETHEUS=http://$PROMETHEUS
MAILCHECK_TEST_EXPORTER=$EXPORTER
MAILCHECK_TEST_OAUTH_ISSUER=$OAUTH_ISSUER
MAILCHECK_TEST_OAUTH_SCOPE=openid,offline_access,mail
MAILCHECK_TEST_OAUTH_CLIENT=mailcheck-test
MAILCHECK_TEST_OAUTH_SHORT_CLIENT=mailcheck-short
MAILCHECK_TEST_OAUTH_SECRET_CLIENT=mailcheck-secret
MAILCHECK_TEST_OAUTH_CLIENT_SECRET_FILE=$RUNDIR/oauth/client.secret
EOF
}

# tls_dialogue PORT LINE...: send LINEs (0.3 s apart) over verified implicit TLS
# to 127.0.0.2:PORT and print what the server said.
tls_dialogue() {
  local port=$1 line
  shift
  {
    sleep 0.3
    for line in "$@"; do
      printf '%s\r\n' "$line"
      sleep 0.3
    done
  } | timeout 10 openssl s_client -quiet -connect "$HOST4:$port" -CAfile "$RUNDIR/ca.pem" \
    -verify_return_error -verify_hostname "$NAME" -servername "$NAME" 2>&1 || true
}

# Open ports are not enough: check that the certificate verifies against the test CA
# and that a real login works end to end (Postfix -> Dovecot SASL socket, Dovecot
# passdb/userdb and mail storage), so a broken setup fails here and not in cargo test.
self_test() {
  local auth smtp
  auth=$(printf '\0%s\0%s' "${USERS[0]}" "${PASSWORDS[0]}" | base64 -w0)
  tls_dialogue 465 "EHLO selftest.mailcheck.test" "AUTH PLAIN $auth" QUIT \
    >"$RUNDIR/logs/selftest-smtp.out" &
  smtp=$!
  tls_dialogue 993 "a LOGIN \"${USERS[0]}\" \"${PASSWORDS[0]}\"" "b EXAMINE INBOX" "c LOGOUT" \
    >"$RUNDIR/logs/selftest-imap.out"
  wait "$smtp"
  if ! grep -q '^235 ' "$RUNDIR/logs/selftest-smtp.out"; then
    log "self-test failed: SMTP AUTH PLAIN as ${USERS[0]} on $HOST4:465 did not succeed:"
    sed 's/^/  /' "$RUNDIR/logs/selftest-smtp.out" >&2
    return 1
  fi
  if ! grep -q '^b OK' "$RUNDIR/logs/selftest-imap.out"; then
    log "self-test failed: IMAP LOGIN + EXAMINE as ${USERS[0]} on $HOST4:993 did not succeed:"
    sed 's/^/  /' "$RUNDIR/logs/selftest-imap.out" >&2
    return 1
  fi
}

# Configuration mistakes often only show up in the logs (a server starts, then a child
# process complains): fail on fatal/panic lines, show error/warning lines.
report_log_problems() {
  local f bad=0
  for f in "$RUNDIR"/logs/*.log; do
    if grep -Eiq '(fatal|panic)[: ]' "$f"; then
      log "fatal errors in $f:"
      grep -Ei '(fatal|panic)[: ]' "$f" | tail -n 10 >&2
      bad=1
    fi
    # Expected: dnsmasq has no upstream on purpose; probes of 465 hang up mid-handshake.
    if grep -E '(error|warning):' "$f" | grep -Eqv "$EXPECTED_WARNINGS"; then
      log "warnings in $f:"
      grep -E '(error|warning):' "$f" | grep -Ev "$EXPECTED_WARNINGS" | tail -n 10 >&2
    fi
  done
  return "$bad"
}

on_start_error() {
  local rc=$?
  trap - ERR
  log "start FAILED (exit $rc). Log tails from $RUNDIR/logs:"
  local f
  for f in "$RUNDIR"/logs/*.log; do
    [[ -s $f ]] || continue
    printf '\n==> %s <==\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
  stop_servers || true
  exit "$rc"
}

start_servers() {
  local t0=$SECONDS
  require_root
  ensure_packages
  ensure_oauth_modules
  stop_servers
  prepare_rundir
  check_ports_free

  HAVE_IPV6=0
  have_ipv6 && HAVE_IPV6=1
  TEST_HOSTS=("$HOST4")
  SMTP_ADDRS=("$HOST4")
  DOVECOT_LISTEN=$HOST4
  INET_PROTOCOLS=ipv4
  if ((HAVE_IPV6)); then
    TEST_HOSTS+=("$HOST6")
    SMTP_ADDRS+=("[$HOST6]")
    DOVECOT_LISTEN="$HOST4, $HOST6"
    INET_PROTOCOLS=all
  else
    log "no IPv6 loopback (::1) on this machine: listening on $HOST4 only"
  fi

  trap on_start_error ERR
  make_certs
  make_users
  start_dnsmasq
  start_oauth
  start_dovecot
  start_postfix
  start_prometheus
  wait_ready || false
  self_test
  report_log_problems
  write_env
  touch "$RUNDIR/ready"
  trap - ERR
  log "ready in $((SECONDS - t0)) s: $RUNDIR/env"
  cat "$RUNDIR/env" >&2
}

main() {
  check_rundir
  case ${1:-} in
    start) start_servers ;;
    stop)
      require_root
      stop_servers
      ;;
    status) status_servers ;;
    *)
      echo "usage: $0 {start|stop|status}" >&2
      exit 2
      ;;
  esac
}

main "$@"
