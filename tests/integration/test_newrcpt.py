"""qmail-newrcpt: control/recipients.cdb built from a real home, and
qmail-smtpd (under qmail-tcpsrv on 127.0.0.1) refusing unknown local
recipients at RCPT time with 550 5.1.1, while known users, the alias
user's addresses and .qmail-default extensions are accepted; qmail-newu
keeps the list current."""
import os
import re
import signal
import smtplib
import subprocess
import unittest

from qmailtest import HomeTestCase, wait_for

DOMAIN = "example.test"


class NewRcptTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        self.fred = self.home.add_user("fred")
        ids = self.home.user_ids()
        # +fred-: fred-anything, covered by fred's .qmail-default.
        assign = self.home.path("users", "assign")
        with open(assign) as f:
            lines = [l for l in f.read().splitlines() if l != "."]
        lines.append("+fred-:%s:%d:%d:%s:-::" % (ids[0], ids[1], ids[2], self.fred))
        with open(assign, "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        with open(os.path.join(self.fred, ".qmail-default"), "w") as f:
            f.write("./Maildir/\n")
        with open(self.home.path("alias", ".qmail-sales"), "w") as f:
            f.write("&fred@%s\n" % DOMAIN)
        self.home.control("recipients", "# extra\nlegacy@%s\n" % DOMAIN)
        self.home.run_ok("qmail-newu")
        self.srv = None

    def tearDown(self):
        if self.srv and self.srv.poll() is None:
            self.srv.send_signal(signal.SIGTERM)
            self.srv.wait(30)
        if self.srv:
            self.srv_log.close()

    def listen(self):
        logpath = os.path.join(self.home.tmp, "smtpd.log")
        self.srv_log = open(logpath, "wb")
        self.srv = subprocess.Popen(
            [self.home.bin("qmail-tcpsrv"), "127.0.0.1", "0", self.home.bin("qmail-smtpd")],
            stdout=subprocess.DEVNULL, stderr=self.srv_log, env=self.home.env())

        def port():
            with open(logpath, "rb") as f:
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            return m and int(m.group(1))
        return wait_for(port, 30, "qmail-tcpsrv to listen")

    def rcpt_codes(self, rcpts):
        port = self.listen()
        got = {}
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.example")
            s.mail("someone@elsewhere.example")
            for r in rcpts:
                code, msg = s.rcpt(r)
                got[r] = (code, msg)
        return got

    def test_refuses_unknown_accepts_known(self):
        p = self.home.run_ok("qmail-newrcpt")
        self.assertTrue(os.path.exists(self.home.path("control", "recipients.cdb")), p.stderr)
        got = self.rcpt_codes(["nobody@" + DOMAIN, "fred@" + DOMAIN, "Fred-Anything@" + DOMAIN,
                               "postmaster@" + DOMAIN, "sales@" + DOMAIN, "legacy@" + DOMAIN,
                               "fredx@" + DOMAIN])
        for r in ("nobody@" + DOMAIN, "fredx@" + DOMAIN):
            code, msg = got[r]
            self.assertEqual(code, 550, (r, msg))
            self.assertIn(b"5.1.1", msg)
        for r in ("fred@", "Fred-Anything@", "postmaster@", "sales@", "legacy@"):
            self.assertEqual(got[r + DOMAIN][0], 250, (r, got[r + DOMAIN]))

    def test_without_cdb_everything_is_accepted(self):
        got = self.rcpt_codes(["nobody@" + DOMAIN])
        self.assertEqual(got["nobody@" + DOMAIN][0], 250)

    def test_newu_keeps_it_current(self):
        self.home.run_ok("qmail-newrcpt")
        self.home.add_user("bob")  # runs qmail-newu, which reruns qmail-newrcpt
        got = self.rcpt_codes(["bob@" + DOMAIN, "nobody@" + DOMAIN])
        self.assertEqual(got["bob@" + DOMAIN][0], 250)
        self.assertEqual(got["nobody@" + DOMAIN][0], 550)

    def test_message_to_accepted_extension_is_delivered(self):
        self.home.run_ok("qmail-newrcpt")
        self.home.start()
        port = self.listen()
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            refused = s.sendmail("someone@elsewhere.example",
                                 ["fred-list@" + DOMAIN, "nobody@" + DOMAIN],
                                 b"Subject: x\r\n\r\nvalidated\r\n")
        self.assertEqual(list(refused), ["nobody@" + DOMAIN])
        wait_for(lambda: self.home.maildir(self.fred), 60, "delivery to fred-list")

    def test_bad_assign_keeps_old_cdb(self):
        self.home.run_ok("qmail-newrcpt")
        cdb = self.home.path("control", "recipients.cdb")
        with open(cdb, "rb") as f:
            before = f.read()
        with open(self.home.path("users", "assign"), "a") as f:
            f.write("=broken\n")
        with open(self.home.path("users", "assign")) as f:
            text = f.read().replace(".\n=broken\n", "=broken\n.\n")
        with open(self.home.path("users", "assign"), "w") as f:
            f.write(text)
        p = self.home.run("qmail-newrcpt")
        self.assertEqual(p.returncode, 100, p.stderr)
        with open(cdb, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertFalse(os.path.exists(cdb + ".tmp"))


if __name__ == "__main__":
    unittest.main()
