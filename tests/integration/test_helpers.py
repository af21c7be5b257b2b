"""The .qmail helper programs, run as qmail-local runs them (with the
qmail-command(8) environment) and also through a real qmail-local:
preline, forward, condredirect, bouncesaying, except, qbiff, qreceipt,
maildirmake and maildir2mbox."""
import os
import re
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_local import LocalCase, MESSAGE, UFLINE_RE, program  # noqa: E402

DT = "Delivered-To: joe@example.com\n"
RP = "Return-Path: <alice@remote.test>\n"
UF = "From alice@remote.test Thu Jan  1 00:00:00 1970\n"


class HelperCase(LocalCase):
    def cmd_env(self, **extra):
        e = self.env()
        e.update({"DTLINE": DT, "RPLINE": RP, "UFLINE": UF, "SENDER": "alice@remote.test",
                  "NEWSENDER": "joe-owner@example.com", "USER": "joe", "HOME": self.home})
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def run_helper(self, name, args, message=MESSAGE, env=None, pipe=False):
        argv = [program(name), *args]
        if pipe:
            return subprocess.run(argv, input=message, capture_output=True,
                                  env=env or self.cmd_env(), cwd=self.home, timeout=60)
        mf = os.path.join(self.tmp, "helper-message")
        with open(mf, "wb") as f:
            f.write(message)
        with open(mf, "rb") as f:
            return subprocess.run(argv, stdin=f, capture_output=True, env=env or self.cmd_env(),
                                  cwd=self.home, timeout=60)

    def bin_line(self, name):
        return program(name)


class PrelineTest(HelperCase):
    def test_prepends_all_three_lines(self):
        p = self.run_helper("preline", ["sh", "-c", "cat > out"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read("out"), (UF + RP + DT).encode() + MESSAGE)

    def test_options_leave_lines_out(self):
        for opts, want in (("-d", UF + RP), ("-f", RP + DT), ("-r", UF + DT), ("-dfr", ""),
                           ("-fr", DT)):
            with self.subTest(opts=opts):
                p = self.run_helper("preline", [opts, "sh", "-c", "cat > out"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(self.read("out"), want.encode() + MESSAGE)

    def test_exit_code_is_the_commands(self):
        for code in (0, 99, 100, 111, 3):
            p = self.run_helper("preline", ["sh", "-c", "cat >/dev/null; exit %d" % code])
            self.assertEqual(p.returncode, code)

    def test_command_that_reads_nothing(self):
        big = MESSAGE + b"y" * 1000000
        p = self.run_helper("preline", ["true"], message=big)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing_environment_and_usage(self):
        p = self.run_helper("preline", ["cat"], env=self.cmd_env(UFLINE=None))
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"UFLINE not set", p.stderr)
        p = self.run_helper("preline", ["-f", "sh", "-c", "cat > out"],
                            env=self.cmd_env(UFLINE=None))
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.run_helper("preline", []).returncode, 100)
        self.assertEqual(self.run_helper("preline", ["/nonexistent/cmd"]).returncode, 111)

    def test_under_qmail_local_makes_an_mbox(self):
        self.write(".qmail", "|%s sh -c 'cat >> procmail-box'\n" % program("preline"))
        p = self.local()
        self.assertDelivered(p, "0+0+1")
        box = self.read("procmail-box")
        m = UFLINE_RE.match(box)
        self.assertIsNotNone(m, box)
        self.assertEqual(box[m.end():],
                         b"Return-Path: <alice@remote.test>\n"
                         b"Delivered-To: joe@example.com\n" + MESSAGE)


class ForwardProgramTest(HelperCase):
    def test_forwards_with_newsender_and_dtline(self):
        p = self.run_helper("forward", ["a@one.test", "b@two.test"])
        self.assertEqual(p.returncode, 0, p.stderr)
        fw = self.forwards()
        self.assertEqual(len(fw), 1)
        self.assertEqual(fw[0][0], b"Fjoe-owner@example.com\0Ta@one.test\0Tb@two.test\0\0")
        self.assertEqual(fw[0][1], DT.encode() + MESSAGE)

    def test_message_on_a_pipe(self):
        p = self.run_helper("forward", ["a@one.test"], pipe=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.forwards()[0][1], DT.encode() + MESSAGE)

    def test_failures(self):
        p = self.run_helper("forward", ["a@one.test"], env=self.cmd_env(NEWSENDER=None))
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"NEWSENDER not set", p.stderr)
        self.assertEqual(self.run_helper("forward", []).returncode, 100)
        p = self.run_helper("forward", ["a@one.test"], env=self.cmd_env(QQ_EXIT="31"))
        self.assertEqual(p.returncode, 100)
        p = self.run_helper("forward", ["a@one.test"], env=self.cmd_env(QQ_EXIT="51"))
        self.assertEqual(p.returncode, 111)

    def test_under_qmail_local(self):
        self.write(".qmail", "|%s fwd@x.test\n" % program("forward"))
        self.write(".qmail-owner", "&o@x.test\n")
        self.assertDelivered(self.local(), "0+0+1")
        env, msg = self.forwards()[0]
        self.assertEqual(env, b"Fjoe-owner@example.com\0Tfwd@x.test\0\0")
        self.assertEqual(msg, DT.encode() + MESSAGE)


