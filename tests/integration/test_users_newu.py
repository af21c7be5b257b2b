"""qmail-newu(8): users/assign -> users/cdb, and a bad assign file keeps
the old cdb. Runs the real program against a bare temporary home."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402


class NewuTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qmail-newu-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.mkdir(os.path.join(self.dir, "users"))

    def newu(self):
        env = dict(os.environ, QMAILHOME=self.dir)
        return subprocess.run([os.path.join(qmailtest.BUILD, "qmail-newu")], env=env,
                              capture_output=True, timeout=60)

    def write_assign(self, text):
        with open(os.path.join(self.dir, "users", "assign"), "w") as f:
            f.write(text)

    def cdb(self):
        with open(os.path.join(self.dir, "users", "cdb"), "rb") as f:
            return f.read()

    def test_table(self):
        # got/want: assign text -> exit code, and a phrase qmail-newu must say.
        cases = [
            ("=joe:joe:507:100:/home/joe:::\n.\n", 0, ""),
            ("+:alias:7790:2108:/var/qmail/alias:-::\n.\n", 0, ""),
            (".\n", 0, ""),
            ("=joe:joe:507:100:/home/joe:::\n", 111, "missing final line"),
            ("=joe:joe:507:100:/home/joe::\n.\n", 111, "line 1"),
            ("=a:a:1:1:/a:::\n=joe:joe:x:100:/home/joe:::\n.\n", 111, "line 2: uid"),
            ("joe:joe:1:1:/home/joe:::\n.\n", 111, "does not begin with = or +"),
        ]
        for text, want_code, want_msg in cases:
            with self.subTest(text=text):
                self.write_assign(text)
                p = self.newu()
                self.assertEqual(p.returncode, want_code, p.stderr)
                self.assertIn(want_msg.encode(), p.stderr)
                if want_code:
                    self.assertIn(b"qmail-newu: fatal:", p.stderr)

    def test_bad_file_keeps_old_cdb(self):
        self.write_assign("=joe:joe:507:100:/home/joe:::\n.\n")
        self.assertEqual(self.newu().returncode, 0)
        before = self.cdb()
        self.assertIn(b"/home/joe", before)
        self.write_assign("=fred:fred:508:100:/home/fred:::\ngarbage\n.\n")
        p = self.newu()
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"users/cdb left unchanged", p.stderr)
        self.assertEqual(self.cdb(), before)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "users", "cdb.tmp")))

    def test_missing_assign(self):
        p = self.newu()
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"users/assign", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "users", "cdb")))

    def test_new_cdb_replaces_old(self):
        self.write_assign("=joe:joe:507:100:/home/joe:::\n.\n")
        self.assertEqual(self.newu().returncode, 0)
        self.write_assign("=fred:fred:508:100:/home/fred:::\n.\n")
        self.assertEqual(self.newu().returncode, 0)
        data = self.cdb()
        self.assertIn(b"/home/fred", data)
        self.assertNotIn(b"/home/joe", data)
        self.assertEqual(os.stat(os.path.join(self.dir, "users", "cdb")).st_mode & 0o777, 0o644)


if __name__ == "__main__":
    unittest.main()
