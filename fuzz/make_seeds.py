#!/usr/bin/env python3
"""Write the seed corpora corpus/fuzz_<unit>/<sha256 of content> (see fuzz/README.md).

Seeds come from RFC 5321 examples (Appendix D and the section texts), RFC 3463 / 2034 / 3030
/ 4954 / 1870 / 9422 examples, the SMTP smuggling sequences of FIELD.md §5, and recorded
EHLO transcripts of real servers (swaks output, `<-` server lines and `->` client lines):
    fuzz/make_seeds.py [--transcripts DIR]...   (default: ../shared/servers/ehlo if present)
Idempotent: a seed's file name is the SHA-256 of its bytes, existing files are kept (crash
regressions live in the same directories). Flags trailer convention: see fuzz/fuzz_common.h
(the last byte XOR '\\n' selects options, so a seed ending in CR LF is strict and default).
"""
import argparse
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRLF = b"\r\n"


def lines(*ls):
    return b"".join(l.encode("latin-1") + CRLF for l in ls)


def flagged(data, flags):
    """Append a trailer byte so that the target sees `flags` (last byte XOR LF)."""
    return data + bytes([flags ^ 0x0A])


# The 13 non-canonical end-of-data sequences (FIELD.md §5), in EodCandidate order.
SMUGGLING = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n",
             b"\r\n.\r", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\r\n.\r\r\n",
             b"\r\r\n.\r\n", b"\r\r\n.\r\r\n"]


def parse_transcript(path):
    """swaks transcript -> list of (server_bytes, client_bytes) per session (plaintext part)."""
    sessions, server, client = [], [], []
    with open(path, "rb") as f:
        for raw in f.read().split(b"\n"):
            line = raw.rstrip(b"\r")
            if line.startswith(b"=== Trying") and (server or client):
                sessions.append((b"".join(server), b"".join(client)))
                server, client = [], []
            if line.startswith(b"<-  "):
                server.append(line[4:] + CRLF)
            elif line.startswith(b" -> "):
                client.append(line[4:] + CRLF)
    if server or client:
        sessions.append((b"".join(server), b"".join(client)))
    return sessions


def split_replies(server):
    """Server bytes -> list of whole replies (a reply ends at a line with SP after the code)."""
    out, cur = [], b""
    for l in server.split(CRLF)[:-1]:
        cur += l + CRLF
        if len(l) < 4 or l[3:4] != b"-":
            out.append(cur)
            cur = b""
    if cur:
        out.append(cur)
    return out


RFC_D1_SERVER = lines(
    "220 foo.com Simple Mail Transfer Service Ready",
    "250-foo.com greets bar.com", "250-8BITMIME", "250-SIZE", "250-DSN", "250 HELP",
    "250 OK", "250 OK", "550 No such user here", "250 OK",
    "354 Start mail input; end with <CRLF>.<CRLF>", "250 OK",
    "221 foo.com Service closing transmission channel")
RFC_D1_CLIENT = lines(
    "EHLO bar.com", "MAIL FROM:<Smith@bar.com>", "RCPT TO:<Jones@foo.com>",
    "RCPT TO:<Green@foo.com>", "RCPT TO:<Brown@foo.com>", "DATA") + lines(
    "Blah blah blah...", "...etc. etc. etc.", ".", "QUIT")

