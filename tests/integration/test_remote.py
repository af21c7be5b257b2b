"""qmail-remote against a real DNS server (unbound, serving test zones on
127.0.0.1) and a small SMTP sink written here (127.0.0.x): exact report
bytes, MX order and fallback, null MX, ourselves as MX, smtproutes,
transparency of nasty bodies, 4xx/5xx at every stage, timeouts, tcpto."""
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import Home, wait_for  # noqa: E402
import unboundtest  # noqa: E402

SINK_IP = "127.0.0.2"   # not one of "our" addresses (qmail's ipme has 127.0.0.1 only)
SINK2_IP = "127.0.0.4"
DEAD_IP = "127.0.0.3"   # nothing listens: connection refused

# The zones live under "qmt.": libunbound answers "test." itself (RFC 6761).
ZONE = """
local-zone: "qmt." static
local-data: "a.qmt. MX 10 mx1.a.qmt."
local-data: "a.qmt. MX 20 mx2.a.qmt."
local-data: "mx1.a.qmt. A {dead}"
local-data: "mx2.a.qmt. A {sink}"
local-data: "nomx.qmt. A {sink}"
local-data: "nullmx.qmt. MX 0 ."
local-data: "selfonly.qmt. MX 10 selfip.qmt."
local-data: "selfip.qmt. A 127.0.0.1"
local-data: "selfbackup.qmt. MX 10 mx2.a.qmt."
local-data: "selfbackup.qmt. MX 20 selfip.qmt."
local-data: "selfbest.qmt. MX 10 selfip.qmt."
local-data: "selfbest.qmt. MX 20 mx2.a.qmt."
local-data: "localmx.qmt. MX 10 localhost."
local-data: "localhost. A 127.0.0.1"
local-data: "cname.qmt. CNAME nomx.qmt."
local-data: "mxcname.qmt. MX 10 alias.qmt."
local-data: "alias.qmt. CNAME mx2.a.qmt."
local-data: "noaddr.qmt. MX 10 nowhere.qmt."
local-data: "v6only.qmt. AAAA ::1"
local-data: "eq.qmt. MX 10 e1.qmt."
local-data: "eq.qmt. MX 10 e2.qmt."
local-data: "e1.qmt. A {sink}"
local-data: "e2.qmt. A {sink2}"
local-data: "slow.qmt. A {sink}"
local-zone: "broken.qmt." refuse
"""


class DnsServer(unboundtest.DnsServer):
    """unbound serving ZONE authoritatively (local-data) on 127.0.0.1."""

    def __init__(self):
        super().__init__(ZONE.format(sink=SINK_IP, sink2=SINK2_IP, dead=DEAD_IP), "nomx.qmt")


class Session:
    def __init__(self):
        self.commands = []      # command lines as received, without CRLF
        self.data = []          # each DATA body as received, final ".\r\n" excluded
        self.final_recv = []    # the recv() that completed each DATA body
        self.tls = False
        self.done = threading.Event()


