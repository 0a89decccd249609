"""What to change when a test fails (issue 15): each provider case of config/remedies.ini,
provoked by a scripted SMTP server that answers with the provider's own greeting and reply,
gives its hint in all seven languages through `probe`, Diagnose and TestSmtpServer."""

import configparser
import json
import os
import subprocess
import unittest
import urllib.parse

from harness import SMTPCHECK, Server, curl, hash_of
from smtp_peers import Scripted

ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"
DIAGNOSE = "/api/v1/smtpcheck/Diagnose"
LANGUAGES = ["en", "nb", "sv", "da", "de", "nl", "fr"]
CATALOGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config", "catalog")
SETTINGS = ["smtp.allow_private_destinations=true", "smtp.allowed_ports=*", "smtp.allow_plaintext_auth=true",
            "api.slow_threshold_ms=3000", "smtp.dns_servers=127.0.0.1:9"]

M365 = b"220 BN6PR04CA0081.outlook.office365.com Microsoft ESMTP MAIL Service ready at Tue, 1 Dec 2026 10:00:00 +0000\r\n"
GMAIL = b"220 smtp.gmail.com ESMTP a1sm123456wrx.12 - gsmtp\r\n"
SES = b"220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-ABCDEF123\r\n"
SENDGRID = b"220 SG ESMTP service ready at ismtpd0004p1iad2.sendgrid.net\r\n"
MAILGUN = b"220 smtp.mailgun.org ESMTP ready\r\n"
POSTFIX = b"220 mail.example.net ESMTP Postfix (Debian/GNU)\r\n"
EXIM = b"220 mail.example.net ESMTP Exim 4.96 Tue, 01 Dec 2026 10:00:00 +0000\r\n"
EHLO = b"250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"


def after_auth(reply):
    return [(b"AUTH", reply)]


def at_mail(reply):
    return [(b"MAIL", reply)]


def at_rcpt(reply):
    return [(b"MAIL", b"250 2.1.0 Ok\r\n"), (b"RCPT", reply)]


def after_data(reply):
    return [(b"MAIL", b"250 2.1.0 Ok\r\n"), (b"RCPT", b"250 2.1.5 Ok\r\n"), (b"DATA", b"354 go ahead\r\n"),
            (b".", reply)]


# (name, greeting, user or None, steps after EHLO, hint); the replies are the providers' own
# (config/remedies.ini cites where each comes from).
CASES = [
    ("m365 SMTP AUTH disabled", M365, "alice@contoso.com", after_auth(
        b"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "
        b"https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com]\r\n"),
     "HINT_BASIC_AUTH_DISABLED"),
    ("m365 5.7.3", M365, "alice@contoso.com", after_auth(
        b"535 5.7.3 Authentication unsuccessful [BN3PR03CA0067.namprd03.prod.outlook.com]\r\n"), "HINT_M365_AUTH_FAILED"),
    ("m365 5.7.60", M365, None, after_data(
        b"550 5.7.60 SMTP; Client does not have permissions to send as this sender\r\n"), "HINT_M365_SEND_AS_DENIED"),
    ("m365 5.2.252", M365, None, after_data(
        b"554 5.2.252 SendAsDenied; alice@contoso.com not allowed to send as jane@example.com; "
        b"STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied\r\n"), "HINT_M365_SEND_AS_DENIED"),
    ("google app password", GMAIL, "jane@example.com", after_auth(
        b"534-5.7.9 Application-specific password required. For more information, go to\r\n"
        b"534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor a1sm123wrx.12 - gsmtp\r\n"),
     "HINT_GOOGLE_APP_PASSWORD"),
    ("google bad credentials", GMAIL, "jane@example.com", after_auth(
        b"535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
        b"535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1sm123wrx.12 - gsmtp\r\n"),
     "HINT_GOOGLE_BAD_CREDENTIALS"),
    ("google starttls first", GMAIL, None, at_mail(
        b"530 5.7.0 Must issue a STARTTLS command first. a1sm123wrx.12 - gsmtp\r\n"), "HINT_STARTTLS_FIRST"),
    ("google relay", GMAIL, None, at_rcpt(
        b"550 5.7.1 Invalid credentials for relay [203.0.113.5]. The IP address you've registered in your G Suite "
        b"SMTP Relay service doesn't match domain of the account this email is being sent from.\r\n"),
     "HINT_GOOGLE_RELAY_DENIED"),
    ("ses not verified", SES, "AKIAEXAMPLE", after_auth(b"235 Authentication successful.\r\n") + after_data(
        b"554 Message rejected: Email address is not verified. The following identities failed the check in region "
        b"US-EAST-1: jane@example.com\r\n"), "HINT_SES_NOT_VERIFIED"),
    ("ses credentials", SES, "AKIAEXAMPLE", after_auth(b"535 Authentication Credentials Invalid\r\n"),
     "HINT_SES_CREDENTIALS"),
    ("sendgrid sender identity", SENDGRID, "apikey", after_auth(b"235 Authentication successful\r\n") + after_data(
        b"550 The from address does not match a verified Sender Identity. Mail cannot be sent until this error is "
        b"resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender "
        b"Identity requirements\r\n"), "HINT_SENDGRID_SENDER_IDENTITY"),
    ("sendgrid user not apikey", SENDGRID, "jane@example.com", after_auth(
        b"535 Authentication failed: Bad username / password\r\n"), "HINT_SENDGRID_APIKEY_USER"),
    ("mailgun credentials", MAILGUN, "jane@example.com", after_auth(
        b"535 5.7.0 Mailgun is not loving your login or password\r\n"), "HINT_MAILGUN_CREDENTIALS"),
    ("mailgun sandbox", MAILGUN, None, at_rcpt(
        b"550 5.7.1 Sandbox subdomains are for test purposes only. Please add your own domain or add the address to "
        b"authorized recipients in Account Settings.\r\n"), "HINT_MAILGUN_AUTHORIZED_RECIPIENTS"),
    ("postfix relay", POSTFIX, None, at_rcpt(b"554 5.7.1 <test@example.org>: Relay access denied\r\n"),
     "HINT_RELAY_DENIED"),
    ("exim relay", EXIM, None, at_rcpt(b"550 relay not permitted\r\n"), "HINT_RELAY_DENIED"),
    ("postfix sender not owned", POSTFIX, "alice", after_auth(b"235 2.7.0 Authentication successful\r\n") + at_mail(
        b"553 5.7.1 <jane@example.com>: Sender address rejected: not owned by user alice\r\n"), "HINT_SENDER_NOT_OWNED"),
]


