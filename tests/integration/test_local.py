"""qmail-local run directly, as qmail-lspawn runs it: a temporary home
directory, the message on fd 0, and the report on fd 1.

Forwards go through $QMAILQUEUE (qmail-queue(8)'s documented hook) set to
a script that records the message (fd 0) and the envelope (fd 1)."""
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import fcntl

sys.path.insert(0, os.path.dirname(__file__))
import qmailtest  # noqa: E402
from qmailtest import BUILD  # noqa: E402

MESSAGE = (b"From: Alice <alice@remote.test>\n"
           b"To: joe@example.com\n"
           b"Subject: hello\n"
           b"\n"
           b"From the start,\n"
           b">From quoted already\n"
           b"last line\n")

UFLINE_RE = re.compile(rb"^From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                       rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       rb"[ 1-3]\d \d\d:\d\d:\d\d \d{4}\n")

QQ_SCRIPT = """#!/bin/sh
# Records what qmail-queue would get: message on fd 0, envelope on fd 1.
cat > "$QQ_DIR/message.$$"
cat 0<&1 > "$QQ_DIR/envelope.$$"
[ -n "$QQ_REASON" ] && printf '%s' "$QQ_REASON" >&6
exit "${QQ_EXIT:-0}"
"""


def file_size_limit(limit):
    """A preexec_fn making writes past `limit` bytes fail with EFBIG."""
    def apply():
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def program(name):
    return os.path.join(os.path.abspath(BUILD), name)


class LocalCase(unittest.TestCase):
    """A fresh home directory (mode 0700) per test, and helpers to run
    qmail-local in it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-local-test-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home, 0o700)
        os.chmod(self.home, 0o700)
        self.qq_dir = os.path.join(self.tmp, "qq")
        os.mkdir(self.qq_dir)
        self.qq = os.path.join(self.tmp, "fake-qmail-queue")
        with open(self.qq, "w") as f:
            f.write(QQ_SCRIPT)
        os.chmod(self.qq, 0o755)

    def path(self, *rel):
        return os.path.join(self.home, *rel)

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        os.chmod(p, mode)
        return p

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def maildirmake(self, name="Maildir"):
        subprocess.run([program("maildirmake"), self.path(name)], check=True)

    def maildir_messages(self, name="Maildir"):
        d = self.path(name, "new")
        out = []
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def env(self, **extra):
        e = dict(os.environ)
        e["QMAILQUEUE"] = self.qq
        e["QQ_DIR"] = self.qq_dir
        for k in ("DEFAULT", "EXT", "NEWSENDER"):
            e.pop(k, None)
        e.update(extra)
        return e

    def local(self, local="joe", dash="", ext="", domain="example.com",
              sender="alice@remote.test", defaultdelivery="./Mailbox",
              message=MESSAGE, flags=(), env=None, stdin_file=True, user="joe",
              preexec_fn=None):
        args = [program("qmail-local"), *flags, user, self.home, local, dash, ext,
                domain, sender, defaultdelivery]
        if stdin_file:
            mf = os.path.join(self.tmp, "message")
            with open(mf, "wb") as f:
                f.write(message)
            with open(mf, "rb") as f:
                p = subprocess.run(args, stdin=f, capture_output=True, env=env or self.env(),
                                   timeout=60, preexec_fn=preexec_fn)
        else:
            p = subprocess.run(args, input=message, capture_output=True,
                               env=env or self.env(), timeout=60)
        return p

    def assertDelivered(self, p, did):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # "did F+W+P", and after forwarding the qp of the qmail-queue that
        # took the forward (here the fake one, which records its pid).
        m = re.search(rb"did (\S+)\n(?:qp (\d+)\n)?\Z", p.stdout)
        self.assertTrue(m, p.stdout)
        self.assertEqual(m.group(1).decode(), did, p.stdout)
        if int(did.split("+")[1]) > 0:
            self.assertTrue(m.group(2), p.stdout)
            self.assertTrue(os.path.exists(os.path.join(self.qq_dir, "envelope." +
                                                        m.group(2).decode())), p.stdout)
        else:
            self.assertIsNone(m.group(2), p.stdout)

    def forwards(self):
        """[(envelope bytes, message bytes)] recorded by the fake qmail-queue."""
        out = []
        for n in sorted(os.listdir(self.qq_dir)):
            if n.startswith("envelope."):
                pid = n.split(".", 1)[1]
                with open(os.path.join(self.qq_dir, n), "rb") as f:
                    env = f.read()
                with open(os.path.join(self.qq_dir, "message." + pid), "rb") as f:
                    msg = f.read()
                out.append((env, msg))
        return out


class MboxTest(LocalCase):
    def test_default_delivery_to_mailbox(self):
        p = self.local()
        self.assertDelivered(p, "1+0+0")
        self.assertEqual(p.stdout, b"did 1+0+0\n")
        box = self.read("Mailbox")
        m = UFLINE_RE.match(box)
        self.assertIsNotNone(m, box)
        self.assertEqual(m.group(1), b"alice@remote.test")
        rest = box[m.end():]
        self.assertEqual(rest,
                         b"Return-Path: <alice@remote.test>\n"
                         b"Delivered-To: joe@example.com\n"
                         b"From: Alice <alice@remote.test>\n"
                         b"To: joe@example.com\n"
                         b"Subject: hello\n"
                         b"\n"
                         b">From the start,\n"
                         b">>From quoted already\n"
                         b"last line\n"
                         b"\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.path("Mailbox")).st_mode), 0o600)

    def test_partial_last_line_gets_two_newlines(self):
        self.assertDelivered(self.local(message=b"Subject: x\n\nno newline"), "1+0+0")
        self.assertTrue(self.read("Mailbox").endswith(b"\n\nno newline\n\n"))

    def test_appends_and_bounce_sender_is_mailer_daemon(self):
        self.assertDelivered(self.local(), "1+0+0")
        self.assertDelivered(self.local(sender=""), "1+0+0")
        box = self.read("Mailbox")
        froms = [l for l in box.split(b"\n") if l.startswith(b"From ")]
        self.assertEqual(len(froms), 2, box)
        self.assertTrue(froms[1].startswith(b"From MAILER-DAEMON "))
        self.assertIn(b"Return-Path: <>\n", box)

    def test_waits_for_a_locked_mailbox(self):
        box = self.write("Mailbox", b"")
        with open(box, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            args = [program("qmail-local"), "joe", self.home, "joe", "", "", "example.com",
                    "a@b.c", "./Mailbox"]
            mf = os.path.join(self.tmp, "message")
            with open(mf, "wb") as m:
                m.write(MESSAGE)
            with open(mf, "rb") as m:
                proc = subprocess.Popen(args, stdin=m, stdout=subprocess.PIPE, env=self.env())
            with self.assertRaises(subprocess.TimeoutExpired):
                proc.wait(0.5)
            self.assertEqual(self.read("Mailbox"), b"")
        out, _ = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, b"did 1+0+0\n")
        self.assertIn(b"Subject: hello", self.read("Mailbox"))

    def test_write_failure_truncates_the_mailbox(self):
        old = b"From x Thu Jan  1 00:00:00 1970\nSubject: old\n\n" * 20
        self.write("Mailbox", old)
        p = self.local(message=MESSAGE + b"z" * 20000,
                       preexec_fn=file_size_limit(len(old) + 3000))
        self.assertEqual(p.returncode, 111, p.stdout)
        self.assertRegex(p.stdout, rb"^Unable to write mailbox: .*\(#4\.2\.1\)\n$")
        self.assertEqual(self.read("Mailbox"), old)

    def test_unwritable_mailbox_is_temporary(self):
        os.mkdir(self.path("Mailbox"))  # a directory cannot be opened for append
        p = self.local()
        self.assertEqual(p.returncode, 111, p.stdout)
        self.assertRegex(p.stdout, rb"Unable to open mailbox \./Mailbox: .*\(#4\.2\.1\)\n$")


class MaildirTest(LocalCase):
    def test_maildir_line(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        p = self.local()
        self.assertEqual(p.stdout, b"did 1+0+0\n")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.maildir_messages(),
                         [b"Return-Path: <alice@remote.test>\n"
                          b"Delivered-To: joe@example.com\n" + MESSAGE])
        self.assertEqual(os.listdir(self.path("Maildir", "tmp")), [])
        name = os.listdir(self.path("Maildir", "new"))[0]
        self.assertRegex(name, r"^\d+\.M\d+P%d?\d*Q\d+\..+$" % 0)

    def test_empty_qmail_follows_defaultdelivery(self):
        self.maildirmake()
        self.write(".qmail", "")
        self.assertDelivered(self.local(defaultdelivery="./Maildir/"), "1+0+0")
        self.assertEqual(len(self.maildir_messages()), 1)

    def test_defaultdelivery_may_have_several_lines(self):
        self.maildirmake()
        self.assertDelivered(self.local(defaultdelivery="./Maildir/\n./Mailbox\n"), "2+0+0")
        self.assertEqual(len(self.maildir_messages()), 1)
        self.assertIn(b"Subject: hello", self.read("Mailbox"))

    def test_missing_maildir_is_temporary(self):
        self.write(".qmail", "./Maildir/\n")
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertRegex(p.stdout, rb"\(#4\.2\.1\)\n$")

    def test_write_failure_leaves_nothing(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        p = self.local(message=MESSAGE + b"z" * 20000, preexec_fn=file_size_limit(3000))
        self.assertEqual(p.returncode, 111, p.stdout)
        self.assertRegex(p.stdout, rb"^Unable to write to maildir: write: .*\(#4\.3\.0\)\n$")
        self.assertEqual(os.listdir(self.path("Maildir", "new")), [])
        self.assertEqual(os.listdir(self.path("Maildir", "tmp")), [])

    def test_message_on_a_pipe_is_copied(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n|cat > piped\n")
        big = MESSAGE + b"x" * 300000 + b"\n"
        p = self.local(message=big, stdin_file=False)
        self.assertDelivered(p, "1+0+1")
        self.assertTrue(self.maildir_messages()[0].endswith(big))
        self.assertEqual(self.read("piped"), big)

    def test_binary_message_is_kept_byte_for_byte(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        body = bytes(range(256)) * 3
        self.assertDelivered(self.local(message=b"Subject: bin\n\n" + body), "1+0+0")
        self.assertTrue(self.maildir_messages()[0].endswith(body))


class ProgramTest(LocalCase):
    ENV_NAMES = ["USER", "HOME", "LOCAL", "HOST", "HOST2", "HOST3", "HOST4", "RECIPIENT",
                 "SENDER", "NEWSENDER", "EXT", "EXT2", "EXT3", "EXT4", "DEFAULT", "DTLINE",
                 "RPLINE", "UFLINE"]

    def dump_env_line(self):
        # A program line that records its environment, cwd and stdin.
        script = os.path.join(self.tmp, "dumpenv.py")
        with open(script, "w") as f:
            f.write("import os, sys, json\n"
                    "d = {k: os.environ.get(k) for k in %r}\n"
                    "d['cwd'] = os.getcwd()\n"
                    "d['stdin'] = sys.stdin.buffer.read().decode('latin-1')\n"
                    "open('env.json', 'w').write(json.dumps(d))\n" % self.ENV_NAMES)
        return "|%s %s\n" % (sys.executable, script)

    def load_env(self):
        import json
        with open(self.path("env.json")) as f:
            return json.load(f)

    def test_environment_and_stdin(self):
        self.write(".qmail-list-default", self.dump_env_line())
        p = self.local(local="joe-list-foo-bar.baz", dash="-", ext="list-foo-bar.baz",
                       domain="mail.sub.example.com")
        self.assertDelivered(p, "0+0+1")
        e = self.load_env()
        self.assertEqual(e["USER"], "joe")
        self.assertEqual(e["HOME"], self.home)
        self.assertEqual(e["cwd"], os.path.realpath(self.home))
        self.assertEqual(e["LOCAL"], "joe-list-foo-bar.baz")
        self.assertEqual(e["HOST"], "mail.sub.example.com")
        self.assertEqual(e["HOST2"], "mail.sub.example")
        self.assertEqual(e["HOST3"], "mail.sub")
        self.assertEqual(e["HOST4"], "mail")
        self.assertEqual(e["RECIPIENT"], "joe-list-foo-bar.baz@mail.sub.example.com")
        self.assertEqual(e["SENDER"], "alice@remote.test")
        self.assertEqual(e["NEWSENDER"], "alice@remote.test")
        self.assertEqual(e["EXT"], "list-foo-bar.baz")
        self.assertEqual(e["EXT2"], "foo-bar.baz")
        self.assertEqual(e["EXT3"], "bar.baz")
        self.assertEqual(e["EXT4"], "")
        self.assertEqual(e["DEFAULT"], "foo-bar.baz")
        self.assertEqual(e["DTLINE"],
                         "Delivered-To: joe-list-foo-bar.baz@mail.sub.example.com\n")
        self.assertEqual(e["RPLINE"], "Return-Path: <alice@remote.test>\n")
        self.assertRegex(e["UFLINE"], UFLINE_RE.pattern.decode())
        self.assertTrue(e["UFLINE"].startswith("From alice@remote.test "))
        # qmail-command(8): nothing is prepended to the program's input.
        self.assertEqual(e["stdin"], MESSAGE.decode())

    def test_default_unset_without_default_file(self):
        self.write(".qmail-x", self.dump_env_line())
        p = self.local(local="joe-x", dash="-", ext="x", env=self.env(DEFAULT="stale"))
        self.assertDelivered(p, "0+0+1")
        e = self.load_env()
        self.assertIsNone(e["DEFAULT"])
        self.assertEqual(e["EXT"], "x")
        self.assertEqual(e["EXT2"], "")
        self.assertEqual(e["HOST2"], "example")
        self.assertEqual(e["HOST4"], "example")

    def test_each_program_reads_the_whole_message(self):
        self.write(".qmail", "|head -c 5 > one\n|cat > two\n|cat > three\n")
        self.assertDelivered(self.local(), "0+0+3")
        self.assertEqual(self.read("one"), MESSAGE[:5])
        self.assertEqual(self.read("two"), MESSAGE)
        self.assertEqual(self.read("three"), MESSAGE)

    def test_exit_codes(self):
        # qmail-command(8): 0 ok, 99 ok and stop, 100 and 64 65 70 76 77 78
        # 112 hard, everything else soft.
        cases = [(0, 0), (100, 100), (64, 100), (65, 100), (70, 100), (76, 100), (77, 100),
                 (78, 100), (112, 100), (111, 111), (1, 111), (2, 111), (75, 111), (101, 111)]
        for code, want in cases:
            with self.subTest(code=code):
                self.write(".qmail", "|exit %d\n" % code)
                p = self.local()
                self.assertEqual(p.returncode, want, p.stdout)
                if want == 0:
                    self.assertEqual(p.stdout, b"did 0+0+1\n")
                else:
                    code_re = rb"5\.0\.0" if want == 100 else rb"4\.0\.0"
                    self.assertRegex(p.stdout, rb"^Program exited with code %d\. \(#" % code +
                                     code_re + rb"\)\n$")

    def test_program_output_is_the_report(self):
        self.write(".qmail", "|echo This address no longer accepts mail.; exit 100\n")
        p = self.local()
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"This address no longer accepts mail.\n")
        self.write(".qmail", "|echo informational; echo on stderr >&2\n")
        p = self.local()
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"informational\non stderr\ndid 0+0+1\n")

    def test_program_killed_by_signal_is_temporary(self):
        self.write(".qmail", "|kill -9 $$\n")
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"Program crashed (signal 9). (#4.3.0)", p.stdout)

    def test_exit_99_skips_the_rest_but_keeps_earlier_forwards(self):
        self.write(".qmail", "&first@a.test\n./Mailbox\n|exit 99\n./Mailbox2\n&second@b.test\n")
        p = self.local()
        self.assertDelivered(p, "1+1+1")
        self.assertFalse(os.path.exists(self.path("Mailbox2")))
        fw = self.forwards()
        self.assertEqual(len(fw), 1)
        self.assertEqual(fw[0][0], b"Falice@remote.test\0Tfirst@a.test\0\0")

    def test_failure_stops_and_prevents_all_forwarding(self):
        self.write(".qmail", "&first@a.test\n./Mailbox\n|exit 111\n./Mailbox2\n")
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertTrue(os.path.exists(self.path("Mailbox")))
        self.assertFalse(os.path.exists(self.path("Mailbox2")))
        self.assertEqual(self.forwards(), [])

    def test_background_child_does_not_hold_up_delivery(self):
        # The program exits at once but leaves a child holding its stdout.
        self.write(".qmail", "|(sleep 30 &) ; echo done\n")
        start = time.time()
        p = self.local()
        self.assertDelivered(p, "0+0+1")
        self.assertLess(time.time() - start, 20)

    def test_output_is_bounded(self):
        self.write(".qmail", "|head -c 1000000 /dev/zero | tr '\\0' x\n")
        p = self.local()
        self.assertDelivered(p, "0+0+1")
        self.assertLess(len(p.stdout), 70000)

    def test_whole_report_is_bounded(self):
        self.write(".qmail", "|head -c 100000 /dev/zero | tr '\\0' x\n" * 8)
        p = self.local()
        self.assertDelivered(p, "0+0+8")
        self.assertLessEqual(len(p.stdout), 256 * 1024 + len(b"\ndid 0+0+8\n"))
        self.assertGreater(len(p.stdout), 200 * 1024)


class ForwardTest(LocalCase):
    def test_forward_lines(self):
        self.write(".qmail", "&a@one.test\nb@two.test\n# c@comment.test\n./Mailbox\n")
        p = self.local()
        self.assertDelivered(p, "1+2+0")
        fw = self.forwards()
        self.assertEqual(len(fw), 1, "one qmail-queue run for all forwards")
        env, msg = fw[0]
        self.assertEqual(env, b"Falice@remote.test\0Ta@one.test\0Tb@two.test\0\0")
        # dot-qmail(5): no Return-Path when forwarding; Delivered-To first.
        self.assertEqual(msg, b"Delivered-To: joe@example.com\n" + MESSAGE)

    def test_owner_file_changes_sender(self):
        self.write(".qmail-list", "&a@one.test\n")
        self.write(".qmail-list-owner", "&owner@x.test\n")
        p = self.local(local="joe-list", dash="-", ext="list")
        self.assertDelivered(p, "0+1+0")
        self.assertEqual(self.forwards()[0][0], b"Fjoe-list-owner@example.com\0Ta@one.test\0\0")

    def test_owner_default_gives_verp(self):
        self.write(".qmail-list", "&a@one.test\n")
        self.write(".qmail-list-owner", "&owner@x.test\n")
        self.write(".qmail-list-owner-default", "&owner@x.test\n")
        p = self.local(local="joe-list", dash="-", ext="list")
        self.assertDelivered(p, "0+1+0")
        self.assertEqual(self.forwards()[0][0],
                         b"Fjoe-list-owner-@example.com-@[]\0Ta@one.test\0\0")

    def test_bounces_keep_their_sender(self):
        self.write(".qmail-list", "&a@one.test\n|echo $NEWSENDER > newsender\n")
        self.write(".qmail-list-owner", "&owner@x.test\n")
        for sender in ["", "#@[]"]:
            with self.subTest(sender=sender):
                for n in os.listdir(self.qq_dir):
                    os.unlink(os.path.join(self.qq_dir, n))
                p = self.local(local="joe-list", dash="-", ext="list", sender=sender)
                self.assertDelivered(p, "0+1+1")
                self.assertEqual(self.forwards()[0][0],
                                 b"F" + sender.encode() + b"\0Ta@one.test\0\0")
                self.assertEqual(self.read("newsender"), sender.encode() + b"\n")

    def test_newsender_for_programs(self):
        self.write(".qmail", "|echo $NEWSENDER > newsender\n")
        self.write(".qmail-owner", "&owner@x.test\n")
        self.assertDelivered(self.local(), "0+0+1")
        self.assertEqual(self.read("newsender"), b"joe-owner@example.com\n")

    def test_queue_failures(self):
        self.write(".qmail", "&a@one.test\n")
        p = self.local(env=self.env(QQ_EXIT="31"))
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"Unable to forward message: mail server permanently "
                                   b"rejected message (#5.3.0)\n")
        p = self.local(env=self.env(QQ_EXIT="53"))
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"Unable to forward message: qq write error", p.stdout)
        # qmail-queue(8), 82: the queue program's own reason, D or Z.
        p = self.local(env=self.env(QQ_EXIT="82", QQ_REASON="Dlist closed (#5.7.1)"))
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"Unable to forward message: list closed (#5.7.1)\n")
        p = self.local(env=self.env(QQ_EXIT="82", QQ_REASON="Zbusy (#4.3.5)"))
        self.assertEqual(p.returncode, 111)
        self.assertEqual(p.stdout, b"Unable to forward message: busy (#4.3.5)\n")

    def test_forward_only_file_may_be_executable(self):
        self.write(".qmail", "&a@one.test\n", mode=0o700)
        self.assertDelivered(self.local(), "0+1+0")


class SelectionTest(LocalCase):
    def test_extension_file(self):
        self.write(".qmail-foo", "./foo-box\n")
        self.assertDelivered(self.local(local="joe-foo", dash="-", ext="foo"), "1+0+0")
        self.assertIn(b"Delivered-To: joe-foo@example.com\n", self.read("foo-box"))

    def test_case_folding_and_dots(self):
        self.write(".qmail-foo:bar", "./box\n")
        self.assertDelivered(self.local(local="joe-FOO.bar", dash="-", ext="FOO.bar"),
                             "1+0+0")

    def test_default_chain(self):
        self.write(".qmail-foo-default", "|echo $DEFAULT > which-foo\n")
        self.write(".qmail-default", "|echo $DEFAULT > which-top\n")
        self.assertDelivered(self.local(local="joe-foo-bar", dash="-", ext="foo-bar"), "0+0+1")
        self.assertEqual(self.read("which-foo"), b"bar\n")
        self.assertDelivered(self.local(local="joe-baz-qux", dash="-", ext="baz-qux"), "0+0+1")
        self.assertEqual(self.read("which-top"), b"baz-qux\n")

    def test_exact_file_beats_default(self):
        self.write(".qmail-foo-bar", "./exact\n")
        self.write(".qmail-foo-default", "./wild\n")
        self.assertDelivered(self.local(local="joe-foo-bar", dash="-", ext="foo-bar"), "1+0+0")
        self.assertTrue(os.path.exists(self.path("exact")))
        self.assertFalse(os.path.exists(self.path("wild")))

    def test_no_file_bounces(self):
        p = self.local(local="joe-nobody", dash="-", ext="nobody")
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"Sorry, no mailbox here by that name. (#5.1.1)\n")

    def test_no_dot_qmail_for_the_user_is_defaultdelivery(self):
        self.assertDelivered(self.local(), "1+0+0")
        self.assertTrue(os.path.exists(self.path("Mailbox")))

    def test_empty_extension_file_is_defaultdelivery(self):
        self.write(".qmail-foo", "")
        self.assertDelivered(self.local(local="joe-foo", dash="-", ext="foo"), "1+0+0")
        self.assertTrue(os.path.exists(self.path("Mailbox")))

    def test_blank_first_line_is_temporary(self):
        self.write(".qmail", "\n./Mailbox\n")
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertEqual(p.stdout, b"Uh-oh: first line of .qmail file is blank. (#4.2.1)\n")

    def test_huge_qmail_is_temporary(self):
        self.write(".qmail", "#" * (9 * 1024 * 1024) + "\n./Mailbox\n")
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertEqual(p.stdout, b"Uh-oh: .qmail file is too long. (#4.2.1)\n")

    def test_writable_qmail_is_temporary(self):
        for mode in (0o620, 0o602):
            with self.subTest(mode=oct(mode)):
                self.write(".qmail", "./Mailbox\n", mode=mode)
                p = self.local()
                self.assertEqual(p.returncode, 111)
                self.assertEqual(p.stdout, b"Uh-oh: .qmail file is writable. (#4.7.0)\n")
        self.assertFalse(os.path.exists(self.path("Mailbox")))

    def test_executable_qmail_may_not_deliver_to_files_or_programs(self):
        for line, kind in (("./Mailbox", b"file"), ("./Maildir/", b"file"), ("|true", b"prog")):
            with self.subTest(line=line):
                self.write(".qmail", "&a@one.test\n" + line + "\n", mode=0o700)
                p = self.local()
                self.assertEqual(p.returncode, 111)
                self.assertEqual(p.stdout, b"Uh-oh: .qmail has " + kind +
                                 b" delivery but has x bit set. (#4.7.0)\n")
        self.assertEqual(self.forwards(), [])

    def test_sticky_home_defers(self):
        os.chmod(self.home, 0o1700)
        p = self.local()
        self.assertEqual(p.returncode, 111)
        self.assertEqual(p.stdout,
                         b"Home directory is sticky: user is editing his .qmail file. (#4.2.1)\n")
        self.assertFalse(os.path.exists(self.path("Mailbox")))

    def test_writable_home_defers(self):
        for mode in (0o720, 0o702):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.home, mode)
                p = self.local()
                self.assertEqual(p.returncode, 111)
                self.assertEqual(p.stdout, b"Uh-oh: home directory is writable. (#4.7.0)\n")

    def test_relative_home_is_refused(self):
        p = subprocess.run([program("qmail-local"), "joe", "home", "joe", "", "", "x.test",
                            "a@b.c", "./Mailbox"], stdin=subprocess.DEVNULL, cwd=self.tmp,
                           capture_output=True)
        self.assertEqual(p.returncode, 111)

    def test_usage(self):
        p = subprocess.run([program("qmail-local"), "joe"], stdin=subprocess.DEVNULL,
                           capture_output=True)
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"usage", p.stdout)


class LoopTest(LocalCase):
    def test_looping_message_bounces(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n&a@one.test\n")
        msg = b"Received: x\nDelivered-To: joe@example.com\nSubject: loop\n\nbody\n"
        p = self.local(message=msg)
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"This message is looping: it already has my "
                                   b"Delivered-To line. (#5.4.6)\n")
        self.assertEqual(self.maildir_messages(), [])
        self.assertEqual(self.forwards(), [])

    def test_only_exactly_the_same_line_is_a_loop(self):
        """qmail-local(8): "If exactly the same Delivered-To: local@domain
        already appears": a line that differs in case is not ours."""
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        msg = b"Received: x\nDELIVERED-TO: Joe@Example.COM\nSubject: loop\n\nbody\n"
        self.assertDelivered(self.local(message=msg), "1+0+0")

    def test_other_delivered_to_lines_are_fine(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        msg = (b"Delivered-To: someone-else@example.com\n"
               b"Subject: x\n\nDelivered-To: joe@example.com\n")
        self.assertDelivered(self.local(message=msg), "1+0+0")

    def test_forwarded_copy_would_loop_back(self):
        # What we forward carries our line, so it bounces if it comes back.
        self.write(".qmail", "&joe@example.com\n")
        self.assertDelivered(self.local(), "0+1+0")
        _, forwarded = self.forwards()[0]
        p = self.local(message=forwarded)
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"(#5.4.6)", p.stdout)


class DryRunTest(LocalCase):
    def test_n_prints_instructions(self):
        self.write(".qmail", "# comment\n./Mailbox\n./Maildir/\n|preline procmail\n"
                             "&a@one.test\nb@two.test\n")
        p = subprocess.run([program("qmail-local"), "-n", "joe", self.home, "joe", "", "",
                            "example.com", "a@b.c", "./Mailbox"], stdin=subprocess.DEVNULL,
                           capture_output=True, env=self.env())
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(p.stdout, b"mbox: ./Mailbox\nmaildir: ./Maildir/\n"
                                   b"program: preline procmail\nforward: a@one.test\n"
                                   b"forward: b@two.test\n")
        self.assertFalse(os.path.exists(self.path("Mailbox")))
        self.assertEqual(self.forwards(), [])

    def test_n_with_defaultdelivery_and_missing_extension(self):
        p = self.local(flags=["-n"])
        self.assertEqual(p.stdout, b"mbox: ./Mailbox\n")
        p = self.local(flags=["-n"], local="joe-x", dash="-", ext="x")
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"(#5.1.1)", p.stdout)
        p = self.local(flags=["-nN"])  # the last flag wins
        self.assertDelivered(p, "1+0+0")