class Sink:
    """A tiny SMTP server on (ip, port) in a thread. Set `ehlo` (extension
    lines, or None to refuse EHLO), `replies` (stage -> full reply text; a
    stage is greeting, ehlo, helo, mail, rcpt, rcpt:<addr>, data, end) and
    `hang` (a stage at which it stops answering)."""

    def __init__(self, ip=SINK_IP, port=0, family=socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.ehlo = ["PIPELINING", "8BITMIME", "SIZE 10000000"]
        self.replies = {}
        self.hang = None
        self.tls = None  # an ssl.SSLContext: offer STARTTLS; "garbage": break the handshake
        # Connection reuse tests (test_remote_reuse.py): on_mail(session)
        # may return a reply for a MAIL command ("close": hang up without
        # one; a 421 reply also hangs up); close_after_end hangs up right
        # after answering the final dot.
        self.on_mail = None
        self.close_after_end = False
        # True: DATA without an accepted recipient gets 554 (as real
        # servers answer), not 354.
        self.strict_data = False
        self.sessions = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        # shutdown() wakes the accept() in the thread: a plain close() would
        # leave it blocked on a descriptor number the next Sink may reuse.
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = Session()
            self.sessions.append(s)
            threading.Thread(target=self._serve, args=(c, s), daemon=True).start()

    def _reply(self, c, s, stage, default):
        if self.hang == stage:
            # Wait for the client to give up and close.
            c.settimeout(30)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass
            raise EOFError
        text = self.replies.get(stage, default)
        c.sendall(text.encode() + b"\r\n")

    def _serve(self, c, s):
        buf = b""
        accepted = 0  # recipients accepted in the current transaction
        try:
            c.settimeout(30)
            self._reply(c, s, "greeting", "220 sink.test ESMTP")
            while True:
                while b"\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r").decode("utf-8", "replace")
                s.commands.append(line)
                verb = line.split(" ")[0].upper()
                if verb == "EHLO":
                    if self.ehlo is None:
                        self._reply(c, s, "ehlo", "502 unimplemented")
                    else:
                        tls = ["STARTTLS"] if self.tls is not None and not s.tls else []
                        lines = ["sink.test"] + self.ehlo + tls
                        text = "\r\n".join("250-" + l for l in lines[:-1]) + "\r\n250 " + lines[-1]
                        self._reply(c, s, "ehlo", text)
                elif verb == "HELO":
                    self._reply(c, s, "helo", "250 sink.test")
                elif verb == "MAIL":
                    accepted = 0
                    special = self.on_mail(s) if self.on_mail else None
                    if special == "close":
                        raise EOFError
                    if special:
                        c.sendall(special.encode() + b"\r\n")
                        if special.startswith("421"):
                            raise EOFError
                        continue
                    self._reply(c, s, "mail", "250 ok")
                elif verb == "RCPT":
                    addr = line[line.find("<") + 1:line.rfind(">")]
                    stage = "rcpt:" + addr
                    if stage not in self.replies:
                        stage = "rcpt"
                    if self.replies.get(stage, "250").startswith("2"):
                        accepted += 1
                    self._reply(c, s, stage, "250 ok")
                elif verb == "DATA" and self.strict_data and not accepted:
                    c.sendall(b"554 no valid recipients\r\n")
                elif verb == "DATA":
                    self._reply(c, s, "data", "354 go ahead")
                    if not self.replies.get("data", "354").startswith("354"):
                        continue
                    last = b""
                    while True:
                        if buf.startswith(b".\r\n"):
                            body, buf = b"", buf[3:]
                            break
                        i = buf.find(b"\r\n.\r\n")
                        if i >= 0:
                            body, buf = buf[:i + 2], buf[i + 5:]
                            break
                        last = c.recv(65536)
                        if not last:
                            raise EOFError
                        buf += last
                    s.data.append(body)
                    s.final_recv.append(last)
                    self._reply(c, s, "end", "250 ok 1234 qp 5678")
                    if self.close_after_end:
                        raise EOFError
                elif verb == "STARTTLS" and self.tls is not None:
                    c.sendall(b"220 go ahead\r\n")
                    if self.tls == "garbage":
                        c.sendall(b"this is not TLS\r\n" * 100)
                        raise EOFError
                    c.settimeout(30)
                    c = self.tls.wrap_socket(c, server_side=True)
                    buf = b""
                    s.tls = True
                elif verb == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                elif verb == "RSET" or verb == "NOOP":
                    c.sendall(b"250 ok\r\n")
                else:
                    c.sendall(b"502 unimplemented\r\n")
        except (EOFError, OSError):
            pass
        finally:
            c.close()
            s.done.set()


def records(out):
    """The report as a list of records (letter + text), checking the 0 bytes."""
    assert out.endswith(b"\0"), out
    return [r.decode("utf-8", "replace") for r in out[:-1].split(b"\0")]


dns = None


def setUpModule():
    global dns
    dns = DnsServer()


def tearDownModule():
    dns.stop()


class RemoteTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = Home()

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def setUp(self):
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        for name in ("smtproutes", "timeoutremote", "timeoutconnect", "helohost"):
            p = self.home.path("control", name)
            if os.path.exists(p):
                os.unlink(p)
        self.home.control("dnsresolvers", "127.0.0.1@%d\n" % dns.port)
        # Every test domain is reached on the sink's port (MX lookups as usual).
        self.home.control("smtproutes", ".qmt::%d\n[%s]::%d\n" % (self.sink.port, SINK_IP, self.sink.port))
        self.home.run_ok("qmail-tcpok")

    def remote(self, host, sender, rcpts, msg=b"Subject: hi\n\nhello\n", timeout=60, stdin=None):
        kw = {}
        if stdin is not None:
            kw = {"stdin": stdin, "input": None}
        else:
            kw = {"input": msg}
        p = subprocess.run([self.home.bin("qmail-remote"), host, sender] + list(rcpts),
                           env=self.home.env(), capture_output=True, timeout=timeout, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def session(self, i=-1):
        wait_for(lambda: self.sink.sessions, 10, "a session")
        s = self.sink.sessions[i]
        self.assertTrue(s.done.wait(10))
        return s


class ReportTest(RemoteTestBase):
    def test_success_exact_bytes(self):
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt", "c@nomx.qmt"])
        self.assertEqual(out, b"r\0r\0K127.0.0.2 accepted message.\n"
                              b"Remote host said: 250 ok 1234 qp 5678\n\0")
        s = self.session()
        self.assertEqual(s.commands[0], "EHLO example.test")
        self.assertEqual(s.commands[1], "MAIL FROM:<a@example.test> SIZE=%d" %
                         len(b"Subject: hi\r\n\r\nhello\r\n"))
        self.assertEqual(s.commands[2:5], ["RCPT TO:<b@nomx.qmt>", "RCPT TO:<c@nomx.qmt>", "DATA"])
        self.assertEqual(s.commands[-1], "QUIT")
        self.assertEqual(s.data, [b"Subject: hi\r\n\r\nhello\r\n"])

    def test_final_dot_in_same_write_as_data(self):
        self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=b"x" * 1000 + b"\n")
        s = self.session()
        # The recv that ended DATA carried the body too, not a lone ".\r\n".
        self.assertEqual(s.final_recv[0], b"x" * 1000 + b"\r\n.\r\n")

    def test_helohost(self):
        self.home.control("helohost", "out.example.test\n")
        self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(self.session().commands[0], "EHLO out.example.test")

    def test_rcpt_perm_and_temp(self):
        self.sink.replies["rcpt:bad@nomx.qmt"] = "550 5.1.1 no such user"
        self.sink.replies["rcpt:later@nomx.qmt"] = "451-4.3.0 try\r\n451 4.3.0 later"
        out = self.remote("nomx.qmt", "a@example.test",
                          ["bad@nomx.qmt", "ok@nomx.qmt", "later@nomx.qmt"])
        self.assertEqual(records(out), [
            "h127.0.0.2 does not like recipient.\nRemote host said: 550 5.1.1 no such user\n",
            "r",
            "s127.0.0.2 does not like recipient.\n"
            "Remote host said: 451-4.3.0 try\n451 4.3.0 later\n",
            "K127.0.0.2 accepted message.\nRemote host said: 250 ok 1234 qp 5678\n"])
        self.assertEqual(len(self.session().data), 1)

    def test_all_rcpts_rejected_no_data(self):
        self.sink.ehlo = ["8BITMIME"]  # no pipelining: DATA must not be sent
        self.sink.replies["rcpt"] = "550 no"
        out = self.remote("nomx.qmt", "a@example.test", ["x@nomx.qmt", "y@nomx.qmt"])
        self.assertEqual(records(out), [
            "h127.0.0.2 does not like recipient.\nRemote host said: 550 no\n"] * 2 +
            ["DGiving up on 127.0.0.2.\nRemote host said: 550 no\n"])
        s = self.session()
        self.assertNotIn("DATA", s.commands)
        self.assertEqual(s.data, [])

    def test_all_rcpts_rejected_pipelined(self):
        self.sink.replies["rcpt"] = "550 no"
        self.sink.replies["data"] = "554 no valid recipients"
        out = self.remote("nomx.qmt", "a@example.test", ["x@nomx.qmt"])
        self.assertEqual(records(out), [
            "h127.0.0.2 does not like recipient.\nRemote host said: 550 no\n",
            "DGiving up on 127.0.0.2.\nRemote host said: 550 no\n"])

    def test_stage_failures(self):
        cases = [
            ("greeting", "554 go away", "DConnected to 127.0.0.2 but greeting failed.\n"
                                        "Remote host said: 554 go away\n"),
            ("greeting", "421 busy", "ZConnected to 127.0.0.2 but greeting failed.\n"
                                     "Remote host said: 421 busy\n"),
            ("mail", "553 sender refused", "DConnected to 127.0.0.2 but sender was rejected.\n"
                                           "Remote host said: 553 sender refused\n"),
            ("mail", "451 later", "ZConnected to 127.0.0.2 but sender was rejected.\n"
                                  "Remote host said: 451 later\n"),
            ("data", "554 no data", "D127.0.0.2 failed on DATA command.\n"
                                    "Remote host said: 554 no data\n"),
            ("data", "451 no data now", "Z127.0.0.2 failed on DATA command.\n"
                                        "Remote host said: 451 no data now\n"),
            ("end", "554 5.7.1 spam", "D127.0.0.2 failed after I sent the message.\n"
                                      "Remote host said: 554 5.7.1 spam\n"),
            ("end", "452 4.3.1 full", "Z127.0.0.2 failed after I sent the message.\n"
                                      "Remote host said: 452 4.3.1 full\n"),
        ]
        for stage, reply, want in cases:
            for pipelining in (True, False):
                with self.subTest(stage=stage, reply=reply, pipelining=pipelining):
                    self.sink.replies = {stage: reply}
                    self.sink.ehlo = ["PIPELINING"] if pipelining else ["SIZE"]
                    got = records(self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"]))
                    self.assertEqual(got[-1], want)
                    if stage in ("data", "end"):
                        self.assertEqual(got[:-1], ["r"])
                    else:
                        self.assertEqual(got[:-1], [])

    def test_helo_fallback(self):
        self.sink.ehlo = None
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertTrue(records(out)[-1].startswith("K"))
        s = self.session()
        self.assertEqual(s.commands[:3], ["EHLO example.test", "HELO example.test",
                                          "MAIL FROM:<a@example.test>"])

    def test_helo_rejected(self):
        self.sink.ehlo = None
        self.sink.replies["helo"] = "550 who are you"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(records(out), ["DConnected to 127.0.0.2 but my name was rejected.\n"
                                        "Remote host said: 550 who are you\n"])

    def test_multiline_and_nul_in_reply(self):
        self.sink.replies["end"] = "250-first\r\n250-sec\x00ond\r\n250 third"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(records(out)[-1], "K127.0.0.2 accepted message.\n"
                         "Remote host said: 250-first\n250-sec?ond\n250 third\n")

    def test_malformed_reply(self):
        self.sink.replies["mail"] = "hello there"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertTrue(records(out)[-1].startswith("ZConnected to 127.0.0.2 but its reply was bad"),
                        out)

    def test_too_many_reply_lines(self):
        self.sink.replies["greeting"] = "\r\n".join(["220-x"] * 200) + "\r\n220 x"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertIn(b"too many reply lines", out)
        self.assertTrue(out.startswith(b"Z"))

    def test_size_limit(self):
        self.sink.ehlo = ["SIZE 100"]
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=b"y" * 200 + b"\n")
        self.assertEqual(records(out), ["DConnected to 127.0.0.2 but the message is larger than "
                                        "its limit of 100 bytes. (#5.3.4)\n"])
        self.assertNotIn("MAIL", " ".join(self.session().commands))

    def test_8bitmime(self):
        msg = "Subject: caf\u00e9\n\nna\u00efve\n".encode()
        self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=msg)
        self.assertIn("BODY=8BITMIME", self.session().commands[1])
        # 7-bit message: no BODY parameter.
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertTrue(records(out)[-1].startswith("K"), out)
        self.assertEqual(len(self.sink.sessions), 2)
        self.assertNotIn("BODY", self.session().commands[1])

    def test_smtputf8(self):
        out = self.remote("nomx.qmt", "a@example.test", ["j\u00fcrgen@nomx.qmt".encode()])
        self.assertEqual(records(out), ["DConnected to 127.0.0.2 but it does not offer SMTPUTF8, "
                                        "which these addresses need. (#5.6.7)\n"])
        self.sink.ehlo = ["SMTPUTF8", "8BITMIME"]
        out = self.remote("nomx.qmt", "a@example.test", ["j\u00fcrgen@nomx.qmt".encode()])
        self.assertTrue(records(out)[-1].startswith("K"))
        self.assertEqual(self.session().commands[1], "MAIL FROM:<a@example.test> SMTPUTF8")

    def test_seekable_input(self):
        path = os.path.join(self.home.tmp, "mess")
        with open(path, "wb") as f:
            f.write(b"junk before\nSubject: file\n\n.dot\n")
        with open(path, "rb") as f:
            f.seek(len(b"junk before\n"))
            out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], stdin=f)
        self.assertTrue(records(out)[-1].startswith("K"))
        self.assertEqual(self.session().data, [b"Subject: file\r\n\r\n..dot\r\n"])

    def test_usage(self):
        p = subprocess.run([self.home.bin("qmail-remote"), "nomx.qmt", "a@b"],
                           env=self.home.env(), capture_output=True, input=b"")
        # qmail-remote(8): "always exits zero"; the report says why.
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"DSorry, I was invoked improperly. (#5.3.5)\n\0")


