"""qmail-smtpd integration tests. Helpers (also used by test_smtpd_tls.py): run the real qmail-smtpd
over pipes (one batch of client bytes in, all replies out) or per
connection behind a tiny accept loop on 127.0.0.1 (what tcpserver does:
fd 0 and 1 are the socket, tcp-environ(5) variables set), and read what
qmail-queue committed in the temporary home."""
import os
import socket
import subprocess
import threading

from qmailtest import HomeTestCase, wait_for  # noqa: F401

TCPENV = {"PROTO": "TCP", "TCPREMOTEIP": "127.0.0.1", "TCPLOCALIP": "127.0.0.1",
          "TCPREMOTEPORT": "4000", "TCPLOCALPORT": "25"}


def parse_envelope(raw):
    fields = raw.split(b"\0")
    sender = None
    rcpts = []
    for f in fields:
        if f.startswith(b"F"):
            sender = f[1:].decode("utf-8", "replace")
        elif f.startswith(b"T"):
            rcpts.append(f[1:].decode("utf-8", "replace"))
    return sender, rcpts


class Listener:
    """Accepts connections on 127.0.0.1 and runs qmail-smtpd on each."""

    def __init__(self, home, **env):
        self.home = home
        self.env = dict(TCPENV)
        self.env.update(env)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.procs = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            env = dict(self.env)
            env["TCPREMOTEPORT"] = str(peer[1])
            env["TCPLOCALPORT"] = str(self.port)
            p = subprocess.Popen([self.home.bin("qmail-smtpd")], stdin=conn.fileno(),
                                 stdout=conn.fileno(), stderr=subprocess.PIPE,
                                 env=self.home.env(**env))
            conn.close()
            self.procs.append(p)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stderr.close()


class SmtpdTestCase(HomeTestCase):
    """A fresh home (config-fast example.test) and helpers to talk to
    qmail-smtpd in it."""

    def smtpd(self, data, timeout=60, **env):
        """Runs qmail-smtpd with `data` on fd 0; returns (replies, exit code,
        stderr)."""
        e = dict(TCPENV)
        e.update(env)
        p = subprocess.run([self.home.bin("qmail-smtpd")], input=data,
                           env=self.home.env(**e), capture_output=True, timeout=timeout)
        return p.stdout.decode("utf-8", "replace"), p.returncode, p.stderr.decode(errors="replace")

    def codes(self, replies):
        """The reply codes of the final lines of each reply."""
        return [int(l[:3]) for l in replies.split("\r\n") if len(l) >= 4 and l[3] == " "]

    def queued(self):
        """[(sender, [recipients], message bytes)] committed to the queue."""
        out = []
        todo = self.home.path("queue", "todo")
        for name in sorted(os.listdir(todo)):
            with open(os.path.join(todo, name), "rb") as f:
                sender, rcpts = parse_envelope(f.read())
            mess = self.home.path("queue", "mess", str(int(name) % 23), name)
            with open(mess, "rb") as f:
                out.append((sender, rcpts, f.read()))
        return out

    def listener(self, **env):
        lst = Listener(self.home, **env)
        self.addCleanup(lst.close)
        return lst


import smtplib  # noqa: E402
import unittest  # noqa: E402

MSG = b"Subject: hi\r\n\r\nbody\r\n"


def envelope(sender="a@b.test", rcpts=("u@example.test",), msg=MSG, ehlo="EHLO client.test"):
    out = ehlo.encode() + b"\r\nMAIL FROM:<" + sender.encode() + b">\r\n"
    for r in rcpts:
        out += b"RCPT TO:<" + r.encode() + b">\r\n"
    return out + b"DATA\r\n" + msg + b".\r\n"


