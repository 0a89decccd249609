"""`smtpcheck probe` against real SMTP servers on 127.0.0.1 (SPEC 3): aiosmtpd with STARTTLS,
implicit TLS and AUTH, Postfix's smtp-sink, and scripted servers for the faults. Every
outcome code that can be provoked locally is provoked here, with its phase and reply."""

import base64
import json
import os
import ssl
import subprocess
import unittest

from smtp_peers import Aiosmtpd, Pki, Scripted, SmtpSink

SMTPCHECK = os.environ.get("SMTPCHECK", "../../build/server/smtpcheck")
LOOPBACK = ["--set", "smtp.allow_private_destinations=true", "--set", "smtp.allowed_ports=*",
            "--set", "smtp.dns_servers=127.0.0.1:9"]  # loopback only (harness.LOCAL_DNS)
EXIT = {"SR_SMTP_URI_INVALID": 10, "SR_SMTP_FROM_INVALID": 11, "SR_SMTP_NO_STORED_PASSWORD": 12,
        "SR_SMTP_DESTINATION_BLOCKED": 13,
        "SR_SMTP_DNS_FAILED": 14, "SR_SMTP_CONNECT_FAILED": 15, "SR_SMTP_TIMEOUT": 16,
        "SR_SMTP_GREETING_REJECTED": 17, "SR_SMTP_TLS_UNAVAILABLE": 18, "SR_SMTP_TLS_FAILED": 19,
        "SR_SMTP_TLS_CERT_INVALID": 20, "SR_SMTP_AUTH_UNAVAILABLE": 21, "SR_SMTP_AUTH_INSECURE": 22,
        "SR_SMTP_AUTH_FAILED": 23, "SR_SMTP_SENDER_REJECTED": 24, "SR_SMTP_RECIPIENT_REJECTED": 25,
        "SR_SMTP_MESSAGE_REJECTED": 26, "SR_SMTP_PROTOCOL_ERROR": 27, "SR_SMTP_CONNECTION_LOST": 28}


def probe(uri, *args, sender="jane@example.com", loopback=True):
    cmd = [SMTPCHECK, "probe", uri, "--from", sender, "--json"] + (LOOPBACK if loopback else []) + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    doc = json.loads(out.stdout) if out.stdout.strip() else None
    return out.returncode, doc


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.good = cls.pki.server("good")

    @classmethod
    def tearDownClass(cls):
        cls.pki.close()

    def expect_failure(self, rc, doc, code, phase):
        self.assertEqual(doc["ErrorCode"], code, json.dumps(doc, indent=1))
        self.assertEqual(doc["Phase"], phase)
        self.assertIs(doc["Success"], False)
        self.assertEqual(rc, EXIT[code])
        self.assertTrue(doc["ErrorMessage"])

    def no_secret_in(self, doc, *secrets):
        text = json.dumps(doc)
        for s in secrets:
            self.assertNotIn(s, text)


