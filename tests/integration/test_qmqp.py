"""qmail-qmqpd under qmail-tcpsrv, and qmail-qmqpc as a mini-qmail
client's qmail-queue (QMAILQUEUE=HOME/bin/qmail-qmqpc) end to end."""
import os
import socket
import threading
import unittest

from qmailtest import Home, HomeTestCase, wait_for
from qmtplib import Listener, ns, qmqp_package, read_ns

MSG = b"From: a@example.test\nSubject: qmqp test\n\nhello over QMQP\n"


class QmqpdTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        self.alice = self.home.add_user("alice")
        self.lst = Listener(self.home, "qmail-qmqpd")
        self.addCleanup(self.lst.stop)

    def exchange(self, data):
        s = self.lst.connect()
        s.sendall(data)
        f = s.makefile("rb")
        r = read_ns(f)
        f.close()
        s.close()
        return r

    def test_round_trip(self):
        self.home.start()
        r = self.exchange(qmqp_package(MSG, b"s@remote.test", [b"alice@example.test"]))
        self.assertEqual(r[:1], b"K", r)
        wait_for(lambda: self.home.maildir(self.alice), 30, "delivery")
        got = self.home.read_maildir(self.alice)[0]
        self.assertIn(b"hello over QMQP\n", got)
        self.assertIn(b"with QMQP; ", got)

    def test_relays_anywhere(self):
        r = self.exchange(qmqp_package(MSG, b"", [b"x@elsewhere.test"]))
        self.assertEqual(r[:1], b"K", r)
        self.assertEqual(len(self.home.queue_files("mess")), 1)

    def test_bad_packages(self):
        for junk in (b"junk", ns(ns(MSG)), ns(b"5:hello,"), ns(ns(MSG) + ns(b"") + b"3:ab"),
                     b"10:" + ns(MSG)):
            r = self.exchange(junk)
            self.assertIn(r, (None, b"Dno recipients (#5.1.3)"), junk)
        # Nothing queued: no todo entry. An aborted qmail-queue may leave
        # uncommitted debris in mess/ and intd/ (qmail-clean sweeps it).
        self.assertEqual(self.home.queue_files("todo"), [])


class FakeServer:
    """A QMQP server that reads one package and answers `answer`."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.got = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c, _ = self.sock.accept()
        f = c.makefile("rb")
        self.got.append(read_ns(f))
        c.sendall(ns(self.answer))
        f.close()
        c.close()

    def close(self):
        self.sock.close()


class MiniQmailTest(unittest.TestCase):
    def setUp(self):
        self.server = Home()
        self.addCleanup(self.server.cleanup)
        self.client = Home(hostname="client.test")
        self.addCleanup(self.client.cleanup)

    def client_env(self):
        return self.client.env(QMAILQUEUE=self.client.bin("qmail-qmqpc"))

    def inject(self, servers, rcpt="alice@example.test"):
        self.client.control("qmqpservers", servers)
        return self.client.run("qmail-inject", [rcpt], input=MSG, env=self.client_env())

    def test_end_to_end(self):
        alice = self.server.add_user("alice")
        self.server.start()
        lst = Listener(self.server, "qmail-qmqpd")
        self.addCleanup(lst.stop)
        # The first server refuses connections: qmail-qmqpc tries the next.
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
        dead.close()
        p = self.inject("127.0.0.1:%d\n127.0.0.1:%d\n" % (dead_port, lst.port))
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: self.server.maildir(alice), 30, "delivery on the server")
        got = self.server.read_maildir(alice)[0]
        self.assertIn(b"hello over QMQP\n", got)
        self.assertIn(b"with QMQP; ", got)
        # Nothing was queued on the client.
        self.assertEqual(self.client.queue_files("mess"), [])

    def test_answers_map_to_exit_codes(self):
        for answer, code in ((b"Dno thanks", 31), (b"Zlater", 71), (b"Kok", 0)):
            srv = FakeServer(answer)
            self.addCleanup(srv.close)
            self.client.control("qmqpservers", "127.0.0.1:%d\n" % srv.port)
            p = self.client.run("qmail-inject", ["bob@example.test"], input=MSG,
                                env=self.client_env())
            self.assertEqual(p.returncode, 0 if code == 0 else (100 if code == 31 else 111),
                             (answer, p.stderr))
            srv.t.join(10)
            pkg = srv.got[0]
            self.assertIn(ns(b"bob@example.test"), pkg)
            self.assertIn(b"hello over QMQP\n", pkg)

    def test_no_server(self):
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        dead.close()
        p = self.inject("127.0.0.1:%d\n" % port)
        self.assertEqual(p.returncode, 111, p.stderr)
        p = self.inject("")
        self.assertEqual(p.returncode, 111, p.stderr)
        p = self.inject("not an address\n")
        self.assertEqual(p.returncode, 111, p.stderr)


if __name__ == "__main__":
    unittest.main()