class Basics(SmtpdTestCase):
    def test_greeting_helo_and_ehlo(self):
        out, rc, _ = self.smtpd(b"HELO x\r\nEHLO y\r\nQUIT\r\n")
        self.assertEqual(rc, 0)
        lines = out.split("\r\n")
        self.assertEqual(lines[0], "220 example.test ESMTP")
        self.assertEqual(lines[1], "250 example.test")
        ext = [l[4:] for l in lines if l.startswith("250-") or l.startswith("250 ")][1:]
        for want in ["PIPELINING", "8BITMIME", "SIZE 10485760", "ENHANCEDSTATUSCODES", "SMTPUTF8"]:
            self.assertIn(want, ext)
        self.assertNotIn("STARTTLS", ext)  # no control/servercert.pem
        self.assertTrue(out.endswith("221 2.0.0 example.test\r\n"))

    def test_smtpgreeting(self):
        self.home.control("smtpgreeting", "mx.example.test hello there\n")
        out, _, _ = self.smtpd(b"QUIT\r\n")
        self.assertTrue(out.startswith("220 mx.example.test hello there ESMTP\r\n"))

    def test_queues_message_with_received_line(self):
        msg = b"Subject: hi\r\n\r\nbody\r\n..dot\r\n\r\n..\r\nlast\r\n"
        out, _, _ = self.smtpd(envelope(msg=msg) + b"QUIT\r\n",
                               TCPREMOTEHOST="client.test", TCPREMOTEINFO="joe",
                               TCPLOCALHOST="mx.example.test")
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 354, 250, 221])
        q = self.queued()
        self.assertEqual(len(q), 1)
        sender, rcpts, mess = q[0]
        self.assertEqual(sender, "a@b.test")
        self.assertEqual(rcpts, ["u@example.test"])
        lines = mess.split(b"\n")
        self.assertTrue(lines[0].startswith(b"Received: (qmail "))
        self.assertEqual(lines[1], b"Received: from client.test (joe@client.test [127.0.0.1])")
        self.assertTrue(lines[2].startswith(b"  by mx.example.test with ESMTP; "), lines[2])
        self.assertTrue(lines[2].endswith(b" -0000"))
        self.assertEqual(b"\n".join(lines[3:]), b"Subject: hi\n\nbody\n.dot\n\n.\nlast\n")

    def test_helo_in_received_line_and_smtp_proto(self):
        self.smtpd(envelope(ehlo="HELO fake.name(x)") + b"QUIT\r\n", TCPREMOTEHOST="client.test")
        mess = self.queued()[0][2].split(b"\n")
        self.assertEqual(mess[1],
                         b"Received: from client.test (HELO fake.name?x?) (client.test [127.0.0.1])")
        self.assertIn(b" with SMTP; ", mess[2])

    def test_sequence_errors(self):
        out, _, _ = self.smtpd(b"RCPT TO:<u@example.test>\r\nDATA\r\nMAIL FROM:<a@b>\r\n"
                               b"MAIL FROM:<a@b>\r\nDATA\r\nRSET\r\nRCPT TO:<u@example.test>\r\n"
                               b"NOOP\r\nVRFY u\r\nHELP\r\nFOO\r\nBDAT 10\r\nQUIT\r\n")
        self.assertEqual(self.codes(out),
                         [220, 503, 503, 250, 503, 503, 250, 503, 250, 252, 214, 502, 502, 221])
        self.assertIn("503 5.5.1 MAIL first (#5.5.1)", out)
        self.assertIn("503 5.5.1 RCPT first (#5.5.1)", out)
        self.assertEqual(self.queued(), [])

    def test_every_reply_has_an_enhanced_code(self):
        out, _, _ = self.smtpd(envelope() + b"RCPT TO:<x@y>\r\nFOO\r\nMAIL FROM:<>\r\n"
                               b"RCPT TO:<u@evil.test>\r\nRSET\r\nVRFY x\r\nQUIT\r\n")
        for line in out.split("\r\n")[1:]:
            if not line or line.startswith("250-") or line in ("250 example.test",):
                continue
            if line.startswith("354") or line.startswith("250 SMTPUTF8"):
                continue
            self.assertRegex(line, r"^\d{3} [245]\.\d{1,3}\.\d{1,3} ")

    def test_too_many_errors_disconnects(self):
        out, _, _ = self.smtpd(b"FOO\r\n" * 110 + b"QUIT\r\n")
        self.assertEqual(self.codes(out).count(502), 100)
        self.assertTrue(out.endswith("421 4.7.0 too many errors, closing connection (#4.7.0)\r\n"))

    def test_long_command_line(self):
        out, _, _ = self.smtpd(b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual(self.codes(out), [220, 500, 250, 221])

    def test_maxrcpt(self):
        self.home.control("maxrcpt", "3\n")
        out, _, _ = self.smtpd(envelope(rcpts=["a%d@example.test" % i for i in range(5)]))
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 250, 250, 452, 452, 354, 250])
        self.assertEqual(len(self.queued()[0][1]), 3)

    def test_timeout(self):
        self.home.control("timeoutsmtpd", "1\n")
        p = subprocess.Popen([self.home.bin("qmail-smtpd")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=self.home.env(**TCPENV))
        p.stdin.write(b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@example.test>\r\nDATA\r\nSub")
        p.stdin.flush()
        out = p.stdout.read().decode()  # EOF once it gives up; stdin stays open
        p.wait(30)
        p.stdin.close()
        p.stdout.close()
        self.assertTrue(out.endswith("421 4.4.2 timeout (#4.4.2)\r\n"), out)
        self.assertEqual(self.queued(), [])


class DoubleBounceSender(SmtpdTestCase):
    def test_double_bounce_sender_is_taken(self):
        """qmail-send(8): a double bounce has envelope sender #@[]; a qmail
        that sends one to us says MAIL FROM:<#@[]>."""
        out, _, _ = self.smtpd(envelope(sender="#@[]") + b"QUIT\r\n")
        self.assertIn("250 2.0.0 ok", out)
        (sender, rcpts, _), = self.queued()
        self.assertEqual(sender, "#@[]")


class QueueErrors(SmtpdTestCase):
    def fake_qq(self, code):
        path = os.path.join(self.home.tmp, "qq%d" % code)
        with open(path, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\nexit %d\n" % code)
        os.chmod(path, 0o755)
        return path

    def test_exit_codes_map_to_replies(self):
        for code, want in [(31, "554 5.3.0 mail server permanently rejected message (#5.3.0)"),
                           (53, "451 4.3.0 qq write error or disk full (#4.3.0)"),
                           (11, "554 5.1.3 envelope address too long for qq (#5.1.3)"),
                           (77, "451 4.3.0 qq temporary problem (#4.3.0)")]:
            out, _, _ = self.smtpd(envelope() + b"QUIT\r\n", QMAILQUEUE=self.fake_qq(code))
            self.assertIn(want + "\r\n", out)
            self.assertNotIn("250 2.0.0 ok", out)

    def custom_qq(self, name, text, code=82):
        """A program offering qmail-queue's interface that refuses with its
        own reason on descriptor 6 (qmail-queue(8), exit code 82)."""
        path = os.path.join(self.home.tmp, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\nprintf '%%s' '%s' >&6\nexit %d\n" % (text, code))
        os.chmod(path, 0o755)
        return path

    def test_exit_82_gives_the_programs_own_reason(self):
        for text, want in [("Dno thanks (#5.7.1)", "554 5.7.1 no thanks (#5.7.1)"),
                           ("Zcome back later (#4.3.5)", "451 4.3.5 come back later (#4.3.5)"),
                           ("Dno code here", "554 5.0.0 no code here"),
                           # Nothing usable on descriptor 6: a temporary problem.
                           ("", "451 4.3.0 qq temporary problem (#4.3.0)"),
                           ("Xodd", "451 4.3.0 qq temporary problem (#4.3.0)"),
                           # Its code is used only when it is one of the reply's class.
                           ("Dhi (#2.0.0)", "554 5.0.0 hi (#2.0.0)"),
                           # Printable ASCII only, and a line of bounded length.
                           ("Dcaf\u00e9 " + "x" * 600, "554 5.0.0 caf?? " + "x" * 394)]:
            qq = self.custom_qq("qq82", text)
            out, _, _ = self.smtpd(envelope() + b"QUIT\r\n", QMAILQUEUE=qq)
            self.assertIn(want + "\r\n", out)
            self.assertNotIn("250 2.0.0 ok", out)
        # A program that writes more than the pipe holds is not waited for
        # forever: its writes fail, and it exits.
        qq = os.path.join(self.home.tmp, "qqbig")
        with open(qq, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\nhead -c 1000000 /dev/zero | tr '\\0' x >&6\n"
                    "exit 82\n")
        os.chmod(qq, 0o755)
        out, _, _ = self.smtpd(envelope() + b"QUIT\r\n", timeout=60, QMAILQUEUE=qq)
        self.assertIn("451 4.3.0 qq temporary problem (#4.3.0)\r\n", out)
        # Descriptor 6 is only read for 82.
        qq = self.custom_qq("qq31", "Dignored", 31)
        out, _, _ = self.smtpd(envelope() + b"QUIT\r\n", QMAILQUEUE=qq)
        self.assertIn("554 5.3.0 mail server permanently rejected message (#5.3.0)\r\n", out)

    def test_qmailqueue_is_used(self):
        out, _, _ = self.smtpd(envelope() + b"QUIT\r\n", QMAILQUEUE=self.fake_qq(0))
        self.assertIn("250 2.0.0 ok", out)
        self.assertEqual(self.queued(), [])  # the fake took it, not qmail-queue


class Relay(SmtpdTestCase):
    REFUSED = [
        "u@evil.test", "u@EVIL.TEST", "u%evil.test@example.test", "u%evil.test",
        "evil.test!u@example.test", "evil.test!u", "\"u@evil.test\"@example.test",
        "\"u%evil.test\"@example.test", "@example.test:u@evil.test",
        "@example.test,@x.test:u@evil.test", "u@[192.0.2.1]", "u@[IPv6:2001:db8::1]",
        "u@example.test.evil.test", "u@sub.example.test", "u@evil.test.",
        "u@example.test.", "u@example.test@evil.test", "u@@evil.test", "",
        "u@evil.test>", "a" * 300 + "@example.test", "u@" + "a." * 130 + "test",
        "u\\@evil.test@example.test", "u@ex ample.test", "\"u\"@evil.test", "U@Evil.Test",
        "u@127.0.0.1", "u@[127.0.0.1]@evil.test",
    ]

    def test_relay_battery_refused(self):
        # In batches: refusals count as errors, and 100 end the session.
        for i in range(0, len(self.REFUSED), 10):
            batch = self.REFUSED[i:i + 10]
            data = b"EHLO x\r\nMAIL FROM:<a@b.test>\r\n"
            for r in batch:
                data += b"RCPT TO:<" + r.encode() + b">\r\n"
            data += b"DATA\r\nQUIT\r\n"
            out, _, _ = self.smtpd(data)
            codes = self.codes(out)
            self.assertEqual(len(codes), 3 + len(batch) + 2, out)
            for addr, code in zip(batch, codes[3:]):
                self.assertIn(code, (501, 553), addr)
            self.assertIn("553 5.7.1 sorry, that domain isn't in my list of allowed rcpthosts",
                          out)
            self.assertIn("554 5.5.1 no valid recipients", out)
        self.assertEqual(self.queued(), [])

    def test_accepted_forms(self):
        ok = ["U@EXAMPLE.TEST", "@a.test,@b.test:u@example.test", "Postmaster",
              "u@[127.0.0.1]", "\"u.v\"@example.test", "u+tag@example.test"]
        out, _, _ = self.smtpd(envelope(rcpts=ok) + b"QUIT\r\n", TCPLOCALIP="127.0.0.1")
        self.assertEqual(self.codes(out), [220, 250, 250] + [250] * len(ok) + [354, 250, 221])
        self.assertEqual(self.queued()[0][1],
                         ["U@EXAMPLE.TEST", "u@example.test", "Postmaster@example.test",
                          "u@example.test", "u.v@example.test", "u+tag@example.test"])

    def test_localiphost(self):
        self.home.control("localiphost", "lip.example.test\n")
        self.home.control("rcpthosts", "example.test\nlip.example.test\n")
        self.smtpd(envelope(rcpts=["u@[127.0.0.1]"]), TCPLOCALIP="127.0.0.1")
        self.assertEqual(self.queued()[0][1], ["u@lip.example.test"])

    def test_relayclient(self):
        out, _, _ = self.smtpd(envelope(rcpts=["u@evil.test", "v%w@x.test"]) + b"QUIT\r\n",
                               RELAYCLIENT="")
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 250, 354, 250, 221])
        self.assertEqual(self.queued()[0][1], ["u@evil.test", "v%w@x.test"])

    def test_relayclient_is_appended(self):
        self.smtpd(envelope(rcpts=["u@evil.test"]), RELAYCLIENT=".relay")
        self.assertEqual(self.queued()[0][1], ["u@evil.test.relay"])

    def test_wildcards(self):
        self.home.control("rcpthosts", ".wild.test\nexact.test\n")
        out, _, _ = self.smtpd(envelope(rcpts=["a@x.wild.test", "b@y.z.WILD.test", "c@wild.test",
                                                "d@exact.test", "e@x.exact.test"]))
        self.assertEqual(self.codes(out)[3:8], [250, 250, 553, 250, 553])

    def test_morercpthosts(self):
        self.home.control("morercpthosts", "More.test\n.wildmore.test\n")
        self.home.run_ok("qmail-newmrh")
        self.assertTrue(os.path.exists(self.home.path("control", "morercpthosts.cdb")))
        out, _, _ = self.smtpd(envelope(rcpts=["a@more.test", "b@x.wildmore.test",
                                                "c@wildmore.test", "d@example.test"]))
        self.assertEqual(self.codes(out)[3:7], [250, 250, 553, 250])

    def test_no_rcpthosts_allows_every_domain(self):
        # qmail-smtpd(8): rcpthosts applies only "if rcpthosts is supplied".
        os.unlink(self.home.path("control", "rcpthosts"))
        out, _, _ = self.smtpd(envelope(rcpts=["u@example.test", "u@evil.test"]))
        self.assertEqual(self.codes(out)[3:5], [250, 250])

    def test_empty_rcpthosts_refuses_domains(self):
        self.home.control("rcpthosts", "")
        out, _, _ = self.smtpd(envelope(rcpts=["u@example.test", "u@evil.test"]))
        self.assertEqual(self.codes(out)[3:5], [553, 553])

    def test_badmailfrom(self):
        self.home.control("badmailfrom", "Bad@x.test\n@spam.test\n")
        for sender, want in [("bad@X.test", 553), ("any@SPAM.test", 553), ("ok@x.test", 250),
                             ("", 250)]:
            out, _, _ = self.smtpd(envelope(sender=sender))
            self.assertEqual(self.codes(out)[3], want, sender)
        self.assertIn("badmailfrom", self.smtpd(envelope(sender="bad@x.test"))[0])


class RecipientValidation(SmtpdTestCase):
    def make_recipients(self, lines):
        src = os.path.join(self.home.tmp, "recipients")
        with open(src, "w") as f:
            f.write("".join(l.lower() + " \n" for l in lines))
        subprocess.run(["cdb", "-c", "-m", self.home.path("control", "recipients.cdb"), src],
                       check=True)

    def test_off_by_default(self):
        out, _, _ = self.smtpd(envelope(rcpts=["nobody@example.test"]))
        self.assertEqual(self.codes(out)[3], 250)

    def test_unknown_recipients_refused(self):
        self.make_recipients(["Joe@example.test", "list-@example.test"])
        out, _, _ = self.smtpd(envelope(rcpts=["joe@EXAMPLE.test", "jane@example.test",
                                                "list-x@example.test", "Postmaster@example.test",
                                                "joe", "jane"]))
        self.assertEqual(self.codes(out)[3:9], [250, 550, 250, 250, 250, 550])
        self.assertIn("550 5.1.1 sorry, no mailbox here by that name (#5.1.1)", out)
        self.assertEqual(self.queued()[0][1], ["joe@EXAMPLE.test", "list-x@example.test",
                                               "Postmaster@example.test", "joe@example.test"])

    def test_relay_clients_are_not_checked(self):
        self.make_recipients(["joe@example.test"])
        out, _, _ = self.smtpd(envelope(rcpts=["u@elsewhere.test"]), RELAYCLIENT="")
        self.assertEqual(self.codes(out)[3], 250)


class Pipelining(SmtpdTestCase):
    def test_two_messages_in_one_write(self):
        data = (envelope(msg=b"Subject: one\r\n\r\n1\r\n") +
                b"MAIL FROM:<c@d.test>\r\nRCPT TO:<v@example.test>\r\nDATA\r\n"
                b"Subject: two\r\n\r\n2\r\n.\r\nQUIT\r\n")
        out, _, _ = self.smtpd(data)
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221])
        q = self.queued()
        self.assertEqual(len(q), 2)
        bodies = sorted(m.split(b"\n", 3)[3] for _, _, m in q)
        self.assertEqual(bodies, [b"Subject: one\n\n1\n", b"Subject: two\n\n2\n"])

    def test_pipelined_over_tcp_in_byte_pieces(self):
        lst = self.listener()
        s = socket.create_connection(("127.0.0.1", lst.port))
        data = envelope() + b"QUIT\r\n"
        for i in range(0, len(data), 7):
            s.sendall(data[i:i + 7])
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        s.close()
        self.assertEqual(self.codes(got.decode()), [220, 250, 250, 250, 354, 250, 221])
        self.assertEqual(len(self.queued()), 1)

    def test_smtplib_over_tcp(self):
        lst = self.listener(TCPREMOTEHOST="localhost")
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertTrue(c.has_extn("pipelining"))
            self.assertEqual(int(c.esmtp_features["size"]), 10485760)
            c.sendmail("a@b.test", ["u@example.test", "v@example.test"],
                       b"Subject: smtplib\r\n\r\n.leading dot\r\n")
        q = self.queued()
        self.assertEqual(q[0][1], ["u@example.test", "v@example.test"])
        self.assertTrue(q[0][2].endswith(b"Subject: smtplib\n\n.leading dot\n"))


