"""Outbound interoperability: qmail-queue -> qmail-send -> qmail-rspawn ->
qmail-remote -> a real SMTP server from Debian's packages: Postfix's
smtp-sink (which dumps every transaction to a file), routed by
control/smtproutes or by MX records served by a real unbound (the
fixture of test_remote.py), all on 127.0.0.x.

smtp-sink has no TLS; outbound STARTTLS against a real peer is in
test_peers_postfix.py (a private Postfix instance)."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import Home, wait_for  # noqa: E402
import peerlib  # noqa: E402
from peerlib import have, missing  # noqa: E402

SINK_HEADER_RE = re.compile(
    rb"\AX-Client-Addr: (?P<addr>[^\n]*)\nX-Client-Proto: (?P<proto>[^\n]*)\n"
    rb"(?:X-Helo-Args: (?P<helo>[^\n]*)\n)?X-Mail-Args: (?P<mail>[^\n]*)\n"
    rb"(?P<rcpts>(?:X-Rcpt-Args: [^\n]*\n)+)"
    rb"Received: from [^\n]*\n\tby [^\n]*\n\t[^\n]*\n")
QMAIL_RECEIVED_RE = re.compile(rb"\AReceived: \(qmail \d+ invoked [^)]*\); [^\n]*\n")


def parse_dump(raw):
    """Splits one smtp-sink dump into (dict of its X- fields, the message as
    stored by us). The dump is the sink's fields, the message as received
    (CRLF -> LF, dot-unstuffed) and an empty line; the message starts with
    the Received line qmail-queue added."""
    m = SINK_HEADER_RE.match(raw)
    assert m, raw[:500]
    info = {k: m.group(k) for k in ("addr", "proto", "helo", "mail")}
    info["rcpts"] = re.findall(rb"X-Rcpt-Args: ([^\n]*)\n", m.group("rcpts"))
    rest = raw[m.end():]
    q = QMAIL_RECEIVED_RE.match(rest)
    assert q, rest[:300]
    rest = rest[q.end():]
    assert rest.endswith(b"\n"), rest[-100:]
    return info, rest[:-1]


def enqueue(home, sender, rcpts, msg):
    """Queues msg with qmail-queue (no headers added but its Received)."""
    env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in rcpts)
    r, w = os.pipe()
    os.write(w, env + b"\0")
    os.close(w)
    try:
        p = subprocess.run([home.bin("qmail-queue")], input=msg, stdout=r,
                           stderr=subprocess.PIPE, env=home.env(), timeout=60)
    finally:
        os.close(r)
    if p.returncode != 0:
        raise AssertionError("qmail-queue exited %d: %s" % (p.returncode, p.stderr))


@unittest.skipUnless(have("smtp-sink"), missing("smtp-sink"))
class SinkOut(unittest.TestCase):
    domains = 0

    @classmethod
    def setUpClass(cls):
        cls.home = Home()
        try:
            cls.sender_box = cls.home.add_user("sender")
            cls.home.start()
        except BaseException:
            cls.home.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def setUp(self):
        SinkOut.domains += 1
        self.domain = "far%d.example" % SinkOut.domains

    def sink(self, ip="127.0.0.1", extra=()):
        s = peerlib.SmtpSink(self.home.tmp, ip, extra)
        self.addCleanup(s.stop)
        return s

    def route(self, relay, port):
        self.home.control("smtproutes", "%s:%s:%d\n" % (self.domain, relay, port))

    def delivered(self, rcpt):
        """True once qmail-send logged a successful delivery to rcpt."""
        log = self.home.log()
        for d in re.findall(r"starting delivery (\d+): msg \d+ to remote (\S+)\n", log):
            if d[1] == rcpt and re.search(r"delivery %s: success: " % d[0], log):
                return True
        return False

    def received(self, sink, rcpts, timeout=120):
        """Waits until every rcpt was delivered (a dump file is complete only
        once the sink answered the final dot); returns the parsed dumps."""
        wait_for(lambda: all(self.delivered(r) for r in rcpts), timeout,
                 "deliveries to %s; log:\n%s" % (rcpts, self.home.log()[-3000:]))
        msgs = [parse_dump(m) for m in sink.messages()]
        self.assertEqual(len(msgs), len(rcpts))
        return msgs

    def successes(self):
        return len(re.findall(r"delivery \d+: success: 127\.0\.0\.\d+_accepted_message\.",
                              self.home.log()))

    def test_many_messages_all_arrive(self):
        sink = self.sink()
        self.route("[127.0.0.1]", sink.port)
        base = self.successes()
        n = 30
        for i in range(n):
            enqueue(self.home, "sender@example.test", ["u%d@%s" % (i, self.domain)],
                    b"Subject: n%d\n\nmessage %d\n" % (i, i))
        wait_for(lambda: len(sink.files()) >= n, 180, "%d dumps" % n)
        wait_for(lambda: self.successes() - base >= n, 180, "%d successes" % n)
        got = sorted((parse_dump(m) for m in sink.messages()), key=lambda d: d[1])
        self.assertEqual(len(got), n)
        seen = set()
        for info, msg in got:
            i = int(re.match(rb"Subject: n(\d+)\n", msg).group(1))
            self.assertEqual(msg, b"Subject: n%d\n\nmessage %d\n" % (i, i))
            self.assertEqual(info["rcpts"], [b"<u%d@%s>" % (i, self.domain.encode())])
            self.assertTrue(info["mail"].startswith(b"<sender@example.test>"), info)
            self.assertEqual(info["helo"], b"example.test")
            self.assertEqual(info["proto"], b"ESMTP")
            seen.add(i)
        self.assertEqual(seen, set(range(n)))

    # What we store -> what a correct server must get after CRLF and
    # dot-unstuffing (docs/remote.md "Transparency"): LF, CRLF and bare CR
    # each end a line; a missing final newline is added.
    BODIES = [
        (b"plain\n", b"plain\n"),
        (b".\n", b".\n"),
        (b"a\n.\nb\n", b"a\n.\nb\n"),
        (b"..x\n...\n", b"..x\n...\n"),
        (b".leading\n. space\n", b".leading\n. space\n"),
        (b"crlf\r\nlines\r\n.\r\n", b"crlf\nlines\n.\n"),
        (b"bare\rcr\n", b"bare\ncr\n"),
        (b"x\r.\r\ny\n", b"x\n.\ny\n"),
        (b"no final newline", b"no final newline\n"),
        (b"ends with dot\n.", b"ends with dot\n.\n"),
        (b"\n\n\n", b"\n\n\n"),
    ]

    def test_transparency(self):
        sink = self.sink()
        self.route("[127.0.0.1]", sink.port)
        base = self.successes()
        for i, (body, _) in enumerate(self.BODIES):
            enqueue(self.home, "sender@example.test", ["t%d@%s" % (i, self.domain)],
                    b"Subject: t%d\n\n" % i + body)
        n = len(self.BODIES)
        wait_for(lambda: len(sink.files()) >= n and self.successes() - base >= n, 120,
                 "%d deliveries; log:\n%s" % (n, self.home.log()[-3000:]))
        got = {}
        for info, msg in (parse_dump(m) for m in sink.messages()):
            head, body = msg.split(b"\n\n", 1)
            got[int(head[len(b"Subject: t"):])] = body
        for i, (body, want) in enumerate(self.BODIES):
            with self.subTest(body=body):
                self.assertEqual(got.get(i), want)

    def test_smtproutes_bare_ip_relay(self):
        # qmail's dns_ip takes a dotted quad as an address: ":1.2.3.4" and
        # "domain:127.0.0.1:10025" routes are everywhere in qmail configs.
        sink = self.sink()
        self.route("127.0.0.1", sink.port)
        enqueue(self.home, "sender@example.test", ["bare@" + self.domain], b"Subject: bare\n\nx\n")
        wait_for(lambda: sink.files() or "bare@%s" % self.domain in self.bounces(), 60,
                 "delivery or bounce; log:\n" + self.home.log()[-2000:])
        self.assertNotIn("bare@" + self.domain, self.bounces())
        ((info, msg),) = self.received(sink, ["bare@" + self.domain])
        self.assertEqual(msg, b"Subject: bare\n\nx\n")

    def bounces(self):
        return "\n".join(m.decode(errors="replace")
                         for m in self.home.read_maildir(self.sender_box))

    def test_8bit_declared(self):
        sink = self.sink()
        self.route("[127.0.0.1]", sink.port)
        body = "Subject: 8bit\n\nna\u00efve caf\u00e9\n".encode() + b"\xff\x80\n"
        enqueue(self.home, "sender@example.test", ["eight@" + self.domain], body)
        ((info, msg),) = self.received(sink, ["eight@" + self.domain])
        self.assertEqual(msg, body)
        self.assertIn(b"BODY=8BITMIME", info["mail"])

    def test_large_message(self):
        sink = self.sink()
        self.route("[127.0.0.1]", sink.port)
        lines = [(b"." if i % 5 == 0 else b"") + b"line %06d " % i + b"z" * 60 for i in range(40000)]
        body = b"Subject: big\n\n" + b"\n".join(lines) + b"\n"
        enqueue(self.home, "sender@example.test", ["big@" + self.domain], body)
        ((info, msg),) = self.received(sink, ["big@" + self.domain])
        self.assertEqual(len(msg), len(body))
        self.assertEqual(msg, body)

    def test_plain_smtp_and_no_pipelining_servers(self):
        # smtp-sink -e refuses EHLO (qmail-remote falls back to HELO); -p
        # does not offer PIPELINING (commands one at a time).
        for opt, proto in (("-e", b"SMTP"), ("-p", b"ESMTP")):
            with self.subTest(opt=opt):
                sink = self.sink(extra=[opt])
                self.route("[127.0.0.1]", sink.port)
                rcpt = "opt%s@%s" % (opt[1:], self.domain)
                body = b"Subject: %s\n\n.\nbody\n" % opt.encode()
                enqueue(self.home, "sender@example.test", [rcpt], body)
                ((info, msg),) = self.received(sink, [rcpt])
                self.assertEqual(info["proto"], proto)
                self.assertEqual(info["helo"], b"example.test")
                self.assertEqual(msg, body)

    def test_permanent_rcpt_refusal_bounces(self):
        sink = self.sink(extra=["-f", "RCPT"])
        self.route("[127.0.0.1]", sink.port)
        enqueue(self.home, "sender@example.test", ["refused@" + self.domain], b"Subject: r\n\nx\n")
        wait_for(lambda: "refused@" + self.domain in self.bounces(), 60,
                 "the bounce; log:\n" + self.home.log()[-2000:])
        b = self.bounces()
        self.assertIn("<refused@%s>:" % self.domain, b)
        self.assertIn("127.0.0.1 does not like recipient.", b)
        self.assertRegex(b, r"Remote host said: 5\d\d ")
        self.assertEqual(sink.files(), [])

    def test_refusal_at_every_stage(self):
        # smtp-sink -f CMD answers CMD with 5xx (a bounce naming the stage),
        # -r CMD with 4xx and -Q CMD with 421 and a hang-up (deferrals).
        cases = [
            (["-f", "CONNECT"], "D", "Connected to 127.0.0.1 but greeting failed."),
            (["-f", "MAIL"], "D", "Connected to 127.0.0.1 but sender was rejected."),
            (["-f", "DATA"], "D", "127.0.0.1 failed on DATA command."),
            (["-f", "."], "D", "127.0.0.1 failed after I sent the message."),
            (["-r", "CONNECT"], "Z", "Connected to 127.0.0.1 but greeting failed."),
            (["-r", "MAIL"], "Z", "Connected to 127.0.0.1 but sender was rejected."),
            (["-r", "DATA"], "Z", "127.0.0.1 failed on DATA command."),
            (["-r", "."], "Z", "127.0.0.1 failed after I sent the message."),
            (["-Q", "RCPT"], "Z", "127.0.0.1 does not like recipient."),
        ]
        for i, (opts, kind, text) in enumerate(cases):
            with self.subTest(opts=opts):
                sink = self.sink(extra=opts)
                self.route("[127.0.0.1]", sink.port)
                rcpt = "stage%d@%s" % (i, self.domain)
                before = len(self.home.log())
                enqueue(self.home, "sender@example.test", [rcpt], b"Subject: s\n\nx\n")
                if kind == "D":
                    wait_for(lambda: "<%s>:" % rcpt in self.bounces(), 60,
                             "the bounce; log:\n" + self.home.log()[-2000:])
                    bounce = [b for b in self.bounces().split("Return-Path: <>")
                              if "<%s>:" % rcpt in b][0]
                    self.assertIn(text + "\nRemote host said: 5", bounce)
                else:
                    want = "deferral: " + text.replace(" ", "_") + "/Remote_host_said:_4"
                    wait_for(lambda: want in self.home.log()[before:], 60,
                             want + " in the log:\n" + self.home.log()[-2000:])
                    self.assertNotIn("<%s>:" % rcpt, self.bounces())
                if opts[1] != ".":
                    # Nothing of this message got through. (A message
                    # deferred by an earlier case may be retried into this
                    # sink meanwhile: same domain, new port.)
                    self.assertEqual([m for m in sink.messages() if rcpt.encode() in m], [])

    def test_temporary_rcpt_refusal_defers(self):
        sink = self.sink(extra=["-r", "RCPT"])
        self.route("[127.0.0.1]", sink.port)
        before = len(self.home.log())
        enqueue(self.home, "sender@example.test", ["later@" + self.domain], b"Subject: l\n\nx\n")
        wait_for(lambda: re.search(r"delivery \d+: deferral: 127\.0\.0\.1_does_not_like_recipient"
                                   r"\./Remote_host_said:_4\d\d_", self.home.log()[before:]),
                 60, "a deferral; log:\n" + self.home.log()[-2000:])
        self.assertEqual(sink.files(), [])
        self.assertNotIn("later@" + self.domain, self.bounces())

    def test_sink_disconnect_after_data_defers(self):
        sink = self.sink(extra=["-q", "."])
        self.route("[127.0.0.1]", sink.port)
        before = len(self.home.log())
        enqueue(self.home, "sender@example.test", ["drop@" + self.domain], b"Subject: d\n\nx\n")
        wait_for(lambda: re.search(r"delivery \d+: deferral: ", self.home.log()[before:]),
                 60, "a deferral; log:\n" + self.home.log()[-2000:])
        self.assertNotIn("drop@" + self.domain, self.bounces())


@unittest.skipUnless(have("openssl"), missing("openssl"))
class LiteralTlsVerification(unittest.TestCase):
    """tlsdestinations for a relay given as an address: the server's
    certificate must carry that IP address (the Python TLS sink of
    test_remote.py on 127.0.0.2, certificates made by openssl)."""

    @classmethod
    def setUpClass(cls):
        import ssl
        import tempfile
        import test_remote
        cls.test_remote = test_remote
        cls.home = Home()
        cls.certdir = tempfile.mkdtemp(prefix="t-", dir=cls.home.tmp)
        d = cls.certdir

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        for name, san in (("ip", "IP:127.0.0.2"), ("dns", "DNS:sink.example")):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san)
        cls.ctx = {}
        for name in ("ip", "dns"):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(d, name + ".crt"), os.path.join(d, name + ".key"))
            cls.ctx[name] = ctx

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def remote(self, cert, relay):
        sink = self.test_remote.Sink("127.0.0.2")
        self.addCleanup(sink.close)
        sink.tls = self.ctx[cert]
        self.home.control("smtproutes", "lit.example:%s:%d\n" % (relay, sink.port))
        self.home.control("tlsdestinations", "lit.example:%s\n" %
                          os.path.join(self.certdir, cert + ".crt"))
        p = subprocess.run([self.home.bin("qmail-remote"), "lit.example", "a@example.test",
                            "b@lit.example"], input=b"Subject: x\n\ny\n", env=self.home.env(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_certificate_naming_the_address_verifies(self):
        for relay in ("[127.0.0.2]", "127.0.0.2"):
            with self.subTest(relay=relay):
                out = self.remote("ip", relay)
                self.assertRegex(out, rb"K127\.0\.0\.2 accepted message \(TLSv1\.[23]\)\.")

    def test_certificate_naming_only_a_host_fails(self):
        out = self.remote("dns", "[127.0.0.2]")
        self.assertEqual(out, b"ZConnected to 127.0.0.2 but its TLS certificate does not verify "
                              b"for [127.0.0.2]. (#4.7.5)\n\0")

@unittest.skipUnless(have("smtp-sink", "unbound"), missing("smtp-sink", "unbound"))
class SinkByMx(unittest.TestCase):
    """MX lookup through the real unbound of test_remote.py: a.qmt has MX 10
    on a dead address (127.0.0.3) and MX 20 on 127.0.0.2, where smtp-sink
    listens; smtproutes only changes the port (a.qmt::PORT)."""

    @classmethod
    def setUpClass(cls):
        import test_remote
        cls.dns = test_remote.DnsServer()
        cls.home = Home()
        try:
            cls.home.control("dnsresolvers", "127.0.0.1@%d\n" % cls.dns.port)
            cls.home.start()
        except BaseException:
            cls.home.cleanup()
            cls.dns.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()
        cls.dns.stop()

    def test_mx_fallback_to_sink(self):
        sink = peerlib.SmtpSink(self.home.tmp, "127.0.0.2")
        self.addCleanup(sink.stop)
        self.home.control("smtproutes", "a.qmt::%d\nnomx.qmt::%d\n" % (sink.port, sink.port))
        enqueue(self.home, "x@example.test", ["one@a.qmt"], b"Subject: mx\n\nby MX\n")
        enqueue(self.home, "x@example.test", ["two@nomx.qmt"], b"Subject: a\n\nby A\n")
        wait_for(lambda: len(re.findall(r"success: 127\.0\.0\.2_accepted", self.home.log())) >= 2,
                 120, "two deliveries; log:\n" + self.home.log()[-2000:])
        got = sorted((parse_dump(m) for m in sink.messages()), key=lambda d: d[1])
        self.assertEqual([(i["rcpts"], m) for i, m in got],
                         [([b"<two@nomx.qmt>"], b"Subject: a\n\nby A\n"),
                          ([b"<one@a.qmt>"], b"Subject: mx\n\nby MX\n")])
        for info, _ in got:
            self.assertEqual(info["addr"], b"127.0.0.1")


if __name__ == "__main__":
    unittest.main()
