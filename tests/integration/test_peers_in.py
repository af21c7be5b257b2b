"""Inbound interoperability: real SMTP clients from Debian's packages
(swaks, curl, openssl s_client, Postfix's smtp-source) -> qmail-tcpsrv or
ucspi-tcp's tcpserver -> qmail-smtpd -> the queue -> qmail-send ->
a local Maildir, all on 127.0.0.x. Each test has its own mailbox; the
home, qmail-send and the listeners are shared by the class."""
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import Home, wait_for  # noqa: E402
import peerlib  # noqa: E402
from peerlib import have, missing, run, tool, split_message  # noqa: E402

RECEIVED_RE = (rb"Received: from unknown \(HELO [^)]*\) \(unknown \[127\.0\.0\.1\]\)\n"
               rb"  by 127\.0\.0\.1 with E?SMTPS?; \d+ \w+ \d{4} \d\d:\d\d:\d\d -0000\n")


class PeersIn(unittest.TestCase):
    home = None
    boxes = 0

    @classmethod
    def setUpClass(cls):
        cls.home = Home()
        try:
            peerlib.install_servercert(cls.home)
            shutil.copy(os.path.join(peerlib.certs(), "ca.pem"),
                        cls.home.path("control", "clientca.pem"))
            cls.home.start()
            cls.plain = peerlib.Tcpsrv(cls.home)
            cls.smtps = peerlib.Tcpsrv(cls.home, SMTPS="1")
            cls.small = peerlib.Tcpsrv(cls.home, DATABYTES="3000")
        except BaseException:
            cls.home.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in ("plain", "smtps", "small"):
            if hasattr(cls, s):
                getattr(cls, s).stop()
        cls.home.cleanup()

    def setUp(self):
        PeersIn.boxes += 1
        self.user = "peer%d" % PeersIn.boxes
        self.addr = self.user + "@example.test"
        self.box = self.home.add_user(self.user)
        self.tmp = tempfile.mkdtemp(prefix="t-", dir=self.home.tmp)

    def file(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def delivered(self, n=1, timeout=60):
        """Waits for n messages in this test's Maildir; returns them."""
        wait_for(lambda: len(self.home.maildir(self.box)) >= n, timeout,
                 "%d message(s) in %s; log:\n%s" % (n, self.box, self.home.log()[-2000:]))
        msgs = self.home.read_maildir(self.box)
        self.assertEqual(len(msgs), n)
        return msgs

    def assert_arrived_exact(self, sent, proto=None):
        """The one delivered message is `sent` (LF line ends) after the
        fields added on the way in, with one Received line from qmail-smtpd."""
        (msg,) = self.delivered()
        added, rest = split_message(msg)
        self.assertEqual(rest, sent)
        self.assertTrue(added.startswith(b"Return-Path: <a@b.test>\nDelivered-To: " +
                                         self.addr.encode() + b"\n"), added)
        self.assertRegex(added, RECEIVED_RE)
        if proto:
            self.assertIn(b" with " + proto.encode() + b"; ", added)
        return msg

    # -- swaks
    def swaks(self, port, *args, to=None, data=None):
        argv = [tool("swaks"), "--server", "127.0.0.1:%d" % port, "--from", "a@b.test",
                "--to", to or self.addr, "--helo", "swaks.peers.test", "--timeout", "60"]
        if data is not None:
            # swaks ends the data with CRLF itself: give it all but the last LF.
            assert data.endswith(b"\n")
            argv += ["--data", "@" + self.file("data", data[:-1])]
        return run(argv + list(args))

    BODY = (b"From: a@b.test\nTo: someone\nSubject: peers\n\nfirst line\n.\n..x\n.leading dot\n"
            b"trailing spaces   \n\ttab\n\nlast line\n")

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_plain(self):
        code, out = self.swaks(self.plain.port, data=self.BODY)
        self.assertEqual(code, 0, out)
        self.assertIn("<-  250 2.0.0 ok", out)
        msg = self.assert_arrived_exact(self.BODY, "ESMTP")
        self.assertIn(b"HELO swaks.peers.test", msg)

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_pipelining(self):
        code, out = self.swaks(self.plain.port, "--pipeline", data=self.BODY)
        self.assertEqual(code, 0, out)
        # swaks sent MAIL, RCPT and DATA in one go before reading replies.
        self.assertRegex(out, r" -> MAIL FROM:<a@b.test>\n -> RCPT TO:<%s>\n -> DATA\n"
                         r"<-  250 2.1.0 ok\n<-  250 2.1.5 ok\n<-  354 " % re.escape(self.addr))
        self.assert_arrived_exact(self.BODY)

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_pipelining_several_recipients(self):
        other = "peerx%d" % PeersIn.boxes
        obox = self.home.add_user(other)
        code, out = self.swaks(self.plain.port, "--pipeline", to="%s,%s@example.test,"
                               "nobody@elsewhere.test" % (self.addr, other), data=self.BODY)
        self.assertIn("553 5.7.1", out)  # the third recipient; the others take the message
        self.assertIn("<-  250 2.0.0 ok", out)
        self.assert_arrived_exact(self.BODY)
        wait_for(lambda: self.home.maildir(obox), 60, "the second recipient's copy")
        del code

    @unittest.skipUnless(have("swaks", "openssl"), missing("swaks", "openssl"))
    def test_swaks_starttls(self):
        code, out = self.swaks(self.plain.port, "--tls", data=self.BODY)
        self.assertEqual(code, 0, out)
        self.assertIn("<-  220 2.0.0", out)
        self.assertRegex(out, r"TLS started with cipher TLSv1\.[23]:")
        self.assert_arrived_exact(self.BODY, "ESMTPS")

    @unittest.skipUnless(have("swaks", "openssl"), missing("swaks", "openssl"))
    def test_swaks_starttls_pipelined_large_message(self):
        # 4 MB over TLS: many TLS records, a body full of lines to unstuff.
        lines = [(b"." if i % 3 == 0 else b"") + b"%07d " % i + b"q" * 70 for i in range(52000)]
        body = b"From: a@b.test\nSubject: big tls\n\n" + b"\n".join(lines) + b"\n"
        code, out = self.swaks(self.plain.port, "--tls", "--pipeline", "--suppress-data",
                               data=body)
        self.assertEqual(code, 0, out)
        self.assertIn("<~  250 2.0.0 ok", out)
        self.assert_arrived_exact(body, "ESMTPS")

    @unittest.skipUnless(have("swaks", "openssl"), missing("swaks", "openssl"))
    def test_swaks_smtps(self):
        code, out = self.swaks(self.smtps.port, "--tlsc", data=self.BODY)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"TLS started with cipher TLSv1\.[23]:")
        self.assertNotIn("STARTTLS", out)  # not offered inside TLS
        self.assert_arrived_exact(self.BODY, "ESMTPS")

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_8bit_body(self):
        body = ("From: a@b.test\nSubject: =?utf-8?q?caf=C3=A9?=\n\nna\u00efve caf\u00e9 "
                "\u2603\n").encode() + b"latin-1 \xe9\xff\x80 bytes\n"
        code, out = self.swaks(self.plain.port, data=body)
        self.assertEqual(code, 0, out)
        self.assertIn("250-8BITMIME", out)
        self.assert_arrived_exact(body)

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_size_limit(self):
        # The listener with DATABYTES=3000 announces it and refuses more.
        big = b"Subject: big\n\n" + (b"y" * 70 + b"\n") * 100
        code, out = self.swaks(self.small.port, data=big)
        self.assertNotEqual(code, 0, out)
        self.assertIn("250-SIZE 3000", out)
        self.assertRegex(out, r"<\*\* 552 5\.3\.4 ")
        small = b"Subject: small\n\nfits\n"
        code, out = self.swaks(self.small.port, data=small)
        self.assertEqual(code, 0, out)
        self.assert_arrived_exact(small)

    @unittest.skipUnless(have("swaks"), missing("swaks"))
    def test_swaks_relay_refused(self):
        code, out = self.swaks(self.plain.port, to="victim@elsewhere.test")
        self.assertNotEqual(code, 0, out)
        self.assertIn("<** 553 5.7.1 sorry, that domain isn't in my list of allowed rcpthosts "
                      "(#5.7.1)", out)
        self.assertNotIn(" -> DATA", out)

    @unittest.skipUnless(have("swaks", "openssl"), missing("swaks", "openssl"))
    def test_swaks_client_certificate_relays(self):
        # A certificate signed by control/clientca.pem lets the client relay
        # (RCPT accepted); without one, the rcpthosts refusal.
        d = peerlib.certs()
        for cert, want in (("client", "250 2.1.5 "), ("rogue", "553 5.7.1 sorry"),
                           (None, "553 5.7.1 sorry")):
            with self.subTest(cert=cert):
                args = ["--tls", "--quit-after", "RCPT"]
                if cert:
                    args += ["--tls-cert", os.path.join(d, cert + ".crt"),
                             "--tls-key", os.path.join(d, cert + ".key")]
                code, out = self.swaks(self.plain.port, *args, to="far@elsewhere.test")
                self.assertRegex(out, r"\n<~\*? +%s" % want)
        self.assertEqual(self.home.maildir(self.box), [])

    # -- curl
    def curl(self, url, *args, data=b"Subject: curl\r\n\r\nfrom curl\r\n.dot\r\n"):
        return run([tool("curl"), "-sS", "-v", "--max-time", "60", url, "--mail-from", "a@b.test",
                    "--mail-rcpt", self.addr, "-T", self.file("curl", data), *args])

    CURL_SENT = b"Subject: curl\n\nfrom curl\n.dot\n"

    @unittest.skipUnless(have("curl"), missing("curl"))
    def test_curl_plain(self):
        code, out = self.curl("smtp://127.0.0.1:%d" % self.plain.port)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"> MAIL FROM:<a@b.test> SIZE=\d+")
        self.assert_arrived_exact(self.CURL_SENT, "ESMTP")

    @unittest.skipUnless(have("curl"), missing("curl"))
    def test_curl_starttls(self):
        code, out = self.curl("smtp://127.0.0.1:%d" % self.plain.port, "--ssl-reqd", "-k")
        self.assertEqual(code, 0, out)
        self.assertIn("> STARTTLS", out)
        self.assertRegex(out, r"SSL connection using TLSv1\.[23]")
        self.assert_arrived_exact(self.CURL_SENT, "ESMTPS")

    @unittest.skipUnless(have("curl"), missing("curl"))
    def test_curl_starttls_verified(self):
        ca = os.path.join(peerlib.certs(), "server.crt")
        code, out = self.curl("smtp://127.0.0.1:%d" % self.plain.port, "--ssl-reqd",
                              "--cacert", ca)
        self.assertEqual(code, 0, out)
        self.assert_arrived_exact(self.CURL_SENT, "ESMTPS")

    @unittest.skipUnless(have("curl"), missing("curl"))
    def test_curl_smtps(self):
        code, out = self.curl("smtps://127.0.0.1:%d" % self.smtps.port, "-k")
        self.assertEqual(code, 0, out)
        self.assertNotIn("> STARTTLS", out)
        self.assert_arrived_exact(self.CURL_SENT, "ESMTPS")

    @unittest.skipUnless(have("curl") and peerlib.have_ipv6(), "curl or IPv6 loopback missing")
    def test_curl_ipv6(self):
        srv = peerlib.Tcpsrv(self.home, host="::1")
        self.addCleanup(srv.stop)
        code, out = self.curl("smtp://[::1]:%d/six.peers.test" % srv.port)
        self.assertEqual(code, 0, out)
        (msg,) = self.delivered()
        added, rest = split_message(msg)
        self.assertIn(b"Received: from unknown (HELO six.peers.test) (unknown [::1])\n"
                      b"  by ::1 with ESMTP; ", added)
        self.assertEqual(rest, self.CURL_SENT)

    @unittest.skipUnless(have("curl"), missing("curl"))
    def test_curl_size_refused_at_mail(self):
        # curl declares SIZE=; over the limit is refused before DATA.
        code, out = self.curl("smtp://127.0.0.1:%d" % self.small.port,
                              data=b"Subject: big\r\n\r\n" + b"z" * 5000 + b"\r\n")
        self.assertNotEqual(code, 0, out)
        self.assertRegex(out, r"< 552 5\.3\.4 ")
        self.assertNotIn("> DATA", out)

    # -- openssl s_client
    def s_client(self, *args):
        return run([tool("openssl"), "s_client", "-starttls", "smtp", "-connect",
                    "127.0.0.1:%d" % self.plain.port, "-servername", "example.test",
                    "-brief", "-ign_eof", *args], input=b"QUIT\r\n")

    @unittest.skipUnless(have("openssl"), missing("openssl"))
    def test_openssl_tls12_and_13(self):
        for version in ("1_2", "1_3"):
            with self.subTest(version=version):
                code, out = self.s_client("-tls" + version)
                self.assertEqual(code, 0, out)
                self.assertIn("Protocol version: TLSv%s" % version.replace("_", "."), out)
                self.assertIn("221 2.0.0", out)  # QUIT answered inside TLS

    @unittest.skipUnless(have("openssl"), missing("openssl"))
    def test_openssl_tls11_refused(self):
        # The local OpenSSL must be able to offer TLS 1.1 at all (security
        # level 0); otherwise a refusal would prove nothing.
        code, out = run([tool("openssl"), "ciphers", "-tls1_1", "DEFAULT@SECLEVEL=0"])
        if code != 0 or not out.strip():
            self.skipTest("this OpenSSL cannot offer TLS 1.1: " + out.strip()[:200])
        code, out = self.s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("Protocol version: TLSv1.1", out)
        self.assertRegex(out, r"(?i)alert protocol version|unsupported protocol|"
                         r"no protocols available|wrong version")

    @unittest.skipUnless(have("openssl"), missing("openssl"))
    def test_openssl_non_aead_tls12_suite_refused(self):
        # docs/smtpd.md: TLS 1.2 suites are ECDHE/DHE with AEAD only.
        code, out = self.s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA")
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("Protocol version: TLSv1.2", out)
        code, out = self.s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(code, 0, out)
        self.assertIn("Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256", out)

    @unittest.skipUnless(have("openssl"), missing("openssl"))
    def test_openssl_smtps(self):
        code, out = run([tool("openssl"), "s_client", "-connect",
                         "127.0.0.1:%d" % self.smtps.port, "-brief", "-ign_eof"],
                        input=b"EHLO x\r\nQUIT\r\n")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"Protocol version: TLSv1\.3\n")
        self.assertIn("220 example.test ESMTP", out)
        self.assertNotIn("STARTTLS", out)
        self.assertIn("221 2.0.0", out)

    @unittest.skipUnless(have("openssl"), missing("openssl"))
    def test_openssl_no_session_resumption(self):
        # docs/smtpd.md: no session tickets or cache; s_client -reconnect
        # tries to resume five times and must get a full handshake each time.
        for version in ("-tls1_2", "-tls1_3"):
            with self.subTest(version=version):
                code, out = run([tool("openssl"), "s_client", "-connect",
                                 "127.0.0.1:%d" % self.smtps.port, "-reconnect", version])
                self.assertEqual(code, 0, out[-2000:])
                sessions = re.findall(r"^(New|Reused), TLSv1\.[23], ", out, re.M)
                self.assertEqual(sessions, ["New"] * 6, out[-2000:])

    # -- smtp-source (Postfix)
    @unittest.skipUnless(have("smtp-source"), missing("smtp-source"))
    def test_smtp_source_load(self):
        code, out = run([tool("smtp-source"), "-s", "5", "-m", "50", "-l", "2048", "-f",
                         "a@b.test", "-t", self.addr, "127.0.0.1:%d" % self.plain.port],
                        timeout=300)
        self.assertEqual(code, 0, out)
        msgs = self.delivered(50, timeout=300)
        ids = set()
        for m in msgs:
            added, rest = split_message(m)
            self.assertRegex(added, RECEIVED_RE)
            self.assertIn(b"To: <%s>\n" % self.addr.encode(), rest)
            head, body = rest.split(b"\n\n", 1)
            # -l 2048: 2048 bytes of body, lines of "NXXX..." (CRLF sent, LF stored).
            self.assertEqual(len(body.replace(b"\n", b"\r\n")), 2048 + 2, body[-100:])
            ids.add(re.search(rb"Message-Id: (\S+)", head).group(1))
        self.assertEqual(len(ids), 50)


    @unittest.skipUnless(have("smtp-source"), missing("smtp-source"))
    def test_smtp_source_many_per_connection(self):
        # -d: every session sends its messages over one connection, so each
        # transaction after the first starts right after a 250 for DATA.
        code, out = run([tool("smtp-source"), "-d", "-s", "2", "-m", "20", "-l", "500", "-f",
                         "a@b.test", "-t", self.addr, "127.0.0.1:%d" % self.plain.port],
                        timeout=300)
        self.assertEqual(code, 0, out)
        self.assertEqual(len(self.delivered(20, timeout=300)), 20)

    @unittest.skipUnless(have("smtp-source"), missing("smtp-source"))
    def test_smtp_source_preformatted_file(self):
        # -F: smtp-source dot-stuffs the file, ends every line with CRLF and
        # sends one empty line after it (seen on the wire: "last\r\n\r\n.\r\n").
        sent = b"Subject: file\n\n.\n..\n.x\nlast\n"
        code, out = run([tool("smtp-source"), "-F", self.file("msg", sent), "-f", "a@b.test",
                         "-t", self.addr, "127.0.0.1:%d" % self.plain.port])
        self.assertEqual(code, 0, out)
        self.assert_arrived_exact(sent + b"\n")

    @unittest.skipUnless(have("smtp-source"), missing("smtp-source"))
    def test_smtp_source_old_mode_without_helo(self):
        # -o: no HELO at all and no header; qmail-smtpd takes MAIL anyway.
        code, out = run([tool("smtp-source"), "-o", "-l", "100", "-f", "a@b.test", "-t",
                         self.addr, "127.0.0.1:%d" % self.plain.port])
        self.assertEqual(code, 0, out)
        (msg,) = self.delivered()
        added, rest = split_message(msg)
        self.assertRegex(added, rb"Received: from unknown \(unknown \[127\.0\.0\.1\]\)\n"
                         rb"  by 127\.0\.0\.1 with SMTP; ")
        self.assertEqual(len(rest.replace(b"\n", b"\r\n")), 100 + 2, rest)

