"""scripts/start, scripts/status and scripts/stop: a single-user home with
a mailbox for the invoking user, qmail running in the background, a first
message delivered, and a clean stop. Uses the test build directory
(QMAIL_START_BUILD) instead of building the release preset."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402

SCRIPTS = os.path.join(qmailtest.SOURCE, "scripts")
NEEDED = ["qmail-start", "qmail-send", "qmail-lspawn", "qmail-local", "qmail-queue",
          "qmail-clean", "sendmail"]


def have_programs():
    return all(os.path.exists(os.path.join(qmailtest.BUILD, p)) for p in NEEDED)


class StartTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-start-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "home")
        self.env = dict(os.environ, QMAIL_START_BUILD=qmailtest.BUILD, QMAILHOME=self.dir)
        self.login = pwd.getpwuid(os.getuid()).pw_name
        self.addCleanup(self.script, "stop")

    def script(self, name, *args):
        return subprocess.run([os.path.join(SCRIPTS, name), self.dir, *args], env=self.env,
                              capture_output=True, timeout=300)

    @unittest.skipIf(have_programs(), "qmail-start is built; see test_start_send_stop")
    def test_home_ready_even_without_qmail_start(self):
        p = self.script("start")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"qmail-start was not built yet", p.stderr)
        self.check_home()

    def check_home(self):
        mbox = os.path.join(self.dir, "mailboxes", self.login)
        for sub in ("new", "cur", "tmp"):
            self.assertTrue(os.path.isdir(os.path.join(mbox, "Maildir", sub)))
        with open(os.path.join(self.dir, "users", "assign")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[-1], ".")
        self.assertIn("=%s:%s:%d:%d:%s:::" % (self.login, self.login, os.getuid(), os.getgid(),
                                             mbox), lines)
        self.assertTrue(os.path.getsize(os.path.join(self.dir, "control", "me")) > 0)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "users", "cdb")))

    @unittest.skipUnless(have_programs(), "needs qmail-start and the delivery programs")
    def test_start_send_stop(self):
        p = self.script("start")
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        out = p.stdout.decode()
        self.assertIn("bin/sendmail %s" % self.login, out)
        self.assertIn("mailboxes/%s/Maildir/new" % self.login, out)
        self.check_home()
        pidfile = os.path.join(self.dir, "run", "qmail.pid")
        pid = int(open(pidfile).read())
        os.kill(pid, 0)
        self.assertEqual(self.script("status").returncode, 0)

        # Twice: the second start sees it running and keeps the assign file.
        p = self.script("start")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"already running", p.stdout)
        with open(os.path.join(self.dir, "users", "assign")) as f:
            self.assertEqual(f.read().count("=%s:" % self.login), 1)

        msg = b"Subject: hello\n\nIt works.\n"
        s = subprocess.run([os.path.join(self.dir, "bin", "sendmail"), self.login], input=msg,
                           env=self.env, capture_output=True, timeout=60)
        self.assertEqual(s.returncode, 0, s.stderr)
        new = os.path.join(self.dir, "mailboxes", self.login, "Maildir", "new")
        qmailtest.wait_for(lambda: os.listdir(new), 30, "the first message")
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            self.assertIn(b"It works.", f.read())

        p = self.script("stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(pidfile))
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        self.assertEqual(self.script("status").returncode, 1)


if __name__ == "__main__":
    unittest.main()
