#!/usr/bin/env bash
# Start the project's private Postfix instance for tests, loopback only:
#   127.0.0.1:$SMTPH_POSTFIX_PORT (2525)      plain SMTP, STARTTLS, AUTH PLAIN/LOGIN
#   127.0.0.1:$SMTPH_POSTFIX_TLS_PORT (2465)  implicit TLS (smtpd_tls_wrappermode), AUTH
# Every message is discarded (discard: transport). No DNS: smtpd_peername_lookup=no,
# smtp_dns_support_level=disabled, explicit myhostname/mynetworks. AUTH through Cyrus sasldb,
# user bench / benchpass (realm bench.test). STARTTLS certificate: self-signed by openssl
# (CN=localhost, SAN localhost/127.0.0.1/::1), in $SMTPH_POSTFIX_RUN/tls/cert.pem.
# Runtime state lives in $SMTPH_POSTFIX_RUN (default /tmp/smtph-postfix); /etc/postfix and the
# system instance are neither used nor touched. Idempotent: a running instance is left alone
# (and counted as used once more; stop.sh stops it when the last user is done).
# Needs root (Postfix's master) and the Debian packages postfix, sasl2-bin, libsasl2-modules
# (scripts/deps.sh test installs them); without them it exits 77 ("skipped" for CTest), or 1
# when SMTPH_REQUIRE_POSTFIX=1.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

# Cannot run here at all (not root, packages missing): exit 77, which CTest reports as
# "skipped" (the Postfix tests then skip too), unless SMTPH_REQUIRE_POSTFIX=1 (CI) makes it fail.
unavailable() {
  if [[ "${SMTPH_REQUIRE_POSTFIX:-0}" == 1 ]]; then pf_die "$*"; fi
  pf_log "SKIPPED: $*"
  exit 77
}
[[ $(id -u) == 0 ]] || unavailable "needs root (Postfix's master runs as root)"
for tool in postfix postconf saslpasswd2 openssl ss flock; do
  command -v "$tool" >/dev/null || unavailable "$tool not found: install postfix sasl2-bin libsasl2-modules (scripts/deps.sh test)"
done
[[ -r /usr/share/postfix/master.cf.dist ]] || unavailable "/usr/share/postfix/master.cf.dist missing (postfix package)"

mkdir -p "$PF_RUN"
chmod 755 "$PF_RUN"
exec 9>"$PF_LOCK"
flock -w 60 9 || pf_die "could not lock $PF_LOCK"

where() {
  pf_log "up: $PF_HOST:$PF_PORT (STARTTLS, AUTH PLAIN LOGIN) and $PF_HOST:$PF_TLS_PORT (implicit TLS); user $PF_USER/$PF_PASS realm $PF_REALM"
  pf_log "master pid $(pf_master_pid), run dir $PF_RUN, CA/cert $PF_CERT, log $PF_LOG"
}
add_user() { echo $(( $(cat "$PF_USERS" 2>/dev/null || echo 0) + 1 )) >"$PF_USERS"; }

if pf_pid_alive "$PF_PIDFILE"; then
  for port in "$PF_PORT" "$PF_TLS_PORT"; do
    pf_wait_port "$port" 15 || pf_die "master runs but nothing listens on $port (see $PF_LOG)"
  done
  add_user
  pf_log "already running"
  where
  exit 0
fi

for port in "$PF_PORT" "$PF_TLS_PORT"; do
  if pf_port_listening "$port"; then
    pf_die "port $port is already in use by another process (set SMTPH_POSTFIX_PORT / SMTPH_POSTFIX_TLS_PORT)"
  fi
done

mkdir -p "$PF_ETC/sasl" "$PF_SPOOL" "$PF_RUN/data" "$PF_RUN/tls"
chown root:root "$PF_ETC" "$PF_SPOOL"
chmod 755 "$PF_ETC" "$PF_SPOOL" "$PF_RUN/tls"
chown postfix:postfix "$PF_RUN/data"