@unittest.skipUnless(have("tcpserver", "tcprules", "swaks"), missing("tcpserver", "tcprules",
                                                                   "swaks"))
class UcspiTcpserver(unittest.TestCase):
    """qmail-smtpd under ucspi-tcp's tcpserver with a tcprules cdb, as qmail
    admins run it. Clients come from 127.0.0.5, so the address in the
    Received line is the one tcpserver put into TCPREMOTEIP."""

    @classmethod
    def setUpClass(cls):
        cls.home = Home()
        try:
            cls.box = cls.home.add_user("peer")
            # A relayed message goes to a closed port: it is queued, tried, deferred.
            cls.home.control("smtproutes", "elsewhere.test:127.0.0.1:%d\n" % peerlib.free_port())
            cls.home.start()
        except BaseException:
            cls.home.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def server(self, rules, compiler=None):
        s = peerlib.Ucspi(self.home, rules, compiler=compiler)
        self.addCleanup(s.stop)
        return s

    def swaks(self, srv, to):
        return run([tool("swaks"), "--server", "127.0.0.1:%d" % srv.port, "--local-interface",
                    "127.0.0.5", "--from", "a@b.test", "--to", to, "--helo", "ucspi.peers.test",
                    "--timeout", "60", "--data", "Subject: ucspi\n\nvia tcpserver"])

    def test_local_delivery_and_received_line(self):
        srv = self.server("127.0.0.5:allow\n:deny\n")
        code, out = self.swaks(srv, "peer@example.test")
        self.assertEqual(code, 0, out)
        wait_for(lambda: self.home.maildir(self.box), 60, "delivery")
        msgs = self.home.read_maildir(self.box)
        self.assertEqual(len(msgs), 1)
        added, rest = split_message(msgs[0])
        self.assertIn(b"Received: from unknown (HELO ucspi.peers.test) (unknown [127.0.0.5])\n"
                      b"  by mx.peers.test with ESMTP; ", added)
        self.assertEqual(rest, b"Subject: ucspi\n\nvia tcpserver\n")
        self.assertRegex(srv.log(), r"tcpserver: ok \d+ mx\.peers\.test:127\.0\.0\.1:%d "
                         r":127\.0\.0\.5::\d+" % srv.port)

    def test_relayclient_from_rules_allows_relaying(self):
        srv = self.server('127.0.0.5:allow,RELAYCLIENT=""\n:deny\n')
        before = len(self.home.log())
        code, out = self.swaks(srv, "friend@elsewhere.test")
        self.assertEqual(code, 0, out)
        self.assertIn("<-  250 2.1.5 ", out)
        self.assertIn("<-  250 2.0.0 ok", out)
        wait_for(lambda: re.search(r"starting delivery \d+: msg \d+ to remote "
                                   r"friend@elsewhere\.test", self.home.log()[before:]),
                 60, "qmail-send to start the remote delivery")

    def test_without_relayclient_relaying_refused(self):
        srv = self.server("127.0.0.5:allow\n:deny\n")
        code, out = self.swaks(srv, "friend@elsewhere.test")
        self.assertNotEqual(code, 0, out)
        self.assertIn("<** 553 5.7.1 sorry, that domain isn't in my list of allowed rcpthosts",
                      out)

    @unittest.skipUnless(have("smtp-source"), missing("smtp-source"))
    def test_smtp_source_load_under_tcpserver(self):
        srv = self.server("127.0.0.1:allow\n:deny\n")
        box = self.home.add_user("load")
        code, out = run([tool("smtp-source"), "-s", "5", "-m", "30", "-l", "1024", "-f",
                         "a@b.test", "-t", "load@example.test", "127.0.0.1:%d" % srv.port],
                        timeout=300)
        self.assertEqual(code, 0, out)
        wait_for(lambda: len(self.home.maildir(box)) >= 30, 300,
                 "30 deliveries; log:\n" + self.home.log()[-2000:])
        self.assertEqual(len(self.home.maildir(box)), 30)
        self.assertEqual(len(re.findall(r"tcpserver: ok ", srv.log())), 30)

    def test_rules_compiled_by_qmail_tcprules(self):
        """qmail-tcprules(8): its cdb works with tcpserver too. The first
        variable of a rule is set (RELAYCLIENT lets the client relay) and
        deny denies (the default rule here)."""
        rules = '127.0.0.5:allow,RELAYCLIENT="",X="1"\n:deny\n'
        srv = self.server(rules, compiler=self.home.bin("qmail-tcprules"))
        code, out = self.swaks(srv, "friend@elsewhere.test")
        self.assertEqual(code, 0, out)
        self.assertIn("<-  250 2.1.5 ", out)
        code, out = run([tool("swaks"), "--server", "127.0.0.1:%d" % srv.port,
                         "--local-interface", "127.0.0.6", "--from", "a@b.test", "--to",
                         "peer@example.test", "--timeout", "60"])
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("220 ", out)
        wait_for(lambda: "deny" in srv.log(), 30, "tcpserver's deny line")

    def test_denied_by_rules(self):
        srv = self.server("127.0.0.5:deny\n:allow\n")
        code, out = self.swaks(srv, "peer@example.test")
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("220 ", out)
        wait_for(lambda: "deny" in srv.log(), 30, "tcpserver's deny line")


if __name__ == "__main__":
    unittest.main()
