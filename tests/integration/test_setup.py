"""qmail-setup(8) and config-fast(8): the tree they make, its owners and
modes, idempotence (a queued message survives a second run), root mode
with qmail's users, and an unprivileged home made by a throwaway user."""
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402
from qmailtest import Home  # noqa: E402

QMAIL_USERS = ["alias", "qmaild", "qmaill", "qmailp", "qmailq", "qmailr", "qmails"]

# (path, mode) every home has; owners are checked separately per mode.
TREE = [
    ("", 0o755), ("bin", 0o755), ("control", 0o755), ("users", 0o755), ("man", 0o755),
    ("man/man8", 0o755), ("users/ids", 0o644), ("users/assign", 0o644), ("users/cdb", 0o644),
    ("alias", 0o2755), ("alias/Maildir", 0o700), ("alias/Maildir/new", 0o700),
    ("alias/Maildir/cur", 0o700), ("alias/Maildir/tmp", 0o700),
    ("alias/.qmail-postmaster", 0o644), ("alias/.qmail-mailer-daemon", 0o644),
    ("alias/.qmail-root", 0o644),
    ("queue", 0o750), ("queue/pid", 0o700), ("queue/intd", 0o700), ("queue/todo", 0o750),
    ("queue/bounce", 0o700), ("queue/mess/0", 0o750), ("queue/mess/22", 0o750),
    ("queue/info/22", 0o700), ("queue/local/0", 0o700), ("queue/remote/5", 0o700),
    ("queue/lock", 0o750), ("queue/lock/tcpto", 0o644), ("queue/lock/sendmutex", 0o600),
    ("queue/lock/trigger", 0o622),
]


def read_ids(home):
    out = {}
    with open(home.path("users", "ids")) as f:
        for line in f:
            name, uid, gid = line.strip().split(":")
            out[name] = (int(uid), int(gid))
    return out


class SingleUserSetupTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=True)
        self.addCleanup(self.home.cleanup)

    def check_tree(self):
        for rel, mode in TREE:
            with self.subTest(path=rel):
                st = os.lstat(self.home.path(rel))
                self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
                self.assertEqual(st.st_uid, os.geteuid(), rel)
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.home.path("queue/lock/trigger")).st_mode))
        self.assertEqual(os.path.getsize(self.home.path("queue/lock/tcpto")), 1024)

    def test_tree_shape_and_modes(self):
        self.check_tree()
        ids = read_ids(self.home)
        self.assertEqual(sorted(ids), sorted(QMAIL_USERS + ["qmail", "nofiles"]))
        for name in QMAIL_USERS:
            self.assertEqual(ids[name], (os.geteuid(), os.getegid()), name)
        with open(self.home.path("users", "assign")) as f:
            self.assertEqual(f.read(), ".\n")
        with open(self.home.path("alias", ".qmail-postmaster")) as f:
            self.assertEqual(f.read(), "./Maildir/\n")

    def test_programs_copied_and_nothing_else(self):
        bin_names = sorted(os.listdir(self.home.path("bin")))
        self.assertIn("qmail-setup", bin_names)
        self.assertIn("qmail-newu", bin_names)
        self.assertNotIn("unit_tests", bin_names)
        self.assertFalse([n for n in bin_names if n.endswith("_fuzz")])
        for n in bin_names:
            with open(os.path.join(qmailtest.BUILD, n), "rb") as a, \
                    open(self.home.bin(n), "rb") as b:
                self.assertEqual(a.read(), b.read(), n)
            mode = stat.S_IMODE(os.stat(self.home.bin(n)).st_mode)
            self.assertFalse(mode & stat.S_ISUID, n)  # nothing setuid in a single-user home
        self.assertEqual(stat.S_IMODE(os.stat(self.home.bin("qmail-newu")).st_mode), 0o700)

    def test_man_pages_installed(self):
        src = os.path.join(qmailtest.SOURCE, "man")
        for n in os.listdir(src):
            if n[-2] == "." and n[-1] in "12345678":
                self.assertTrue(os.path.isfile(self.home.path("man", "man" + n[-1], n)), n)

    def test_second_run_keeps_queue_and_repairs(self):
        msg = self.home.path("queue", "mess", "3", "12345")
        with open(msg, "w") as f:
            f.write("Received: kept\n\nbody\n")
        todo = self.home.path("queue", "todo", "12345")
        with open(todo, "w") as f:
            f.write("u0\0p1\0Fa@b\0Tc@d\0")
        with open(self.home.path("users", "assign"), "w") as f:
            f.write("=joe:me:1:1:/j:::\n.\n")
        # Damage: a wrong mode, a missing split directory, a missing program.
        os.chmod(self.home.path("queue", "info", "4"), 0o777)
        os.rmdir(self.home.path("queue", "remote", "7"))
        os.unlink(self.home.bin("qmail-newu"))
        self.home.setup()
        self.check_tree()
        with open(msg) as f:
            self.assertEqual(f.read(), "Received: kept\n\nbody\n")
        self.assertTrue(os.path.exists(todo))
        self.assertTrue(os.path.isdir(self.home.path("queue", "remote", "7")))
        self.assertEqual(stat.S_IMODE(os.stat(self.home.path("queue", "info", "4")).st_mode), 0o700)
        self.assertTrue(os.path.exists(self.home.bin("qmail-newu")))
        with open(self.home.path("users", "assign")) as f:
            self.assertEqual(f.read(), "=joe:me:1:1:/j:::\n.\n")
        with open(self.home.path("users", "cdb"), "rb") as f:
            self.assertIn(b"/j", f.read())  # setup ran qmail-newu on the admin's assign

    def test_setup_from_own_bin_repairs(self):
        os.chmod(self.home.path("control"), 0o700)
        p = subprocess.run([self.home.bin("qmail-setup"), "--single-user", self.home.dir],
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_tree()

    def test_usage(self):
        for args in ([], ["--bogus", "x"], ["a", "b"]):
            p = subprocess.run([os.path.join(qmailtest.BUILD, "qmail-setup")] + args,
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 100, args)
            self.assertIn(b"usage", p.stderr)

    def test_relative_home(self):
        tmp = tempfile.mkdtemp(prefix="qmail-rel-")
        self.addCleanup(shutil.rmtree, tmp, True)
        p = subprocess.run(qmailtest.setup_args("./rel/home"), cwd=tmp, capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.isdir(os.path.join(tmp, "rel", "home", "queue", "mess", "0")))


class ConfigFastTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(hostname="mail.example.org")
        self.addCleanup(self.home.cleanup)

    def read(self, name):
        with open(self.home.path("control", name)) as f:
            return f.read()

    def test_files(self):
        want = {"me": "mail.example.org\n", "defaultdomain": "example.org\n",
                "plusdomain": "example.org\n", "locals": "mail.example.org\n",
                "rcpthosts": "mail.example.org\n"}
        for name, text in want.items():
            self.assertEqual(self.read(name), text, name)
            self.assertEqual(stat.S_IMODE(os.stat(self.home.path("control", name)).st_mode),
                             0o644)

    def test_second_host_and_repeat(self):
        self.home.run_ok("config-fast", ["a.b.c.d"])
        p = self.home.run_ok("config-fast", ["a.b.c.d"])
        self.assertIn(b"already in control/locals", p.stdout)
        self.assertEqual(self.read("me"), "a.b.c.d\n")
        self.assertEqual(self.read("defaultdomain"), "b.c.d\n")
        self.assertEqual(self.read("plusdomain"), "c.d\n")
        self.assertEqual(self.read("locals"), "mail.example.org\na.b.c.d\n")
        self.assertEqual(self.read("rcpthosts"), "mail.example.org\na.b.c.d\n")

    def test_bad_usage(self):
        for args in ([], ["a", "b"], ["bad host"]):
            p = self.home.run("config-fast", args)
            self.assertEqual(p.returncode, 100, args)

    def test_showctl(self):
        self.home.control("concurrencyremote", "5\n")
        self.home.control("weird", "x\n")
        p = self.home.run_ok("qmail-showctl")
        out = p.stdout.decode()
        for want in ["qmail home directory: %s." % self.home.dir,
                     "\nme: My name is mail.example.org.\n",
                     "\nconcurrencyremote: Remote concurrency is 5.\n",
                     "\nlocals: \nMessages for mail.example.org are delivered locally.\n",
                     "\nweird: I have no idea what this file does.\n",
                     "home kind: single-user"]:
            self.assertIn(want, out)


@unittest.skipUnless(qmailtest.is_root(), "root mode needs root")
class RootSetupTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=False)
        self.addCleanup(self.home.cleanup)

    def test_users_and_groups_exist(self):
        ids = read_ids(self.home)
        gq = grp.getgrnam("qmail").gr_gid
        gn = grp.getgrnam("nofiles").gr_gid
        self.assertEqual(ids["qmail"][1], gq)
        self.assertEqual(ids["nofiles"][1], gn)
        for name in QMAIL_USERS:
            pw = pwd.getpwnam(name)
            self.assertNotEqual(pw.pw_uid, 0, name)
            self.assertEqual(ids[name], (pw.pw_uid, pw.pw_gid), name)
        self.assertFalse(self.home.single_user())

    def test_owners_and_modes(self):
        uid = {n: pwd.getpwnam(n).pw_uid for n in QMAIL_USERS}
        uid["root"] = 0
        gq = grp.getgrnam("qmail").gr_gid
        want_owner = {
            "": "root", "bin": "root", "control": "root", "users": "root", "man": "root",
            "users/ids": "root", "alias": "alias", "alias/Maildir": "alias",
            "alias/Maildir/new": "alias", "alias/.qmail-postmaster": "root",
            "queue": "qmailq", "queue/pid": "qmailq", "queue/intd": "qmailq",
            "queue/todo": "qmailq", "queue/mess/0": "qmailq", "queue/lock": "qmailq",
            "queue/bounce": "qmails", "queue/info/22": "qmails", "queue/local/0": "qmails",
            "queue/remote/5": "qmails", "queue/lock/sendmutex": "qmails",
            "queue/lock/trigger": "qmails", "queue/lock/tcpto": "qmailr",
        }
        for rel, mode in TREE:
            with self.subTest(path=rel):
                st = os.lstat(self.home.path(rel))
                self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
                if rel in want_owner:
                    self.assertEqual(st.st_uid, uid[want_owner[rel]], rel)
                if not rel.startswith("alias/Maildir"):
                    self.assertEqual(st.st_gid, gq, rel)

    def test_qmail_queue_is_setuid_qmailq(self):
        q = self.home.bin("qmail-queue")
        if not os.path.exists(os.path.join(qmailtest.BUILD, "qmail-queue")):
            self.skipTest("qmail-queue not built")
        st = os.stat(q)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o4711)
        self.assertEqual(st.st_uid, pwd.getpwnam("qmailq").pw_uid)
        for n in os.listdir(self.home.path("bin")):
            if n != "qmail-queue":
                self.assertFalse(os.stat(self.home.bin(n)).st_mode & stat.S_ISUID, n)
                self.assertEqual(os.stat(self.home.bin(n)).st_uid, 0, n)

    def test_second_run_keeps_queue(self):
        msg = self.home.path("queue", "mess", "1", "999")
        with open(msg, "w") as f:
            f.write("queued\n")
        self.home.setup()
        with open(msg) as f:
            self.assertEqual(f.read(), "queued\n")


