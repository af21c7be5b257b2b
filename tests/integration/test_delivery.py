"""The whole local mail path with the real programs: sendmail -> qmail-queue
-> qmail-send -> qmail-lspawn -> qmail-local -> Maildir, and bounces back
through qmail-queue. (test_send_stubs.py tests qmail-send alone.)"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import BUILD, HomeTestCase  # noqa: E402
from qmailtest import wait_for as _wait_for  # noqa: E402


def wait_for(pred, timeout=30.0, what="condition"):
    """qmailtest.wait_for with room for a heavily loaded machine: the
    timeouts only bound a hang, they do not measure speed."""
    return _wait_for(pred, timeout * 4, what)

NEEDED = ["qmail-setup", "config-fast", "qmail-newu", "maildirmake", "qmail-queue", "qmail-send",
          "qmail-start", "qmail-lspawn", "qmail-clean", "qmail-local", "sendmail"]


def have_programs():
    return all(os.path.exists(os.path.join(BUILD, p)) for p in NEEDED)


@unittest.skipUnless(have_programs(), "needs the whole delivery path")
class DeliveryTest(HomeTestCase):
    def wait_log(self, pattern, timeout=30, count=1):
        r = re.compile(pattern, re.M)
        return wait_for(lambda: len(r.findall(self.home.log())) >= count, timeout,
                        "log line /%s/; log:\n%s" % (pattern, self.home.log()[-3000:]))

    def dot_qmail(self, uhome, text, ext=""):
        with open(os.path.join(uhome, ".qmail" + ext), "w") as f:
            f.write(text)

    def test_sendmail_to_maildir(self):
        h = self.home
        alice = h.add_user("alice")
        h.start()
        h.inject(b"To: alice@example.test\nSubject: first\n\nHello, Alice.\n",
                 args=("-f", "sender@elsewhere.test", "-t"))
        wait_for(lambda: h.maildir(alice), 30, "alice's message")
        msg = h.read_maildir(alice)[0]
        head, _, body = msg.partition(b"\n\n")
        self.assertTrue(msg.startswith(b"Return-Path: <sender@elsewhere.test>\n"
                                       b"Delivered-To: alice@example.test\n"), msg[:200])
        self.assertIn(b"Subject: first", head)
        self.assertEqual(body, b"Hello, Alice.\n")
        self.wait_log(r"^end msg \d+$")
        log = h.log()
        self.assertRegex(log, r"(?m)^info msg (\d+): bytes \d+ from <sender@elsewhere\.test> "
                         r"qp \d+ uid %d$" % os.getuid())
        self.assertRegex(log, r"(?m)^starting delivery 1: msg \d+ to local alice@example\.test$")
        self.assertRegex(log, r"(?m)^delivery 1: success: did_1\+0\+0/$")
        wait_for(lambda: not h.queue_files("info") and not h.queue_files("mess"), 10,
                 "queue to empty")

    def test_virtualdomain_to_user(self):
        h = self.home
        alice = h.add_user("alice")
        h.control("virtualdomains", "virtual.test:alice\n")
        # alice controls alice-anything (a users/assign wildcard); her
        # .qmail-default catches the whole domain
        assign = h.path("users", "assign")
        with open(assign) as f:
            lines = [x for x in f.read().splitlines() if x != "."]
        name, uid, gid = h.user_ids()
        lines.append("+alice-:%s:%d:%d:%s:-::" % (name, uid, gid, alice))
        with open(assign, "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        h.run_ok("qmail-newu")
        self.dot_qmail(alice, "./Maildir/\n", "-default")
        h.start()
        h.inject(b"To: info@virtual.test\n\nvirtual\n")
        wait_for(lambda: h.maildir(alice), 30, "virtual domain delivery")
        self.assertIn(b"Delivered-To: alice-info@virtual.test\n", h.read_maildir(alice)[0])

    def test_bounce_to_local_sender(self):
        h = self.home
        alice = h.add_user("alice")
        bob = h.add_user("bob")
        self.dot_qmail(bob, "|echo 'Bob does not take mail. (#5.2.1)'; exit 100\n")
        h.start()
        h.inject(b"To: bob@example.test\nSubject: for bob\n\nbody text\n",
                 args=("-f", "alice@example.test", "-t"))
        wait_for(lambda: h.maildir(alice), 30, "the bounce")
        b = h.read_maildir(alice)[0].decode()
        self.assertTrue(b.startswith("Return-Path: <>\nDelivered-To: alice@example.test\n"), b)
        self.assertIn("From: MAILER-DAEMON@example.test\n", b)
        self.assertIn("Subject: failure notice\n", b)
        self.assertIn("Hi. This is the qmail-send program at example.test.\n"
                      "I'm afraid I wasn't able to deliver your message to the following "
                      "addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
                      "work out.\n\n<bob@example.test>:\n", b)
        self.assertIn("Bob does not take mail. (#5.2.1)", b)
        self.assertIn("--- Below this line is a copy of the message.\n\n", b)
        self.assertIn("Subject: for bob\n", b)
        self.assertIn("body text\n", b)
        self.wait_log(r"^bounce msg \d+ qp \d+$")

    def test_double_bounce_to_postmaster(self):
        h = self.home
        bob = h.add_user("bob")
        self.dot_qmail(bob, "|exit 100\n")
        h.start()
        h.inject(b"To: bob@example.test\n\nfrom nobody\n", args=("-f", "", "-t"))
        pm = h.path("alias")
        wait_for(lambda: h.maildir(pm), 30, "the double bounce in alias/Maildir")
        b = h.read_maildir(pm)[0].decode()
        self.assertTrue(b.startswith("Return-Path: <#@[]>\n"), b[:200])
        self.assertIn("Delivered-To: postmaster@example.test\n", b)
        self.assertIn("To: postmaster@example.test\n", b)
        self.assertIn("<bob@example.test>:\n", b)

    def test_lspawn_runs_our_qmail_local_without_exec(self):
        """HOME/bin/qmail-local is ours: qmail-lspawn's child runs its code
        without exec (the delivery's parent process is qmail-lspawn's
        program file), named qmail-local for ps."""
        h = self.home
        bob = h.add_user("bob")
        out = os.path.join(h.tmp, "parent")
        self.dot_qmail(bob, "|readlink /proc/$PPID/exe > %s.exe; cat /proc/$PPID/comm > %s.comm\n"
                       "./Maildir/\n" % (out, out))
        h.start()
        h.inject(b"To: bob@example.test\n\nx\n")
        wait_for(lambda: h.maildir(bob), 30, "bob's message")
        with open(out + ".exe") as f:
            self.assertEqual(os.path.basename(f.read().strip()), "qmail-lspawn")
        with open(out + ".comm") as f:
            self.assertEqual(f.read().strip(), "qmail-local")

    def test_lspawn_execs_a_replaced_qmail_local(self):
        """Anything else in HOME/bin/qmail-local (here a wrapper script) is
        exec'd, as qmail-lspawn(8) says."""
        h = self.home
        bob = h.add_user("bob")
        real = h.path("bin", "qmail-local.real")
        os.rename(h.path("bin", "qmail-local"), real)
        mark = os.path.join(h.tmp, "wrapped")
        with open(h.path("bin", "qmail-local"), "w") as f:
            f.write("#!/bin/sh\necho \"$@\" >> %s\nexec %s \"$@\"\n" % (mark, real))
        os.chmod(h.path("bin", "qmail-local"), 0o755)
        out = os.path.join(h.tmp, "parent")
        self.dot_qmail(bob, "|readlink /proc/$PPID/exe > %s\n./Maildir/\n" % out)
        h.start()
        h.inject(b"To: bob@example.test\n\nx\n")
        wait_for(lambda: h.maildir(bob), 30, "bob's message")
        with open(mark) as f:
            self.assertIn("bob", f.read())
        with open(out) as f:
            self.assertEqual(f.read().strip(), real)

    def free_inodes(self):
        lock = self.home.path("queue", "lock")
        # free.<ino>: a message's inode; free-env.<ino>: an envelope's.
        return {int(n.split(".", 1)[1]) for n in os.listdir(lock)
                if n.startswith(("free.", "free-env."))}

    def test_finished_inodes_are_reused(self):
        """qmail-clean keeps a finished message's inodes (queue/lock/free.*;
        a mess file up to 64 KB keeps its bytes) and the next qmail-queue
        takes one instead of creating a file: the next message id is one of
        them, and its message and envelope carry nothing of the old bytes
        written over (both old files are longer than the new ones)."""
        h = self.home
        alice = h.add_user("alice")
        h.start()
        first_body = b"first\n" + b"x" * 5000 + b"\n"
        h.inject(b"To: alice@example.test\n\n" + first_body, args=["alice@example.test"] * 40)
        self.wait_log(r"^end msg \d+$")
        wait_for(lambda: len(self.free_inodes()) >= 2, 30, "two pool files")
        pool = self.free_inodes()
        first = int(re.search(r"(?m)^new msg (\d+)$", h.log()).group(1))
        self.assertIn(first, pool)  # the mess inode, bytes kept
        self.assertEqual(len([n for n in os.listdir(h.path("queue", "lock"))
                              if n.startswith("free-env.")]), 1)  # the envelope's
        self.assertGreater(os.path.getsize(h.path("queue", "lock", "free.%d" % first)), 5000)
        h.inject(b"To: alice@example.test\n\nsecond\n", args=["alice@example.test"])
        self.wait_log(r"^end msg \d+$", count=2)
        ids = [int(x) for x in re.findall(r"(?m)^new msg (\d+)$", h.log())]
        self.assertIn(ids[1], pool)
        bodies = [m.partition(b"\n\n")[2] for m in h.read_maildir(alice)]
        self.assertEqual(bodies.count(first_body), 40)
        self.assertEqual(bodies.count(b"second\n"), 1)
        self.assertEqual(len(bodies), 41)
        # The second message's own deliveries (its id may be the first's).
        after = h.log()[[m.start() for m in re.finditer(r"(?m)^new msg ", h.log())][1]:]
        self.assertEqual(len(re.findall(r"(?m)^starting delivery \d+: msg %d " % ids[1], after)),
                         1, after[-2000:])
        wait_for(lambda: not h.queue_files("mess") and not h.queue_files("todo"), 30,
                 "the queue to empty")

    def test_parallel_injection_delivers_each_message_once(self):
        """Four parallel qmail-queue loops while qmail-send runs: with ids
        (inode numbers) reused at once from the pool, every message is
        delivered exactly once and the queue ends empty. (A todo/<id> must
        never be taken up while qmail-clean is still removing a message
        with that id: that delivered one message twice and left the next
        one stuck.)"""
        import threading
        h = self.home
        bob = h.add_user("bob")
        h.start()
        codes = []

        def loop(t, n):
            for i in range(n):
                r, w = os.pipe()
                os.write(w, b"Fa@b.test\0Tbob@example.test\0\0")
                os.close(w)
                p = subprocess.Popen([h.bin("qmail-queue")], stdin=subprocess.PIPE, stdout=r,
                                     env=h.env())
                os.close(r)
                p.communicate(b"Subject: x\n\nid-%d-%d\n" % (t, i))
                codes.append(p.returncode)
        n = 150
        threads = [threading.Thread(target=loop, args=(t, n)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(codes, [0] * (4 * n))
        wait_for(lambda: len(h.maildir(bob)) >= 4 * n, 120, "every delivery")
        wait_for(lambda: not h.queue_files("todo") and not h.queue_files("mess"), 60,
                 "the queue to empty")
        bodies = [m.partition(b"\n\n")[2] for m in h.read_maildir(bob)]
        self.assertEqual(len(bodies), 4 * n)
        self.assertEqual(len(set(bodies)), 4 * n)

    def test_background_reader_keeps_its_message(self):
        """A delivery program that leaves a process reading the message
        after it exits: the message's inode is not reused (qmail-clean's
        write lease fails), so that process reads this message, not the
        next one."""
        h = self.home
        bob = h.add_user("bob")
        alice = h.add_user("alice")
        late = os.path.join(h.tmp, "late")
        # fd 3: sh gives a background list /dev/null as its stdin.
        self.dot_qmail(bob, "|exec 3<&0; (sleep 2; cat /dev/fd/3 > %s.tmp; mv %s.tmp %s) "
                       ">/dev/null 2>&1 &\n" % (late, late, late))
        h.start()
        h.inject(b"To: bob@example.test\n\nfirst body\n")
        self.wait_log(r"^end msg \d+$")
        for _ in range(3):
            h.inject(b"To: alice@example.test\n\nsecond body\n")
        wait_for(lambda: len(h.maildir(alice)) == 3, 30, "alice's messages")
        wait_for(lambda: os.path.exists(late), 30, "the background reader")
        with open(late, "rb") as f:
            got = f.read()
        self.assertIn(b"first body\n", got)
        self.assertNotIn(b"second body", got)

    def test_deferral_then_alrm(self):
        h = self.home
        bob = h.add_user("bob")
        flag = os.path.join(h.tmp, "fail")
        open(flag, "w").close()
        self.dot_qmail(bob, "|if test -f %s; then echo 'not now'; exit 111; fi\n./Maildir/\n"
                       % flag)
        h.start()
        h.inject(b"To: bob@example.test\n\nlater\n")
        self.wait_log(r"^delivery 1: deferral: not_now/")
        os.unlink(flag)
        os.killpg(h.send.pid, 0)
        os.kill(h.send.pid, signal.SIGALRM)  # qmail-start became qmail-send
        wait_for(lambda: h.maildir(bob), 30, "delivery after ALRM")
        self.wait_log(r"^delivery 2: success: ")

    def test_concurrencylocal_with_programs(self):
        h = self.home
        bob = h.add_user("bob")
        h.control("concurrencylocal", "2\n")
        run = os.path.join(h.tmp, "running")
        os.mkdir(run)
        gate = os.path.join(h.tmp, "gate")
        open(gate, "w").close()
        rec = os.path.join(h.tmp, "counts")
        self.dot_qmail(bob, "|touch %s/$$; ls %s | wc -l >> %s; while test -f %s; do sleep 0.05;"
                       " done; rm %s/$$\n./Maildir/\n" % (run, run, rec, gate, run))
        h.start()
        for _ in range(6):
            h.inject(b"To: bob@example.test\n\nx\n")
        wait_for(lambda: len(os.listdir(run)) == 2, 30, "two deliveries running")
        time.sleep(0.5)
        self.assertEqual(len(os.listdir(run)), 2)
        os.unlink(gate)
        wait_for(lambda: len(h.maildir(bob)) == 6, 60, "all six")
        with open(rec) as f:
            self.assertEqual(max(int(x) for x in f.read().split()), 2)

    def test_restart_after_sigkill(self):
        h = self.home
        bob = h.add_user("bob")
        gate = os.path.join(h.tmp, "gate")
        open(gate, "w").close()
        self.dot_qmail(bob, "|while test -f %s; do sleep 0.05; done\n./Maildir/\n" % gate)
        h.start()
        h.inject(b"To: bob@example.test\n\none\n")
        self.wait_log(r"^starting delivery 1: ")
        os.kill(h.send.pid, signal.SIGKILL)  # qmail-send only
        h.send.wait()
        h.inject(b"To: bob@example.test\n\ntwo\n")  # queued while it is down
        os.unlink(gate)
        h.stop()
        h.start()
        # "one" may come twice: the old qmail-lspawn finishes it after the
        # kill and the new qmail-send delivers it again (duplicate, not loss)
        def bodies():
            return set(m.partition(b"\n\n")[2] for m in h.read_maildir(bob))
        wait_for(lambda: bodies() == {b"one\n", b"two\n"}, 30, "both messages")
        wait_for(lambda: not h.queue_files("info") and not h.queue_files("todo"), 30,
                 "queue to empty")

    def test_term_exits_cleanly(self):
        h = self.home
        h.start()
        p = h.send
        h.stop()
        self.assertTrue(h.log().rstrip().endswith("status: exiting"), h.log())
        self.assertEqual(p.returncode, 0)

    def test_send_sweeps_old_unfinished_mess_files(self):
        """A qmail-queue that died before its commit leaves a mess file with
        no todo and no info: qmail-send has qmail-clean remove it once it is
        36 hours old, and leaves a younger one alone."""
        h = self.home
        alice = h.add_user("alice")
        q = h.path("queue")

        def leave_debris():
            before = set(h.queue_files("mess"))
            p = subprocess.Popen([h.bin("qmail-queue")], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, env=h.env())
            p.stdin.write(b"partial\n")
            p.stdin.flush()
            wait_for(lambda: set(h.queue_files("mess")) - before, 30, "mess file")
            p.kill()
            p.wait()
            p.stdin.close()
            (name,) = set(h.queue_files("mess")) - before
            return os.path.join(q, "mess", str(int(name) % 23), name)

        old, young = leave_debris(), leave_debris()
        t = time.time() - 40 * 3600
        os.utime(old, (t, t))
        h.start()
        h.inject(b"To: alice@example.test\n\nafter the debris\n")
        wait_for(lambda: h.maildir(alice), 30, "alice's message")
        wait_for(lambda: not os.path.exists(old), 30, "the old mess file to go")
        self.assertTrue(os.path.exists(young))
        self.assertRegex(h.log(), r"(?m)^warning: removing unfinished message mess/")

    def test_info_without_mess_is_a_finished_message(self):
        """Only qmail-clean's x removes the mess file of a message with
        info/, once every recipient is done; if a crash brings info and
        its list back without the mess file, qmail-send finishes the
        message instead of delivering (or bouncing) it."""
        h = self.home
        alice = h.add_user("alice")
        h.start()
        h.inject(b"To: alice@example.test\n\nonce\n")
        wait_for(lambda: h.maildir(alice), 30, "alice's message")
        wait_for(lambda: not h.queue_files("info"), 30, "queue to empty")
        h.stop()
        # The state a crash could leave: info and a local list, no mess.
        ident = 4242
        with open(h.path("queue", "info", str(ident % 23), str(ident)), "wb") as f:
            f.write(b"Fsender@example.test\0")
        with open(h.path("queue", "local", str(ident % 23), str(ident)), "wb") as f:
            f.write(b"Talice@example.test\0")
        h.start()
        self.wait_log(r"^warning: mess/\d+/4242 is gone; finishing the message$")
        wait_for(lambda: not h.queue_files("info") and not h.queue_files("local"), 30,
                 "the files of message 4242 to go")
        self.assertEqual(len(h.maildir(alice)), 1)
        self.assertNotIn("starting delivery", h.log().split("4242 is gone")[1])


if __name__ == "__main__":
    unittest.main()