REPLIES = [
    RFC_D1_SERVER,
    lines("220 foo.com Simple Mail Transfer Service Ready"),
    lines("250-First line", "250-Second line", "250-234 Text beginning with numbers",
          "250 The last line"),  # RFC 5321 §4.2.1
    lines("251 User not local; will forward to <forward-path>"),
    lines("252 Cannot VRFY user, but will accept message and attempt delivery"),
    lines("354 Start mail input; end with <CRLF>.<CRLF>"),
    lines("421 <domain> Service not available, closing transmission channel"),
    lines("450 4.2.0 Mailbox busy", "451 4.3.0 Local error in processing",
          "452 4.5.3 Too many recipients"),
    lines("500 5.5.2 Syntax error, command unrecognized",
          "501 5.5.4 Syntax error in parameters or arguments",
          "502 5.5.1 Command not implemented", "503 5.5.1 Bad sequence of commands",
          "504 5.5.4 Command parameter not implemented"),
    lines("550-5.7.1 Relaying denied.", "550-5.7.1 Please authenticate first,",
          "550 5.7.1 see RFC 4954"),
    lines("550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"),
    lines("552 5.3.4 Message size exceeds fixed limit"),
    lines("553 5.1.3 Bad recipient address syntax", "554 5.5.0 Transaction failed"),
    lines("555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented"),
    lines("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful"),
    lines("535 5.7.8 Authentication credentials invalid", "530 5.7.0 Authentication required"),
    lines("220 2.0.0 Ready to start TLS"),
    lines("250 2.0.0 Ok: queued as 4Wd2x71vQFz9t"),
    lines("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.6.0 Message accepted"),
    lines("250 ", "250"),
    lines("250-", "250-a", "250 b"),
    # Malformed (each one stops the parser with a diagnostic).
    lines("250-mixed", "251 codes"),                  # multiline_code_mismatch
    lines("2x0 not a code"),                           # bad_reply_code
    lines("650 out of range"), lines("260 second digit"),
    lines("250_bad separator"),
    lines("25"),
    b"250 no line end",                                # unexpected_eof
    b"250-unfinished\r\n",                             # unexpected_eof inside a reply
    b"250 bare LF\n",                                  # bare_lf
    b"250 bare\rCR\r\n",                               # bare_cr
    b"250 NUL\x00here\r\n",                            # nul_byte
    lines("250 8-bit \xe9t\xe9 text", "250 ctrl \x01 char"),
    lines("250 " + "x" * 506),                         # exactly 512 octets
    lines("250 " + "x" * 507),                         # 513: line_too_long
    lines(*(["250-line"] * 20 + ["250 last"])),        # more than reply_lines (16 in fuzzing)
    lines("250 6.1.1 malformed status", "250 2.01.1 leading zero", "550 2.1.1 wrong class"),
    lines("250-2.1.0 first", "250 2.1.5 second differs"),
    # Tolerances via the trailer byte (flags bit 0 bare_lf, 1 bare_cr, 2 nul, 3 long_line).
    flagged(b"250-bare\n250 LF\n", 0x01),
    flagged(b"250 bare\rCR\r\n", 0x02),
    flagged(b"250 nul\x00\r\n", 0x04),
    flagged(lines("250 " + "y" * 700), 0x08),
    flagged(lines("250-a", "250-b", "250 c"), 0x10),   # reply_lines = 2
    flagged(lines("250 a line longer than forty octets, for sure"), 0x20),
    flagged(RFC_D1_SERVER, 0x80),                      # byte by byte
]

