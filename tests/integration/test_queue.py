"""qmail-queue as a program: the real binary against a temporary queue.

The home here is minimal on purpose (just queue/, no users/ids), so these
tests depend on nothing but qmail-queue itself.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import BUILD  # noqa: E402

SPLIT = 23
RECEIVED = re.compile(
    rb"^Received: \(qmail (\d+) invoked by uid (\d+)\); "
    rb"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    rb"\d\d:\d\d:\d\d -0000\n")


def make_queue_tree(q):
    """The tree make_queue() makes in a single-user home (its unit test
    checks make_queue itself)."""
    os.makedirs(q, 0o750)
    for d, mode in (("pid", 0o700), ("intd", 0o700), ("todo", 0o750), ("bounce", 0o700),
                    ("lock", 0o750)):
        os.mkdir(os.path.join(q, d), mode)
    for d, mode in (("mess", 0o750), ("info", 0o700), ("local", 0o700), ("remote", 0o700)):
        os.mkdir(os.path.join(q, d), mode)
        for i in range(SPLIT):
            os.mkdir(os.path.join(q, d, str(i)), mode)
    os.mkfifo(os.path.join(q, "lock", "trigger"), 0o622)
    open(os.path.join(q, "lock", "sendmutex"), "w").close()
    with open(os.path.join(q, "lock", "tcpto"), "wb") as f:
        f.write(b"\0" * 1024)


def envelope(sender, rcpts, terminate=True):
    e = b"F" + sender + b"\0" + b"".join(b"T" + r + b"\0" for r in rcpts)
    return e + b"\0" if terminate else e


class QueueTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-queue-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        self.q = os.path.join(self.home, "queue")
        make_queue_tree(self.q)
        self.bin = os.path.join(BUILD, "qmail-queue")

    def queue(self, message, env, binary=None, extra_env=None):
        """Runs qmail-queue with `message` on fd 0 and `env` readable on
        fd 1; returns the exit code."""
        envfile = os.path.join(self.tmp, "envelope")
        with open(envfile, "wb") as f:
            f.write(env)
        e = dict(os.environ, QMAILHOME=self.home)
        e.update(extra_env or {})
        with open(envfile, "rb") as envfd:
            p = subprocess.run([binary or self.bin], input=message, stdout=envfd,
                               stderr=subprocess.PIPE, env=e, timeout=120)
        self.assertEqual(p.stderr, b"", "qmail-queue prints no diagnostics")
        return p.returncode

    def files(self, sub):
        out = []
        for root, _, names in os.walk(os.path.join(self.q, sub)):
            out += [os.path.join(root, n) for n in names]
        return sorted(out)

    def only_message(self):
        todo = self.files("todo")
        self.assertEqual(len(todo), 1)
        mid = int(os.path.basename(todo[0]))
        with open(os.path.join(self.q, "mess", str(mid % SPLIT), str(mid)), "rb") as f:
            mess = f.read()
        with open(todo[0], "rb") as f:
            todo_bytes = f.read()
        return mid, mess, todo_bytes

    def assert_no_leftovers(self):
        for sub in ("pid", "mess", "intd", "todo"):
            self.assertEqual(self.files(sub), [], sub)

    def test_queues_message_with_received_line(self):
        msg = b"From: a@b\nSubject: hi\n\nbody\n"
        self.assertEqual(self.queue(msg, envelope(b"a@b.test", [b"c@d.test", b"e@f.test"])), 0)
        mid, mess, todo = self.only_message()
        m = RECEIVED.match(mess)
        self.assertTrue(m, mess[:200])
        self.assertEqual(int(m.group(2)), os.getuid())
        self.assertEqual(mess[m.end():], msg)
        self.assertEqual(todo, b"u%d\0p%s\0Fa@b.test\0Tc@d.test\0Te@f.test\0"
                         % (os.getuid(), m.group(1)))
        mstat = os.stat(os.path.join(self.q, "mess", str(mid % SPLIT), str(mid)))
        self.assertEqual(mstat.st_ino, mid)
        self.assertEqual(stat.S_IMODE(mstat.st_mode), 0o644)
        intd = os.stat(os.path.join(self.q, "intd", str(mid)))
        self.assertEqual(intd.st_ino, os.stat(os.path.join(self.q, "todo", str(mid))).st_ino)
        self.assertEqual(self.files("pid"), [])

    def test_empty_message_and_null_sender(self):
        self.assertEqual(self.queue(b"", envelope(b"", [b"x@y"])), 0)
        _, mess, todo = self.only_message()
        self.assertTrue(RECEIVED.fullmatch(mess), mess)
        self.assertTrue(todo.endswith(b"\0F\0Tx@y\0"), todo)

    def test_nul_bytes_and_8bit(self):
        msg = bytes(range(256)) * 40
        self.assertEqual(self.queue(msg, envelope(b"a@b", [b"c@d"])), 0)
        _, mess, _ = self.only_message()
        self.assertEqual(mess[RECEIVED.match(mess).end():], msg)

    def test_ten_thousand_recipients(self):
        rcpts = [b"user%d@example.test" % i for i in range(10000)]
        self.assertEqual(self.queue(b"m\n", envelope(b"a@b", rcpts)), 0)
        _, _, todo = self.only_message()
        recs = todo.split(b"\0")[:-1]
        self.assertEqual([r[1:] for r in recs if r.startswith(b"T")], rcpts)

    def test_bad_envelopes(self):
        cases = [
            ("missing F", b"Ta@b\0\0", 91),
            # input that ends early: 54 (read error), as qmail's qmail-queue
            ("missing terminator", envelope(b"a@b", [b"c@d"], terminate=False), 54),
            ("truncated", b"Fa@b\0Tc@", 54),
            ("empty", b"", 54),
            ("address too long", envelope(b"a@b", [b"x" * 1001]), 11),
            ("sender too long", envelope(b"s" * 1001, [b"c@d"]), 11),
        ]
        for name, env, want in cases:
            with self.subTest(name):
                self.assertEqual(self.queue(b"message\n", env), want)
                self.assert_no_leftovers()
        # The bound itself is fine.
        self.assertEqual(self.queue(b"m", envelope(b"a", [b"x" * 1000])), 0)

    def test_ten_megabyte_single_line_is_streamed(self):
        """A 10 MB line goes through, and qmail-queue's memory does not grow
        with the message (compared with a tiny message)."""
        def peak_rss(size):
            probe = (
                "import os,resource,subprocess,sys\n"
                "env=open(sys.argv[2],'rb')\n"
                "p=subprocess.Popen([sys.argv[1]],stdin=subprocess.PIPE,stdout=env)\n"
                "chunk=b'x'*65536\n"
                "n=int(sys.argv[3])\n"
                "while n>0:\n"
                "    k=min(n,len(chunk)); p.stdin.write(chunk[:k]); n-=k\n"
                "p.stdin.close()\n"
                "rc=p.wait()\n"
                "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
            envfile = os.path.join(self.tmp, "env-rss")
            with open(envfile, "wb") as f:
                f.write(envelope(b"a@b", [b"c@d"]))
            out = subprocess.run([sys.executable, "-c", probe, self.bin, envfile, str(size)],
                                 env=dict(os.environ, QMAILHOME=self.home), check=True,
                                 capture_output=True, timeout=300).stdout.split()
            self.assertEqual(out[0], b"0")
            return int(out[1])  # KiB
        small = peak_rss(10)
        big = peak_rss(10 * 1024 * 1024)
        self.assertLess(big - small, 4 * 1024, "qmail-queue held the message in memory")
        sizes = sorted(os.path.getsize(f) for f in self.files("mess"))
        self.assertGreater(sizes[-1], 10 * 1024 * 1024)
        self.assertEqual(self.files("pid"), [])

    def test_pokes_trigger(self):
        fd = os.open(os.path.join(self.q, "lock", "trigger"), os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, fd)
        self.assertEqual(self.queue(b"m", envelope(b"a", [b"b"])), 0)
        self.assertEqual(os.read(fd, 10), b"\0")

    def test_trigger_without_reader_is_fine(self):
        self.assertEqual(self.queue(b"m", envelope(b"a", [b"b"])), 0)

    def test_missing_queue_is_62_missing_home_is_61(self):
        shutil.rmtree(self.q)
        self.assertEqual(self.queue(b"m", envelope(b"a", [b"b"])), 62)
        shutil.rmtree(self.home)
        self.assertEqual(self.queue(b"m", envelope(b"a", [b"b"])), 61)

    def test_killed_midway_leaves_no_commit(self):
        envfile = os.path.join(self.tmp, "envelope")
        with open(envfile, "wb") as f:
            f.write(envelope(b"a", [b"b"]))
        with open(envfile, "rb") as envfd:
            p = subprocess.Popen([self.bin], stdin=subprocess.PIPE, stdout=envfd,
                                 env=dict(os.environ, QMAILHOME=self.home))
        p.stdin.write(b"partial message\n")
        p.stdin.flush()
        p.kill()
        p.wait()
        p.stdin.close()
        self.assertEqual(self.files("todo"), [])

    def test_setuid_ignores_environment(self):
        """Run setuid, qmail-queue must not believe $QMAILHOME."""
        if os.geteuid() != 0:
            self.skipTest("needs root to make a setuid copy")
        if os.path.exists("/var/qmail"):
            self.skipTest("/var/qmail exists")
        with open(self.bin, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("sanitizer runtimes do not run setuid")
        copy = os.path.join(self.tmp, "qmail-queue-suid")
        shutil.copy(self.bin, copy)
        os.chown(copy, 65534, -1)
        os.chmod(copy, 0o4755)
        os.chmod(self.tmp, 0o755)
        # Real uid root, effective uid 65534: setuid; the compiled-in home
        # (/var/qmail) does not exist, so 61, and our queue stays empty.
        rc = self.queue(b"m", envelope(b"a", [b"b"]), binary=copy,
                        extra_env={"QMAIL_TEST_UNSAFE_NO_DIRSYNC": "1"})
        self.assertEqual(rc, 61)
        self.assert_no_leftovers()

    def test_disk_full_is_53_and_leaves_nothing(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        mnt = os.path.join(self.tmp, "small")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount tmpfs here: " + r.stderr.decode(errors="replace"))
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        self.home = os.path.join(mnt, "home")
        self.q = os.path.join(self.home, "queue")
        make_queue_tree(self.q)
        self.assertEqual(self.queue(b"x" * (2 * 1024 * 1024), envelope(b"a", [b"b"])), 53)
        self.assert_no_leftovers()
        # Room again: a small message goes through.
        self.assertEqual(self.queue(b"small\n", envelope(b"a", [b"b"])), 0)


if __name__ == "__main__":
    unittest.main()