@unittest.skipUnless(qmailtest.is_root(), "needs root to make a throwaway user")
class UnprivilegedSetupTest(unittest.TestCase):
    def test_setup_as_a_plain_user(self):
        tmp = tempfile.mkdtemp(prefix="qmail-unpriv-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        user = qmailtest.ThrowawayUser()
        self.addCleanup(user.delete)
        os.chown(tmp, user.uid, user.gid)
        home = os.path.join(tmp, "home")
        # Without --single-user: a non-root caller always gets a single-user home.
        p = user.run([os.path.join(qmailtest.BUILD, "qmail-setup"), home])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"single-user home", p.stderr)
        for root, dirs, files in os.walk(home):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                st = os.lstat(n)
                self.assertEqual((st.st_uid, st.st_gid), (user.uid, user.gid), n)
        with open(os.path.join(home, "users", "ids")) as f:
            for line in f:
                name, uid, gid = line.strip().split(":")
                if name not in ("qmail", "nofiles"):
                    self.assertEqual(int(uid), user.uid, line)
                self.assertEqual(int(gid), user.gid, line)
        # Running it again as that user works; as another plain user it fails.
        p = user.run([os.path.join(home, "bin", "qmail-setup"), home])
        self.assertEqual(p.returncode, 0, p.stderr)
        other = qmailtest.ThrowawayUser()
        self.addCleanup(other.delete)
        p = other.run([os.path.join(qmailtest.BUILD, "qmail-setup"), home])
        self.assertEqual(p.returncode, 111)


if __name__ == "__main__":
    unittest.main()