class TransparencyTest(RemoteTestBase):
    CASES = [
        (b"", b""),
        (b"no newline at end", b"no newline at end\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"crlf\r\nalready\r\n", b"crlf\r\nalready\r\n"),
        (b".\n", b"..\r\n"),
        (b"a\n.\nb\n", b"a\r\n..\r\nb\r\n"),
        (b"a\n.\r\nb\n", b"a\r\n..\r\nb\r\n"),
        (b"..\n...\n", b"...\r\n....\r\n"),
        (b"bare\rcr\n", b"bare\r\ncr\r\n"),
        (b"x\r.\r\ny\n", b"x\r\n..\r\ny\r\n"),
        (b"x\n.\r", b"x\r\n..\r\n"),
        (b"\r\n.\r\n", b"\r\n..\r\n"),
        (b"lf-dot\n.", b"lf-dot\r\n..\r\n"),
        (b"\n\n\n", b"\r\n\r\n\r\n"),
        (b"end\r\r\n", b"end\r\n\r\n"),
    ]

    def test_bodies(self):
        for msg, want in self.CASES:
            with self.subTest(msg=msg):
                out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=msg)
                self.assertTrue(records(out)[-1].startswith("K"), out)
                self.assertEqual(self.session().data, [want])

    def test_big_body(self):
        lines = [(b"." if i % 7 == 0 else b"") + b"line %d" % i for i in range(60000)]
        msg = b"\n".join(lines) + b"\n"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=msg)
        self.assertTrue(records(out)[-1].startswith("K"), out)
        want = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
        self.assertEqual(self.session().data, [want])


