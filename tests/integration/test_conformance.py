"""Black-box conformance: behaviours that qmail's man pages document and
that a sweep of the real programs found wrong (docs/conformance.md lists
what was checked). Each test runs the real program in a fresh home."""
import os
import unittest

import qmailtest
from qmailtest import HomeTestCase
from test_smtpd import SmtpdTestCase, envelope


class SmtpdRelayclient(SmtpdTestCase):
    """qmail-smtpd(8): with RELAYCLIENT set, qmail-smtpd "will append the
    value of RELAYCLIENT to each incoming recipient address"."""

    def test_appended_to_an_address_without_at(self):
        # <box> + "@relay.test" is box@relay.test, not box@envnoathost@relay.test.
        self.smtpd(envelope(rcpts=["box", "u@other.test"]), RELAYCLIENT="@relay.test")
        self.assertEqual(self.queued()[0][1], ["box@relay.test", "u@other.test@relay.test"])

    def test_suffix_without_at_still_gets_envnoathost(self):
        # <box> + "-x" has no @: it is a local address, box-x@envnoathost.
        self.smtpd(envelope(rcpts=["box"]), RELAYCLIENT="-x")
        self.assertEqual(self.queued()[0][1], ["box-x@example.test"])

    def test_empty_relayclient_keeps_the_address(self):
        self.smtpd(envelope(rcpts=["box", "u@other.test"]), RELAYCLIENT="")
        self.assertEqual(self.queued()[0][1], ["box@example.test", "u@other.test"])


class Showctl(HomeTestCase):
    """qmail-showctl(8) describes the control files as the programs use them."""

    def showctl(self):
        return self.home.run_ok("qmail-showctl").stdout.decode()

    def test_morercpthosts_with_rcpthosts(self):
        # config-fast wrote rcpthosts: morercpthosts is not "irrelevant".
        self.assertTrue(os.path.exists(self.home.path("control", "rcpthosts")))
        out = self.showctl()
        self.assertNotIn("No rcpthosts", out)
        self.assertIn("\nmorercpthosts: (Default.) No effect.\n", out)
        self.home.control("morercpthosts", "more.test\n")
        out = self.showctl()
        self.assertIn("\nmorercpthosts: \nSMTP clients may send messages to recipients at more.test.\n",
                      out)

    def test_morercpthosts_without_rcpthosts(self):
        os.unlink(self.home.path("control", "rcpthosts"))
        out = self.showctl()
        self.assertIn("\nmorercpthosts: (Default.) No rcpthosts; morercpthosts is irrelevant.\n",
                      out)

    def test_databytes_default_is_what_qmail_smtpd_uses(self):
        # Without control/databytes qmail-smtpd takes 10485760 bytes (EHLO
        # says SIZE 10485760); showctl must not claim "0 bytes".
        out = self.showctl()
        self.assertIn("\ndatabytes: (Default.) SMTP DATA limit is 10485760 bytes.\n", out)
        p = self.home.run("qmail-smtpd", input=b"EHLO x\r\nQUIT\r\n",
                          env=self.home.env(TCPREMOTEIP="127.0.0.1", TCPLOCALIP="127.0.0.1"))
        self.assertIn(b"250-SIZE 10485760\r\n", p.stdout)

    def test_knows_every_control_file_our_programs_read(self):
        # qmail-control(5) lists them; none is "I have no idea what this file does".
        for name, text in [("maxrcpt", "5\n"), ("bouncemaxbytes", "0\n"),
                           ("tlsdestinations", "secure.test\n"), ("dnsresolvers", "127.0.0.1\n"),
                           ("recipients", "a@example.test\n"), ("servercert.pem", "x\n"),
                           ("clientca.pem", "x\n"), ("recipients.cdb", "")]:
            self.home.control(name, text)
        out = self.showctl()
        self.assertNotIn("I have no idea", out)
        for want in ["\nmaxrcpt: SMTP recipients per message: at most 5.\n",
                     "\nbouncemaxbytes: Bounces quote at most 0 bytes",
                     "\ntlsdestinations: \nTLS with a verified certificate required for secure.test.\n",
                     "\ndnsresolvers: \nDNS server: 127.0.0.1.\n",
                     "\nrecipients: \nValid recipient: a@example.test.\n",
                     "\nservercert.pem: ", "\nclientca.pem: ", "\nrecipients.cdb: "]:
            self.assertIn(want, out)


if __name__ == "__main__":
    unittest.main()