# --- self-signed certificate, made once per run dir ------------------------
if [[ ! -s "$PF_CERT" || ! -s "$PF_KEY" ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
    -keyout "$PF_KEY" -out "$PF_CERT" \
    -subj "/CN=localhost/O=smtp-harness test Postfix" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    >/dev/null 2>&1 || pf_die "openssl could not make a self-signed certificate"
  chmod 644 "$PF_CERT"
  chmod 600 "$PF_KEY"
fi

protocols=ipv4
pf_have_ipv6 && protocols=all

# --- main.cf, built with postconf only -------------------------------------
cp /usr/share/postfix/master.cf.dist "$PF_ETC/master.cf"
: >"$PF_ETC/main.cf"
pc() { postconf -c "$PF_ETC" -e "$@"; }
pc compatibility_level=3.6 \
   "queue_directory=$PF_SPOOL" \
   "data_directory=$PF_RUN/data" \
   "maillog_file=$PF_LOG" \
   "maillog_file_prefixes=$PF_RUN" \
   myhostname=postfix.bench.test \
   mydomain=bench.test \
   'myorigin=$myhostname' \
   inet_interfaces=loopback-only \
   "inet_protocols=$protocols" \
   "mydestination=localhost, localhost.localdomain, example.test, \$myhostname" \
   'mynetworks=127.0.0.0/8 [::1]/128' \
   local_recipient_maps= \
   alias_maps= alias_database= \
   local_transport=discard:sink \
   default_transport=discard:sink \
   relay_transport=discard:sink \
   relayhost= \
   'smtpd_banner=$myhostname ESMTP Postfix (smtp-harness test sink)' \
   'smtpd_relay_restrictions=permit_sasl_authenticated, reject_unauth_destination' \
   smtpd_recipient_restrictions= \
   biff=no \
   append_dot_mydomain=no \
   "smtpd_tls_cert_file=$PF_CERT" \
   "smtpd_tls_key_file=$PF_KEY" \
   smtpd_tls_security_level=may \
   smtpd_tls_auth_only=no \
   smtpd_tls_loglevel=0 \
   smtp_tls_security_level=none \
   smtpd_sasl_auth_enable=yes \
   smtpd_sasl_type=cyrus \
   smtpd_sasl_path=smtpd \
   "cyrus_sasl_config_path=$PF_ETC/sasl" \
   "smtpd_sasl_local_domain=$PF_REALM" \
   smtpd_sasl_security_options=noanonymous \
   broken_sasl_auth_clients=no \
   in_flow_delay=1s \
   smtpd_peername_lookup=no \
   smtp_dns_support_level=disabled \
   lmtp_dns_support_level=disabled \
   smtp_host_lookup=native \
   lmtp_host_lookup=native
# smtpd_peername_lookup=no: no PTR query for the client address (a [::1] client has no name in
# /etc/hosts, so smtpd would ask DNS). smtp/lmtp DNS off: nothing is ever relayed anyway
# (discard: transport), this only makes sure no client process could query DNS.

# --- master.cf: no port 25, no chroot, our two loopback listeners ---------
postconf -c "$PF_ETC" -M# smtp/inet
postconf -c "$PF_ETC" -F '*/*/chroot = n'
postconf -c "$PF_ETC" -M "$PF_PORT/inet=$PF_PORT inet n - n - - smtpd"
postconf -c "$PF_ETC" -M "$PF_TLS_PORT/inet=$PF_TLS_PORT inet n - n - - smtpd"
postconf -c "$PF_ETC" -P "$PF_TLS_PORT/inet/smtpd_tls_wrappermode=yes"

# --- Cyrus SASL: sasldb with one throw-away user ---------------------------
SASLDB="$PF_RUN/sasldb2"
cat >"$PF_ETC/sasl/smtpd.conf" <<CONF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDB
mech_list: PLAIN LOGIN
CONF
rm -f "$SASLDB"
printf '%s' "$PF_PASS" | saslpasswd2 -p -c -f "$SASLDB" -u "$PF_REALM" "$PF_USER"
chown root:postfix "$SASLDB"
chmod 640 "$SASLDB"

postfix -c "$PF_ETC" check
postfix -c "$PF_ETC" start >>"$PF_RUN/start.log" 2>&1 || {
  cat "$PF_RUN/start.log" >&2; pf_die "postfix start failed"; }

for port in "$PF_PORT" "$PF_TLS_PORT"; do
  pf_wait_port "$port" 15 || pf_die "nothing listens on $port after 15 s (see $PF_LOG, $PF_RUN/start.log)"
done
echo 1 >"$PF_USERS"
where
