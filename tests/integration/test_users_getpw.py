"""qmail-getpw(8): which account controls a local address, as qmail-lspawn
asks when users/cdb has no assignment."""
import os
import pwd
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402
from qmailtest import Home  # noqa: E402


def fields(p):
    """qmail-getpw's six NUL-terminated fields."""
    out = p.stdout.split(b"\0")
    assert out[-1] == b"", p.stdout
    return tuple(f.decode() for f in out[:-1])


class SingleUserGetpwTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=True)
        self.addCleanup(self.home.cleanup)

    def test_everything_goes_to_alias(self):
        me = pwd.getpwuid(os.getuid()).pw_name
        uid, gid = str(os.geteuid()), str(os.getegid())
        alias = self.home.path("alias")
        for local in ["joe", "Joe-Foo", "root", me, me + "-x", "postmaster", "", "a-b-c"]:
            with self.subTest(local=local):
                p = self.home.run("qmail-getpw", [local])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(fields(p), ("alias", uid, gid, alias, "-", local))

    def test_no_argument(self):
        p = self.home.run("qmail-getpw")
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"")


@unittest.skipUnless(qmailtest.is_root(), "root homes consult system accounts; needs root")
class RootGetpwTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=False)
        self.addCleanup(self.home.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="qmail-getpw-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)

    def user(self, own_home=True):
        d = tempfile.mkdtemp(dir=self.tmp)
        os.chmod(d, 0o755)
        u = qmailtest.ThrowawayUser(home=d)
        self.addCleanup(u.delete)
        if own_home:
            os.chown(d, u.uid, u.gid)
        return u

    def test_table(self):
        joe = self.user()
        stranger = self.user(own_home=False)  # home owned by root: not a user
        alias_uid = str(pwd.getpwnam("alias").pw_uid)
        nofiles = str(self.home_ids()["nofiles"])
        alias = (self.home.path("alias"),)
        j = (joe.name, str(joe.uid), str(joe.gid), joe.home)
        cases = [
            (joe.name, j + ("", "")),
            (joe.name.upper(), j + ("", "")),
            (joe.name + "-", j + ("-", "")),
            (joe.name + "-Box-2", j + ("-", "Box-2")),
            (joe.name + "x", ("alias", alias_uid, nofiles) + alias + ("-", joe.name + "x")),
            (stranger.name, ("alias", alias_uid, nofiles) + alias + ("-", stranger.name)),
            ("root", ("alias", alias_uid, nofiles) + alias + ("-", "root")),
            ("nosuchuser-x", ("alias", alias_uid, nofiles) + alias + ("-", "nosuchuser-x")),
        ]
        for local, want in cases:
            with self.subTest(local=local):
                p = self.home.run("qmail-getpw", [local])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(fields(p), want)

    def test_alias_account_gets_this_homes_alias_dir(self):
        p = self.home.run("qmail-getpw", ["alias-postmaster"])
        self.assertEqual(p.returncode, 0, p.stderr)
        got = fields(p)
        self.assertEqual(got[0], "alias")
        self.assertEqual(got[3], self.home.path("alias"))
        self.assertEqual(got[4:], ("-", "postmaster"))

    def home_ids(self):
        out = {}
        with open(self.home.path("users", "ids")) as f:
            for line in f:
                name, uid, gid = line.strip().split(":")
                out[name] = int(gid)
        return out


if __name__ == "__main__":
    unittest.main()
