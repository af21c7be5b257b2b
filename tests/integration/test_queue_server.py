"""qmail-queue serving many messages (qmail-queue(8), "SERVING MANY
MESSAGES"): in a root-mode home, a qmail-smtpd worker of
qmail-tcpsrv -u qmaild starts the setuid qmail-queue once and hands it one
message after another, instead of an exec per message. The messages are
queued as qmailq, with qmail-queue's Received line for the network, and a
qmail-queue that the admin replaced is run as before."""

import os
import re
import shutil
import smtplib
import stat
import tempfile
import unittest

import peerlib
from qmailtest import Home, is_root, wait_for

MSG = "From: a@b.test\nTo: bob@example.test\nSubject: %s\n\nbody %s\n"


@unittest.skipUnless(is_root(), "a root-mode home needs root")
class QueueServerTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=False)
        self.addCleanup(self.home.cleanup)
        self.box = self.home.add_user("bob")
        self.home.start()
        with open(self.home.path("users", "ids")) as f:
            ids = dict((l.split(":")[0], l.split(":")[1:3]) for l in f if ":" in l)
        self.qmaild = int(ids["qmaild"][0])
        self.qmailq = int(ids["qmailq"][0])
        self.nofiles = int(ids["nofiles"][1]) if "nofiles" in ids else int(ids["qmaild"][1])

    def tcpsrv(self):
        srv = peerlib.Tcpsrv(self.home, opts=("-v", "-u", str(self.qmaild), "-g",
                                              str(self.nofiles)))
        self.addCleanup(srv.stop)
        return srv

    def send(self, srv, subjects):
        """One SMTP session sending a message per subject."""
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
            for subj in subjects:
                s.sendmail("a@b.test", ["bob@example.test"], MSG % (subj, subj))

    def delivered(self, n):
        wait_for(lambda: len(self.home.maildir(self.box)) >= n, 60,
                 "%d message(s); log:\n%s" % (n, self.home.log()[-2000:]))
        return self.home.read_maildir(self.box)

    @staticmethod
    def qq_pid(msg):
        """The pid in qmail-queue's Received line (the one it adds)."""
        m = re.search(rb"\nReceived: \(qmail (\d+) invoked from network\); ", msg)
        return int(m.group(1)) if m else None

    def queue_processes(self):
        """(pid, real uid, effective uid) of the home's qmail-queue processes."""
        exe = os.path.realpath(self.home.bin("qmail-queue"))
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/exe" % p) != exe:
                    continue
                with open("/proc/%s/status" % p) as f:
                    uid = re.search(r"\nUid:\s+(\d+)\s+(\d+)", f.read())
            except OSError:
                continue
            out.append((int(p), int(uid.group(1)), int(uid.group(2))))
        return out

    def test_one_qmail_queue_serves_a_sessions_messages(self):
        st = os.stat(self.home.bin("qmail-queue"))
        self.assertTrue(st.st_mode & stat.S_ISUID)
        srv = self.tcpsrv()
        self.send(srv, ["one", "two", "three"])
        msgs = self.delivered(3)
        self.assertEqual(len(msgs), 3)
        pids = set(self.qq_pid(m) for m in msgs)
        self.assertNotIn(None, pids, msgs)
        # One qmail-queue for all three: it stays for the next ones, still
        # running with qmaild's real uid and qmailq's effective one.
        self.assertEqual(len(pids), 1, msgs)
        running = self.queue_processes()
        self.assertIn((pids.pop(), self.qmaild, self.qmailq), running)
        for subj in ("one", "two", "three"):
            self.assertEqual(sum(1 for m in msgs if b"\nSubject: %s\n" % subj.encode() in m), 1)

        # When the listener stops (its workers with it), it goes.
        srv.stop()
        wait_for(lambda: not self.queue_processes(), 20, "qmail-queue to exit")

    def test_a_message_refused_after_data_leaves_the_server_usable(self):
        self.home.control("databytes", "300\n")
        srv = self.tcpsrv()
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
            s.sendmail("a@b.test", ["bob@example.test"], MSG % ("first", "1"))
            with self.assertRaises(smtplib.SMTPResponseException) as cm:
                s.sendmail("a@b.test", ["bob@example.test"], MSG % ("big", "x" * 1000))
            self.assertEqual(cm.exception.smtp_code, 552)
            s.sendmail("a@b.test", ["bob@example.test"], MSG % ("last", "3"))
        msgs = self.delivered(2)
        self.assertEqual(len(msgs), 2)
        self.assertEqual(len(set(self.qq_pid(m) for m in msgs)), 1, msgs)
        self.assertFalse(any(b"Subject: big" in m for m in msgs))

    def test_a_replaced_qmail_queue_is_run_for_every_message(self):
        # A wrapper (as qmail-scanner and friends install) in place of
        # qmail-queue, which then runs the real one.
        marks = tempfile.mkdtemp(prefix="marks-", dir=self.home.tmp)
        os.chmod(marks, 0o777)
        srv = self.tcpsrv()
        self.send(srv, ["before"])
        self.delivered(1)
        real = self.home.bin("qmail-queue-real")
        shutil.copy2(self.home.bin("qmail-queue"), real)
        # chown first: it clears the setuid bit.
        os.chown(real, self.qmailq, os.stat(self.home.bin("qmail-queue")).st_gid)
        os.chmod(real, 0o4711)
        wrapper = self.home.bin("qmail-queue.new")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\necho $$ >> %s/ran\nexec %s\n" % (marks, real))
        os.chmod(wrapper, 0o755)
        os.rename(wrapper, self.home.bin("qmail-queue"))
        # Sessions after the replacement, on the listener that knew the
        # old one: the wrapper runs for each message.
        self.send(srv, ["after1", "after2"])
        msgs = self.delivered(3)
        with open(os.path.join(marks, "ran")) as f:
            self.assertEqual(len(f.read().split()), 2)
        self.assertEqual(sum(1 for m in msgs if b"Subject: after" in m), 2)


if __name__ == "__main__":
    unittest.main()
