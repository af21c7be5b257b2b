"""qmail-clean, qmail-qread and qmail-qstat as programs, on a queue filled
by the real qmail-queue."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import BUILD  # noqa: E402
from test_queue import SPLIT, envelope, make_queue_tree  # noqa: E402


class ToolsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-qtools-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        self.q = os.path.join(self.home, "queue")
        make_queue_tree(self.q)
        self.env = dict(os.environ, QMAILHOME=self.home)

    def prog(self, name):
        return os.path.join(BUILD, name)

    def enqueue(self, msg, sender, rcpts):
        envfile = os.path.join(self.tmp, "envelope")
        with open(envfile, "wb") as f:
            f.write(envelope(sender, rcpts))
        with open(envfile, "rb") as envfd:
            p = subprocess.run([self.prog("qmail-queue")], input=msg, stdout=envfd,
                               env=self.env, timeout=60)
        self.assertEqual(p.returncode, 0)
        return max(self.ids("todo"), key=lambda i: os.stat(self.todo(i)).st_mtime_ns)

    def ids(self, sub):
        out = set()
        for root, _, names in os.walk(os.path.join(self.q, sub)):
            out |= {int(n) for n in names if n.isdigit()}
        return out

    def todo(self, i):
        return os.path.join(self.q, "todo", str(i))

    def mess(self, i):
        return os.path.join(self.q, "mess", str(i % SPLIT), str(i))

    def intd(self, i):
        return os.path.join(self.q, "intd", str(i))

    def snapshot(self):
        snap = {}
        for root, dirs, names in os.walk(self.q):
            for n in dirs + names:
                p = os.path.join(root, n)
                st = os.lstat(p)
                snap[p] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_nlink)
        return snap

    # -- qmail-clean
    def test_clean_batch_requests(self):
        a = self.enqueue(b"a\n", b"s@x", [b"r@y"])
        b = self.enqueue(b"b\n", b"s@x", [b"r@y"])
        reqs = b"i%d\0x%d\0x999999999\0junk\0" % (a, b)
        p = subprocess.run([self.prog("qmail-clean")], input=reqs, capture_output=True,
                           env=self.env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"+++!")
        self.assertIn(b"bad request", p.stderr)
        self.assertTrue(os.path.exists(self.mess(a)))  # i keeps the message
        self.assertFalse(os.path.exists(self.todo(a)))
        self.assertFalse(os.path.exists(self.intd(a)))
        for f in (self.mess(b), self.todo(b), self.intd(b)):
            self.assertFalse(os.path.exists(f), f)

    def test_clean_answers_each_request_as_it_comes(self):
        a = self.enqueue(b"a\n", b"s@x", [b"r@y"])
        p = subprocess.Popen([self.prog("qmail-clean")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=self.env)
        p.stdin.write(b"i%d\0" % a)
        p.stdin.flush()
        self.assertEqual(p.stdout.read(1), b"+")  # blocks until answered
        self.assertFalse(os.path.exists(self.todo(a)))
        p.stdin.write(b"x%d\0" % a)
        p.stdin.flush()
        self.assertEqual(p.stdout.read(1), b"+")
        self.assertFalse(os.path.exists(self.mess(a)))
        p.stdin.close()
        self.assertEqual(p.wait(30), 0)
        p.stdout.close()

    def kill_mid_message(self):
        """A qmail-queue killed while reading the message: returns the id
        of the mess file it left."""
        before = self.ids("mess")
        envfd = open(os.devnull, "rb")
        p = subprocess.Popen([self.prog("qmail-queue")], stdin=subprocess.PIPE, stdout=envfd,
                             env=self.env)
        p.stdin.write(b"partial\n")
        p.stdin.flush()
        deadline = time.time() + 30
        while len(self.ids("mess")) <= len(before) and time.time() < deadline:
            time.sleep(0.01)
        p.kill()
        p.wait()
        p.stdin.close()
        envfd.close()
        dead = self.ids("mess") - before
        self.assertEqual(len(dead), 1)
        return dead.pop()

    def test_clean_sweeps_old_debris_on_start(self):
        keep = self.enqueue(b"committed\n", b"s@x", [b"r@y"])
        dead = self.kill_mid_message()
        self.assertNotIn(dead, self.ids("todo"))
        # An intd file with one link, as a qmail-queue killed after writing
        # its envelope but before the commit leaves it.
        open(self.intd(dead), "w").close()
        stale_pid = os.path.join(self.q, "pid", "424242")
        open(stale_pid, "w").close()
        young_pid = os.path.join(self.q, "pid", "424243")
        open(young_pid, "w").close()

        # Young debris stays.
        subprocess.run([self.prog("qmail-clean")], input=b"", env=self.env, check=True)
        self.assertTrue(os.path.exists(self.intd(dead)))
        self.assertTrue(os.path.exists(stale_pid))

        old = time.time() - 40 * 3600
        for f in (self.mess(dead), self.intd(dead), stale_pid, self.mess(keep),
                  self.intd(keep)):
            os.utime(f, (old, old))
        p = subprocess.run([self.prog("qmail-clean")], input=b"", env=self.env,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(self.intd(dead)))
        self.assertFalse(os.path.exists(stale_pid))
        self.assertTrue(os.path.exists(young_pid))
        # The mess file is qmail-send's to judge (test_send_sweeps_...):
        # qmail-clean cannot see info/.
        self.assertTrue(os.path.exists(self.mess(dead)))
        # The committed message is untouched however old.
        for f in (self.mess(keep), self.intd(keep), self.todo(keep)):
            self.assertTrue(os.path.exists(f), f)

    def test_killed_in_every_phase_leaves_nothing_committed(self):
        """qmail-queue killed while reading the message, and while reading
        the envelope: nothing is committed, and an aged qmail-clean sweep
        leaves only mess files (for qmail-send), while a committed message
        survives."""
        keep = self.enqueue(b"committed\n", b"s@x", [b"r@y"])
        for phase in ("message", "envelope"):
            r, w = os.pipe()
            p = subprocess.Popen([self.prog("qmail-queue")], stdin=subprocess.PIPE, stdout=r,
                                 env=self.env)
            os.close(r)
            p.stdin.write(b"some message\n")
            deadline = time.time() + 30
            if phase == "envelope":
                p.stdin.close()  # message complete
                os.write(w, b"Fs@x\0Tr@")  # envelope half written
                while not (self.ids("intd") - {keep}) and time.time() < deadline:
                    time.sleep(0.01)
                intd = max(self.ids("intd") - {keep})
                while os.path.getsize(self.intd(intd)) == 0 and time.time() < deadline:
                    time.sleep(0.01)
            else:
                p.stdin.flush()
                want = len(self.ids("mess")) + 1
                while len(self.ids("mess")) < want and time.time() < deadline:
                    time.sleep(0.01)
            p.kill()
            p.wait()
            os.close(w)
            if not p.stdin.closed:
                p.stdin.close()
        self.assertEqual(self.ids("todo"), {keep})
        self.assertEqual(len(self.ids("mess")), 3)
        old = time.time() - 40 * 3600
        for sub in ("mess", "intd", "pid", "todo"):
            for root, _, names in os.walk(os.path.join(self.q, sub)):
                for n in names:
                    os.utime(os.path.join(root, n), (old, old))
        subprocess.run([self.prog("qmail-clean")], input=b"", env=self.env, check=True,
                       capture_output=True)
        self.assertEqual(self.ids("intd"), {keep})
        self.assertEqual(self.ids("todo"), {keep})
        self.assertEqual(self.ids("pid"), set())
        self.assertEqual(len(self.ids("mess")), 3)

    # -- qmail-qstat and qmail-qread
    def test_qstat_and_qread(self):
        a = self.enqueue(b"hello\n", b"alice@example.test", [b"bob@example.test",
                                                              b"carol@example.test"])
        b = self.enqueue(b"", b"", [b"dave@example.test"])
        before = self.snapshot()
        p = subprocess.run([self.prog("qmail-qstat")], capture_output=True, env=self.env,
                           check=True)
        self.assertEqual(p.stdout, b"messages in queue: 2\n"
                         b"messages in queue but not yet preprocessed: 2\n")
        p = subprocess.run([self.prog("qmail-qread")], capture_output=True, env=self.env,
                           check=True)
        out = p.stdout.decode()
        self.assertRegex(out, r"(?m)^\d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d GMT  #%d  \d+  "
                         r"<alice@example.test>  preprocessing$" % a)
        self.assertIn("\ttodo\tbob@example.test\n\ttodo\tcarol@example.test\n", out)
        self.assertRegex(out, r"(?m)#%d  \d+  <>  preprocessing$" % b)
        self.assertEqual(self.snapshot(), before, "qmail-qread/qmail-qstat changed the queue")

    def test_qread_shows_preprocessed_message(self):
        a = self.enqueue(b"hello\n", b"alice@example.test", [b"bob@example.test"])
        # What qmail-send makes of it.
        with open(os.path.join(self.q, "info", str(a % SPLIT), str(a)), "wb") as f:
            f.write(b"Falice@example.test\0")
        with open(os.path.join(self.q, "remote", str(a % SPLIT), str(a)), "wb") as f:
            f.write(b"Tbob@example.test\0Dzed@example.test\0")
        p = subprocess.run([self.prog("qmail-qread")], capture_output=True, env=self.env,
                           check=True)
        out = p.stdout.decode()
        self.assertRegex(out, r"(?m)^.* GMT  #%d  \d+  <alice@example.test> $" % a)
        self.assertIn("\tremote\tbob@example.test\n  done\tremote\tzed@example.test\n", out)
        self.assertNotIn("preprocessing", out)

    def test_qstat_empty_and_missing_queue(self):
        p = subprocess.run([self.prog("qmail-qstat")], capture_output=True, env=self.env)
        self.assertEqual(p.stdout, b"messages in queue: 0\n"
                         b"messages in queue but not yet preprocessed: 0\n")
        shutil.rmtree(self.q)
        for prog in ("qmail-qstat", "qmail-qread"):
            p = subprocess.run([self.prog(prog)], capture_output=True, env=self.env)
            self.assertEqual(p.returncode, 111, prog)


if __name__ == "__main__":
    unittest.main()