class Success(Base):
    def test_starttls_and_auth_plain_deliver_one_well_formed_message(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp://demo:demo@127.0.0.1:{server.port}", "--ca-file", self.pki.ca_file)
        finally:
            server.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertIs(doc["Success"], True)
        self.assertIsNone(doc["ErrorCode"])
        self.assertIsNone(doc["ErrorMessage"])
        self.assertEqual(doc["Tls"]["Mode"], "starttls")
        self.assertIs(doc["Tls"]["Verified"], True)
        self.assertIn("127.0.0.1", doc["Tls"]["Certificate"]["SubjectAltNames"])
        self.assertEqual(doc["Auth"], {"Mechanism": "PLAIN", "Succeeded": True})
        self.assertEqual(doc["Server"]["Address"], "127.0.0.1")
        self.assertTrue(doc["Server"]["Greeting"].startswith("220 "))
        # Extensions are those of the EHLO the session used (after STARTTLS); the first
        # EHLO's offer of STARTTLS is in the transcript.
        self.assertIn("AUTH LOGIN PLAIN", doc["Server"]["Extensions"])
        self.assertIn("250-STARTTLS", [l["Line"] for l in doc["Transcript"]])
        self.assertEqual([t["Phase"] for t in doc["Timings"]][:4], ["validate", "resolve", "connect", "greeting"])
        lines = [l["Line"] for l in doc["Transcript"]]
        self.assertIn("STARTTLS", lines)
        self.assertIn("AUTH PLAIN ***", lines)
        self.no_secret_in(doc, base64.b64encode(b"\0demo\0demo").decode(), ":demo@")

        self.assertEqual(len(server.handler.messages), 1)
        self.assertEqual(server.handler.envelopes[0], ("jane@example.com", ["smtp-test@superoffice.com"]))
        m = server.handler.messages[0]
        for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type"):
            self.assertIsNotNone(m[h], h)
        self.assertEqual(m["Auto-Submitted"], "auto-generated")
        self.assertEqual(m["X-Auto-Response-Suppress"], "All")
        self.assertTrue(m["Message-ID"].endswith("@example.com>"))
        self.assertEqual(m["Content-Type"], "text/plain; charset=utf-8")
        body = m.get_payload()
        self.assertIn("jane@example.com", body)
        self.assertIn("Test id:", body)
        self.assertNotIn("demo", body)

    def test_auth_login_when_chosen(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp+starttls://demo;AUTH=LOGIN:demo@127.0.0.1:{server.port}", "--ca-file",
                            self.pki.ca_file)
        finally:
            server.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertEqual(doc["Auth"]["Mechanism"], "LOGIN")
        self.assertEqual(len(server.handler.messages), 1)

    def test_implicit_tls(self):
        # aiosmtpd does not count implicit TLS for auth_require_tls; the session is TLS anyway.
        server = Aiosmtpd(implicit=self.pki.context(self.good), auth_require_tls=False)
        try:
            rc, doc = probe(f"smtps://demo:demo@127.0.0.1:{server.port}", "--ca-file", self.pki.ca_file)
        finally:
            server.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertEqual(doc["Tls"]["Mode"], "implicit")
        self.assertEqual(len(server.handler.messages), 1)

    def test_smtp_sink_plain(self):
        sink = SmtpSink()
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{sink.port}")
        finally:
            sink.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertIsNone(doc["Tls"])
        self.assertIn("PIPELINING", doc["Server"]["Extensions"])
        # PIPELINING: MAIL, RCPT and DATA went out together.
        lines = [l for l in doc["Transcript"] if l["Dir"] == "C"]
        i = [l["Line"] for l in lines].index("DATA")
        self.assertEqual(lines[i - 1]["Ms"], lines[i]["Ms"])

    def test_no_send_stops_after_rcpt(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", "--ca-file", self.pki.ca_file, "--no-send")
        finally:
            server.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertEqual(server.handler.messages, [])
        self.assertIn("RSET", [l["Line"] for l in doc["Transcript"]])

    def test_unverified_certificate_is_reported_when_verification_is_off(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", "--set", "smtp.tls_verify=false")
        finally:
            server.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertIs(doc["Tls"]["Verified"], False)
        self.assertIn("unknown authority", doc["Tls"]["VerifyError"])

    def test_readable_report_and_transcript(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            out = subprocess.run([SMTPCHECK, "probe", f"smtp://demo:demo@127.0.0.1:{server.port}", "--from",
                                  "jane@example.com", "--ca-file", self.pki.ca_file, "--transcript"] + LOOPBACK,
                                 capture_output=True, text=True, timeout=30)
        finally:
            server.stop()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("OK", out.stdout)
        self.assertIn("C: AUTH PLAIN ***", out.stdout)
        self.assertIn("S: 235", out.stdout)
        self.assertNotIn("AGRlbW8AZGVtbw==", out.stdout)


class TlsFailures(Base):
    def run_against(self, cert_key, *args, uri_host="127.0.0.1"):
        server = Aiosmtpd(tls=self.pki.context(cert_key))
        try:
            return probe(f"smtp+starttls://{uri_host}:{server.port}", *args)
        finally:
            server.stop()

    def test_unknown_issuer(self):
        rc, doc = self.run_against(self.good)
        self.expect_failure(rc, doc, "SR_SMTP_TLS_CERT_INVALID", "starttls")
        self.assertIn("unknown authority", doc["ErrorMessage"])

    def test_self_signed(self):
        rc, doc = self.run_against(self.pki.server("selfsigned", self_signed=True), "--ca-file", self.pki.ca_file)
        self.expect_failure(rc, doc, "SR_SMTP_TLS_CERT_INVALID", "starttls")
        self.assertIn("self-signed", doc["ErrorMessage"])

    def test_name_mismatch(self):
        rc, doc = self.run_against(self.pki.server("other", sans=("other.example",), ips=()), "--ca-file",
                                   self.pki.ca_file)
        self.expect_failure(rc, doc, "SR_SMTP_TLS_CERT_INVALID", "starttls")
        self.assertIn("does not match", doc["ErrorMessage"])

    def test_expired(self):
        rc, doc = self.run_against(self.pki.server("expired", days_valid=(-10, -1)), "--ca-file", self.pki.ca_file)
        self.expect_failure(rc, doc, "SR_SMTP_TLS_CERT_INVALID", "starttls")
        self.assertIn("expired", doc["ErrorMessage"])

    def test_starttls_required_but_not_offered(self):
        server = Aiosmtpd(auth=False)
        try:
            rc, doc = probe(f"smtp+starttls://127.0.0.1:{server.port}")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_TLS_UNAVAILABLE", "starttls")
        self.assertEqual(server.handler.messages, [])

    def test_smtps_to_a_plaintext_server_says_which_uri_to_try(self):
        server = Aiosmtpd(auth=False)
        try:
            rc, doc = probe(f"smtps://127.0.0.1:{server.port}")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_TLS_FAILED", "starttls")
        self.assertIn(f"smtp+starttls://127.0.0.1:{server.port}", doc["Hint"])
        # No handshake happened: the report says only that TLS was tried (issue 10).
        self.assertEqual(doc["Tls"]["Mode"], "implicit")
        self.assertIsNone(doc["Tls"]["Version"], doc["Tls"])
        self.assertIsNone(doc["Tls"]["Cipher"], doc["Tls"])
        self.assertIs(doc["Tls"]["Verified"], False)
        self.assertIsNone(doc["Tls"]["Certificate"])

    def test_a_starttls_handshake_that_fails_reports_no_version_cipher_or_verification(self):
        server = Scripted([(None, b"220 x ESMTP\r\n"), (b"EHLO", b"250-x\r\n250 STARTTLS\r\n"),
                           (b"STARTTLS", b"220 go ahead\r\n"), (None, b"this is not a TLS record\r\n" * 4)])
        try:
            rc, doc = probe(f"smtp+starttls://127.0.0.1:{server.port}")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_TLS_FAILED", "starttls")
        self.assertEqual(doc["Tls"]["Mode"], "starttls")
        self.assertIsNone(doc["Tls"]["Version"], doc["Tls"])
        self.assertIsNone(doc["Tls"]["Cipher"], doc["Tls"])
        self.assertIs(doc["Tls"]["Verified"], False)

    def test_smtp_to_an_implicit_tls_server_says_which_uri_to_try(self):
        server = Aiosmtpd(implicit=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", "--timeout-ms", "1000")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_TIMEOUT", "greeting")
        self.assertIn(f"smtps://127.0.0.1:{server.port}", doc["Hint"])


class AuthFailures(Base):
    def test_wrong_password(self):
        server = Aiosmtpd(tls=self.pki.context(self.good))
        try:
            rc, doc = probe(f"smtp://demo:wrong@127.0.0.1:{server.port}", "--ca-file", self.pki.ca_file)
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_AUTH_FAILED", "auth")
        self.assertEqual(doc["Reply"]["Code"], 535)
        self.assertEqual(doc["Auth"], {"Mechanism": "PLAIN", "Succeeded": False})
        self.no_secret_in(doc, "wrong")
        self.assertEqual(server.handler.messages, [])

    def test_credentials_are_not_sent_in_plaintext(self):
        server = Aiosmtpd(auth=True, auth_require_tls=False)
        try:
            rc, doc = probe(f"smtp://demo:demo@127.0.0.1:{server.port}")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_AUTH_INSECURE", "auth")
        self.assertFalse(any(l["Line"].startswith("AUTH") for l in doc["Transcript"]))

    def test_no_auth_offered(self):
        # aiosmtpd always offers AUTH, so a scripted server plays one that offers none.
        server = Scripted([(None, b"220 scripted\r\n"), (b"EHLO", b"250-scripted\r\n250 8BITMIME\r\n")])
        try:
            rc, doc = probe(f"smtp://demo:demo@127.0.0.1:{server.port}", "--set", "smtp.allow_plaintext_auth=true")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_AUTH_UNAVAILABLE", "auth")
        self.assertNotIn(b"AUTH", server.received)


class EnvelopeRefusals(Base):
    def test_sender_refused(self):
        server = Aiosmtpd(auth=False)
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", sender="someone@refused.example")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_SENDER_REJECTED", "mail")
        self.assertEqual(doc["Reply"], {"Code": 553, "EnhancedCode": "5.7.1", "Text": "Sender address rejected"})

    def test_relay_denied(self):
        server = Aiosmtpd(auth=False)
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", "--to", "someone@elsewhere.example")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_RECIPIENT_REJECTED", "rcpt")
        self.assertEqual(doc["Reply"]["EnhancedCode"], "5.7.1")
        self.assertIn("554 5.7.1 Relay access denied", doc["ErrorMessage"])


class Faults(Base):
    GREETING = b"220 scripted ESMTP\r\n"
    EHLO = b"250-scripted\r\n250 8BITMIME\r\n"

    def scripted(self, script, *args):
        server = Scripted(script)
        try:
            return probe(f"smtp://127.0.0.1:{server.port}", *args) + (server,)
        finally:
            server.stop()

    def test_greeting_rejected(self):
        rc, doc, _ = self.scripted([(None, b"554 5.3.2 Not accepting connections\r\n")])
        self.expect_failure(rc, doc, "SR_SMTP_GREETING_REJECTED", "greeting")
        self.assertEqual(doc["Reply"]["Code"], 554)

    def test_message_refused(self):
        rc, doc, _ = self.scripted([(None, self.GREETING), (b"EHLO", self.EHLO), (b"MAIL", b"250 ok\r\n"),
                                    (b"RCPT", b"250 ok\r\n"), (b"DATA", b"354 go\r\n"),
                                    (b".", b"552 5.3.4 Message size exceeds fixed limit\r\n")])
        self.expect_failure(rc, doc, "SR_SMTP_MESSAGE_REJECTED", "data")

    def test_garbage_is_a_protocol_error(self):
        rc, doc, _ = self.scripted([(None, b"HELLO THERE, I AM NOT SMTP\r\n")])
        self.expect_failure(rc, doc, "SR_SMTP_PROTOCOL_ERROR", "greeting")

    def test_a_huge_reply_line_is_a_protocol_error(self):
        rc, doc, _ = self.scripted([(None, self.GREETING), (b"EHLO", b"250-" + b"x" * 10000 + b"\r\n")])
        self.expect_failure(rc, doc, "SR_SMTP_PROTOCOL_ERROR", "ehlo")
        self.assertIn("4096", doc["ErrorMessage"])
        for line in doc["Transcript"]:
            self.assertLessEqual(len(line["Line"]), 520)

    def test_connection_lost_mid_dialog(self):
        rc, doc, _ = self.scripted([(None, self.GREETING), (b"EHLO", self.EHLO), (b"MAIL", "close")])
        self.expect_failure(rc, doc, "SR_SMTP_CONNECTION_LOST", "mail")

    def test_a_tarpit_hits_the_deadline_and_names_the_phase(self):
        rc, doc, _ = self.scripted([(None, self.GREETING), (b"EHLO", None)], "--timeout-ms", "700")
        self.expect_failure(rc, doc, "SR_SMTP_TIMEOUT", "ehlo")
        self.assertLess(doc["TotalMs"], 3000)


class Warnings(Base):
    """Issue 15: findings that do not fail the test, in the report's Warnings."""

    def warned(self, doc, code):
        return [w["Message"] for w in doc["Warnings"] if w["Code"] == code]

    def starttls_probe(self, context, uri_scheme="smtp+starttls", *args):
        server = Aiosmtpd(tls=context)
        try:
            return probe(f"{uri_scheme}://demo:demo@127.0.0.1:{server.port}", "--ca-file", self.pki.ca_file, *args)
        finally:
            server.stop()

    def test_a_certificate_that_expires_in_10_days_is_a_warning_not_a_failure(self):
        rc, doc = self.starttls_probe(self.pki.context(self.pki.server("soon", days_valid=(-1, 10))))
        self.assertEqual((rc, doc["Success"]), (0, True), json.dumps(doc, indent=1))
        # 10 days to the second when the test runs within the certificate's second, else 9 and more
        [message] = self.warned(doc, "W_CERT_EXPIRES_SOON")
        self.assertRegex(message, r"^The certificate of 127\.0\.0\.1 expires in (9|10) days: renew it before then\.$")
        rc, doc = self.starttls_probe(self.pki.context(self.pki.server("later", days_valid=(-1, 90))))
        self.assertEqual(self.warned(doc, "W_CERT_EXPIRES_SOON"), [])

    def test_tls_1_2_with_rsa_key_exchange_has_no_forward_secrecy(self):
        context = self.pki.context(self.pki.server("rsa", rsa=True, days_valid=(-1, 90)))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("AES128-GCM-SHA256")
        rc, doc = self.starttls_probe(context)
        self.assertEqual((rc, doc["Success"]), (0, True), json.dumps(doc, indent=1))
        self.assertEqual((doc["Tls"]["Version"], doc["Tls"]["Cipher"]), ("TLSv1.2", "AES128-GCM-SHA256"))
        [message] = self.warned(doc, "W_TLS_NO_FORWARD_SECRECY")
        self.assertIn("AES128-GCM-SHA256", message)
        self.assertEqual(self.warned(doc, "W_TLS_WEAK_CIPHER"), [])

    def test_tls_1_2_with_a_cbc_cipher_is_weak(self):
        context = self.pki.context(self.pki.server("cbc", days_valid=(-1, 90)))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
        rc, doc = self.starttls_probe(context)
        self.assertEqual((rc, doc["Success"]), (0, True), json.dumps(doc, indent=1))
        [message] = self.warned(doc, "W_TLS_WEAK_CIPHER")
        self.assertIn("ECDHE-ECDSA-AES128-SHA256", message)
        self.assertEqual(self.warned(doc, "W_TLS_NO_FORWARD_SECRECY"), [])

    def test_tls_1_3_with_a_fresh_certificate_has_no_tls_warning(self):
        rc, doc = self.starttls_probe(self.pki.context(self.pki.server("fine", days_valid=(-1, 90))))
        self.assertEqual(doc["Tls"]["Version"], "TLSv1.3")
        self.assertEqual([w for w in doc["Warnings"] if w["Code"].startswith(("W_TLS", "W_CERT"))], [])

    def test_smtp_that_upgraded_only_because_offered_while_auth_needs_tls(self):
        context = self.pki.context(self.pki.server("upgrade", days_valid=(-1, 90)))
        rc, doc = self.starttls_probe(context, "smtp")  # aiosmtpd offers AUTH only after STARTTLS
        self.assertEqual((rc, doc["Success"], doc["Tls"]["Mode"]), (0, True, "starttls"), json.dumps(doc, indent=1))
        [message] = self.warned(doc, "W_STARTTLS_NOT_REQUIRED")
        self.assertIn("smtp+starttls://127.0.0.1:", message)
        rc, doc = self.starttls_probe(context, "smtp+starttls")
        self.assertEqual(self.warned(doc, "W_STARTTLS_NOT_REQUIRED"), [])

    def test_a_greeting_name_outside_the_hosts_domain(self):
        server = Aiosmtpd(auth=False, server_hostname="mail.example.net")
        try:
            rc, doc = probe(f"smtp://localhost:{server.port}", "--language", "de")
        finally:
            server.stop()
        self.assertEqual((rc, doc["Success"]), (0, True), json.dumps(doc, indent=1))
        [message] = self.warned(doc, "W_GREETING_NAME_MISMATCH")
        self.assertIn("mail.example.net", message)
        self.assertNotIn("greets", message)  # German words, not English
        server = Aiosmtpd(auth=False, server_hostname="localhost")
        try:
            rc, doc = probe(f"smtp://localhost:{server.port}")
        finally:
            server.stop()
        self.assertEqual(self.warned(doc, "W_GREETING_NAME_MISMATCH"), [])

    def test_a_message_accepted_without_auth_from_a_foreign_domain_may_be_an_open_relay(self):
        server = Aiosmtpd(auth=False, server_hostname="localhost")
        try:
            rc, doc = probe(f"smtp://localhost:{server.port}")
            self.assertEqual((rc, doc["Success"]), (0, True), json.dumps(doc, indent=1))
            [message] = self.warned(doc, "W_POSSIBLE_OPEN_RELAY")
            self.assertIn("example.com", message)
        finally:
            server.stop()
        # The server's own domain (from its greeting when the host is an address): no warning.
        server = Aiosmtpd(auth=False, server_hostname="mail.example.com")
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}")
        finally:
            server.stop()
        self.assertEqual((rc, doc["Success"]), (0, True))
        self.assertEqual(self.warned(doc, "W_POSSIBLE_OPEN_RELAY"), [])


class RefusedBeforeConnecting(Base):
    def test_crlf_in_from_is_refused_before_any_connection(self):
        server = Scripted([(None, b"220 x\r\n")])
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", sender="jane@example.com\r\nRCPT TO:<x@y.example>")
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_FROM_INVALID", "validate")
        self.assertEqual(server.connections, 0)

    def test_invalid_uri(self):
        rc, doc = probe("http://mail.example.com")
        self.expect_failure(rc, doc, "SR_SMTP_URI_INVALID", "validate")

    def test_loopback_is_blocked_by_default_without_connecting(self):
        server = Scripted([(None, b"220 x\r\n")])
        try:
            rc, doc = probe(f"smtp://127.0.0.1:{server.port}", "--set", "smtp.allowed_ports=*", loopback=False)
        finally:
            server.stop()
        self.expect_failure(rc, doc, "SR_SMTP_DESTINATION_BLOCKED", "resolve")
        self.assertEqual(server.connections, 0)

    def test_a_port_outside_allowed_ports_is_blocked(self):
        rc, doc = probe("smtp://127.0.0.1:8025", "--set", "smtp.allow_private_destinations=true", loopback=False)
        self.expect_failure(rc, doc, "SR_SMTP_DESTINATION_BLOCKED", "resolve")

    def test_an_invalid_name_does_not_resolve(self):
        rc, doc = probe("smtp://no-such-host.invalid")
        self.expect_failure(rc, doc, "SR_SMTP_DNS_FAILED", "resolve")

    def timed_probe(self, uri, *args, loopback=True):
        import time
        started = time.monotonic()
        rc, doc = probe(uri, "--timeout-ms", "10000", *args, loopback=loopback)
        return rc, doc, time.monotonic() - started

    def test_the_probe_exits_at_once_after_a_blocked_destination(self):
        # Before issue 10 the deadline timer stayed armed: the process sat out the 10 s.
        rc, doc, elapsed = self.timed_probe("smtp://169.254.169.254:25", loopback=False)
        self.expect_failure(rc, doc, "SR_SMTP_DESTINATION_BLOCKED", "resolve")
        self.assertLess(elapsed, 3.0)

    def test_the_probe_exits_at_once_after_a_refused_connection(self):
        from smtp_peers import free_port
        rc, doc, elapsed = self.timed_probe(f"smtp://127.0.0.1:{free_port()}")
        self.expect_failure(rc, doc, "SR_SMTP_CONNECT_FAILED", "connect")
        self.assertLess(elapsed, 3.0)

    def test_a_closed_port_is_connect_failed(self):
        from smtp_peers import free_port
        rc, doc = probe(f"smtp://127.0.0.1:{free_port()}")
        self.expect_failure(rc, doc, "SR_SMTP_CONNECT_FAILED", "connect")
        self.assertEqual(doc["Server"]["Tried"][0]["Outcome"], "connect refused")


class StoredPasswords(Base):
    def credentials(self, *args, stdin=None, cwd):
        return subprocess.run([SMTPCHECK, "credentials", *args], input=stdin, capture_output=True, text=True,
                              timeout=20, cwd=cwd)

    def test_set_list_use_and_delete(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            server = Aiosmtpd(tls=self.pki.context(self.good))
            uri = f"smtp://demo@127.0.0.1:{server.port}"
            try:
                r = self.credentials("set", uri, stdin="demo\n", cwd=d)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(os.stat(os.path.join(d, "credentials.json.key")).st_mode & 0o777, 0o600)
                with open(os.path.join(d, "credentials.json")) as f:
                    self.assertNotIn("ZGVtbw", f.read())  # neither the password nor its base64
                listed = self.credentials("list", cwd=d)
                self.assertEqual(listed.stdout, f"demo@127.0.0.1:{server.port}\n")

                def probe_here(u):
                    out = subprocess.run([SMTPCHECK, "probe", u, "--from", "jane@example.com", "--json",
                                          "--use-stored-password", "--ca-file", self.pki.ca_file] + LOOPBACK,
                                         capture_output=True, text=True, timeout=30, cwd=d)
                    return out.returncode, json.loads(out.stdout)

                rc, doc = probe_here(uri)
                self.assertEqual(rc, 0, json.dumps(doc, indent=1))
                self.assertEqual(doc["Auth"], {"Mechanism": "PLAIN", "Succeeded": True})
                # Never for another port or user, and not without a user.
                rc, doc = probe_here(f"smtp://demo@127.0.0.1:{server.port + 1}")
                self.expect_failure(rc, doc, "SR_SMTP_NO_STORED_PASSWORD", "validate")
                rc, doc = probe_here(f"smtp://other@127.0.0.1:{server.port}")
                self.expect_failure(rc, doc, "SR_SMTP_NO_STORED_PASSWORD", "validate")
                rc, doc = probe_here(f"smtp://127.0.0.1:{server.port}")
                self.expect_failure(rc, doc, "SR_SMTP_NO_STORED_PASSWORD", "validate")

                self.assertEqual(self.credentials("delete", uri, cwd=d).returncode, 0)
                rc, doc = probe_here(uri)
                self.expect_failure(rc, doc, "SR_SMTP_NO_STORED_PASSWORD", "validate")
            finally:
                server.stop()

    def test_a_password_in_the_uri_is_refused(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            r = self.credentials("set", "smtp://demo:demo@h.example", stdin="x\n", cwd=d)
            self.assertEqual(r.returncode, 2)
            self.assertIn("stdin", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "credentials.json")))

    def test_concurrent_writers_lose_nothing(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            procs = [subprocess.Popen([SMTPCHECK, "credentials", "set", f"smtp://user{i}@h.example"],
                                      stdin=subprocess.PIPE, cwd=d) for i in range(16)]
            for p in procs:
                p.communicate(b"pw\n", timeout=20)
                self.assertEqual(p.returncode, 0)
            listed = self.credentials("list", cwd=d).stdout.split()
            self.assertEqual(sorted(listed), sorted(f"user{i}@h.example:25" for i in range(16)))


if __name__ == "__main__":
    unittest.main()