COMMANDS = [
    RFC_D1_CLIENT,
    lines("HELO bar.com", "MAIL FROM:<>", "RCPT TO:<Postmaster>", "DATA", "RSET", "NOOP",
          "QUIT"),
    lines("EHLO [192.0.2.1]", "EHLO [IPv6:2001:db8::1]", "HELO localhost"),
    lines("VRFY Crispin", "VRFY <Crispin@example.com>", "EXPN Example-People",
          "HELP", "HELP MAIL", "NOOP anything"),
    lines("MAIL FROM:<userx@y.foo.org>", "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>"),
    lines("RCPT TO:<\"quoted local\"@example.com>", "RCPT TO:<\"a\\\"b\"@example.com>",
          "RCPT TO:<user@[127.0.0.1]>", "RCPT TO:<user@[IPv6:::1]>",
          "RCPT TO:<user@[IPv6:::ffff:192.0.2.1]>", "RCPT TO:<user@[tag:content]>"),
    lines("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME",
          "MAIL FROM:<a@b.example> BODY=BINARYMIME SMTPUTF8 RET=HDRS ENVID=QQ314159",
          "MAIL FROM:<a@b.example> AUTH=<> BY=120;R REQUIRETLS MT-PRIORITY=3",
          "RCPT TO:<a@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@b.example",
          "RCPT TO:<a@b.example> NOTIFY=NEVER"),
    lines("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", "AUTH LOGIN", "AUTH PLAIN =", "AUTH CRAM-MD5",
          "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB2RjlkZnQ0cU1UYzJOekF6TkRjeU5qSWpNRE01TVRRPQEB"),
    lines("BDAT 86 LAST", "BDAT 0 LAST", "BDAT 1000", "BDAT 007"),
    lines("STARTTLS", "ETRN @example.com", "ETRN #queue", "ATRN example.com,example.org",
          "TURN", "SEND FROM:<a@b>", "SOML FROM:<a@b>", "SAML FROM:<a@b>"),
    lines("mail from:<lower@case.example>", "rcpt to:<x@y.example>", "ehlo lower.example"),
    # Non-conformant and hostile.
    lines("MAIL FROM: <space@after.colon>", "RCPT TO: <a@b>"),
    lines("MAIL FROM:a@b", "RCPT TO:<a@b", "RCPT TO:<>", "MAIL FROM:<Postmaster>",
          "MAIL FROM:<a@b> SIZE=abc", "MAIL FROM:<a@b> SIZE=1 SIZE=2", "MAIL FROM:<a@b> =x",
          "RCPT TO:<a..b@c>", "RCPT TO:<.a@c>", "RCPT TO:<a@-c>", "RCPT TO:<a@c.>",
          "RCPT TO:<a@[300.1.1.1]>", "RCPT TO:<a@[IPv6:::g]>"),
    lines("RCPT TO:<" + "l" * 65 + "@example.com>", "RCPT TO:<a@" + "d" * 256 + ">"),
    lines("XYZZY", "EHLO", "DATA extra", "QUIT now", "BDAT", "BDAT x", "AUTH"),
    lines("MAIL FROM:<\xfc@b.example> SMTPUTF8", "RCPT TO:<\xe4@\xf6.example>"),
    b"EHLO bare.lf\nMAIL FROM:<a@b>\n",
    b"EHLO nul\x00.example\r\nQUIT\r\n",
    b"NOOP bare\rcr\r\nQUIT",
    lines("NOOP " + "n" * 600),
    flagged(b"EHLO lf.example\nQUIT\n", 0x01),
    flagged(lines("MAIL FROM: <a@b.example>"), 0x10),
    flagged(lines("MAIL FROM:<\xfc@b.example> SMTPUTF8"), 0x20),
    flagged(lines("MAIL FROM:<abcdefghij@example.com>", "RCPT TO:<a@" + "d" * 30 + ">"), 0x40),
    flagged(RFC_D1_CLIENT, 0x80),
]

ADDRESSES = [
    b"<Smith@bar.com>", b"<>", b"<Postmaster>", b"<postmaster>", b"<Postmaster@example.com>",
    b"<@hosta.int,@jkl.org:userc@d.bar.org>", b"<\"quoted local\"@example.com>",
    b"<\"a\\\"b\\\\c\"@example.com>", b"<user@[127.0.0.1]>", b"<user@[IPv6:2001:db8::1]>",
    b"<user@[IPv6:::ffff:192.0.2.1]>", b"<user@[IPv6:1:2:3:4:5:6:7:8]>", b"<user@[tag:content]>",
    b"<first.last+tag@sub.example.co.uk>", b"<a@b> SIZE=10", b"<a@b>garbage",
    b"Smith@bar.com", b"first.last@sub.example.com", b"\"q\"@example.com", b"a@[10.0.0.1]",
    b"<\xfc\xf1\xee@\xe4\xf6.example>", "<\u00fc@\u4f8b\u3048.jp>".encode(),
    "\u00fc@\u4f8b\u3048.jp".encode(), b"<xn--bcher-kva.example@xn--bcher-kva.example>",
    b"<a..b@c>", b"<.a@c>", b"<a.@c>", b"<a@-c>", b"<a@c->", b"<a@c.>", b"<a@.c>", b"<a@c..d>",
    b"<a@[300.1.1.1]>", b"<a@[IPv6:::g]>", b"<a@[IPv6:1::2::3]>", b"<a@[1.2.3]>", b"<a@b",
    b"a@b>", b"<@a:b@c>", b"<@a,b@c>", b"<a b@c>", b"<\"unterminated@c>",
    b"<" + b"l" * 65 + b"@example.com>", b"<a@" + b"d" * 256 + b">",
    b"<" + b"l" * 64 + b"@" + b"d" * 63 + b"." + b"e" * 63 + b"." + b"f" * 60 + b">",
]

