"""qmail-inject and sendmail into the real qmail-queue of a real home
(qmail-setup + config-fast), with qmail-send not running: the committed
todo file must hold exactly the envelope qmail-inject chose, and the queued
message the rewritten header under qmail-queue's Received line."""
import os
import pwd
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmailtest  # noqa: E402

NEEDED = ["qmail-setup", "config-fast", "qmail-queue", "qmail-inject", "sendmail"]


def have_programs():
    return all(os.path.exists(os.path.join(qmailtest.BUILD, p)) for p in NEEDED)


@unittest.skipUnless(have_programs(), "needs qmail-setup, config-fast and qmail-queue")
class InjectQueueTest(qmailtest.HomeTestCase):
    def queued(self):
        """[(envelope fields, message)] for every committed message."""
        out = []
        todo = self.home.path("queue", "todo")
        for root, _, files in os.walk(todo):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    env = f.read()
                mess = None
                for r2, _, f2 in os.walk(self.home.path("queue", "mess")):
                    if name in f2:
                        with open(os.path.join(r2, name), "rb") as f:
                            mess = f.read()
                out.append((env.split(b"\0")[:-1], mess))
        return out

    def test_sendmail_t_into_queue(self):
        env = self.home.env(USER="joe", QMAILNAME="Joe Q", QMAILQUEUE=None)
        p = self.home.run("sendmail", ["-t"], env=env,
                          input=b"To: fred, Some One <one@elsewhere.example>\n"
                                b"Bcc: hidden@elsewhere.example\nSubject: real queue\n\nhello\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        q = self.queued()
        self.assertEqual(len(q), 1)
        fields, mess = q[0]
        self.assertEqual(fields[0], b"u%d" % os.getuid())
        self.assertTrue(fields[1].startswith(b"p"))
        self.assertEqual(fields[2:], [b"Fjoe@example.test", b"Tfred@example.test",
                                      b"Tone@elsewhere.example", b"Thidden@elsewhere.example"])
        self.assertTrue(mess.startswith(b"Received: "), mess)
        self.assertIn(b"\nFrom: \"Joe Q\" <joe@example.test>\n"
                      b"To: fred@example.test, Some One <one@elsewhere.example>\n"
                      b"Subject: real queue\n\nhello\n", mess)
        self.assertNotIn(b"hidden", mess)

    def test_our_qmail_queue_runs_without_exec(self):
        """HOME/bin/qmail-queue is ours and not set-id (single-user home):
        its code runs in the forked child. Shown by taking away its execute
        bits: an exec would fail ("unable to exec qq"), the call does not."""
        q = self.home.path("bin", "qmail-queue")
        os.chmod(q, 0o644)
        env = self.home.env(QMAILQUEUE=None)
        p = self.home.run("qmail-inject", ["a@b.example"], env=env, input=b"\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        fields, mess = self.queued()[0]
        self.assertEqual(fields[-1], b"Ta@b.example")
        self.assertRegex(mess, rb"^Received: \(qmail \d+ invoked by uid %d\);" % os.getuid())

    def test_our_qmail_queue_runs_in_the_callers_process(self):
        """Single-user home, our qmail-queue, no $QMAILQUEUE: no process is
        started at all; the message goes into the queue from qmail-inject's
        own process, so the Received line and the envelope's p record carry
        qmail-inject's pid, and the files are 0644 even under umask 077."""
        import subprocess
        env = self.home.env(QMAILQUEUE=None)
        p = subprocess.Popen([self.home.path("bin", "qmail-inject"), "a@b.example"], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=lambda: os.umask(0o077))
        out, err = p.communicate(b"\nbody\n", timeout=60)
        self.assertEqual(p.returncode, 0, err)
        fields, mess = self.queued()[0]
        self.assertEqual(fields[1], b"p%d" % p.pid)
        self.assertRegex(mess, rb"^Received: \(qmail %d invoked by uid %d\);"
                         % (p.pid, os.getuid()))
        for root, _, files in os.walk(self.home.path("queue")):
            for name in files:
                if root.endswith(("todo", "mess")) or "/mess/" in root:
                    self.assertEqual(os.stat(os.path.join(root, name)).st_mode & 0o777, 0o644)
        self.assertEqual(os.listdir(self.home.path("queue", "pid")), [])

    def test_other_qmail_queue_is_execd(self):
        """Anything else at HOME/bin/qmail-queue is exec'd (here a wrapper
        script around our program), as is a set-id qmail-queue."""
        q = self.home.path("bin", "qmail-queue")
        real = q + ".real"
        os.rename(q, real)
        mark = os.path.join(self.home.tmp, "wrapped")
        with open(q, "w") as f:
            f.write("#!/bin/sh\necho ran >> %s\nexec %s\n" % (mark, real))
        os.chmod(q, 0o755)
        env = self.home.env(QMAILQUEUE=None)
        p = self.home.run("qmail-inject", ["a@b.example"], env=env, input=b"\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(mark) as f:
            self.assertEqual(f.read(), "ran\n")
        self.assertEqual(len(self.queued()), 1)
        # set-id: exec'd, so the missing execute bit now shows
        os.rename(real, q)
        os.chmod(q, 0o4644)
        p = self.home.run("qmail-inject", ["a@b.example"], env=env, input=b"\nbody\n")
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"unable to exec qq", p.stdout + p.stderr)

    def test_inject_f_and_args(self):
        env = self.home.env(QMAILQUEUE=None)
        p = self.home.run("qmail-inject", ["-f", "", "a@b.example"], env=env, input=b"\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        fields, mess = self.queued()[0]
        self.assertEqual(fields[2:], [b"F", b"Ta@b.example"])
        self.assertTrue(mess.endswith(b"\n\nbody\n"))


if __name__ == "__main__":
    unittest.main()