class DnsTest(RemoteTestBase):
    def test_next_mx_on_refused(self):
        out = self.remote("a.qmt", "a@example.test", ["b@a.qmt"])
        self.assertTrue(records(out)[-1].startswith("K127.0.0.2 accepted"), out)

    def test_nxdomain(self):
        out = self.remote("missing.qmt", "a@example.test", ["b@missing.qmt"])
        self.assertEqual(out, b"DSorry, I couldn't find any host named missing.qmt. (#5.1.2)\n\0")

    def test_null_mx(self):
        out = self.remote("nullmx.qmt", "a@example.test", ["b@nullmx.qmt"])
        self.assertEqual(out, b"DSorry, nullmx.qmt does not accept mail (null MX). (#5.1.10)\n\0")
        self.assertEqual(self.sink.sessions, [])

    def test_mx_without_address(self):
        out = self.remote("noaddr.qmt", "a@example.test", ["b@noaddr.qmt"])
        self.assertEqual(out, b"DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0")

    def test_servfail_is_temporary(self):
        out = self.remote("broken.qmt", "a@example.test", ["b@broken.qmt"])
        self.assertEqual(out, b"ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0")

    def test_self_only(self):
        want = (b"DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
                b"it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n\0")
        for host in ("selfonly.qmt", "selfbest.qmt", "localmx.qmt"):
            with self.subTest(host=host):
                self.assertEqual(self.remote(host, "a@example.test", ["b@" + host]), want)
        self.assertEqual(self.remote("[127.0.0.1]", "a@example.test", ["b@x"]), want)
        self.assertEqual(self.sink.sessions, [])

    def test_self_as_backup(self):
        out = self.remote("selfbackup.qmt", "a@example.test", ["b@selfbackup.qmt"])
        self.assertTrue(records(out)[-1].startswith("K127.0.0.2"), out)

    def test_cname(self):
        for host in ("cname.qmt", "mxcname.qmt"):
            with self.subTest(host=host):
                out = self.remote(host, "a@example.test", ["b@" + host])
                self.assertTrue(records(out)[-1].startswith("K127.0.0.2"), out)
                self.assertEqual(self.session().commands[2], "RCPT TO:<b@%s>" % host)

    def test_equal_preference_randomised(self):
        sink2 = Sink(SINK2_IP, self.sink.port)
        self.addCleanup(sink2.close)
        seen = set()
        for _ in range(40):
            out = self.remote("eq.qmt", "a@example.test", ["b@eq.qmt"])
            seen.add(records(out)[-1].split(" ")[0])
            if len(seen) == 2:
                break
        self.assertEqual(seen, {"K127.0.0.2", "K127.0.0.4"})

    def test_literal(self):
        out = self.remote("[127.0.0.2]", "a@example.test", ["b@[127.0.0.2]"])
        self.assertTrue(records(out)[-1].startswith("K127.0.0.2"), out)