EHLO_REPLIES = [
    lines("250-foo.com greets bar.com", "250-8BITMIME", "250-SIZE", "250-DSN", "250 HELP"),
    lines("250-mx.example.com Hello [192.0.2.1]", "250-SIZE 35882577", "250-8BITMIME",
          "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
          "250-ENHANCEDSTATUSCODES", "250-PIPELINING", "250-CHUNKING", "250 SMTPUTF8"),
    lines("250-mail.example Hello", "250-LIMITS RCPTMAX=100 MAILMAX=10 RCPTDOMAINMAX=5",
          "250-DELIVERBY 240", "250-MT-PRIORITY MIXER", "250-REQUIRETLS", "250-BINARYMIME",
          "250-ETRN", "250-ATRN", "250-DSN", "250 STARTTLS"),
    lines("250-legacy.example", "250-AUTH=PLAIN LOGIN", "250-AUTH PLAIN LOGIN", "250 SIZE"),
    lines("250-[192.0.2.1] hi", "250 SIZE 0"),
    lines("250-dup.example", "250-SIZE 1000", "250-SIZE 2000", "250-PIPELINING x",
          "250-BAD_KEYWORD", "250-LIMITS RCPTMAX=x", "250-DELIVERBY 1234567890", "250 "),
    lines("250 only.domain.example"),
    lines("502 5.5.1 EHLO not supported"),
    lines("250-sp  two.spaces.example", "250-SIZE  100", "250 -dash"),
    flagged(b"250-direct\n8BITMIME\nSIZE 12\x00\n\xff\xfe\nAUTH PLAIN\r\n", 0x01),
]

ENHANCED = [
    b"2.0.0", b"2.1.0 Sender OK", b"2.1.5 Destination address valid", b"2.6.0", b"4.2.2",
    b"4.4.1 No answer from host", b"4.7.0", b"5.1.1 <a@b>: Recipient address rejected",
    b"5.1.10", b"5.7.1 Relay access denied", b"5.7.26", b"5.7.999", b"5.999.999", b"5.3.4",
    b"5.5.1", b"5.0.0", b"4.0.0",
    b"6.0.0", b"5.01.1", b"5.1.01", b"5.1000.1", b"5.1", b"5..1", b"5.1.1x", b".1.1", b"5.1.",
    b"2.1.0\tTAB", b"2.1.0  two spaces", b"3.1.1", b"",
]


MESSAGE = lines(
    "Return-Path: <alice@example.org>",
    "Received: from client.example.test ([192.0.2.10]) by mx.example.com with ESMTPS id 4Wd2x7",
    "        for <bob@example.com>; Wed, 25 Nov 2026 11:22:12 +0000",
    "From: Alice <alice@example.org>", "To: Bob <bob@example.com>",
    "Subject: Quarterly figures and the meeting on Thursday",
    "Date: Wed, 25 Nov 2026 11:22:10 +0000", "Message-ID: <20261125112210.1234@example.org>",
    "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit", "",
    "Hello Bob,", "",
    "here are the figures we talked about. The numbers for the third quarter came in a",
    "little above what we planned, mostly because two large orders were delivered early.",
    "I attached nothing this time; everything is in the shared folder as usual.",
    "",
    ".. and a line that starts with two dots, to keep the transparency rule honest.",
    ".single leading dot",
    "",
    "Thursday works for me. Shall we say 10:30 in the small meeting room? If that does",
    "not suit you, any time after lunch is fine as well. Please bring the draft budget so",
    "we can go through it line by line; the board wants it before the end of the month.",
    "", "Best regards,", "Alice", "", "-- ", "Alice Example, Finance", "Example Org")


def stuff(m):
    """dot_stuff() of dot_stuffing.h, for seeds."""
    out, start = bytearray(), True
    for i, b in enumerate(m):
        if start and b == 0x2E:
            out.append(0x2E)
        out.append(b)
        start = b == 0x0A and i > 0 and m[i - 1] == 0x0D
    if m and not m.endswith(CRLF):
        out += CRLF
    return bytes(out) + b".\r\n"