def catalog(lang):
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), comment_prefixes=(";",),
                                       inline_comment_prefixes=None)
    parser.optionxform = str
    with open(os.path.join(CATALOGS, f"{lang}.ini"), encoding="utf-8") as f:
        parser.read_file(f)
    return parser


class ProviderHints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.texts = {lang: catalog(lang) for lang in LANGUAGES}
        cls.server = Server("users.alice=" + hash_of("pw"), *SETTINGS)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def expected(self, lang, key, port):
        text = self.texts[lang]["hints"][key]
        return text.replace("{uri}", "smtps://127.0.0.1:465")  # HINT_STARTTLS_FIRST's, the only {uri} here

    def run_case(self, greeting, user, steps, hint):
        name = greeting.split(b" ")[1]
        server = Scripted([(None, greeting), (b"EHLO", EHLO % name)] + steps)
        try:
            userinfo = f"{urllib.parse.quote(user, safe='')}:secret-pw@" if user else ""
            uri = f"smtp://{userinfo}127.0.0.1:{server.port}"
            body = json.dumps({"SmtpUri": uri, "From": "jane@example.com"})
            for lang in LANGUAGES:
                want = self.expected(lang, hint, server.port)
                # probe
                out = subprocess.run([SMTPCHECK, "probe", uri, "--from", "jane@example.com", "--json", "--language", lang]
                                     + sum((["--set", s] for s in SETTINGS), []),
                                     capture_output=True, text=True, timeout=30)
                doc = json.loads(out.stdout)
                self.assertIs(doc["Success"], False, out.stdout)
                self.assertEqual(doc["Hint"], want, f"probe {lang}: {json.dumps(doc, indent=1)}")
                self.assertIn(want, doc["ErrorMessage"])
                self.assertNotIn("secret-pw", out.stdout)
                # Diagnose and TestSmtpServer, in the caller's language
                headers = ["Content-Type: application/json", f"SO-Language: {lang}"]
                d = curl(self.server.url + DIAGNOSE, "-u", "alice:pw", method="POST", data=body, headers=headers)
                self.assertEqual(d.status, 200, d.body)
                self.assertEqual(d.json()["Hint"], want, f"Diagnose {lang}")
                self.assertEqual(d.json()["ErrorCode"], doc["ErrorCode"])
                t = curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST", data=body, headers=headers)
                self.assertEqual(t.status, 200, t.body)
                self.assertIs(t.json()["Success"], False)
                self.assertIn(want, t.json()["ErrorMessage"], f"TestSmtpServer {lang}")
        finally:
            server.stop()

    def test_each_provider_case_in_every_language(self):
        for name, greeting, user, steps, hint in CASES:
            with self.subTest(name):
                self.run_case(greeting, user, steps, hint)

    def test_another_servers_535_gets_no_provider_hint(self):
        """Google's words about app passwords belong to Google's 535 5.7.8 only."""
        server = Scripted([(None, POSTFIX), (b"EHLO", EHLO % b"mail.example.net"),
                           (b"AUTH", b"535 5.7.8 Error: authentication failed: authentication failure\r\n")])
        try:
            out = subprocess.run([SMTPCHECK, "probe", f"smtp://jane:pw@127.0.0.1:{server.port}", "--from",
                                  "jane@example.com", "--json"] + sum((["--set", s] for s in SETTINGS), []),
                                 capture_output=True, text=True, timeout=30)
        finally:
            server.stop()
        doc = json.loads(out.stdout)
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_AUTH_FAILED")
        self.assertIsNone(doc["Hint"])

    def test_probe_refuses_an_unknown_language(self):
        out = subprocess.run([SMTPCHECK, "probe", "smtp://127.0.0.1:1", "--from", "jane@example.com", "--language", "tlh"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--language", out.stderr)


if __name__ == "__main__":
    unittest.main()
