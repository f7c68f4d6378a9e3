#!/usr/bin/env python3
"""Real SMTP clients against `smtp-harness serve` (CTest: tools_serve_clients).

Starts two `serve` processes on ephemeral 127.0.0.1 ports (--port-file), drives them with
swaks (plain, STARTTLS, implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5), Python's smtplib (STARTTLS
with certificate verification, login, SMTP_SSL) and Postfix's smtp-source (20 sessions in
parallel, 200 messages), checks a 421 on SIGTERM and exit status 0, and counts the stored
messages (JSON Lines for server A, maildir for server B).

  A: self-signed certificate made at start, --store A/mail.jsonl, AUTH allowed without TLS.
  B: --cert/--key made here with the openssl command, --auth-requires-tls, --store B/Maildir.

Usage: serve_clients_test.py SMTP_HARNESS_BINARY
Exit 0 pass, 1 fail, 77 skipped (a client program is missing).
Loopback only; every wait is bounded.
"""

import base64
import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60  # seconds, for each client run and each wait
SWAKS = shutil.which("swaks")
SMTP_SOURCE = shutil.which("smtp-source") or (
    "/usr/sbin/smtp-source" if os.access("/usr/sbin/smtp-source", os.X_OK) else None)
OPENSSL = shutil.which("openssl")

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