class Data(SmtpdTestCase):
    def test_bare_lf_in_data(self):
        out, _, _ = self.smtpd(envelope(msg=b"Subject: x\r\n\r\nbare\nlf\r\n") + b"QUIT\r\n")
        self.assertTrue(out.endswith("451 4.6.0 See https://cr.yp.to/docs/smtplf.html (#4.6.0)\r\n"))
        self.assertEqual(self.queued(), [])

    def test_smuggling_with_bare_lf_is_refused(self):
        smuggled = b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nevil\r\n"
        for sep in [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\n.\r\n", b"\r\n.\n\r\n"]:
            msg = b"Subject: x\r\n\r\nbody" + sep + smuggled
            out, _, _ = self.smtpd(envelope(msg=msg) + b"QUIT\r\n")
            self.assertIn("451 4.6.0", out, sep)
            self.assertNotIn("221", out, sep)
        self.assertEqual(self.queued(), [])

    def test_smuggling_with_bare_cr_is_data(self):
        smuggled = b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nevil\r\n"
        for sep in [b"\r.\r\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\r\r\n.\r\r\n"]:
            msg = b"Subject: x\r\n\r\nbody" + sep + smuggled
            out, _, _ = self.smtpd(envelope(msg=msg) + b"QUIT\r\n")
            self.assertEqual(self.codes(out), [220, 250, 250, 250, 354, 250, 221], sep)
        q = self.queued()
        self.assertEqual(len(q), 4)
        for sender, rcpts, mess in q:
            self.assertEqual(sender, "a@b.test")
            self.assertEqual(rcpts, ["u@example.test"])
            self.assertIn(b"MAIL FROM:<evil@x.test>\n", mess)

    def test_bare_cr_kept(self):
        self.smtpd(envelope(msg=b"Subject: x\r\n\r\na\rb\r\r\n"))
        self.assertTrue(self.queued()[0][2].endswith(b"\na\rb\r\n"))

    def test_eight_bit_body(self):
        body = bytes(range(128, 256)) + b"\r\n"
        out, _, _ = self.smtpd(envelope(msg=b"Subject: x\r\n\r\n" + body))
        self.assertIn("250 2.0.0 ok", out)
        self.assertTrue(self.queued()[0][2].endswith(bytes(range(128, 256)) + b"\n"))

    def test_smtputf8(self):
        data = ("EHLO x\r\nMAIL FROM:<jöe@b.test> SMTPUTF8\r\nRCPT TO:<üser@example.test>\r\n"
                "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n").encode()
        out, _, _ = self.smtpd(data)
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 354, 250])
        q = self.queued()
        self.assertEqual(q[0][0], "jöe@b.test")
        self.assertIn(b" with UTF8SMTP; ", q[0][2])
        out, _, _ = self.smtpd("EHLO x\r\nMAIL FROM:<jöe@b.test>\r\n".encode())
        self.assertIn("553 5.6.7", out)

    def test_mail_parameters(self):
        out, _, _ = self.smtpd(b"EHLO x\r\nMAIL FROM:<a@b> BODY=8BITMIME SIZE=100\r\nRSET\r\n"
                               b"MAIL FROM:<a@b> BODY=BINARYMIME\r\nMAIL FROM:<a@b> FOO=1\r\n"
                               b"MAIL FROM:<a@b> SIZE=x\r\nHELO x\r\nMAIL FROM:<a@b> SIZE=1\r\n")
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 555, 555, 501, 250, 555])

    def test_databytes(self):
        self.home.control("databytes", "100\n")
        small = b"Subject: x\r\n\r\n" + b"a" * 40 + b"\r\n"
        exact = b"Subject: x\r\n\r\n" + b"a" * (100 - 14) + b"\r\n"  # 100 bytes as stored
        big = b"Subject: x\r\n\r\n" + b"a" * 300 + b"\r\n"
        out, _, _ = self.smtpd(envelope(msg=big) + envelope(msg=small, ehlo="NOOP") +
                               envelope(msg=exact, ehlo="NOOP") + b"QUIT\r\n")
        self.assertEqual(self.codes(out),
                         [220, 250, 250, 250, 354, 552, 250, 250, 250, 354, 250,
                          250, 250, 250, 354, 250, 221])
        self.assertIn("250-SIZE 100\r\n", out)
        self.assertIn("552 5.3.4 sorry, that message size exceeds my databytes limit (#5.3.4)", out)
        self.assertEqual(len(self.queued()), 2)
        out, _, _ = self.smtpd(b"EHLO x\r\nMAIL FROM:<a@b> SIZE=101\r\nMAIL FROM:<a@b> SIZE=100\r\n")
        self.assertEqual(self.codes(out), [220, 250, 552, 250])

    def test_databytes_environment_overrides(self):
        self.home.control("databytes", "100\n")
        out, _, _ = self.smtpd(envelope(msg=b"Subject: x\r\n\r\n" + b"a" * 300 + b"\r\n"),
                               DATABYTES="1000")
        self.assertIn("250 2.0.0 ok", out)
        # Set but empty is 0, no limit of its own, as qmail reads it.
        out, _, _ = self.smtpd(envelope(msg=b"Subject: x\r\n\r\n" + b"a" * 300 + b"\r\n"),
                               DATABYTES="")
        self.assertIn("250 2.0.0 ok", out)

    def test_hops(self):
        def fields(n, field=b"Received"):
            return b"".join(field + b": x\r\n" for _ in range(n))

        def msg(n):
            return fields(n) + b"\r\nbody\r\n"
        out, _, _ = self.smtpd(envelope(msg=msg(99)) + envelope(msg=msg(100), ehlo="NOOP") +
                               envelope(msg=fields(50) + fields(50, b"delivered-TO") + b"\r\nb\r\n", ehlo="NOOP") +
                               envelope(msg=b"Subject: x\r\n\r\n" + msg(150), ehlo="NOOP"))
        self.assertEqual(self.codes(out),
                         [220, 250, 250, 250, 354, 250, 250, 250, 250, 354, 554,
                          250, 250, 250, 354, 554, 250, 250, 250, 354, 250])
        self.assertIn("554 5.4.6 too many hops, this message is looping (#5.4.6)", out)
        self.assertEqual(len(self.queued()), 2)

    def test_eof_in_data_queues_nothing(self):
        out, _, _ = self.smtpd(b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@example.test>\r\n"
                               b"DATA\r\nSubject: x\r\n\r\nunfinished\r\n")
        self.assertEqual(self.codes(out), [220, 250, 250, 250, 354])
        self.assertEqual(self.queued(), [])


if __name__ == "__main__":
    unittest.main()