class RoutesTest(RemoteTestBase):
    def test_relay_literal_with_port(self):
        other = Sink(SINK2_IP)
        self.addCleanup(other.close)
        self.home.control("smtproutes", "far.example:[%s]:%d\n" % (SINK2_IP, other.port))
        out = self.remote("far.example", "a@example.test", ["b@far.example"])
        self.assertTrue(records(out)[-1].startswith("K127.0.0.4 accepted"), out)
        self.assertEqual(self.sink.sessions, [])

    def test_wildcard_and_catchall(self):
        self.home.control("smtproutes", ".sub.example:[%s]:%d\n:nomx.qmt:%d\n" %
                          (SINK_IP, self.sink.port, self.sink.port))
        for host in ("x.sub.example", "anything.example", "sub.example"):
            with self.subTest(host=host):
                out = self.remote(host, "a@example.test", ["b@" + host])
                self.assertTrue(records(out)[-1].startswith("K127.0.0.2"), out)

    def test_relay_ipv6_by_name(self):
        try:
            sink6 = Sink("::1", 0, socket.AF_INET6)
        except OSError:
            self.skipTest("no IPv6 loopback")
        self.addCleanup(sink6.close)
        self.home.control("smtproutes", "six.example:v6only.qmt:%d\n" % sink6.port)
        out = self.remote("six.example", "a@example.test", ["b@six.example"])
        self.assertEqual(records(out)[-1], "K::1 accepted message.\n"
                         "Remote host said: 250 ok 1234 qp 5678\n")
        # An IPv6 literal route too.
        self.home.control("smtproutes", "six.example:[::1]:%d\n" % sink6.port)
        out = self.remote("six.example", "a@example.test", ["b@six.example"])
        self.assertTrue(records(out)[-1].startswith("K::1"), out)

    def test_bad_smtproutes_is_temporary(self):
        self.home.control("smtproutes", "no colon here\n")
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(out, b"ZUnable to read control files. (#4.3.0)\n\0")

    def test_nothing_listening(self):
        self.home.control("smtproutes", "x.example:[%s]:%d\n" % (DEAD_IP, self.sink.port))
        out = self.remote("x.example", "a@example.test", ["b@x.example"])
        self.assertEqual(out, b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0")


def make_certs(d, names):
    """A test CA and a server certificate for `names` signed by it, made by
    the openssl command; returns (ca.pem, server.pem with key)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=qmail test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=" + names[0])
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")


class TlsTest(RemoteTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certdir = tempfile.mkdtemp(prefix="qmail-tls-")
        cls.ca, cert, key = make_certs(cls.certdir, ["nomx.qmt", "mx2.a.qmt"])
        cls.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cls.ctx.load_cert_chain(cert, key)
        other = os.path.join(cls.certdir, "other")
        os.mkdir(other)
        cls.other_ca = make_certs(other, ["nomx.qmt"])[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        p = self.home.path("control", "tlsdestinations")
        if os.path.exists(p):
            os.unlink(p)

    def test_opportunistic(self):
        self.sink.tls = self.ctx
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"], msg=b"x\n.\n")
        self.assertRegex(records(out)[-1], r"^K127\.0\.0\.2 accepted message \(TLSv1\.[23]\)\.\n")
        s = self.session()
        self.assertTrue(s.tls)
        self.assertEqual(s.commands[:3], ["EHLO example.test", "STARTTLS", "EHLO example.test"])
        self.assertEqual(s.data, [b"x\r\n..\r\n"])

    def test_required_and_verified(self):
        self.sink.tls = self.ctx
        self.home.control("tlsdestinations", "a.qmt:%s\nnomx.qmt:%s\n" % (self.ca, self.ca))
        for host in ("nomx.qmt", "a.qmt"):  # the host itself; an MX name
            with self.subTest(host=host):
                out = self.remote(host, "a@example.test", ["b@" + host])
                self.assertTrue(records(out)[-1].startswith("K127.0.0.2 accepted message (TLS"), out)

    def test_required_wrong_ca(self):
        self.sink.tls = self.ctx
        self.home.control("tlsdestinations", ".qmt:%s\n" % self.other_ca)
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(records(out), ["ZConnected to 127.0.0.2 but its TLS certificate does not "
                                        "verify for nomx.qmt. (#4.7.5)\n"])
        self.assertEqual(self.session().data, [])

    def test_required_not_offered(self):
        self.home.control("tlsdestinations", "nomx.qmt\n")
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(records(out), ["ZConnected to 127.0.0.2 but it does not offer STARTTLS, "
                                        "which control/tlsdestinations requires. (#4.7.5)\n"])
        self.assertNotIn("MAIL", " ".join(self.session().commands))

    def test_broken_handshake_falls_back_to_plain(self):
        self.sink.tls = "garbage"
        out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
        self.assertEqual(records(out)[-1], "K127.0.0.2 accepted message.\n"
                         "Remote host said: 250 ok 1234 qp 5678\n")
        self.assertEqual(len(self.sink.sessions), 2)
        self.assertNotIn("STARTTLS", self.session(1).commands)


class TimeoutTest(RemoteTestBase):
    def test_reply_timeout(self):
        self.home.control("timeoutremote", "1\n")
        for stage in ("greeting", "mail", "end"):
            with self.subTest(stage=stage):
                self.sink.hang = stage
                start = time.time()
                out = self.remote("nomx.qmt", "a@example.test", ["b@nomx.qmt"])
                self.assertLess(time.time() - start, 20)
                self.assertEqual(records(out)[-1],
                                 "ZConnected to 127.0.0.2 but connection timed out. (#4.4.2)\n")

    def test_connect_timeout_and_tcpto(self):
        # A listener with a full accept queue drops further SYNs: the
        # connection times out.
        full = socket.socket()
        full.bind((SINK2_IP, 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        self.addCleanup(full.close)
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex((SINK2_IP, port))
            fillers.append(f)
            self.addCleanup(f.close)
        time.sleep(0.2)  # let the handshakes of the fillers complete
        self.home.control("timeoutconnect", "1\n")
        self.home.control("smtproutes", "slow.example:[%s]:%d\n" % (SINK2_IP, port))
        start = time.time()
        out = self.remote("slow.example", "a@example.test", ["b@slow.example"])
        self.assertLess(time.time() - start, 20)
        self.assertEqual(out, b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0")
        p = self.home.run_ok("qmail-tcpto")
        self.assertRegex(p.stdout.decode(),
                         r"^127\.0\.0\.4 timed out \d+ seconds ago; # recent timeouts: 1\n$")
        self.home.run_ok("qmail-tcpok")
        self.assertEqual(self.home.run_ok("qmail-tcpto").stdout, b"")


if __name__ == "__main__":
    unittest.main()