class Server:
    """One `smtp-harness serve` process."""

    def __init__(self, binary, workdir, name, extra_args):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port_file = os.path.join(self.dir, "ports")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        args = [binary, "serve", "--listen", "127.0.0.1:0", "--implicit-tls-listen",
                "127.0.0.1:0", "--port-file", self.port_file, "--idle-timeout", "60",
                "-v"] + extra_args
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.ports = {}
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    for line in f:
                        kind, address = line.split()
                        self.ports.setdefault(kind, address)
                break
            time.sleep(0.05)
        if "plain" not in self.ports or "implicit-tls" not in self.ports:
            self.stop()
            raise RuntimeError(f"serve {name} did not start: {self.log()}")
        self.plain = self.ports["plain"]
        self.implicit = self.ports["implicit-tls"]

    def host_port(self, kind="plain"):
        host, port = self.ports[kind].rsplit(":", 1)
        return host, int(port)

    def log(self):
        self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self):
        """Wait (bounded) for the process to exit after a signal sent elsewhere."""
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        return self.stop()

    def stop(self, sig=signal.SIGTERM):
        """Signal the server; returns its exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.stderr.close()
        return self.proc.returncode


def run(args, what):
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return check(False, what + " (timed out)")
    ok = check(p.returncode == 0, what)
    if not ok:
        print(p.stdout.decode("utf-8", "replace")[-3000:])
    return ok


def swaks(server_address, *extra):
    return [SWAKS, "--server", server_address, "--from", "sender@client.example",
            "--helo", "swaks.example", "--timeout", "30"] + list(extra)


def jsonl_messages(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    missing = [n for n, p in (("swaks", SWAKS), ("smtp-source", SMTP_SOURCE),
                              ("openssl", OPENSSL)) if p is None]
    if missing:
        print("SKIP: missing " + ", ".join(missing) + " (Debian packages swaks, postfix, openssl)")
        return 77

    workdir = tempfile.mkdtemp(prefix="smtph-serve-clients-")
    servers = []
    try:
        # ---- server A: self-signed, JSON Lines -------------------------------------------
        a_store = os.path.join(workdir, "A.jsonl")
        a = Server(binary, workdir, "A", ["--store", a_store, "--user", "bench:benchpass",
                                          "--user", "second:pass word"])
        servers.append(a)
        expected_a = 0
        check("listening on " + a.plain + " (plain)" in a.log(), "A: 'listening on' line")

        if run(swaks(a.plain, "--to", "alice@example.test"), "swaks plain"):
            expected_a += 1
        if run(swaks(a.plain, "--to", "alice@example.test", "--tls"), "swaks STARTTLS"):
            expected_a += 1
        if run(swaks(a.implicit, "--to", "bob@example.test", "--tlsc"), "swaks implicit TLS"):
            expected_a += 1
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            if run(swaks(a.plain, "--to", "bob@example.test", "--tls", "--auth", mech,
                         "--auth-user", "bench", "--auth-password", "benchpass"),
                   "swaks STARTTLS + AUTH " + mech):
                expected_a += 1
        if run(swaks(a.plain, "--to", "alice@example.test", "--auth", "PLAIN", "--auth-user",
                     "second", "--auth-password", "pass word"),
               "swaks AUTH PLAIN without TLS (allowed on A)"):
            expected_a += 1
        bad = subprocess.run(swaks(a.plain, "--to", "alice@example.test", "--auth", "PLAIN",
                                   "--auth-user", "bench", "--auth-password", "wrong"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        check(bad.returncode != 0 and b"535" in bad.stdout, "swaks wrong password gets 535")
        unknown = subprocess.run(swaks(a.plain, "--to", "no-such-user@example.test"),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=TIMEOUT)
        check(unknown.returncode != 0 and b"550" in unknown.stdout,
              "swaks unknown recipient gets 550")

        # Python smtplib against A (no verification: A's certificate exists only in memory).
        try:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            host, port = a.host_port()
            with smtplib.SMTP(host, port, local_hostname="py.example", timeout=TIMEOUT) as s:
                s.starttls(context=ctx)
                s.login("bench", "benchpass")
                refused = s.sendmail("py@client.example", ["alice@example.test", "bob@example.test"],
                                     b"Subject: smtplib A\r\n\r\nline\r\n.leading dot\r\n")
                check(refused == {}, "smtplib STARTTLS + login + sendmail on A")
                expected_a += 1
        except Exception as e:  # noqa: BLE001 - any failure is a test failure
            check(False, f"smtplib on A: {e!r}")

        # Postfix smtp-source: 20 parallel sessions, 200 messages of 1000 bytes each.
        if run([SMTP_SOURCE, "-s", "20", "-m", "200", "-l", "1000", "-f", "source@client.example",
                "-t", "alice@example.test", a.plain], "smtp-source -s 20 -m 200 -l 1000"):
            expected_a += 200
        # Hundreds of concurrent sessions from a real client.
        if run([SMTP_SOURCE, "-s", "200", "-m", "400", "-l", "200", "-f", "burst@client.example",
                "-t", "bob@example.test", a.plain], "smtp-source -s 200 -m 400 -l 200"):
            expected_a += 400

        status = a.stop()
        check(status == 0, f"A exits 0 after SIGTERM (got {status})")
        check(not os.path.exists(a.port_file), "A removed its port file")
        messages = jsonl_messages(a_store)
        check(len(messages) == expected_a,
              f"A stored {len(messages)} messages, expected {expected_a}")
        check(all(base64.b64decode(m["data_base64"]) is not None and
                  len(base64.b64decode(m["data_base64"])) == m["size"] for m in messages),
              "A: data_base64 decodes to size bytes")
        source = [m for m in messages if m["mail_from"] == "source@client.example"]
        check(len(source) == 200 and all(m["rcpt_to"] == ["alice@example.test"] for m in source),
              f"A: 200 smtp-source messages with their envelope (got {len(source)})")
        burst = [m for m in messages if m["mail_from"] == "burst@client.example"]
        check(len(burst) == 400 and len({m["session"] for m in burst}) >= 200,
              f"A: 400 smtp-source burst messages over >= 200 sessions (got {len(burst)})")
        py = [m for m in messages if m["mail_from"] == "py@client.example"]
        check(len(py) == 1 and py[0]["tls"] and py[0]["auth_user"] == "bench" and
              py[0]["rcpt_to"] == ["alice@example.test", "bob@example.test"] and
              py[0]["data_text"].endswith("line\r\n.leading dot\r\n"),
              "A: smtplib message envelope and dot-unstuffed bytes")
        check(any(m["listener_kind"] == "implicit-tls" for m in messages),
              "A: a message over the implicit-TLS listener")
        check({m["auth_user"] for m in messages} >= {None, "bench", "second"},
              "A: auth users recorded")

        # ---- server B: certificate files, AUTH requires TLS, maildir ----------------------
        cert = os.path.join(workdir, "cert.pem")
        key = os.path.join(workdir, "key.pem")
        gen = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                              cert, "-days", "2", "-subj", "/CN=localhost",
                              "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        if not check(gen.returncode == 0, "openssl made a certificate"):
            print(gen.stdout.decode("utf-8", "replace"))
            return 1
        maildir = os.path.join(workdir, "B", "Maildir")
        b = Server(binary, workdir, "B", ["--cert", cert, "--key", key, "--auth-requires-tls",
                                          "--store", maildir, "--hostname", "b.example.test"])
        servers.append(b)
        expected_b = 0
        verify = ssl.create_default_context(cafile=cert)
        host, port = b.host_port()
        try:
            with smtplib.SMTP(host, port, local_hostname="py.example", timeout=TIMEOUT) as s:
                code, _ = s.ehlo()
                check(code == 250 and not s.has_extn("auth"), "B: no AUTH before STARTTLS")
                try:
                    s.login("bench", "benchpass")
                    check(False, "B: login before STARTTLS must fail")
                except smtplib.SMTPException:
                    check(True, "B: login before STARTTLS refused")
                s.starttls(context=verify)
                s.ehlo("py.example")
                check(s.has_extn("auth"), "B: AUTH offered after STARTTLS")
                s.login("bench", "benchpass")
                s.sendmail("py@client.example", ["postmaster@example.test"],
                           b"Subject: verified\r\n\r\nbody\r\n")
                expected_b += 1
            check(True, "smtplib STARTTLS with certificate verification + login on B")
        except Exception as e:  # noqa: BLE001
            check(False, f"smtplib STARTTLS on B: {e!r}")
        try:
            ihost, iport = b.host_port("implicit-tls")
            with smtplib.SMTP_SSL(ihost, iport, local_hostname="py.example", context=verify,
                                  timeout=TIMEOUT) as s:
                s.login("bench", "benchpass")
                s.sendmail("py2@client.example", ["alice@example.test"], b"implicit\r\n")
                expected_b += 1
            check(True, "smtplib SMTP_SSL (implicit TLS, verified) + login on B")
        except Exception as e:  # noqa: BLE001
            check(False, f"smtplib SMTP_SSL on B: {e!r}")
        if run(swaks(b.plain, "--to", "alice@example.test", "--tls", "--auth", "PLAIN",
                     "--auth-user", "bench", "--auth-password", "benchpass"),
               "swaks STARTTLS + AUTH on B"):
            expected_b += 1

        # A session open at shutdown gets 421 (RFC 5321 §3.8), then the connection closes.
        sock = socket.create_connection(b.host_port(), timeout=TIMEOUT)
        f = sock.makefile("rb")
        greeting = f.readline()
        sock.sendall(b"EHLO raw.example\r\n")
        while True:
            line = f.readline()
            if not line or line[3:4] == b" ":
                break
        b.proc.send_signal(signal.SIGTERM)
        reply = f.readline()
        rest = f.read()
        sock.close()
        check(greeting.startswith(b"220 b.example.test"), "B: greeting names --hostname")
        check(reply.startswith(b"421 4.3.2"), f"B: 421 on SIGTERM (got {reply!r})")
        check(rest == b"", "B: connection closed after the 421")
        status = b.wait_exit()
        check(status == 0, f"B exits 0 after SIGTERM (got {status})")
        new = sorted(os.listdir(os.path.join(maildir, "new")))
        check(len(new) == expected_b, f"B stored {len(new)} messages, expected {expected_b}")
        check(os.listdir(os.path.join(maildir, "tmp")) == [], "B: maildir tmp/ empty")
        check(all(os.path.exists(os.path.join(maildir, "envelope", n + ".json")) for n in new),
              "B: an envelope per message")
        bodies = []
        for n in new:
            with open(os.path.join(maildir, "new", n), "rb") as fh:
                bodies.append(fh.read())
        check(b"Subject: verified\r\n\r\nbody\r\n" in bodies, "B: exact bytes in new/")

        # ---- usage errors ------------------------------------------------------------------
        p = subprocess.run([binary, "serve", "--listen", "0.0.0.0:0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        check(p.returncode == 2 and b"--allow-non-loopback" in p.stderr,
              "non-loopback listen refused with exit 2")
        p = subprocess.run([binary, "serve", "--quirk", "nope"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        check(p.returncode == 2, "unknown quirk: exit 2")
        p = subprocess.run([binary, "serve", "--list-quirks"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        check(p.returncode == 0 and b"accept-lf-dot-lf" in p.stdout, "--list-quirks")
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        if failures:
            for s in servers:
                print(f"---- serve {os.path.basename(s.dir)} stderr (tail) ----")
                print(s.log()[-4000:])
        shutil.rmtree(workdir, ignore_errors=True)

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
