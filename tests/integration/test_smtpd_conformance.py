"""qmail-smtpd conformance: one test per documented behaviour of
qmail-smtpd(8), qmail-control(5), tcp-environ(5) and the RFCs it claims
(RFC 5321 SMTP, RFC 1870 SIZE, RFC 2920 PIPELINING, RFC 2034/3463 enhanced
status codes, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8). The real qmail-smtpd
runs in a fresh home (config-fast example.test), over pipes or behind a
127.0.0.1 accept loop as under tcpserver; queued messages are read from
the queue."""
import os
import re
import socket
import subprocess
import time
import unittest

from test_smtpd import TCPENV, SmtpdTestCase, envelope

MSG = b"Subject: hi\r\n\r\nbody\r\n"


def replies(out):
    """Splits the server's output into replies: [(code, [text lines])]."""
    res = []
    cur = []
    for line in out.split("\r\n"):
        if len(line) < 3:
            continue
        cur.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            res.append((int(line[:3]), cur))
            cur = []
    return res


class Client:
    """A raw SMTP client on a socket: send a line, read one whole reply."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            b = self.s.recv(4096)
            if not b:
                raise EOFError(self.buf)
            self.buf += b
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def send(self, text):
        self.s.sendall(text.encode() if isinstance(text, str) else text)

    def eof(self):
        """True once the server closed the connection (after any data)."""
        while True:
            b = self.s.recv(4096)
            if not b:
                return True
            self.buf += b

    def close(self):
        self.s.close()


class Conformance(SmtpdTestCase):
    def client(self, **env):
        c = Client(self.listener(**env).port)
        self.addCleanup(c.close)
        return c

    def session(self, data, **env):
        out, rc, err = self.smtpd(data, **env)
        return replies(out)

    def code_list(self, data, **env):
        return [c for c, _ in self.session(data, **env)]


class Greeting(Conformance):
    def test_greeting_is_220_me_esmtp(self):
        # qmail-smtpd(8) smtpgreeting: default me.
        r = self.session(b"QUIT\r\n")
        self.assertEqual(r[0], (220, ["example.test ESMTP"]))

    def test_smtpgreeting_first_word_is_the_host(self):
        # qmail-control(5)/qmail-smtpd(8): the first word of smtpgreeting is
        # the host's name; HELO, EHLO and QUIT answer with it (RFC 5321
        # 4.1.1.1: "250 Domain [SP greeting]").
        self.home.control("smtpgreeting", "mx.example.test Welcome to the test\n")
        r = self.session(b"HELO c.test\r\nEHLO c.test\r\nQUIT\r\n")
        self.assertEqual(r[0], (220, ["mx.example.test Welcome to the test ESMTP"]))
        self.assertEqual(r[1], (250, ["mx.example.test Welcome to the test"]))
        self.assertEqual(r[2][1][0], "mx.example.test Welcome to the test")
        self.assertEqual(r[3][0], 221)
        self.assertIn("mx.example.test", r[3][1][0])

    def test_no_me_no_greeting_refuses_to_run(self):
        # qmail-smtpd(8): without smtpgreeting and me it refuses to run.
        os.unlink(self.home.path("control", "me"))
        out, rc, _ = self.smtpd(b"QUIT\r\n")
        self.assertFalse(out.startswith("220"), out)
        self.assertTrue(out.startswith("421 "), out)
        self.assertNotEqual(rc, 0)


    def test_smtpgreeting_without_me(self):
        # qmail-smtpd(8): smtpgreeting defaults to me "if that is supplied";
        # with smtpgreeting, me is not needed.
        os.unlink(self.home.path("control", "me"))
        self.home.control("smtpgreeting", "greet.example.test hi\n")
        r = self.session(envelope(rcpts=["u@example.test"]) + b"QUIT\r\n")
        self.assertEqual([c for c, _ in r], [220, 250, 250, 250, 354, 250, 221])
        self.assertEqual(r[0][1], ["greet.example.test hi ESMTP"])


class Commands(Conformance):
    def test_case_insensitive_commands(self):
        # RFC 5321 2.4: verbs and the FROM:/TO: keywords in any case.
        data = (b"eHlO c.test\r\nmail from:<a@b.test>\r\nRcPt To:<u@example.test>\r\n"
                b"data\r\n" + MSG + b".\r\nnoop\r\nrset\r\nvrfy u\r\nhelp\r\nquit\r\n")
        self.assertEqual(self.code_list(data), [220, 250, 250, 250, 354, 250, 250, 250, 252, 214,
                                                221])
        self.assertEqual(len(self.queued()), 1)

    def test_simple_replies(self):
        # RFC 5321 4.1.1.5 RSET, 4.1.1.9 NOOP, 4.1.1.6 VRFY (252 as qmail:
        # "send some mail, i'll try my best"), 4.1.1.8 HELP 214, QUIT 221.
        r = self.session(b"HELO c.test\r\nNOOP\r\nNOOP with args\r\nRSET\r\nVRFY u@example.test\r\n"
                         b"HELP\r\nHELP MAIL\r\nQUIT\r\n")
        self.assertEqual([c for c, _ in r], [220, 250, 250, 250, 250, 252, 214, 214, 221])

    def test_quit_closes_the_connection(self):
        c = self.client()
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assertTrue(c.eof())

    def test_unknown_commands(self):
        # RFC 5321 4.2.4: 500 or 502 for a command not known; qmail says 502.
        r = self.session(b"FOO\r\nBDAT 10 LAST\r\nAUTH LOGIN\r\nTURN\r\n\r\nEXPN list\r\nQUIT\r\n")
        for code, _ in r[1:-1]:
            self.assertIn(code, (500, 502))
        self.assertEqual(r[-1][0], 221)

    def test_helo_and_ehlo(self):
        r = self.session(b"HELO c.test\r\nEHLO c.test\r\n")
        self.assertEqual(r[1], (250, ["example.test"]))
        self.assertEqual(r[2][0], 250)
        ext = [l.split(" ")[0].upper() for l in r[2][1][1:]]
        for want in ["PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES", "SMTPUTF8"]:
            self.assertIn(want, ext)

    def test_helo_needs_a_domain(self):
        # RFC 5321 4.1.1.1: helo = "HELO" SP Domain; 501 without one.
        self.assertEqual(self.code_list(b"HELO\r\nEHLO\r\nEHLO  \r\nHELO c.test\r\n"),
                         [220, 501, 501, 501, 250])

    def test_command_line_of_512_octets(self):
        # RFC 5321 4.5.3.1.4: command lines of 512 octets (CRLF included);
        # 4.5.3.1.3: paths of 256 octets; 4.5.3.1.1: local parts of 64.
        local = "x" * (256 - len("<@example.test>"))
        line = "RCPT TO:<%s@example.test>\r\n" % local
        data = (b"EHLO c.test\r\nMAIL FROM:<" + b"l" * 64 + b"@b.test> BODY=8BITMIME SIZE=1000\r\n"
                b"NOOP " + b"y" * 505 + b"\r\n")
        self.assertEqual(len(b"NOOP " + b"y" * 505 + b"\r\n"), 512)
        self.assertEqual(self.code_list(data + line.encode()), [220, 250, 250, 250, 250])

    def test_overlong_command_line(self):
        # RFC 5321 4.2.2: 500 "command line too long"; the session goes on.
        r = self.session(b"NOOP " + b"x" * 10000 + b"\r\nNOOP\r\n")
        self.assertEqual([c for c, _ in r], [220, 500, 250])

    def test_lf_only_commands(self):
        # qmail-smtpd reads commands up to LF (a CR before it is dropped).
        self.assertEqual(self.code_list(b"HELO c.test\nNOOP\nQUIT\n"), [220, 250, 250, 221])


class Sequence(Conformance):
    def test_rcpt_before_mail(self):
        r = self.session(b"HELO c.test\r\nRCPT TO:<u@example.test>\r\n")
        self.assertEqual(r[2][0], 503)
        self.assertIn("5.5.1", r[2][1][0])

    def test_data_before_mail(self):
        self.assertEqual(self.code_list(b"HELO c.test\r\nDATA\r\n")[2], 503)

    def test_data_before_rcpt(self):
        self.assertEqual(self.code_list(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n")[3], 503)

    def test_data_when_every_rcpt_was_refused(self):
        # RFC 5321 3.3: 503 or "554 no valid recipients".
        r = self.session(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@evil.test>\r\n"
                         b"DATA\r\n" + MSG + b".\r\nQUIT\r\n")
        self.assertEqual(r[3][0], 553)
        self.assertIn(r[4][0], (503, 554))
        self.assertEqual(r[4], (554, ["5.5.1 no valid recipients (#5.5.1)"]))
        # The message text is then read as commands (each unknown), not queued.
        self.assertEqual(self.queued(), [])

    def test_nested_mail(self):
        # RFC 5321 4.1.4: MAIL inside a transaction is out of sequence.
        codes = self.code_list(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<c@d.test>\r\n")
        self.assertEqual(codes[3], 503)

    def test_rset_ends_the_transaction(self):
        codes = self.code_list(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\n"
                               b"RSET\r\nRCPT TO:<u@example.test>\r\nDATA\r\nMAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes, [220, 250, 250, 250, 250, 503, 503, 250])

    def test_ehlo_ends_the_transaction(self):
        # RFC 5321 4.1.4: EHLO in a transaction is like RSET first.
        codes = self.code_list(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\n"
                               b"EHLO c.test\r\nDATA\r\n")
        self.assertEqual(codes[-1], 503)

    def test_second_transaction_after_data(self):
        data = envelope() + b"MAIL FROM:<c@d.test>\r\nRCPT TO:<v@example.test>\r\nDATA\r\n" + MSG + \
            b".\r\nQUIT\r\n"
        self.assertEqual(self.code_list(data), [220, 250, 250, 250, 354, 250, 250, 250, 354, 250,
                                                221])
        self.assertEqual(sorted(q[0] for q in self.queued()), ["a@b.test", "c@d.test"])

    def test_mail_without_helo_is_accepted(self):
        # qmail-smtpd does not insist on HELO.
        self.assertEqual(self.code_list(b"MAIL FROM:<a@b.test>\r\n"), [220, 250])


class Paths(Conformance):
    def mail(self, arg, ehlo=b"EHLO c.test"):
        r = self.session(ehlo + b"\r\nMAIL FROM:" + arg + b"\r\n")
        return r[-1][0]

    def test_mail_syntax(self):
        self.assertEqual(self.mail(b"<a@b.test>"), 250)
        self.assertEqual(self.mail(b" <a@b.test>"), 250)  # qmail accepts the space
        self.assertEqual(self.mail(b"a@b.test"), 250)  # and a path without <>
        self.assertEqual(self.mail(b"<>"), 250)
        self.assertEqual(self.mail(b"<> SIZE=100"), 250)
        self.assertEqual(self.mail(b"<\"a b\"@b.test>"), 250)
        for bad in [b"<a@b.test", b"", b"<a@b.test>junk", b"<a@@b.test>", b"<a@b..test>",
                    b"<a b@c.test>", b"<a@[1.2.3]>"]:
            self.assertEqual(self.mail(bad), 501, bad)

    def test_mail_keyword_missing(self):
        codes = self.code_list(b"HELO c.test\r\nMAIL <a@b.test>\r\nMAIL FROM <a@b.test>\r\n"
                               b"MAIL\r\nRCPT <u@example.test>\r\n")
        self.assertEqual(codes[1:], [250, 501, 501, 501, 503])

    def test_null_sender_is_queued_empty(self):
        self.smtpd(envelope(sender=""))
        self.assertEqual(self.queued()[0][0], "")

    def test_rcpt_forms(self):
        rcpts = [b"<u@example.test>", b" <v@example.test>", b"w@example.test",
                 b"<@relay.test:x@example.test>", b"<\"y z\"@example.test>", b"<Postmaster>",
                 b"<postmaster@example.test>"]
        data = b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n"
        for r in rcpts:
            data += b"RCPT TO:" + r + b"\r\n"
        data += b"DATA\r\n" + MSG + b".\r\n"
        self.assertEqual(self.code_list(data)[3:3 + len(rcpts)], [250] * len(rcpts))
        got = self.queued()[0][1]
        self.assertEqual(got[:5], ["u@example.test", "v@example.test", "w@example.test",
                                   "x@example.test", "y z@example.test"])
        self.assertTrue(got[5].startswith("Postmaster"))

    def test_empty_forward_path(self):
        r = self.session(b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<>\r\n")
        self.assertEqual(r[3][0], 501)

    def test_path_lengths(self):
        # RFC 5321 4.5.3.1.3: paths up to 256 octets with the brackets.
        ok = "<" + "a" * (256 - len("<@example.test>")) + "@example.test>"
        self.assertEqual(len(ok), 256)
        self.assertEqual(self.mail(ok.encode()), 250)
        self.assertEqual(self.mail(b"<" + b"a" * 600 + b"@b.test>"), 501)

    def test_eight_bit_address_needs_smtputf8(self):
        # RFC 6531 3.4 / 3.7.4.1: 553 5.6.7 without SMTPUTF8.
        r = self.session("EHLO c.test\r\nMAIL FROM:<jörg@b.test>\r\n".encode())
        self.assertEqual(r[-1][0], 553)
        self.assertTrue(r[-1][1][0].startswith("5.6.7"))
        r = self.session("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<jörg@example.test>\r\n"
                         .encode())
        self.assertEqual(r[-1][0], 553)

    def test_smtputf8(self):
        data = ("EHLO c.test\r\nMAIL FROM:<jörg@b.test> SMTPUTF8\r\n"
                "RCPT TO:<ümlaut@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n").encode()
        self.assertEqual(self.code_list(data), [220, 250, 250, 250, 354, 250])
        q = self.queued()[0]
        self.assertEqual(q[0], "jörg@b.test")
        self.assertEqual(q[1], ["ümlaut@example.test"])


class Parameters(Conformance):
    def mail_codes(self, *lines, ehlo=b"EHLO c.test"):
        data = ehlo + b"\r\n"
        for l in lines:
            data += b"MAIL FROM:" + l + b"\r\nRSET\r\n"
        return self.code_list(data)[2::2]

    def test_known_parameters(self):
        self.assertEqual(self.mail_codes(b"<a@b.test> SIZE=1000", b"<a@b.test> BODY=8BITMIME",
                                         b"<a@b.test> BODY=7BIT", b"<a@b.test> SMTPUTF8",
                                         b"<a@b.test> size=10 body=8bitmime smtputf8",
                                         b"<> SIZE=0"),
                         [250] * 6)

    def test_unknown_parameters_555(self):
        # RFC 5321 4.1.1.11 and 4.2.2: 555 for parameters not recognized.
        r = self.session(b"EHLO c.test\r\nMAIL FROM:<a@b.test> FOO=BAR\r\n"
                         b"MAIL FROM:<a@b.test> RET=HDRS\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"
                         b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test> NOTIFY=NEVER\r\n")
        self.assertEqual([c for c, _ in r], [220, 250, 555, 555, 555, 250, 555])
        for _, text in r[2:5]:
            self.assertTrue(text[0].startswith("5.5.4"), text)

    def test_bad_size_value_501(self):
        # RFC 1870 size-value = 1*20DIGIT; a malformed parameter is 501.
        self.assertEqual(self.mail_codes(b"<a@b.test> SIZE=abc", b"<a@b.test> SIZE=",
                                         b"<a@b.test> SIZE", b"<a@b.test> SIZE=-1"),
                         [501] * 4)

    def test_declared_size_over_limit(self):
        # RFC 1870 6.1: 552 5.3.4 at MAIL when SIZE exceeds the limit.
        self.home.control("databytes", "1000\n")
        r = self.session(b"EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=1001\r\n"
                         b"MAIL FROM:<a@b.test> SIZE=1000\r\nRSET\r\n"
                         b"MAIL FROM:<> SIZE=99999999999999999999\r\n")
        self.assertIn("250-SIZE 1000", "\n".join("250-" + l for l in r[1][1]))
        self.assertEqual([c for c, _ in r[2:]], [552, 250, 250, 552])
        self.assertTrue(r[2][1][0].startswith("5.3.4"))

    def test_size_advertised(self):
        self.home.control("databytes", "12345\n")
        r = self.session(b"EHLO c.test\r\n")
        self.assertIn("SIZE 12345", r[1][1])


class EnhancedCodes(Conformance):
    def test_every_reply_has_an_enhanced_code(self):
        # RFC 2034 3: every 2xx/4xx/5xx reply but the greeting and the
        # HELO/EHLO replies carries class.subject.detail (RFC 3463).
        self.home.control("databytes", "50\n")
        data = (b"EHLO c.test\r\nNOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nRCPT TO:<u@example.test>\r\n"
                b"DATA\r\nMAIL FROM:<a@b.test> FOO\r\nMAIL FROM:<a@b.test> SIZE=x\r\n"
                b"MAIL FROM:<a@b.test> SIZE=51\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<c@d>\r\n"
                b"RCPT TO:<u@evil.test>\r\nDATA\r\nRCPT TO:<>\r\nRCPT TO:<u@example.test>\r\n"
                b"DATA\r\n" + b"x" * 100 + b"\r\n.\r\nMAIL FROM:<a@b.test>\r\n"
                b"RCPT TO:<u@example.test>\r\nDATA\r\n" + MSG + b".\r\nBOGUS\r\nNOOP " +
                b"x" * 5000 + b"\r\nQUIT\r\n")
        r = self.session(data)
        self.assertGreater(len(r), 20)
        for code, text in r[2:]:
            if code == 354:
                continue
            self.assertRegex(text[-1], r"^[245]\.\d{1,3}\.\d{1,3} ", (code, text))
            self.assertEqual(str(code)[0], text[-1][0], (code, text))
        self.assertTrue(any("ENHANCEDSTATUSCODES" == l for l in r[1][1]))


class Pipelining(Conformance):
    def test_pipelined_batch_over_tcp(self):
        # RFC 2920 3.1: the whole envelope in one write; replies in order.
        c = self.client()
        self.assertEqual(c.reply()[0], 220)
        c.cmd("EHLO c.test")
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\nRCPT TO:<x@evil.test>\r\n"
               b"RCPT TO:<v@example.test>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(5)], [250, 250, 553, 250, 354])
        c.send(MSG + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 221])
        self.assertEqual(self.queued()[0][1], ["u@example.test", "v@example.test"])


class Data(Conformance):
    def test_data_reply_has_qp(self):
        # qmail-smtpd: "250 ok <time> qp <pid of qmail-queue>".
        before = int(time.time())
        r = self.session(envelope() + b"QUIT\r\n")
        self.assertEqual(r[4][0], 354)
        self.assertEqual(r[5][0], 250)
        m = re.fullmatch(r"2\.0\.0 ok (\d+) qp (\d+)", r[5][1][0])
        self.assertIsNotNone(m, r[5])
        self.assertGreaterEqual(int(m.group(1)), before)
        self.assertGreater(int(m.group(2)), 1)

    def test_transparency(self):
        # RFC 5321 4.5.2 dot-stuffing; qmail-smtpd(8): CR LF becomes LF;
        # long lines and 8-bit bytes are accepted.
        long_line = b"z" * 5000
        msg = (b"Subject: t\r\n\r\n..one dot\r\n...\r\n" + long_line + b"\r\n" +
               bytes(range(0x80, 0x100)) + b"\r\n.x\r\n")
        self.assertEqual(self.code_list(envelope(msg=msg))[-1], 250)
        body = self.queued()[0][2].split(b"\n", 3)[3]
        self.assertEqual(body, b"Subject: t\n\n.one dot\n..\n" + long_line + b"\n" +
                         bytes(range(0x80, 0x100)) + b"\nx\n")

    def test_bare_lf_drops_the_connection(self):
        # qmail-smtpd(8): a temporary error, and the connection is dropped.
        c = self.client()
        c.reply()
        c.cmd("HELO c.test")
        c.cmd("MAIL FROM:<a@b.test>")
        c.cmd("RCPT TO:<u@example.test>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 451)
        self.assertTrue(c.eof())
        self.assertEqual(self.queued(), [])

    def test_databytes(self):
        # qmail-smtpd(8): databytes counts bytes as stored (LF endings, no
        # Received lines, no envelope); over it, a permanent error.
        self.home.control("databytes", "30\n")
        exact = b"Subject: x\r\n\r\n" + b"a" * 17 + b"\r\n"  # 12 + 18 = 30 stored
        over = b"Subject: x\r\n\r\n" + b"a" * 18 + b"\r\n"
        r = self.session(envelope(msg=exact) + envelope(msg=over, ehlo="NOOP"))
        self.assertEqual([c for c, _ in r][-6:], [250, 250, 250, 250, 354, 552])
        self.assertEqual(r[5][0], 250)
        self.assertTrue(r[-1][1][0].startswith("5.3.4"))
        self.assertEqual(len(self.queued()), 1)

    def test_databytes_environment_overrides(self):
        self.home.control("databytes", "10\n")
        self.assertEqual(self.code_list(envelope(), DATABYTES="1000")[-1], 250)
        self.assertEqual(self.code_list(envelope(), DATABYTES="10")[-1], 552)

    def test_databytes_zero_means_no_limit_and_missing_means_10mb(self):
        # qmail-smtpd(8): "0 for no limit." (capped at 2 GiB here). Without
        # control/databytes the limit is 10 MB, not qmail's unlimited
        # default (docs/smtpd.md).
        big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 11 * 1024
        try:
            os.unlink(self.home.path("control", "databytes"))
        except FileNotFoundError:
            pass
        r = self.session(b"EHLO c\r\n" + envelope(msg=big) + b"QUIT\r\n")
        self.assertIn("SIZE 10485760", [l for _, lines in r for l in lines])
        self.assertEqual(r[-2][0], 552)
        self.home.control("databytes", "0\n")
        r = self.session(envelope(msg=big) + b"QUIT\r\n")
        self.assertEqual(r[-2][0], 250)
        self.assertEqual(len(self.queued()), 1)

    def test_hop_count(self):
        # qmail-smtpd(8): 100 or more Received/Delivered-To fields: refused.
        hops = b"Received: x\r\n" * 60 + b"Delivered-To: y\r\n" * 40
        r = self.session(envelope(msg=hops + b"\r\nbody\r\n"))
        self.assertEqual(r[-1][0], 554)
        self.assertTrue(r[-1][1][0].startswith("5.4.6"))
        self.assertEqual(self.queued(), [])

    def test_timeout(self):
        # qmail-smtpd(8) timeoutsmtpd; RFC 5321 4.5.3.2 / 3.8: 421 and close.
        self.home.control("timeoutsmtpd", "1\n")
        c = self.client()
        self.assertEqual(c.reply()[0], 220)
        start = time.time()
        code, lines = c.reply()
        self.assertEqual(code, 421)
        self.assertTrue(c.eof())
        self.assertLess(time.time() - start, 30)


class RcptHosts(Conformance):
    def rcpt_codes(self, rcpts, **env):
        data = b"HELO c.test\r\nMAIL FROM:<a@b.test>\r\n"
        for r in rcpts:
            data += b"RCPT TO:<" + r.encode() + b">\r\n"
        return self.code_list(data, **env)[3:]

    def test_rcpthosts(self):
        self.home.control("rcpthosts", "heaven.af.mil\n.heaven.af.mil\n")
        self.assertEqual(self.rcpt_codes(["a@heaven.af.mil", "b@x.heaven.af.mil",
                                          "c@HEAVEN.AF.MIL", "d@hell.af.mil", "e@example.test",
                                          "f"]),
                         [250, 250, 250, 553, 553, 250])

    def test_many_refused_recipients_in_one_session(self):
        # Nothing in RFC 5321 or qmail-smtpd(8) ends a session for refused
        # recipients: 40 of them each get 553, then a good one 250.
        rcpts = ["u%d@evil%d.test" % (i, i) for i in range(40)] + ["ok@example.test"]
        self.assertEqual(self.rcpt_codes(rcpts), [553] * 40 + [250])

    def test_rcpthosts_missing_allows_every_recipient(self):
        # qmail-smtpd(8): "If rcpthosts is supplied, qmail-smtpd will reject
        # any envelope recipient address with a domain not listed".
        os.unlink(self.home.path("control", "rcpthosts"))
        self.assertEqual(self.rcpt_codes(["u@example.test", "u@elsewhere.test"]), [250, 250])

    def test_rcpthosts_empty_refuses_every_domain(self):
        self.home.control("rcpthosts", "")
        self.assertEqual(self.rcpt_codes(["u@example.test", "u@elsewhere.test", "box"]),
                         [553, 553, 250])

    def test_morercpthosts(self):
        # qmail-smtpd(8): morercpthosts (compiled by qmail-newmrh) is
        # appended to rcpthosts.
        self.home.control("rcpthosts", "example.test\n")
        self.home.control("morercpthosts", "more.test\n.wild.test\n")
        self.home.run_ok("qmail-newmrh")
        self.assertEqual(self.rcpt_codes(["a@more.test", "b@x.wild.test", "c@example.test",
                                          "d@other.test"]), [250, 250, 250, 553])

    def test_relayclient(self):
        # qmail-smtpd(8): RELAYCLIENT ignores rcpthosts and is appended.
        codes = self.rcpt_codes(["u@elsewhere.test"], RELAYCLIENT="")
        self.assertEqual(codes, [250])
        self.smtpd(envelope(rcpts=["u@elsewhere.test", "v@example.test"]), RELAYCLIENT="@relay")
        self.assertEqual(self.queued()[0][1], ["u@elsewhere.test@relay", "v@example.test@relay"])

    def test_localiphost(self):
        # qmail-smtpd(8): box@[d.d.d.d] for a local IP becomes
        # box@localiphost before rcpthosts; default me.
        self.smtpd(envelope(rcpts=["u@[127.0.0.1]"]))
        self.home.control("localiphost", "lip.example.test\n")
        self.home.control("rcpthosts", "example.test\nlip.example.test\n")
        self.smtpd(envelope(rcpts=["v@[127.0.0.1]"]))
        rcpts = sorted(r for q in self.queued() for r in q[1])
        self.assertEqual(rcpts, ["u@example.test", "v@lip.example.test"])
        self.assertEqual(self.rcpt_codes(["w@[192.0.2.7]"]), [553])


class ControlSyntax(Conformance):
    # qmail-control(5): "Comments are allowed in badmailfrom, ... rcpthosts
    # ... Trailing spaces and tabs are allowed in any control file."
    def test_comments_and_trailing_space(self):
        self.home.control("rcpthosts", "# our domains\nexample.test \t\n.wild.test\t\n")
        self.home.control("badmailfrom", "# spammers\nbad@x.test  \n")
        self.home.control("smtpgreeting", "mx.example.test hello \t \n")
        self.home.control("databytes", "1000 \n")
        self.home.control("timeoutsmtpd", "600\t\n")
        data = (b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.test>\r\n"
                b"RCPT TO:<v@x.wild.test>\r\nRCPT TO:<#@example.test>\r\nRSET\r\n"
                b"MAIL FROM:<bad@x.test>\r\nRCPT TO:<u@example.test>\r\n")
        r = self.session(data)
        self.assertEqual(r[0][1], ["mx.example.test hello ESMTP"])
        self.assertIn("SIZE 1000", r[1][1])
        self.assertEqual([c for c, _ in r[2:]], [250, 250, 250, 250, 250, 250, 553])


class RemoteRoundTrip(Conformance):
    def test_quoted_local_parts_survive_remote_to_smtpd(self):
        # One path module: qmail-smtpd stores "x y"@far.test unquoted;
        # qmail-remote must quote it again (RFC 5321 Quoted-string) so that
        # qmail-smtpd reads back the same address.
        lst = self.listener()
        self.home.control("rcpthosts", "far.test\n")
        self.home.control("smtproutes", "far.test:[127.0.0.1]:%d\n" % lst.port)
        p = subprocess.run([self.home.bin("qmail-remote"), "far.test", "a b@b.test",
                            "x y@far.test", 'q"t@far.test', "plain@far.test"],
                           input=b"Subject: rt\n\nhi\n", env=self.home.env(),
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b"r\0r\0r\0K"), p.stdout)
        self.assertIn(b" qp ", p.stdout)  # qmail-smtpd's "250 ok <time> qp <pid>"
        q = self.queued()
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0][0], "a b@b.test")
        self.assertEqual(q[0][1], ["x y@far.test", 'q"t@far.test', "plain@far.test"])


class BadMailFrom(Conformance):
    def test_badmailfrom(self):
        # qmail-smtpd(8): every recipient is refused for a listed sender;
        # "@host" lists every address at host.
        self.home.control("badmailfrom", "spammer@bad.test\n@worse.test\n")
        for sender, want in [("spammer@bad.test", 553), ("SPAMMER@BAD.TEST", 553),
                             ("other@bad.test", 250), ("x@worse.test", 553),
                             ("x@sub.worse.test", 250), ("", 250)]:
            r = self.session(envelope(sender=sender))
            self.assertEqual(r[2][0], 250, sender)  # MAIL itself is accepted
            self.assertEqual(r[3][0], want, sender)
            if want == 553:
                self.assertTrue(r[3][1][0].startswith("5.7.1"))


class ReceivedLine(Conformance):
    def received(self, helo="HELO c.test", **env):
        self.smtpd(envelope(ehlo=helo), **env)
        q = self.queued()
        mess = q[-1][2].split(b"\n")
        return mess[1].decode() + "\n" + mess[2].decode()

    def test_tcp_environ(self):
        # tcp-environ(5) TCPREMOTEHOST, TCPREMOTEINFO, TCPREMOTEIP,
        # TCPLOCALHOST in qmail's Received line.
        r = self.received(TCPREMOTEHOST="client.example.org", TCPREMOTEINFO="alice",
                          TCPREMOTEIP="192.0.2.5", TCPLOCALHOST="mx.example.test")
        self.assertRegex(r, r"^Received: from client\.example\.org \(HELO c\.test\) "
                            r"\(alice@client\.example\.org \[192\.0\.2\.5\]\)\n"
                            r"  by mx\.example\.test with SMTP; \d+ \w{3} \d{4} "
                            r"\d\d:\d\d:\d\d -0000$")

    def test_arbitrary_characters_are_neutralised(self):
        # tcp-environ(5): TCPLOCALHOST, TCPREMOTEHOST and TCPREMOTEINFO "can
        # contain arbitrary characters"; none may break the header.
        r = self.received(helo="HELO a\tb(c)", TCPREMOTEHOST="h\nX-Evil: 1",
                          TCPREMOTEINFO="i\r\nX-Evil: 2 ", TCPLOCALHOST="l (x)")
        self.assertEqual(len(r.split("\n")), 2, r)  # no field was added
        self.assertTrue(r.startswith("Received: from h?X-Evil:?1 (HELO a?b?c?) "
                                     "(i??X-Evil:?2?@h?X-Evil:?1 [127.0.0.1])\n  by l??x? with SMTP"),
                        r)

    def test_helo_same_as_host_is_not_repeated(self):
        r = self.received(helo="HELO client.test", TCPREMOTEHOST="client.test")
        self.assertTrue(r.startswith("Received: from client.test (client.test [127.0.0.1])\n"), r)

    def test_unknown_host_and_local_ip(self):
        env = self.home.env(**TCPENV)
        self.assertNotIn("TCPREMOTEHOST", env)
        r = self.received(helo="EHLO c.test", TCPLOCALIP="127.0.0.9")
        self.assertTrue(r.startswith("Received: from unknown (HELO c.test) (unknown [127.0.0.1])"
                                     "\n  by 127.0.0.9 with ESMTP; "), r)


if __name__ == "__main__":
    unittest.main()
