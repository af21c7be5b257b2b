"""qmail-qmtpd under the real qmail-tcpsrv, queueing into a real home."""
import os
import unittest

from qmailtest import HomeTestCase, wait_for
from qmtplib import Listener, ns, qmtp_package, read_ns

MSG = b"From: a@example.test\nSubject: qmtp test\n\nhello over QMTP\n"


class QmtpTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        self.alice = self.home.add_user("alice")
        self.bob = self.home.add_user("bob")

    def listen(self, opts=(), env=None):
        lst = Listener(self.home, "qmail-qmtpd", opts, env)
        self.addCleanup(lst.stop)
        return lst

    def exchange(self, lst, data, nresponses):
        s = lst.connect()
        s.sendall(data)
        f = s.makefile("rb")
        out = [read_ns(f) for _ in range(nresponses)]
        s.shutdown(1)
        tail = f.read()
        s.close()
        f.close()
        return out, tail

    def todo_count(self):
        return len(self.home.queue_files("todo"))

    def test_round_trip_and_rcpthosts(self):
        self.home.start()
        lst = self.listen()
        pkg = qmtp_package(MSG, b"sender@remote.test",
                           [b"alice@example.test", b"x@elsewhere.test", b"bob@EXAMPLE.test"])
        resp, tail = self.exchange(lst, pkg, 3)
        self.assertEqual(tail, b"")
        self.assertEqual(resp[0][:1], b"K", resp)
        self.assertEqual(resp[1][:1], b"D", resp)
        self.assertIn(b"rcpthosts", resp[1])
        self.assertEqual(resp[2][:1], b"K", resp)
        wait_for(lambda: self.home.maildir(self.alice) and self.home.maildir(self.bob), 30,
                 "delivery")
        got = self.home.read_maildir(self.alice)[0]
        self.assertIn(b"hello over QMTP\n", got)
        self.assertRegex(got, rb"Received: from unknown \(unknown \[127\.0\.0\.1\]\)\n  by "
                              rb"127\.0\.0\.1 with QMTP; ")
        self.assertIn(b"Return-Path: <sender@remote.test>", got)

    def test_two_packages_one_connection(self):
        self.home.start()
        lst = self.listen()
        pkg = (qmtp_package(MSG + b"one\n", b"", [b"alice@example.test"]) +
               qmtp_package(MSG + b"two\n", b"", [b"bob@example.test"]))
        resp, tail = self.exchange(lst, pkg, 2)
        self.assertEqual([r[:1] for r in resp], [b"K", b"K"])
        wait_for(lambda: self.home.maildir(self.alice) and self.home.maildir(self.bob), 30,
                 "delivery")
        self.assertIn(b"one\n", self.home.read_maildir(self.alice)[0])
        self.assertIn(b"two\n", self.home.read_maildir(self.bob)[0])

    def test_relayclient_from_rules(self):
        rules = os.path.join(self.home.tmp, "qmtp.cdb")
        self.home.run_ok("qmail-tcprules", [rules, rules + ".tmp"],
                         input=b'127.:allow,RELAYCLIENT=""\n')
        lst = self.listen(["-x", rules])
        resp, _ = self.exchange(lst, qmtp_package(MSG, b"s@x.test", [b"x@elsewhere.test"]), 1)
        self.assertEqual(resp[0][:1], b"K", resp)
        self.assertEqual(self.todo_count(), 1)

    def test_databytes_refuses_but_keeps_session(self):
        self.home.control("databytes", "100\n")
        lst = self.listen()
        big = qmtp_package(b"x" * 5000, b"", [b"alice@example.test", b"bob@example.test"])
        small = qmtp_package(b"Subject: s\n\nok\n", b"", [b"alice@example.test"])
        resp, _ = self.exchange(lst, big + small, 3)
        self.assertEqual(resp[0], resp[1])
        self.assertTrue(resp[0].startswith(b"D") and b"databytes" in resp[0], resp)
        self.assertEqual(resp[2][:1], b"K")
        self.assertEqual(self.todo_count(), 1)

    def test_unknown_encoding_refused(self):
        # <0a> (LF) and the old <0d> (CR LF, test_conformance_remote) are
        # the encodings; anything else is refused.
        lst = self.listen()
        resp, _ = self.exchange(lst, qmtp_package(MSG, b"", [b"alice@example.test"], b"x"), 1)
        self.assertEqual(resp[0][:1], b"D")
        self.assertEqual(self.todo_count(), 0)

    def test_queue_programs_own_reason(self):
        """qmail-queue(8), exit 82: the reason a $QMAILQUEUE program writes
        to descriptor 6 is the response, "D..." permanent, "Z..." not."""
        for text, want in [(b"Dgo away (#5.7.1)", b"Dgo away (#5.7.1)"),
                           (b"Zlater (#4.3.5)", b"Zlater (#4.3.5)")]:
            qq = os.path.join(self.home.tmp, "qq82")
            with open(qq, "wb") as f:
                f.write(b"#!/bin/sh\ncat >/dev/null\nprintf '%s' >&6\nexit 82\n" % text)
            os.chmod(qq, 0o755)
            lst = self.listen(env={"QMAILQUEUE": qq})
            resp, _ = self.exchange(lst, qmtp_package(MSG, b"", [b"alice@example.test",
                                                                 b"bob@example.test"]), 2)
            self.assertEqual(resp, [want, want])
            lst.stop()
        self.assertEqual(self.todo_count(), 0)

    def test_all_refused_queues_nothing(self):
        lst = self.listen()
        resp, _ = self.exchange(lst, qmtp_package(MSG, b"", [b"a@elsewhere.test",
                                                             b"b%c@example.test"]), 2)
        self.assertEqual([r[:1] for r in resp], [b"D", b"D"])
        self.assertEqual(self.todo_count(), 0)

    def test_protocol_errors_drop_connection(self):
        lst = self.listen()
        for junk in (b"junk", b"05:\nabcd,", b"3:\nab;", ns(b"\n" + MSG) + ns(b"") + b"9999999:",
                     ns(b"\n" + MSG) + ns(b"") + ns(b"")):
            resp, tail = self.exchange(lst, junk, 0)
            self.assertEqual(tail, b"", junk)
        # A client that closes mid-package queues nothing (qmtp.txt 2).
        s = lst.connect()
        s.sendall(b"%d:\n" % (len(MSG) + 1) + MSG[:10])
        s.close()
        wait_for(lambda: lst.text().count("qmail-qmtpd: fatal") >= 6, 10, "all sessions to end")
        self.assertEqual(self.todo_count(), 0)


if __name__ == "__main__":
    unittest.main()
