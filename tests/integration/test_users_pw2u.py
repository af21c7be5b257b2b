"""qmail-pw2u(8): passwd on stdin -> users/assign on stdout, with its
options and its files in HOME/users; the output feeds qmail-newu."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402
from qmailtest import Home  # noqa: E402


class Pw2uTest(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=True)
        self.addCleanup(self.home.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="qmail-pw2u-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # A home directory owned by `uid`: root can give it any uid; a plain
        # user can only own it.
        self.uid = 4242 if qmailtest.is_root() else os.getuid()
        self.joe_home = os.path.join(self.tmp, "joe")
        os.mkdir(self.joe_home)
        if qmailtest.is_root():
            os.chown(self.joe_home, self.uid, 100)
        self.alias = "+:alias:%d:%d:%s:-::\n" % (os.geteuid(), os.getegid(),
                                                  self.home.path("alias"))
        self.j = "joe:%d:100:%s:" % (self.uid, self.joe_home)

    def passwd(self):
        return ("root:x:0:0:root:/root:/bin/sh\n"
                "joe:x:%d:100:Joe:%s:/bin/sh\n"
                "Upper:x:%d:100::%s:/bin/sh\n"
                "gone:x:%d:100::%s/gone:/bin/sh\n"
                "short:x:9:9::/x\n" % (self.uid, self.joe_home, self.uid, self.joe_home,
                                       self.uid, self.tmp))

    def pw2u(self, args=(), input=None):
        return self.home.run("qmail-pw2u", list(args),
                             input=(input if input is not None else self.passwd()).encode())

    def users_file(self, name, text):
        with open(self.home.path("users", name), "w") as f:
            f.write(text)

    def test_options_table(self):
        cases = [
            ([], "=joe:%s::\n+joe-:%s-::\n%s.\n" % (self.j, self.j, self.alias)),
            (["-o"], "=joe:%s::\n+joe-:%s-::\n%s.\n" % (self.j, self.j, self.alias)),
            (["-C"], "=joe:%s::\n%s.\n" % (self.j, self.alias)),
            (["-c+"], "=joe:%s::\n+joe+:%s-::\n%s.\n" % (self.j, self.j, self.alias)),
            (["-c", "+"], "=joe:%s::\n+joe+:%s-::\n%s.\n" % (self.j, self.j, self.alias)),
            (["-/"], "=joe:%s::\n+joe-:%s-/::\n%s.\n" % (
                self.j, self.j, self.alias.replace(":-::", ":-/::"))),
            (["-u", "-C"], "=joe:%s::\n=Upper:Upper:%d:100:%s:::\n%s.\n" % (
                self.j, self.uid, self.joe_home, self.alias)),
            (["-H", "-C"], "=joe:%s::\n=gone:gone:%d:100:%s/gone:::\n%s.\n" % (
                self.j, self.uid, self.tmp, self.alias)),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                p = self.pw2u(args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.decode(), want)

    def test_failures(self):
        cases = [
            (["-h"], 111, b"gone"),      # -h: a missing home stops everything
            (["-x"], 100, b"usage"),
            (["-c"], 100, b"usage"),
        ]
        for args, code, msg in cases:
            with self.subTest(args=args):
                p = self.pw2u(args)
                self.assertEqual(p.returncode, code)
                self.assertIn(msg, p.stderr)
                self.assertEqual(p.stdout, b"")

    def test_users_files(self):
        self.users_file("include", "joe\ngone\n")
        self.users_file("exclude", "gone\n")
        self.users_file("mailnames", "joe:joe.shmoe:js\n")
        self.users_file("subusers", "list:joe:lists:\n")
        self.users_file("append", "=extra:x:1:1:/x:::\n")
        p = self.pw2u(["-H"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(),
                         "=joe.shmoe:%s::\n+joe.shmoe-:%s-::\n=js:%s::\n+js-:%s-::\n%s"
                         "=list:%s-:lists:\n+list-:%s-:lists-:\n=extra:x:1:1:/x:::\n.\n" % (
                             self.j, self.j, self.j, self.j, self.alias, self.j, self.j))

    def test_unknown_subuser_owner(self):
        self.users_file("subusers", "list:nobody-here:lists:\n")
        p = self.pw2u()
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"nobody-here", p.stderr)

    def test_output_feeds_newu(self):
        p = self.pw2u()
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.home.path("users", "assign"), "wb") as f:
            f.write(p.stdout)
        n = self.home.run("qmail-newu")
        self.assertEqual(n.returncode, 0, n.stderr)


if __name__ == "__main__":
    unittest.main()