class RealQueueTest(unittest.TestCase):
    """qmail-local from an installed home (HOME/bin, made by qmail-setup)
    forwarding through the real qmail-queue."""

    def setUp(self):
        self.home = qmailtest.Home()
        self.addCleanup(self.home.cleanup)
        self.user_home = os.path.join(self.home.tmp, "joe")
        os.mkdir(self.user_home, 0o700)

    def test_forward_is_queued(self):
        with open(os.path.join(self.user_home, ".qmail"), "w") as f:
            f.write("&fred@elsewhere.test\n./Mailbox\n")
        env = self.home.env()
        env.pop("QMAILQUEUE", None)
        p = self.home.run("qmail-local", ["joe", self.user_home, "joe", "", "", "example.test",
                                          "alice@remote.test", "./Maildir/"],
                          input=MESSAGE, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # As qmail's: "did F+W+P", then the qp of the qmail-queue that took
        # the forward, which is the p record of the new message's envelope.
        m = re.fullmatch(rb"did 1\+1\+0\nqp (\d+)\n", p.stdout)
        self.assertTrue(m, p.stdout)
        todo = self.home.queue_files("todo")
        self.assertEqual(len(todo), 1)
        with open(self.home.path("queue", "todo", todo[0]), "rb") as f:
            envelope = f.read()
        self.assertIn(b"\0Falice@remote.test\0Tfred@elsewhere.test\0", b"\0" + envelope)
        self.assertIn(b"\0p" + m.group(1) + b"\0", b"\0" + envelope)
        mess = [os.path.join(r, n) for r, _, ns in os.walk(self.home.path("queue", "mess"))
                for n in ns]
        self.assertEqual(len(mess), 1)
        with open(mess[0], "rb") as f:
            queued = f.read()
        # qmail-queue adds its Received line above ours.
        self.assertTrue(queued.startswith(b"Received: "), queued[:200])
        self.assertTrue(queued.endswith(b"Delivered-To: joe@example.test\n" + MESSAGE), queued)


if __name__ == "__main__":
    unittest.main()
