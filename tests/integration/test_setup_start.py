"""scripts/start, scripts/status and scripts/stop: a single-user home with
a mailbox for the invoking user, qmail and its SMTP listener running in the
background, a first message delivered by sendmail and by SMTP, and a clean
stop that leaves no process. Uses the test build directory
(QMAIL_START_BUILD) instead of building the release preset."""
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402

SCRIPTS = os.path.join(qmailtest.SOURCE, "scripts")
NEEDED = ["qmail-start", "qmail-send", "qmail-lspawn", "qmail-local", "qmail-queue",
          "qmail-clean", "sendmail", "qmail-tcpsrv", "qmail-tcprules", "qmail-smtpd"]


def have_programs():
    return all(os.path.exists(os.path.join(qmailtest.BUILD, p)) for p in NEEDED)


class StartTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-start-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "home")
        # Port 0: any free port, so tests never fight over 2525.
        self.env = dict(os.environ, QMAIL_START_BUILD=qmailtest.BUILD, QMAILHOME=self.dir,
                        QMAIL_SMTP_PORT="0")
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
        port = self.smtp_port(out)
        self.assertIn('smtplib.SMTP("127.0.0.1", %d)' % port, out)
        self.assertIn("mailboxes/%s/Maildir/new" % self.login, out)
        self.check_home()
        pidfile = os.path.join(self.dir, "run", "qmail.pid")
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, 0)
        self.assertEqual(self.script("status").returncode, 0)

        # Twice: the second start sees it running and keeps the assign file.
        p = self.script("start")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"already running", p.stdout)
        self.assertEqual(self.smtp_port(p.stdout.decode()), port)
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

        # By SMTP, as the start message says; 127.0.0.1 may relay too.
        host = self.me()
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            refused = smtp.sendmail("someone@elsewhere.test", ["%s@%s" % (self.login, host)],
                                    b"Subject: by smtp\r\n\r\nIt works by SMTP.\r\n")
            self.assertEqual(refused, {})
        qmailtest.wait_for(lambda: self.mail_containing(new, b"It works by SMTP."), 30,
                           "the SMTP message")
        with open(os.path.join(self.dir, "log", "smtpd"), "rb") as f:
            self.assertRegex(f.read(), rb"ok \d+ :127\.0\.0\.1:%d " % port)
        st = self.script("status")
        self.assertIn(b"SMTP is listening on 127.0.0.1:%d" % port, st.stdout)

        # A session still open at stop is ended too.
        held = socket.create_connection(("127.0.0.1", port), 30)
        self.assertTrue(held.recv(100).startswith(b"220"))
        p = self.script("stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        held.close()
        self.assertFalse(os.path.exists(pidfile))
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        self.assertEqual(self.home_processes(), [])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), 5)
        self.assertEqual(self.script("status").returncode, 1)

    @unittest.skipUnless(have_programs(), "needs qmail-start and the delivery programs")
    def test_default_port_taken_falls_back(self):
        # Hold 2525 (or find it held by someone else): start picks another.
        blocker = socket.socket()
        try:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(("127.0.0.1", 2525))
            blocker.listen(1)
        except OSError:
            pass  # taken already, which is the case under test
        self.addCleanup(blocker.close)
        env = dict(self.env)
        del env["QMAIL_SMTP_PORT"]
        p = subprocess.run([os.path.join(SCRIPTS, "start"), self.dir], env=env,
                           capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        port = self.smtp_port(p.stdout.decode())
        self.assertNotEqual(port, 2525)
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            self.assertEqual(smtp.noop()[0], 250)

    @unittest.skipUnless(have_programs(), "needs qmail-start and the delivery programs")
    def test_explicit_port_taken_fails(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        env = dict(self.env, QMAIL_SMTP_PORT=str(blocker.getsockname()[1]))
        p = subprocess.run([os.path.join(SCRIPTS, "start"), self.dir], env=env,
                           capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b"is taken", p.stderr)

    @unittest.skipUnless(have_programs() and qmailtest.is_root(),
                         "needs root (to make an unprivileged user) and the programs")
    def test_unprivileged_user(self):
        # The same as an ordinary user: a throwaway account owns the folder.
        user = qmailtest.ThrowawayUser()
        self.addCleanup(user.delete)
        os.chmod(self.tmp, 0o755)
        os.mkdir(self.dir)
        os.chown(self.dir, user.uid, user.gid)
        env = dict(self.env, HOME=self.dir, USER=user.name, LOGNAME=user.name)

        def run(name):
            return user.run([os.path.join(SCRIPTS, name), self.dir], env=env, timeout=300)
        self.addCleanup(run, "stop")
        p = run("start")
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        port = self.smtp_port(p.stdout.decode())
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.sendmail("someone@elsewhere.test", ["%s@%s" % (user.name, self.me())],
                          b"Subject: unprivileged\r\n\r\nhello\r\n")
        new = os.path.join(self.dir, "mailboxes", user.name, "Maildir", "new")
        qmailtest.wait_for(lambda: self.mail_containing(new, b"hello"), 30, "delivery")
        procs = self.home_processes()
        self.assertTrue(procs)
        for pid, _ in procs:
            try:
                owner = os.stat("/proc/%d" % pid).st_uid
            except FileNotFoundError:
                continue  # a short-lived child (a session, a delivery) ended meanwhile
            self.assertEqual(owner, user.uid)
        self.assertEqual(run("stop").returncode, 0)
        self.assertEqual(self.home_processes(), [])

    def smtp_port(self, out):
        m = re.search(r"SMTP (?:is already running|listening) on 127\.0\.0\.1:(\d+)", out)
        self.assertIsNotNone(m, out)
        with open(os.path.join(self.dir, "run", "smtpd.port")) as f:
            self.assertEqual(int(f.read()), int(m.group(1)))
        return int(m.group(1))

    def me(self):
        with open(os.path.join(self.dir, "control", "me")) as f:
            return f.readline().strip()

    @staticmethod
    def mail_containing(new, text):
        for name in os.listdir(new):
            with open(os.path.join(new, name), "rb") as f:
                if text in f.read():
                    return True
        return False

    def home_processes(self):
        """Processes running a program from this home's bin/."""
        bindir = os.path.join(self.dir, "bin") + "/"
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                exe = os.readlink("/proc/%s/exe" % pid)
            except OSError:
                continue
            if exe.startswith(bindir):
                found.append((int(pid), exe))
        return found


if __name__ == "__main__":
    unittest.main()
