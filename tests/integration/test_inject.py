"""qmail-inject, sendmail, datemail and predate, run for real.

Each test gets a small temporary home (control files, and bin/ holding the
programs under test) and QMAILQUEUE pointing to a script that records the
message (fd 0) and the envelope (fd 1) into files and exits with a chosen
code: qmail-queue(8)'s documented hook, so no queue is needed.
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

PROGRAMS = ["qmail-inject", "sendmail", "datemail", "predate"]
DATE_RE = rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n"
MSGID_RE = rb"Message-ID: <\d{14}\.\d+\.qmail@([^>]+)>\n"


class InjectHome:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-inject-test-")
        self.dir = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(self.dir, "control"))
        os.makedirs(os.path.join(self.dir, "bin"))
        for p in PROGRAMS:
            shutil.copy(os.path.join(BUILD, p), os.path.join(self.dir, "bin", p))
        self.control("me", "mail.example.test\n")
        self.control("defaultdomain", "example.test\n")
        self.control("plusdomain", "plus.example.test\n")
        self.out = os.path.join(self.tmp, "out")
        os.makedirs(self.out)
        self.queue = os.path.join(self.tmp, "fake-qmail-queue")
        with open(self.queue, "w") as f:
            f.write("#!/bin/sh\n"
                    "cat > '%(o)s/message' || exit 54\n"
                    "cat <&1 > '%(o)s/envelope' || exit 54\n"
                    "if [ -f '%(o)s/exitcode' ]; then exit `cat '%(o)s/exitcode'`; fi\n"
                    "exit 0\n" % {"o": self.out})
        os.chmod(self.queue, 0o755)

    def control(self, name, text):
        path = os.path.join(self.dir, "control", name)
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, "w") as f:
            f.write(text)

    def env(self, **extra):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": self.dir,
             "QMAILQUEUE": self.queue, "USER": "joe", "TZ": "UTC"}
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def run(self, prog, args=(), input=b"", env=None, **envkw):
        for n in ("message", "envelope"):
            p = os.path.join(self.out, n)
            if os.path.exists(p):
                os.unlink(p)
        return subprocess.run([os.path.join(self.dir, "bin", prog), *args], input=input,
                              env=env or self.env(**envkw), capture_output=True, timeout=120)

    def queued(self):
        """(message, sender, recipients) handed to the fake qmail-queue, or None."""
        mp = os.path.join(self.out, "message")
        if not os.path.exists(mp):
            return None
        with open(mp, "rb") as f:
            message = f.read()
        with open(os.path.join(self.out, "envelope"), "rb") as f:
            env = f.read()
        assert env.endswith(b"\0\0") or env == b"", env
        parts = env[:-2].split(b"\0") if env else []
        assert parts and parts[0].startswith(b"F"), env
        rcpts = []
        for p in parts[1:]:
            assert p.startswith(b"T"), env
            rcpts.append(p[1:].decode("latin-1"))
        return message, parts[0][1:].decode("latin-1"), rcpts

    def set_queue_exit(self, code):
        p = os.path.join(self.out, "exitcode")
        if code is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            with open(p, "w") as f:
                f.write("%d\n" % code)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def strip_stamps(message):
    """Removes the generated Date and Message-ID lines (checked separately)."""
    message = re.sub(DATE_RE, b"", message, count=1)
    return re.sub(MSGID_RE, b"", message, count=1)


class InjectTest(unittest.TestCase):
    def setUp(self):
        self.h = InjectHome()
        self.addCleanup(self.h.cleanup)

    def inject(self, message, args=(), prog="qmail-inject", code=0, **env):
        p = self.h.run(prog, args, input=message, **env)
        self.assertEqual(p.returncode, code, p.stderr.decode(errors="replace"))
        return p

    # --- header rewriting ------------------------------------------------
    def test_basic_headers_and_envelope(self):
        self.inject(b"To: fred, djb@silverton, eric@mammoth.cs+\nSubject: hi\n\nHello.\n")
        msg, sender, rcpts = self.h.queued()
        self.assertRegex(msg, DATE_RE)
        m = re.search(MSGID_RE, msg)
        self.assertEqual(m.group(1), b"mail.example.test")
        self.assertEqual(strip_stamps(msg),
                         b"From: joe@mail.example.test\n"
                         b"To: fred@mail.example.test, djb@silverton.example.test,\n"
                         b"  eric@mammoth.cs.plus.example.test\n"
                         b"Subject: hi\n\nHello.\n")
        self.assertEqual(sender, "joe@mail.example.test")
        self.assertEqual(rcpts, ["fred@mail.example.test", "djb@silverton.example.test",
                                 "eric@mammoth.cs.plus.example.test"])

    def test_address_forms(self):
        self.inject(b"From: A Person <a>\n"
                    b"To: <@route.example:x@y.example>, \"Doe, J\" <j@d.example>,\n"
                    b"   group: g1@h.example, g2;, c@d.example (Comment)\n"
                    b"Cc: recipient list: ;\nDate: d\nMessage-ID: <m@x>\n\nb\n")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(msg,
                         b"From: A Person <a@mail.example.test>\n"
                         b"To: <x@y.example>, \"Doe, J\" <j@d.example>,\n"
                         b"  group: g1@h.example, g2@mail.example.test;, c@d.example (Comment)\n"
                         b"Cc: recipient list: ;\nDate: d\nMessage-ID: <m@x>\n\nb\n")
        self.assertEqual(rcpts, ["x@y.example", "j@d.example", "g1@h.example",
                                 "g2@mail.example.test", "c@d.example"])

    def test_deleted_fields(self):
        self.inject(b"To: a@x.example\nBcc: hidden@x.example\nReturn-Path: <rp@x.example>\n"
                    b"Content-Length: 3\nApparently-To: app@x.example\nFrom: f@x.example\n"
                    b"Date: d\nMessage-ID: <m@x>\n\nbody\n")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(msg, b"To: a@x.example\nApparently-To: app@x.example\n"
                              b"From: f@x.example\nDate: d\nMessage-ID: <m@x>\n\nbody\n")
        self.assertEqual(sender, "rp@x.example")
        self.assertEqual(rcpts, ["a@x.example", "hidden@x.example", "app@x.example"])

    def test_no_to_or_cc_adds_cc(self):
        self.inject(b"Bcc: b@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>\n\nx\n")
        msg, _, rcpts = self.h.queued()
        self.assertEqual(msg, b"Cc: recipient list not shown: ;\nFrom: f@x.example\n"
                              b"Date: d\nMessage-ID: <m@x>\n\nx\n")
        self.assertEqual(rcpts, ["b@x.example"])

    def test_resent(self):
        self.inject(b"From: f@x.example\nTo: orig@x.example\nDate: d\nMessage-ID: <m@x>\n"
                    b"Resent-To: new@x.example\nResent-Bcc: rb@x.example\n\nx\n")
        msg, _, rcpts = self.h.queued()
        self.assertEqual(rcpts, ["new@x.example", "rb@x.example"])
        self.assertRegex(msg, rb"^Resent-Date: ")
        self.assertIn(b"\nResent-Message-ID: <", msg)
        self.assertIn(b"\nResent-From: joe@mail.example.test\n", msg)
        self.assertNotIn(b"Resent-Bcc", msg)
        self.assertNotIn(b"\nResent-Cc:", msg)

    def test_body_line_without_blank(self):
        self.inject(b"To: a@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>\n"
                    b"this is not a header\nsecond")
        msg, _, _ = self.h.queued()
        self.assertEqual(msg, b"To: a@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>\n"
                              b"\nthis is not a header\nsecond\n")

    def test_header_only(self):
        self.inject(b"To: a@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>")
        msg, _, _ = self.h.queued()
        self.assertEqual(msg, b"To: a@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>\n")

    def test_binary_body_and_long_lines(self):
        body = bytes(range(256)) * 4000 + b"\0\0\xff\n"
        longline = b"X-Long: " + b"y" * (2 << 20) + b"\n"
        to = b"To: " + b", ".join(b"user%d@x.example" % i for i in range(5000)) + b"\n"
        self.inject(b"From: f@x.example\nDate: d\nMessage-ID: <m@x>\n" + longline + to +
                    b"X-Bin: a\0b\xe9\n\n" + body)
        msg, _, rcpts = self.h.queued()
        self.assertEqual(len(rcpts), 5000)
        self.assertEqual(rcpts[4999], "user4999@x.example")
        self.assertTrue(msg.endswith(b"\nX-Bin: a\0b\xe9\n\n" + body))
        self.assertIn(longline, msg)

    def test_header_limit(self):
        p = self.h.run("qmail-inject", ["a@x.example"],
                       input=b"X-Huge: " + b"z" * (17 << 20) + b"\n\nbody\n")
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"header is longer than", p.stderr)
        self.assertIsNone(self.h.queued())

    # --- recipients and options --------------------------------------------
    def test_recipient_strategies(self):
        msg = b"To: hdr@x.example\nFrom: f@x.example\n\nx\n"
        cases = [([], ["hdr@x.example"]),
                 (["arg@x.example"], ["arg@x.example"]),
                 (["-A", "arg@x.example"], ["arg@x.example"]),
                 (["-a", "arg@x.example"], ["arg@x.example"]),
                 (["-h", "arg@x.example"], ["hdr@x.example"]),
                 (["-H", "arg@x.example"], ["arg@x.example", "hdr@x.example"]),
                 (["-H"], ["hdr@x.example"]),
                 (["--", "-dash@x.example"], ["-dash@x.example"])]
        for args, want in cases:
            with self.subTest(args=args):
                self.inject(msg, args)
                self.assertEqual(self.h.queued()[2], want)

    def test_no_recipients(self):
        p = self.h.run("qmail-inject", ["-a"], input=b"To: a@x.example\n\nx\n")
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"no recipients", p.stderr)
        self.assertIsNone(self.h.queued())
        p = self.h.run("qmail-inject", [], input=b"Subject: none\n\nx\n")
        self.assertEqual(p.returncode, 100)

    def test_sender_option(self):
        self.inject(b"To: a@x.example\nReturn-Path: <rp@x.example>\n\nx\n", ["-f", "bob"])
        self.assertEqual(self.h.queued()[1], "bob@mail.example.test")
        self.inject(b"To: a@x.example\n\nx\n", ["-f", ""])
        self.assertEqual(self.h.queued()[1], "")
        self.inject(b"To: a@x.example\n\nx\n", ["-fThe Almighty.One@heaven.af.mil"])
        self.assertEqual(self.h.queued()[1], "The Almighty.One@heaven.af.mil")

    def test_print_option(self):
        p = self.inject(b"To: a@x.example\nFrom: f@x.example\nDate: d\nMessage-ID: <m@x>\n\nx\n",
                        ["-n", "-f", "s@x.example"])
        self.assertEqual(p.stdout, b"Return-Path: <s@x.example>\nTo: a@x.example\n"
                                   b"From: f@x.example\nDate: d\nMessage-ID: <m@x>\n\nx\n")
        self.assertIsNone(self.h.queued())
        # -N after -n queues again.
        self.inject(b"To: a@x.example\n\nx\n", ["-n", "-N"])
        self.assertIsNotNone(self.h.queued())

    def test_usage_and_bad_addresses(self):
        for args, msg in [(["-z"], b"To: a@x.example\n\n"),
                          (["-f"], b"To: a@x.example\n\n"),
                          (["a@b c"], b"\n"),
                          (["-f", "a@b c", "x@y.example"], b"\n"),
                          ([], b"To: \"unterminated@x.example\n\nx\n"),
                          ([], b"To: <a@b\n\nx\n")]:
            with self.subTest(args=args, msg=msg):
                p = self.h.run("qmail-inject", args, input=msg)
                self.assertEqual(p.returncode, 100, p.stderr)
                self.assertIsNone(self.h.queued())
        # A broken field that does not choose recipients is passed through.
        self.inject(b"To: \"unterminated@x.example\n\nx\n", ["ok@x.example"])
        self.assertIn(b"\nTo: \"unterminated@x.example\n", self.h.queued()[0])

    # --- environment and control files ---------------------------------------
    def test_from_environment(self):
        cases = [
            (dict(QMAILUSER="qu", MAILUSER="mu", LOGNAME="ln"), b"From: qu@mail.example.test\n"),
            (dict(MAILUSER="mu", LOGNAME="ln"), b"From: mu@mail.example.test\n"),
            (dict(USER=None, LOGNAME="ln"), b"From: ln@mail.example.test\n"),
            (dict(USER=None), b"From: anonymous@mail.example.test\n"),
            (dict(QMAILHOST="qh.example", MAILHOST="mh.example"), b"From: joe@qh.example\n"),
            (dict(MAILHOST="mh"), b"From: joe@mh.example.test\n"),
            (dict(QMAILNAME="Q Name", MAILNAME="M", NAME="N"),
             b"From: \"Q Name\" <joe@mail.example.test>\n"),
            (dict(NAME="Just N"), b"From: \"Just N\" <joe@mail.example.test>\n"),
            (dict(NAME="Just N", QMAILINJECT="c"), b"From: joe@mail.example.test (Just N)\n"),
            (dict(QMAILUSER="a b"), b"From: \"a b\"@mail.example.test\n"),
        ]
        for env, want in cases:
            with self.subTest(env=env):
                self.inject(b"To: a@x.example\nDate: d\nMessage-ID: <m@x>\n\nx\n", **env)
                msg = self.h.queued()[0]
                self.assertTrue(msg.startswith(want), msg)

    def test_envelope_sender_environment(self):
        m = b"To: a@x.example\nReturn-Path: <rp@x.example>\n\nx\n"
        self.inject(m)
        self.assertEqual(self.h.queued()[1], "rp@x.example")
        self.inject(m, QMAILINJECT="s", QMAILSUSER="su", QMAILSHOST="sh.example")
        self.assertEqual(self.h.queued()[1], "su@sh.example")
        self.inject(b"To: a@x.example\n\nx\n", QMAILHOST="h.example")
        self.assertEqual(self.h.queued()[1], "joe@h.example")
        self.inject(b"To: a@x.example\n\nx\n", QMAILINJECT="r")
        self.assertEqual(self.h.queued()[1], "joe-@mail.example.test-@[]")
        self.inject(b"To: a@x.example\n\nx\n", QMAILINJECT="m")
        self.assertRegex(self.h.queued()[1], r"^joe-\d+\.\d+@mail\.example\.test$")

    def test_qmailinject_delete_letters(self):
        m = b"From: old@x.example\nMessage-ID: <old@x>\nTo: a@x.example\nDate: d\n\nx\n"
        self.inject(m, QMAILINJECT="fi")
        msg = self.h.queued()[0]
        self.assertNotIn(b"old@x", msg)
        self.assertIn(b"\nFrom: joe@mail.example.test\n", b"\n" + msg)
        self.assertRegex(msg, MSGID_RE)

    def test_control_files_and_overrides(self):
        self.h.control("defaulthost", "dh\n")
        self.h.control("idhost", "id.example.test\n")
        self.inject(b"To: a, b@c, d@e+\n\nx\n")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(rcpts, ["a@dh.example.test", "b@c.example.test",
                                 "d@e.plus.example.test"])
        self.assertEqual(re.search(MSGID_RE, msg).group(1), b"id.example.test")
        self.inject(b"To: a, b@c, d@e+\n\nx\n", QMAILDEFAULTHOST="h2.example",
                    QMAILDEFAULTDOMAIN="dd.example", QMAILPLUSDOMAIN="pd.example",
                    QMAILIDHOST="i2.example")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(rcpts, ["a@h2.example", "b@c.dd.example", "d@e.pd.example"])
        self.assertEqual(re.search(MSGID_RE, msg).group(1), b"i2.example")
        # Without defaultdomain, me is used.
        self.h.control("defaultdomain", None)
        self.inject(b"To: b@c\n\nx\n")
        self.assertEqual(self.h.queued()[2], ["b@c.mail.example.test"])

    def test_mail_followup_to(self):
        lists = os.path.join(self.h.tmp, "lists")
        with open(lists, "w") as f:
            f.write("# my lists\nsos@heaven.example\n\n")
        self.inject(b"To: sos@heaven.example\nCc: friend\n\nx\n", QMAILMFTFILE=lists)
        msg = self.h.queued()[0]
        self.assertIn(b"\nMail-Followup-To: sos@heaven.example, friend@mail.example.test\n", msg)
        self.inject(b"To: other@heaven.example\n\nx\n", QMAILMFTFILE=lists)
        self.assertNotIn(b"Mail-Followup-To", self.h.queued()[0])
        self.inject(b"To: sos@heaven.example\n\nx\n",
                    QMAILMFTFILE=os.path.join(self.h.tmp, "missing"))
        self.assertNotIn(b"Mail-Followup-To", self.h.queued()[0])

    # --- qmail-queue results -------------------------------------------------
    def test_queue_exit_codes(self):
        for code, want in [(11, 100), (31, 100), (53, 111), (81, 111), (0, 0)]:
            with self.subTest(code=code):
                self.h.set_queue_exit(code)
                p = self.h.run("qmail-inject", ["a@x.example"], input=b"\nx\n")
                self.assertEqual(p.returncode, want, p.stderr)
                if want:
                    self.assertIn(b"qmail-inject: fatal:", p.stderr)

    def test_queue_programs_own_reason(self):
        """qmail-queue(8), exit 82: a $QMAILQUEUE program's reason on
        descriptor 6 is reported, permanent for "D", temporary for "Z"."""
        for text, code in [("Dno thanks", 100), ("Ztry later", 111)]:
            qq = os.path.join(self.h.tmp, "qq82")
            with open(qq, "w") as f:
                f.write("#!/bin/sh\ncat >/dev/null\nprintf '%s' >&6\nexit 82\n" % text)
            os.chmod(qq, 0o755)
            p = self.h.run("qmail-inject", ["a@x.example"], input=b"\nx\n", QMAILQUEUE=qq)
            self.assertEqual(p.returncode, code, p.stderr)
            self.assertIn(text[1:].encode(), p.stderr)

    def test_queue_missing(self):
        p = self.h.run("qmail-inject", ["a@x.example"], input=b"\nx\n",
                       QMAILQUEUE=os.path.join(self.h.tmp, "nonexistent"))
        self.assertEqual(p.returncode, 111, p.stderr)

    # --- sendmail, datemail, predate ---------------------------------------
    def test_sendmail(self):
        m = b"To: hdr@x.example\nSubject: s\n\nx\n"
        self.inject(m, ["-oi", "-odb", "-i", "arg@x.example"], prog="sendmail")
        self.assertEqual(self.h.queued()[2], ["arg@x.example"])
        self.inject(m, ["-t"], prog="sendmail")
        self.assertEqual(self.h.queued()[2], ["hdr@x.example"])
        self.inject(m, ["-t", "arg@x.example"], prog="sendmail")
        self.assertEqual(self.h.queued()[2], ["arg@x.example", "hdr@x.example"])
        self.inject(m, ["-f", "bob@example.org", "-F", "Bob B", "-t"], prog="sendmail",
                    NAME="Other", QMAILHOST="ignored.example")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(sender, "bob@example.org")
        self.assertIn(b"From: \"Bob B\" <bob@example.org>\n", msg)
        self.inject(m, ["-fbob", "-t"], prog="sendmail", NAME="Other")
        msg, sender, rcpts = self.h.queued()
        self.assertEqual(sender, "bob@mail.example.test")
        self.assertIn(b"From: bob@mail.example.test\n", msg)

    def test_sendmail_null_sender(self):
        for s in ["<>", ""]:
            with self.subTest(sender=s):
                self.inject(b"To: a@x.example\nDate: d\nMessage-ID: <m@x>\n\nx\n",
                            ["-f", s, "-t"], prog="sendmail", NAME="Joe Q")
                msg, sender, rcpts = self.h.queued()
                self.assertEqual(sender, "")
                self.assertTrue(msg.startswith(b"From: \"Joe Q\" <joe@mail.example.test>\n"))

    def test_sendmail_errors_and_modes(self):
        p = self.h.run("sendmail", ["-N", "x"], input=b"")
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"usage", p.stderr)
        p = self.h.run("sendmail", ["-bs"], input=b"QUIT\r\n")
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"unable to run qmail-smtpd", p.stderr)
        qread = os.path.join(self.h.dir, "bin", "qmail-qread")
        with open(qread, "w") as f:
            f.write("#!/bin/sh\necho qread ran \"$#\"\n")
        os.chmod(qread, 0o755)
        p = self.h.run("sendmail", ["-bp"])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"qread ran 0\n")
        mailq = os.path.join(self.h.dir, "bin", "mailq")
        os.symlink("sendmail", mailq)
        p = self.h.run("mailq")
        self.assertEqual(p.stdout, b"qread ran 0\n")

    def test_datemail_local_date(self):
        self.inject(b"To: a@x.example\n\nx\n", ["-t"], prog="datemail", TZ="EST5EDT")
        msg = self.h.queued()[0]
        self.assertRegex(msg, rb"\nDate: \w\w\w, .* -0[45]00\n")
        self.assertEqual(msg.count(b"Date: "), 1)

    def test_predate(self):
        p = self.h.run("predate", ["cat"], input=b"To: x\n\nbody\n", TZ="IST-5:30")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, rb"^Date: \w\w\w, \d+ \w\w\w \d{4} \d\d:\d\d:\d\d \+0530\n"
                                   rb"To: x\n\nbody\n$")
        p = self.h.run("predate", ["sh", "-c", "cat >/dev/null; exit 7"], input=b"x")
        self.assertEqual(p.returncode, 7)
        p = self.h.run("predate", [])
        self.assertEqual(p.returncode, 100)
        p = self.h.run("predate", ["sh", "-c", "kill -9 $$"], input=b"x")
        self.assertEqual(p.returncode, 111)


if __name__ == "__main__":
    unittest.main()