class CondredirectTest(HelperCase):
    def test_program_exit_codes(self):
        cases = [("exit 0", 99, True), ("exit 111", 111, False), ("exit 1", 0, False),
                 ("exit 100", 0, False)]
        for script, want, forwarded in cases:
            with self.subTest(script=script):
                for n in os.listdir(self.qq_dir):
                    os.unlink(os.path.join(self.qq_dir, n))
                p = self.run_helper("condredirect", ["new@x.test", "sh", "-c",
                                                     "cat > seen; " + script])
                self.assertEqual(p.returncode, want, p.stderr)
                self.assertEqual(self.read("seen"), MESSAGE)
                if forwarded:
                    env, msg = self.forwards()[0]
                    self.assertEqual(env, b"Fjoe-owner@example.com\0Tnew@x.test\0\0")
                    self.assertEqual(msg, DT.encode() + MESSAGE)
                else:
                    self.assertEqual(self.forwards(), [])

    def test_missing_program_means_deliver_as_usual(self):
        p = self.run_helper("condredirect", ["new@x.test", "/nonexistent/prog"])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.forwards(), [])

    def test_program_reads_a_piped_message_then_it_is_forwarded_whole(self):
        p = self.run_helper("condredirect", ["new@x.test", "sh", "-c", "cat >/dev/null"],
                            pipe=True)
        self.assertEqual(p.returncode, 99)
        self.assertEqual(self.forwards()[0][1], DT.encode() + MESSAGE)

    def test_under_qmail_local_skips_the_rest(self):
        self.write(".qmail", "|%s boss@x.test grep -q hello\n./Mailbox\n" %
                   program("condredirect"))
        self.assertDelivered(self.local(), "0+0+1")
        self.assertFalse(os.path.exists(self.path("Mailbox")))
        self.assertEqual(self.forwards()[0][0], b"Falice@remote.test\0Tboss@x.test\0\0")
        self.write(".qmail", "|%s boss@x.test grep -q nomatch\n./Mailbox\n" %
                   program("condredirect"))
        self.assertDelivered(self.local(), "1+0+1")


class BouncesayingTest(HelperCase):
    def test_always_bounces_without_program(self):
        p = self.run_helper("bouncesaying", ["This address no longer accepts mail."])
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"This address no longer accepts mail.\n")

    def test_program_decides(self):
        for script, want in (("exit 0", 100), ("exit 111", 111), ("exit 1", 0), ("exit 99", 0)):
            with self.subTest(script=script):
                p = self.run_helper("bouncesaying", ["Go away.", "sh", "-c", script])
                self.assertEqual(p.returncode, want)
                self.assertEqual(p.stdout, b"Go away.\n" if want == 100 else b"")
        self.assertEqual(self.run_helper("bouncesaying", ["x", "/nonexistent"]).returncode, 0)

    def test_under_qmail_local_the_text_is_the_report(self):
        self.write(".qmail", "|%s 'Sorry, I left.'\n./Mailbox\n" % program("bouncesaying"))
        p = self.local()
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"Sorry, I left.\n")
        self.assertFalse(os.path.exists(self.path("Mailbox")))