def data_seeds():
    seeds = [
        stuff(MESSAGE),
        stuff(MESSAGE) + lines("MAIL FROM:<alice@example.org>", "RCPT TO:<carol@example.com>",
                               "DATA"),
        b".\r\n",
        lines("Blah blah blah...", "...etc. etc. etc.") + b".\r\n",          # RFC 5321 D.1
        lines("From: a@b.example", "To: c@d.example", "Subject: test", "", "Hello.") + b".\r\n",
        lines("..stuffed", ".", "..", "...") + b".\r\nMAIL FROM:<next@example>\r\n",
        lines("no end yet"),
        b"partial dot at end\r\n.",
        b"partial\r\n.\r",
        lines("x" * 1100) + b".\r\n",                                         # text_line_too_long
        b"bare LF\nbare CR\rNUL\x00\r\n.\r\n",
    ]
    for i, seq in enumerate(SMUGGLING):
        body = b"Subject: smuggle\r\n\r\nfirst" + seq
        seeds.append(body + b"MAIL FROM:<evil@example>\r\nRCPT TO:<v@example>\r\nDATA\r\n"
                     b"smuggled\r\n.\r\n")
        # The same with the candidate accepted (quirk mode): flags bit 0 + accept bits.
        accept = 1 << i
        lo, hi = accept & 0xFF, (accept >> 8) & 0x1F
        seeds.append(body + b"tail" + bytes([lo]) + bytes([(0x01 | hi << 1) ^ 0x0A]))
    seeds.append(b"a\r\n.\r\nQUIT\r\n")
    seeds.append(flagged(lines("0123456789abcdefghij", ".short") + b".\r\n", 0x40))
    seeds.append(flagged(lines("Blah", "..x") + b".\r\n", 0x80))
    return seeds


def roundtrip_seeds():
    return [
        MESSAGE, MESSAGE[:-2],
        b"", b"\r\n", b".", b".\r\n", b"..\r\n", b"no final crlf", b"line\r\n.dot\r\n",
        lines("From: a@b.example", "Subject: hi", "", ".", "..", ".x", "end"),
        b"bare\nLF\n.\n", b"bare\rCR\r.\r", b"\r\n.\r\n", b"a\r\n.\r\nb",
        b"".join(SMUGGLING), b"x" * 1200 + b"\r\n", b"\r\r\n.\r\r\n",
    ]


def framer_seeds():
    return [
        RFC_D1_CLIENT, RFC_D1_SERVER, b"", b"\r\n", b"\n", b"\r", b"a\rb\nc\x00d\r\n",
        b"x" * 600 + b"\r\nnext\r\n", b"eof without crlf", b"cr at end\r",
        flagged(b"lf\nlines\n", 0x01), flagged(b"cr\rkept\r\n", 0x02),
        flagged(b"nul\x00kept\r\n", 0x04), flagged(b"y" * 700 + b"\r\n", 0x08),
        flagged(b"limit 3\r\nab\r\nabc\r\n", 0x20), flagged(b"limit 40 cap 40 " * 4 + b"\r\n", 0x70),
        flagged(RFC_D1_SERVER, 0x80),
    ]


def write(unit, seeds):
    d = os.path.join(ROOT, "corpus", "fuzz_" + unit)
    os.makedirs(d, exist_ok=True)
    new = 0
    for s in seeds:
        if len(s) > 4096:
            sys.exit("seed over max_len 4096 for %s" % unit)
        p = os.path.join(d, hashlib.sha256(s).hexdigest())
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(s)
            new += 1
    print("corpus/fuzz_%s: %d seeds (%d new)" % (unit, len(set(seeds)), new))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.path.join(os.path.dirname(ROOT), "shared", "servers", "ehlo")
    if not os.path.isdir(default):
        default = "/work/shared/servers/ehlo"
    ap.add_argument("--transcripts", action="append", default=None,
                    help="directory of swaks transcripts (*.txt)")
    args = ap.parse_args()
    dirs = args.transcripts or ([default] if os.path.isdir(default) else [])

    replies, commands, ehlos = list(REPLIES), list(COMMANDS), list(EHLO_REPLIES)
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if not name.endswith(".txt"):
                continue
            for server, client in parse_transcript(os.path.join(d, name)):
                if server:
                    replies.append(server)
                    for r in split_replies(server):
                        if r.startswith(b"250-"):
                            ehlos.append(r)
                if client:
                    commands.append(client)

    write("reply_parser", replies)
    write("command_parser", commands)
    write("address", ADDRESSES)
    write("ehlo", ehlos)
    write("enhanced_status", ENHANCED)
    write("data_decoder", data_seeds())
    write("dot_stuffing_roundtrip", roundtrip_seeds())
    write("line_framer", framer_seeds())
    write("baseline_memchr", [RFC_D1_CLIENT, RFC_D1_SERVER])


if __name__ == "__main__":
    main()
