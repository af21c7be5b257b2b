"""Connection reuse (qmail-rspawn's remote workers, docs/remote.md): the
whole chain qmail-queue -> qmail-send -> qmail-rspawn -> worker -> a Python
SMTP server on 127.0.0.2 (test_remote.Sink, which records every session),
routed by control/smtproutes. Counts TCP connections at the server and
checks that nothing is lost or duplicated when a kept session dies, is
refused, or its worker is killed."""
import os
import re
import signal
import ssl
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import Home, child_pids, rspawn_pid, wait_for  # noqa: E402
from test_remote import SINK_IP, DnsServer, Sink, make_certs  # noqa: E402


def enqueue(home, sender, rcpts, msg):
    """Queues msg with qmail-queue."""
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


def verbs(session):
    return [c.split(" ")[0].upper() for c in session.commands]


def mails(session):
    return sum(1 for v in verbs(session) if v == "MAIL")


class ReuseTest(unittest.TestCase):
    n = 0

    @classmethod
    def setUpClass(cls):
        cls.home = Home()
        try:
            cls.home.add_user("sender")
            cls.home.start()
        except BaseException:
            cls.home.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def setUp(self):
        ReuseTest.n += 1
        self.domain = "reuse%d.example" % ReuseTest.n
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        self.home.control("smtproutes", "%s:[%s]:%d\n" % (self.domain, SINK_IP, self.sink.port))

    def log_since(self, start):
        return self.home.log()[start:]

    def deliveries(self, start, rcpt):
        """The results ('success', 'deferral', 'failure') logged for rcpt."""
        log = self.log_since(start)
        out = []
        # Delivery numbers are reused: the first result after each start.
        for st in re.finditer(r"starting delivery (\d+): msg \d+ to remote %s\n"
                              % re.escape(rcpt), log):
            m = re.compile(r"^delivery %s: (success|deferral|failure): (\S*)" % st.group(1),
                           re.M).search(log, st.end())
            if m:
                out.append((m.group(1), m.group(2)))
        return out

    def wait_results(self, start, rcpts, want="success", timeout=120):
        wait_for(lambda: all(any(r[0] == want for r in self.deliveries(start, x)) for x in rcpts),
                 timeout, "%s for %s; log:\n%s" % (want, rcpts, self.log_since(start)[-3000:]))

    def bodies(self):
        return [b for s in self.sink.sessions for b in s.data]

    def test_many_messages_few_connections(self):
        start = len(self.home.log())
        n = 60
        rcpts = ["u%d@%s" % (i, self.domain) for i in range(n)]
        for i, r in enumerate(rcpts):
            enqueue(self.home, "sender@example.test", [r], b"Subject: n%d\n\nmessage %d\n" % (i, i))
        self.wait_results(start, rcpts)
        got = sorted(re.sub(rb"\AReceived: [^\n]*\n", b"", b) for b in self.bodies())
        self.assertEqual(got, sorted(b"Subject: n%d\r\n\r\nmessage %d\r\n" % (i, i)
                                     for i in range(n)))
        conns = len(self.sink.sessions)
        # qmail-send runs up to concurrencyremote (20) at once: about one
        # connection per worker, far fewer than messages (slack for a
        # session that idled out on a stalled machine).
        self.assertLessEqual(conns, n // 2, [verbs(s) for s in self.sink.sessions])
        for s in self.sink.sessions:
            v = verbs(s)
            # One greeting per connection; each later message starts with MAIL.
            self.assertEqual(v.count("EHLO"), 1, v)
            self.assertNotIn("RSET", v)
            self.assertEqual(v.count("MAIL"), len(s.data), v)
        self.assertTrue(any(mails(s) > 1 for s in self.sink.sessions))

    def sequential(self, count, prefix):
        """Sends `count` messages one after another (each waits for the one
        before), so that each finds the previous one's kept session."""
        start = len(self.home.log())
        rcpts = []
        for i in range(count):
            r = "%s%d@%s" % (prefix, i, self.domain)
            rcpts.append(r)
            enqueue(self.home, "sender@example.test", [r], b"Subject: %s%d\n\nx\n" % (
                prefix.encode(), i))
            self.wait_results(start, [r])
        return start, rcpts

    def test_sequential_messages_share_one_connection(self):
        start, rcpts = self.sequential(5, "s")
        self.assertEqual(len(self.sink.sessions), 1, [verbs(s) for s in self.sink.sessions])
        self.assertEqual(verbs(self.sink.sessions[0]),
                         ["EHLO"] + ["MAIL", "RCPT", "DATA"] * 5)
        self.assertEqual(len(self.bodies()), 5)

    def test_idle_session_closed_after_idle_time(self):
        self.sequential(1, "i")
        s = self.sink.sessions[0]
        # The worker QUITs the session after ~2 s idle (no more mail).
        self.assertTrue(s.done.wait(60))
        self.assertEqual(verbs(s)[-1], "QUIT")

    def test_peer_closes_idle_connection(self):
        self.sink.close_after_end = True
        start, rcpts = self.sequential(3, "c")
        self.assertEqual(len(self.sink.sessions), 3)
        self.assertEqual(len(self.bodies()), 3)
        for r in rcpts:
            self.assertEqual([x[0] for x in self.deliveries(start, r)], ["success"])

    def test_peer_hangs_up_at_next_mail(self):
        # The kept session looks fine, but the server closes it without a
        # reply when the next MAIL comes: a new connection takes the message.
        self.sink.on_mail = lambda s: "close" if mails(s) > 1 else None
        start, rcpts = self.sequential(3, "h")
        self.assertEqual(len(self.bodies()), 3)
        # Each session carried one message; the next one's MAIL killed it.
        self.assertEqual(len(self.sink.sessions), 3)
        self.assertEqual([mails(s) for s in self.sink.sessions], [2, 2, 1])
        for r in rcpts:
            self.assertEqual([x[0] for x in self.deliveries(start, r)], ["success"])

    def test_421_at_next_mail(self):
        self.sink.on_mail = lambda s: "421 sink.test closing" if mails(s) > 1 else None
        start, rcpts = self.sequential(3, "q")
        self.assertEqual(len(self.bodies()), 3)
        for r in rcpts:
            self.assertEqual([x[0] for x in self.deliveries(start, r)], ["success"])
        # The 421 on the kept session is not reported: no "421" reply text
        # in the log (ids and qp pids may contain the digits 421).
        self.assertNotRegex(self.log_since(start), r"(?<![0-9])421(?![0-9])")

    def test_refused_recipient_does_not_poison_session(self):
        start = len(self.home.log())
        bad, later, good = ("bad@" + self.domain, "later@" + self.domain,
                            "good@" + self.domain)
        self.sink.replies["rcpt:" + bad] = "550 no such user"
        self.sink.replies["rcpt:" + later] = "451 try later"
        self.sink.strict_data = True
        for r in (bad, later, good):
            enqueue(self.home, "sender@example.test", [r], b"Subject: p\n\nx\n")
            want = {bad: "failure", later: "deferral", good: "success"}[r]
            self.wait_results(start, [r], want)
        self.assertEqual(len(self.sink.sessions), 1, [verbs(s) for s in self.sink.sessions])
        # The open transaction of each refused message is reset before the
        # next MAIL; only good@ got a body.
        self.assertEqual(verbs(self.sink.sessions[0]),
                         ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA", "RSET",
                          "MAIL", "RCPT", "DATA"])
        self.assertEqual(len(self.bodies()), 1)
        self.assertIn("good@", self.sink.sessions[0].commands[-2])

    def rspawn(self):
        return rspawn_pid(self.home.send.pid)

    def exe(self, pid):
        return os.readlink("/proc/%d/exe" % pid)

    def test_rspawn_rests_while_no_remote_mail(self):
        """With no worker left, qmail-rspawn becomes qmail-idle (same pid,
        same name, a fraction of the memory); qmail-send's next command
        brings qmail-rspawn back, which delivers it, and rests again once
        its workers have left."""
        pid = self.rspawn()
        idle = os.path.realpath(self.home.bin("qmail-idle"))
        wait_for(lambda: self.exe(pid) == idle, 60, "qmail-rspawn to rest")
        start, rcpts = self.sequential(2, "rest")
        self.assertEqual(len(self.bodies()), 2)
        self.assertEqual(self.rspawn(), pid)
        wait_for(lambda: self.exe(pid) == idle, 60, "qmail-rspawn to rest again")

        def cmdline():
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return f.read()
        # As ps shows it (set a moment after the exec has begun).
        wait_for(lambda: cmdline().startswith(b"qmail-rspawn\0"), 10, "qmail-idle's command line")
        # Nothing of qmail-rspawn's image is left mapped (its memory is
        # the benchmarks' to measure: docs/benchmarks.md).
        with open("/proc/%d/maps" % pid) as f:
            self.assertNotIn(os.path.realpath(self.home.bin("qmail-rspawn")), f.read())

    def test_worker_killed_mid_delivery_defers_then_retries(self):
        start = len(self.home.log())
        rcpt = "killed@" + self.domain
        self.sink.hang = "end"  # takes the body, never answers the dot
        enqueue(self.home, "sender@example.test", [rcpt], b"Subject: k\n\nx\n")
        wait_for(lambda: self.sink.sessions and self.sink.sessions[0].data, 60, "the body")
        workers = child_pids(rspawn_pid(self.home.send.pid), "qmail-remote")
        self.assertTrue(workers)
        for p in workers:
            os.kill(p, signal.SIGKILL)
        self.wait_results(start, [rcpt], "deferral")
        self.assertEqual(self.deliveries(start, rcpt)[0],
                         ("deferral", "qmail-remote_crashed._(#4.3.0)/"))
        # The retry (qmail-send retries everything on ALRM) gets through.
        self.sink.hang = None
        os.kill(self.home.send.pid, signal.SIGALRM)
        self.wait_results(start, [rcpt])
        self.assertEqual(len(self.bodies()), 2)


class TlsReuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="qmail-tls-")
        cls.ca, cert, key = make_certs(cls.certdir, ["nomx.qmt"])
        cls.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cls.ctx.load_cert_chain(cert, key)
        cls.home = Home()
        try:
            cls.home.add_user("sender")
            cls.home.start()
        except BaseException:
            cls.home.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def tls_runs(self, sink, domain, count):
        start = len(self.home.log())
        for i in range(count):
            rcpt = "t%d@%s" % (i, domain)
            enqueue(self.home, "sender@example.test", [rcpt], b"Subject: t\n\nx\n")
            wait_for(lambda: len(re.findall(r"success: %s_accepted_message_\(TLSv1\.[23]\)\." %
                                            re.escape(SINK_IP), self.home.log()[start:])) == i + 1,
                     120, "delivery %d; log:\n%s" % (i, self.home.log()[start:][-2000:]))
        self.assertNotIn("deferral", self.home.log()[start:])

    def test_verified_tls_session_is_reused(self):
        # control/tlsdestinations: the relay's certificate must verify for
        # its name (found by DNS); the kept session was verified once.
        dns = DnsServer()
        self.addCleanup(dns.stop)
        sink = Sink()
        self.addCleanup(sink.close)
        sink.tls = self.ctx
        domain = "tlsv.example"
        self.home.control("dnsresolvers", "127.0.0.1@%d\n" % dns.port)
        self.home.control("smtproutes", "%s:nomx.qmt:%d\n" % (domain, sink.port))
        self.home.control("tlsdestinations", "%s:%s\n" % (domain, self.ca))
        self.addCleanup(os.unlink, self.home.path("control", "tlsdestinations"))
        self.tls_runs(sink, domain, 3)
        self.assertEqual(len(sink.sessions), 1)
        self.assertEqual([c.split(" ")[0].upper() for c in sink.sessions[0].commands],
                         ["EHLO", "STARTTLS", "EHLO"] + ["MAIL", "RCPT", "DATA"] * 3)

    def test_tls_session_is_reused(self):
        sink = Sink()
        self.addCleanup(sink.close)
        sink.tls = self.ctx
        domain = "tls.example"
        self.home.control("smtproutes", "%s:[%s]:%d\n" % (domain, SINK_IP, sink.port))
        start = len(self.home.log())
        for i in range(4):
            rcpt = "t%d@%s" % (i, domain)
            enqueue(self.home, "sender@example.test", [rcpt], b"Subject: t\n\nx\n")
            wait_for(lambda: re.search(r"success: %s_accepted_message_\(TLSv1\.[23]\)\." %
                                       re.escape(SINK_IP), self.home.log()[start:]) and
                     len(re.findall("success: ", self.home.log()[start:])) == i + 1,
                     120, "delivery %d; log:\n%s" % (i, self.home.log()[start:][-2000:]))
        self.assertEqual(len(sink.sessions), 1)
        s = sink.sessions[0]
        self.assertTrue(s.tls)
        self.assertEqual([c.split(" ")[0].upper() for c in s.commands],
                         ["EHLO", "STARTTLS", "EHLO"] + ["MAIL", "RCPT", "DATA"] * 4)
        self.assertEqual(len(s.data), 4)


if __name__ == "__main__":
    unittest.main()
