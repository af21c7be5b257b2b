"""A real root-mode home as an admin runs it: qmail's users, the setuid
qmail-queue, a system user's own Maildir, postmaster mail in HOME/alias,
and bounces. The programs are called from HOME/bin without $QMAILHOME, so
each finds its home from where it is installed (the setuid qmail-queue
cannot trust the caller's environment)."""
import os
import pwd
import subprocess
import unittest

import sys

from qmailtest import Home, ThrowawayUser, child_pids, is_root, rspawn_pid, wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_remote import SINK_IP, Sink  # noqa: E402


@unittest.skipUnless(is_root(), "root-mode homes need root")
class RootModeTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=False)
        self.addCleanup(self.home.cleanup)
        self.uhome = os.path.join(self.home.tmp, "user")
        os.mkdir(self.uhome, 0o755)
        self.user = ThrowawayUser(home=self.uhome)
        self.addCleanup(self.user.delete)
        os.chown(self.uhome, self.user.uid, self.user.gid)
        r = self.user.run([self.home.bin("maildirmake"), os.path.join(self.uhome, "Maildir")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.home.start()

    def send_as_user(self, args, message):
        env = {"PATH": "/usr/bin:/bin", "USER": self.user.name}
        return self.user.run([self.home.bin("sendmail")] + args, input=message, env=env)

    def messages(self, maildir):
        d = os.path.join(maildir, "new")
        out = []
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def rspawn(self):
        return rspawn_pid(self.home.send.pid)

    def test_remote_mail_uses_workers_and_rspawn_rests(self):
        """qmail-rspawn runs as qmailr, which cannot read qmail-remote
        (mode 0711); qmail-start, still root, tells it that qmail-remote is
        our own, so it runs its workers: two messages, one after the other,
        go over one SMTP connection (an exec'd qmail-remote per delivery
        would open two). With no worker left it rests as qmail-idle."""
        self.assertEqual(os.stat(self.home.bin("qmail-remote")).st_mode & 0o777, 0o711)
        sink = Sink()
        self.addCleanup(sink.close)
        self.home.control("smtproutes", "remote.example:[%s]:%d\n" % (SINK_IP, sink.port))
        for i in range(2):
            r = self.send_as_user(["u%d@remote.example" % i], b"Subject: r%d\n\nx\n" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(lambda: sum(len(s.data) for s in sink.sessions) == i + 1, 60,
                     "remote message %d; log:\n%s" % (i, self.home.log()[-2000:]))
        self.assertEqual(len(sink.sessions), 1)
        pid = self.rspawn()
        idle = os.path.realpath(self.home.bin("qmail-idle"))
        wait_for(lambda: os.readlink("/proc/%d/exe" % pid) == idle, 60, "qmail-rspawn to rest")
        with open("/proc/%d/status" % pid) as f:
            self.assertIn("Uid:\t%d\t" % pwd.getpwnam("qmailr").pw_uid, f.read())

    def test_user_mail_postmaster_and_bounce(self):
        r = self.send_as_user([self.user.name], b"Subject: to me\n\nbody one\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.send_as_user(["postmaster"], b"Subject: to pm\n\nbody two\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.send_as_user(["nosuchuser-xyz"], b"Subject: lost\n\nbody three\n")
        self.assertEqual(r.returncode, 0, r.stderr)

        umd = os.path.join(self.uhome, "Maildir")
        wait_for(lambda: len(self.messages(umd)) == 2, 30, "user mail and bounce")
        pmd = self.home.path("alias", "Maildir")
        wait_for(lambda: len(self.messages(pmd)) == 1, 30, "postmaster mail")

        mine = [m for m in self.messages(umd) if b"body one" in m]
        self.assertEqual(len(mine), 1)
        self.assertIn(b"invoked by uid %d)" % self.user.uid, mine[0])
        self.assertTrue(mine[0].startswith(
            b"Return-Path: <%s@example.test>\nDelivered-To: %s@example.test\n"
            % (self.user.name.encode(), self.user.name.encode())), mine[0][:200])
        st = os.stat(os.path.join(umd, "new", sorted(os.listdir(os.path.join(umd, "new")))[0]))
        self.assertEqual(st.st_uid, self.user.uid)

        bounce = [m for m in self.messages(umd) if b"Return-Path: <>" in m]
        self.assertEqual(len(bounce), 1)
        self.assertIn(b"<nosuchuser-xyz@example.test>:", bounce[0])
        self.assertIn(b"(#5.1.1)", bounce[0])
        self.assertIn(b"body three", bounce[0])

        pm = self.messages(pmd)[0]
        self.assertIn(b"body two", pm)
        self.assertIn(b"Delivered-To: postmaster@example.test\n", pm)

        wait_for(lambda: not self.home.queue_files("mess"), 30, "queue to empty")


if __name__ == "__main__":
    unittest.main()