class ExceptTest(HelperCase):
    def test_reverses_exit_codes(self):
        for code, want in ((0, 100), (111, 111), (1, 0), (100, 0), (99, 0)):
            with self.subTest(code=code):
                p = self.run_helper("except", ["sh", "-c", "exit %d" % code])
                self.assertEqual(p.returncode, want)

    def test_unrunnable_program_is_temporary(self):
        p = self.run_helper("except", ["/nonexistent/prog"])
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"unable to run", p.stderr)

    def test_with_bouncesaying(self):
        # bouncesaying(1)'s idiom: bounce unless the program succeeds.
        self.write(".qmail", "|%s 'Not for you.' %s grep -q hello\n./Mailbox\n" %
                   (program("bouncesaying"), program("except")))
        self.assertDelivered(self.local(), "1+0+1")
        p = self.local(message=b"Subject: other\n\nbody\n")
        self.assertEqual(p.returncode, 100)
        self.assertEqual(p.stdout, b"Not for you.\n")


class QreceiptTest(HelperCase):
    def test_sends_notice_when_requested(self):
        msg = (b"From: alice@remote.test\nSubject: report\nMessage-ID: <1@remote.test>\n"
               b"Notice-Requested-Upon-Delivery-To: Someone <other@x.test>,\n"
               b" Joe (me) <JOE@example.com>\n\nbody\n")
        p = self.run_helper("qreceipt", ["joe@example.com"], message=msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        fw = self.forwards()
        self.assertEqual(len(fw), 1)
        env, notice = fw[0]
        self.assertEqual(env, b"F\0Talice@remote.test\0\0")
        self.assertIn(b"\nTo: <alice@remote.test>\n", notice)
        self.assertIn(b"\nSubject: success notice\n", notice)
        self.assertIn(b"In-Reply-To: <1@remote.test>\n", notice)
        self.assertIn(b"joe@example.com", notice.split(b"\n\n", 1)[1])

    def test_no_notice_cases(self):
        cases = [
            (b"Subject: none requested\n\nbody\n", "alice@remote.test"),
            (b"Notice-Requested-Upon-Delivery-To: other@x.test\n\n", "alice@remote.test"),
            (b"Notice-Requested-Upon-Delivery-To: joe@example.com\n\n", ""),
            (b"Notice-Requested-Upon-Delivery-To: joe@example.com\n\n", "#@[]"),
            (b"Notice-Requested-Upon-Delivery-To: joe@example.com\nPrecedence: bulk\n\n",
             "alice@remote.test"),
            (b"Subject: x\n\nNotice-Requested-Upon-Delivery-To: joe@example.com\n",
             "alice@remote.test"),
        ]
        for msg, sender in cases:
            with self.subTest(msg=msg, sender=sender):
                p = self.run_helper("qreceipt", ["joe@example.com"], message=msg,
                                    env=self.cmd_env(SENDER=sender))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(self.forwards(), [])

    def test_queue_failure(self):
        msg = b"Notice-Requested-Upon-Delivery-To: joe@example.com\n\n"
        p = self.run_helper("qreceipt", ["joe@example.com"], message=msg,
                            env=self.cmd_env(QQ_EXIT="53"))
        self.assertEqual(p.returncode, 111)


class QbiffTest(HelperCase):
    def test_never_fails_a_delivery(self):
        for env in (self.cmd_env(), self.cmd_env(USER=None, SENDER=None)):
            p = self.run_helper("qbiff", [], env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.write(".qmail", "./Mailbox\n|%s\n" % program("qbiff"))
        self.assertDelivered(self.local(), "1+0+1")


class MaildirmakeTest(HelperCase):
    def test_makes_maildir_and_refuses_existing(self):
        d = self.path("Maildir")
        subprocess.run([program("maildirmake"), d], check=True)
        for sub in ("", "tmp", "new", "cur"):
            st = os.stat(os.path.join(d, sub))
            self.assertTrue(stat.S_ISDIR(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        p = subprocess.run([program("maildirmake"), d], capture_output=True)
        self.assertEqual(p.returncode, 111)
        p = subprocess.run([program("maildirmake")], capture_output=True)
        self.assertEqual(p.returncode, 100)


class Maildir2mboxTest(HelperCase):
    def m2m_env(self, **extra):
        e = self.cmd_env(MAILDIR=self.path("Maildir"), MAIL=self.path("mbox"),
                         MAILTMP=self.path("mbox.tmp"))
        e.update(extra)
        return e

    def test_moves_messages_oldest_first(self):
        self.maildirmake()
        self.write(".qmail", "./Maildir/\n")
        self.assertDelivered(self.local(message=b"Subject: one\n\nFrom me\n"), "1+0+0")
        self.assertDelivered(self.local(message=b"Subject: two\n\npartial", sender=""),
                             "1+0+0")
        for n in os.listdir(self.path("Maildir", "new")):
            f = self.path("Maildir", "new", n)
            t = 1000 if b"Subject: one" in open(f, "rb").read() else 2000
            os.utime(f, (t, t))
        self.write("mbox", b"From old Thu Jan  1 00:00:00 1970\nSubject: old\n\n")
        p = subprocess.run([program("maildir2mbox")], env=self.m2m_env(), capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read("mbox"),
                         b"From old Thu Jan  1 00:00:00 1970\nSubject: old\n\n"
                         b"From alice@remote.test Thu Jan  1 00:16:40 1970\n"
                         b"Return-Path: <alice@remote.test>\nDelivered-To: joe@example.com\n"
                         b"Subject: one\n\n>From me\n\n"
                         b"From MAILER-DAEMON Thu Jan  1 00:33:20 1970\n"
                         b"Return-Path: <>\nDelivered-To: joe@example.com\n"
                         b"Subject: two\n\npartial\n\n")
        self.assertEqual(os.listdir(self.path("Maildir", "new")), [])
        self.assertFalse(os.path.exists(self.path("mbox.tmp")))

    def test_cur_messages_too_and_nothing_to_do(self):
        self.maildirmake()
        p = subprocess.run([program("maildir2mbox")], env=self.m2m_env(), capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(self.path("mbox")))
        self.write("Maildir/cur/123.456.host:2,S", b"Subject: seen\n\nx\n")
        self.write("Maildir/cur/.hidden", b"Subject: hidden\n\nx\n")
        p = subprocess.run([program("maildir2mbox")], env=self.m2m_env(), capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        box = self.read("mbox")
        self.assertTrue(box.startswith(b"From MAILER-DAEMON "))
        self.assertIn(b"Subject: seen\n\nx\n\n", box)
        self.assertNotIn(b"hidden", box)
        self.assertEqual(os.listdir(self.path("Maildir", "cur")), [".hidden"])

    def test_failure_keeps_messages(self):
        self.maildirmake()
        self.write("Maildir/new/1.2.h", b"Subject: keep\n\n")
        env = self.m2m_env(MAILTMP=self.path("no-such-dir", "tmp"))
        p = subprocess.run([program("maildir2mbox")], env=env, capture_output=True)
        self.assertEqual(p.returncode, 111)
        self.assertEqual(os.listdir(self.path("Maildir", "new")), ["1.2.h"])

    def test_missing_environment(self):
        env = self.m2m_env()
        del env["MAILTMP"]
        p = subprocess.run([program("maildir2mbox")], env=env, capture_output=True)
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"MAILTMP not set", p.stderr)

    def test_old_tmp_files_are_cleaned(self):
        self.maildirmake()
        old = self.write("Maildir/tmp/old", b"x")
        fresh = self.write("Maildir/tmp/fresh", b"x")
        os.utime(old, (time.time() - 40 * 3600, time.time() - 40 * 3600))
        p = subprocess.run([program("maildir2mbox")], env=self.m2m_env(), capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(fresh))


if __name__ == "__main__":
    unittest.main()
