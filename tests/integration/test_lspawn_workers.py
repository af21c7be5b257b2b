"""qmail-lspawn's reused qmail-local children ("workers", spawn/spawner.h):
deliveries to a users/cdb address are made by a worker of the user's uid
and gid, one after another, and each finds the state a fresh child would."""
import os
import re
import unittest

from qmailtest import Home, ThrowawayUser, is_root, wait_for

# Records, for each delivery, qmail-local's pid (the program's parent),
# the program's uid, working directory and descriptors.
RECORD = ("|echo \"ppid=$PPID uid=$(id -u) cwd=$(pwd) fds=$(for f in /proc/$$/fd/*; do "
          "readlink $f; done | tr '\\n' ' ')\" >> $HOME/record\n")


def pids_of(names):
    """The P<pid> parts of maildir file names."""
    return [re.search(r"P(\d+)", n).group(1) for n in names]


class SingleUserWorkers(unittest.TestCase):
    def setUp(self):
        self.home = Home()
        self.addCleanup(self.home.cleanup)

    def test_one_worker_delivers_one_message_after_another(self):
        uhome = self.home.add_user("wk")
        with open(os.path.join(uhome, ".qmail"), "w") as f:
            f.write(RECORD + "./Maildir/\n")
        self.home.start()
        for i in range(4):
            self.home.inject(b"To: wk@example.test\nSubject: %d\n\nbody %d\n" % (i, i),
                             args=["wk@example.test"])
            wait_for(lambda: len(self.home.maildir(uhome)) == i + 1, 30, "delivery %d" % i)
        names = self.home.maildir(uhome)
        self.assertEqual(len(set(pids_of(names))), 1, names)  # one worker, reused
        with open(os.path.join(uhome, "record")) as f:
            records = f.read().splitlines()
        self.assertEqual(len(records), 4, records)
        for r in records:
            self.assertIn("ppid=%s " % pids_of(names)[0], r)
            self.assertIn("cwd=%s " % uhome, r)
            # Nothing of the spawner's: its socket to the worker is
            # close-on-exec, the last delivery's descriptors are closed.
            self.assertNotIn("socket:", r)
            fds = r.split("fds=")[1].split()
            self.assertLessEqual(len(fds), 4, r)  # 0 1 2, and the shell's own
        bodies = sorted(m.split(b"\n\n", 1)[1] for m in self.home.read_maildir(uhome))
        self.assertEqual(bodies, [b"body %d\n" % i for i in range(4)])

    def test_a_worker_keeps_nothing_of_earlier_deliveries_environments(self):
        """Every delivery sets SENDER, NEWSENDER, RPLINE and the rest
        (qmail-command(8)). A worker that set them with setenv kept every
        value for its life (glibc never frees one): here 100 deliveries
        with 900-byte senders would grow its heap by more than 300 KiB.
        With env::set (base/env.h) the heap stays as it was."""
        uhome = self.home.add_user("wk")
        with open(os.path.join(uhome, ".qmail"), "w") as f:
            f.write("./Maildir/\n")
        self.home.start()

        def deliver(i):
            sender = "s%04d%s@example.test" % (i, "x" * 900)
            self.home.inject(b"Subject: %d\n\nbody\n" % i,
                             args=["-f", sender, "wk@example.test"])
            # The report, not the file: once qmail-send logs it, qmail-lspawn
            # has the worker back, and the next delivery goes to it.
            wait_for(lambda: len(re.findall(r"delivery \d+: success", self.home.log())) == i + 1,
                     30, "delivery %d" % i)

        def heap_kib(pid):  # the heap's pages in memory
            with open("/proc/%s/smaps" % pid) as f:
                text = f.read()
            # (Perhaps more than one mapping: the part still shared with
            # qmail-lspawn and the rest.)
            return sum(int(m) for m in re.findall(r"\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB", text))
        for i in range(10):
            deliver(i)
        worker = pids_of(self.home.maildir(uhome))[0]
        before = heap_kib(worker)
        for i in range(10, 110):
            deliver(i)
        self.assertEqual(set(pids_of(self.home.maildir(uhome))), {worker})  # the same worker
        after = heap_kib(worker)
        self.assertLess(after - before, 128, (before, after))
        last = [m for m in self.home.read_maildir(uhome) if m.startswith(b"Return-Path: <s0109")]
        self.assertEqual(len(last), 1)


@unittest.skipUnless(is_root(), "root-mode homes need root")
class RootModeWorkers(unittest.TestCase):
    def setUp(self):
        self.home = Home(single_user=False)
        self.addCleanup(self.home.cleanup)
        self.users = []
        lines = []
        for n in range(2):
            uhome = os.path.join(self.home.tmp, "u%d" % n)
            os.mkdir(uhome, 0o755)
            u = ThrowawayUser(home=uhome)
            self.addCleanup(u.delete)
            os.chown(uhome, u.uid, u.gid)
            r = u.run([self.home.bin("maildirmake"), os.path.join(uhome, "Maildir")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.users.append((u, uhome))
            lines.append("=box%d:%s:%d:%d:%s:::" % (n, u.name, u.uid, u.gid, uhome))
        with open(self.home.path("users", "assign"), "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        self.home.run_ok("qmail-newu")
        self.addCleanup(self.home.stop)  # before the users go (cleanups run last first)
        self.home.start()

    def test_each_uid_has_its_own_workers(self):
        for i in range(6):
            self.home.inject(b"Subject: %d\n\nbody\n" % i, args=["box%d@example.test" % (i % 2)])
        for u, uhome in self.users:
            wait_for(lambda: len(self.home.maildir(uhome)) == 3, 30, "three for " + u.name)
        seen = {}
        for u, uhome in self.users:
            names = self.home.maildir(uhome)
            for n in names:
                st = os.stat(os.path.join(uhome, "Maildir", "new", n))
                self.assertEqual((st.st_uid, st.st_gid), (u.uid, u.gid), n)
            seen[u.name] = set(pids_of(names))
        a, b = seen.values()
        self.assertFalse(a & b, seen)  # no worker delivered for both uids


if __name__ == "__main__":
    unittest.main()
