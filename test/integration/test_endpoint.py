"""The TestSmtpServer endpoint as a SuperOffice client sees it (SPEC 2.3-2.8), with curl
against the real server and real aiosmtpd (STARTTLS + AUTH)."""

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SMTPCHECK, RawClient, Server, curl, hash_of, metric
from smtp_peers import Aiosmtpd, Pki, Scripted

ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"
DIAGNOSE = "/api/v1/smtpcheck/Diagnose"
XML_DECL = '<?xml version="1.0" encoding="utf-8"?>\n'
XSI = 'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'


class Endpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.smtp = Aiosmtpd(tls=cls.pki.context(cls.pki.server("good")))
        cls.tmp = tempfile.mkdtemp(prefix="smtpcheck-endpoint-")
        cls.creds = os.path.join(cls.tmp, "credentials.json")
        cls.settings = [f"users.alice={hash_of('pw')}", f"smtp.ca_file={cls.pki.ca_file}",
                        "smtp.allow_private_destinations=true", "smtp.allowed_ports=*",
                        f"smtp.credentials_file={cls.creds}", "api.slow_threshold_ms=1500"]
        cls.server = Server(*cls.settings)
        cls.good_uri = f"smtp://demo:demo@127.0.0.1:{cls.smtp.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()
        cls.smtp.stop()
        cls.pki.close()

    def post(self, body, content_type="application/json", path=ROUTE, headers=(), *args):
        hdrs = [f"Content-Type: {content_type}"] if content_type else []
        return curl(self.server.url + path, "-u", "alice:pw", *args, method="POST", data=body,
                    headers=hdrs + list(headers))

    def json_body(self, uri=None, sender="jane@example.com", **extra):
        doc = {"SmtpUri": uri or self.good_uri, "From": sender}
        doc.update(extra)
        return json.dumps(doc)

    # SPEC 2.3: the seven body types
    def test_each_content_type_runs_the_test(self):
        uri, sender = self.good_uri, "jane@example.com"
        bodies = {
            "application/json": self.json_body(),
            "text/json; charset=utf-8": self.json_body(),
            "application/xml": f"<r><SmtpUri>{uri}</SmtpUri><From>{sender}</From></r>",
            "text/xml": f'<a:Req xmlns:a="urn:x"><a:SmtpUri>{uri}</a:SmtpUri><a:From>{sender}</a:From></a:Req>',
            "application/x-www-form-urlencoded": f"SmtpUri={uri}&From={sender}&UseStoredPassword=false",
            "application/merge-patch+json": json.dumps({"smtpuri": uri, "from": sender}),
            "application/json-patch+json": json.dumps([{"op": "replace", "path": "/SmtpUri", "value": uri},
                                                       {"op": "replace", "path": "/from", "value": sender}]),
        }
        before = len(self.smtp.handler.messages)
        for ctype, body in bodies.items():
            with self.subTest(ctype):
                r = self.post(body, ctype)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.body, '{"Success":true,"ErrorMessage":null,"TableRight":null,"FieldProperties":{}}')
        self.assertEqual(len(self.smtp.handler.messages), before + len(bodies))

    def test_an_empty_body_is_the_default_request_and_fails_in_the_result(self):
        r = curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST")
        self.assertEqual(r.status, 200)
        doc = r.json()
        self.assertIs(doc["Success"], False)
        self.assertIn("SMTP URI", doc["ErrorMessage"])

    def test_semantic_errors_are_200_with_success_false(self):
        r = self.post(self.json_body(sender="not-an-address"))
        self.assertEqual(r.status, 200)
        self.assertIn("From address is not valid", r.json()["ErrorMessage"])
        r = self.post(self.json_body(uri="http://mail.example.com"))
        self.assertIn("SMTP URI is not valid", r.json()["ErrorMessage"])

    def test_400_and_415_in_both_formats(self):
        cases = [("application/json", "{not json", 400), ("application/json", "[" * 40 + "]" * 40, 400),
                 ("application/json-patch+json", '[{"op":"test","path":"/From","value":"x"}]', 400),
                 ("application/xml", '<!DOCTYPE r []><r/>', 400),
                 ("application/json", '{"UseStoredPassword":"perhaps"}', 400),
                 ("text/plain", "SmtpUri=x", 415), ("application/json; charset=latin1", "{}", 415)]
        for ctype, body, status in cases:
            with self.subTest(ctype=ctype, body=body[:20]):
                r = self.post(body, ctype)
                self.assertEqual(r.status, status)
                doc = r.json()
                self.assertEqual(list(doc), ["Error", "ErrorType", "ErrorMessage", "ErrorSource"])
                self.assertEqual(doc["ErrorType"], "BadRequest" if status == 400 else "UnsupportedMediaType")
        x = self.post("{bad", "application/json", ROUTE, ["Accept: application/xml"])
        self.assertEqual(x.status, 400)
        self.assertTrue(x.body.startswith(XML_DECL + "<ErrorInfo " + XSI + "><Error>true</Error><ErrorType>BadRequest</ErrorType>"))

    def test_an_unreadable_type_is_refused_before_100_continue(self):
        c = RawClient(self.server.port)
        c.send("POST " + ROUTE + " HTTP/1.1\r\nHost: t\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"
               "Content-Type: text/csv\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 415)
        self.assertNotIn(b"100 Continue", c.buf)

    # SPEC 2.4: negotiation and the two writers
    def test_xml_result_is_the_spec_document(self):
        r = self.post(self.json_body(sender="bad"), "application/json", ROUTE, ["Accept: application/xml"])
        self.assertEqual(r.header("content-type"), "application/xml; charset=utf-8")
        self.assertTrue(r.body.startswith(XML_DECL + f"<SmtpTestResult {XSI}><Success>false</Success><ErrorMessage>"))
        self.assertTrue(r.body.endswith('</ErrorMessage><TableRight i:nil="true"/><FieldProperties/></SmtpTestResult>'))

    def test_negotiation_cases(self):
        cases = {None: "application/json", "text/json": "text/json", "text/xml": "text/xml",
                 "application/json;q=0.2, application/xml;q=0.8": "application/xml", "*/*": "application/json",
                 "text/*": "text/json", "image/png": "application/json",
                 "application/merge-patch+json": "application/merge-patch+json"}
        for accept, expected in cases.items():
            with self.subTest(accept=accept):
                r = self.post(self.json_body(sender="bad"), "application/json", ROUTE,
                              [f"Accept: {accept}"] if accept else [])
                self.assertEqual(r.header("content-type"), expected + "; charset=utf-8")

    # SPEC 2.5
    def test_select(self):
        r = curl(self.server.url + ROUTE + "?$select=success", "-u", "alice:pw", method="POST",
                 data=self.json_body(sender="bad"), headers=["Content-Type: application/json"])
        self.assertEqual(r.body, '{"Success":false,"ErrorMessage":null,"TableRight":null,"FieldProperties":null}')
        r = curl(self.server.url + ROUTE + "?%24select=ErrorMessage,%20Nope", "-u", "alice:pw", method="POST",
                 data=self.json_body(sender="bad"), headers=["Content-Type: application/json", "Accept: text/xml"])
        self.assertIn("<Success i:nil=\"true\"/><ErrorMessage>", r.body)
        self.assertIn('<FieldProperties i:nil="true"/>', r.body)

    # SPEC 2.6
    def test_every_language_and_the_raw_mode(self):
        expected = {"en": "The From address is not valid", "nb": "Avsenderadressen er ikke gyldig",
                    "sv": "Avsändaradressen är inte giltig", "da": "Afsenderadressen er ikke gyldig",
                    "de": "Die Absenderadresse ist ungültig", "nl": "Het afzenderadres is ongeldig",
                    "fr": "L’adresse de l’expéditeur n’est pas valide"}
        for lang, words in expected.items():
            with self.subTest(lang=lang):
                r = self.post(self.json_body(sender="bad"), "application/json", ROUTE, [f"SO-Language: {lang}"])
                self.assertIn(words, r.json()["ErrorMessage"])
        by_accept = {"sv-SE": "Avsändaradressen", "no": "Avsenderadressen", "nn-NO": "Avsenderadressen",
                     "xx, de;q=0.5": "Absenderadresse", "ja": "The From address", "fr;q=0.1, nl;q=0.9": "afzenderadres"}
        for accept, words in by_accept.items():
            with self.subTest(accept=accept):
                r = self.post(self.json_body(sender="bad"), "application/json", ROUTE, [f"Accept-Language: {accept}"])
                self.assertIn(words, r.json()["ErrorMessage"])
        r = self.post(self.json_body(sender="bad"), "application/json", ROUTE,
                      ["SO-Language: de", "Accept-Language: sv"])
        self.assertIn("Absenderadresse", r.json()["ErrorMessage"])
        for raw in ("*", "x"):
            r = self.post(self.json_body(sender="bad"), "application/json", ROUTE, [f"SO-Language: {raw}"])
            self.assertEqual(r.json()["ErrorMessage"], "[SR_SMTP_FROM_INVALID]")

    def test_raw_mode_appends_the_servers_reply(self):
        r = self.post(json.dumps({"SmtpUri": f"smtp://demo:wrong@127.0.0.1:{self.smtp.port}", "From": "j@example.com"}),
                      "application/json", ROUTE, ["SO-Language: *"])
        self.assertTrue(r.json()["ErrorMessage"].startswith("[SR_SMTP_AUTH_FAILED] 535 "), r.body)
        self.assertNotIn("wrong", r.body)

    def test_culture_formats_the_deadline_of_a_timeout(self):
        tarpit = Scripted([(None, None)])
        try:
            uri = f"smtp://127.0.0.1:{tarpit.port}"
            for headers, number in ((["SO-Language: en"], "1,500 ms"), (["SO-Language: sv"], "1 500 ms"),
                                    (["SO-Language: en", "SO-Culture: de"], "1.500 ms")):
                started = time.monotonic()
                r = self.post(self.json_body(uri=uri), "application/json", ROUTE, headers)
                self.assertIn(number, r.json()["ErrorMessage"])
                self.assertLess(time.monotonic() - started, 4)
        finally:
            tarpit.stop()
        self.assertTrue(self.server.wait_for_log("slow SMTP test"))

    def test_an_invalid_time_zone_changes_nothing(self):
        a = self.post(self.json_body(sender="bad"), "application/json", ROUTE, ["SO-TimeZone: Mars/Olympus, x"])
        b = self.post(self.json_body(sender="bad"), "application/json", ROUTE, ["SO-TimeZone: US-NY, includeTZOffset"])
        self.assertEqual((a.status, a.body), (b.status, b.body))

    # SPEC 2.1, 2.8
    def test_get_describes_the_method_without_running_a_test(self):
        before = len(self.smtp.handler.messages)
        r = curl(self.server.url + ROUTE, "-u", "alice:pw")
        self.assertEqual(r.json()["Name"], "TestSmtpServer")
        x = curl(self.server.url + ROUTE, "-u", "alice:pw", headers=["Accept: application/xml"])
        self.assertIn("<Name>TestSmtpServer</Name>", x.body)
        self.assertEqual(len(self.smtp.handler.messages), before)
        self.assertEqual(curl(self.server.url + ROUTE, "-u", "alice:pw", method="DELETE").header("allow"),
                         "GET, HEAD, POST")

    def test_diagnose_in_both_formats(self):
        r = self.post(self.json_body(), "application/json", DIAGNOSE)
        doc = r.json()
        self.assertIs(doc["Success"], True)
        self.assertEqual(doc["Tls"]["Mode"], "starttls")
        self.assertTrue(doc["Transcript"])
        x = self.post(self.json_body(), "application/json", DIAGNOSE, ["Accept: application/xml"])
        self.assertTrue(x.body.startswith(XML_DECL + f"<SmtpTestReport {XSI}><Success>true</Success>"))
        self.assertIn("<Transcript><Item>", x.body)
        s = curl(self.server.url + DIAGNOSE + "?$select=Server/Port", "-u", "alice:pw", method="POST",
                 data=self.json_body(), headers=["Content-Type: application/json"]).json()
        self.assertEqual(s["Server"]["Port"], self.smtp.port)
        self.assertIsNone(s["Server"]["Host"])
        self.assertIsNone(s["Transcript"])

    def test_stored_password_on_and_off(self):
        uri = f"smtp://demo@127.0.0.1:{self.smtp.port}"
        off = self.post(json.dumps({"SmtpUri": uri, "From": "j@example.com", "UseStoredPassword": True}))
        self.assertIn("No password is stored", off.json()["ErrorMessage"])
        subprocess.run([SMTPCHECK, "credentials", "set", uri, "--set", f"smtp.credentials_file={self.creds}"],
                       input="demo\n", text=True, check=True)
        on = self.post(json.dumps({"SmtpUri": uri, "From": "j@example.com", "UseStoredPassword": "true"}))
        self.assertIs(on.json()["Success"], True, on.body)
        without = self.post(json.dumps({"SmtpUri": uri, "From": "j@example.com"}))
        self.assertIs(without.json()["Success"], False)

    def held_test(self, tarpit):
        """A raw connection whose test is in flight, held by `tarpit` after its EHLO."""
        body = self.json_body(uri=f"smtp://127.0.0.1:{tarpit.port}")
        c = RawClient(self.server.port)
        c.send(f"POST {ROUTE} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}")
        deadline = time.monotonic() + 3
        while b"EHLO" not in tarpit.received and time.monotonic() < deadline:
            time.sleep(0.02)
        return c

    def test_a_client_that_disconnects_cancels_its_test(self):
        tarpit = Scripted([(None, b"220 slow\r\n"), (b"EHLO", None)])
        counted = lambda sample: metric(self.server, sample)  # noqa: E731
        timeouts = 'smtpcheck_smtp_tests_total{outcome="SR_SMTP_TIMEOUT"}'
        timeouts_before, cancelled_before = counted(timeouts), counted("smtpcheck_smtp_tests_cancelled_total")
        try:
            c = self.held_test(tarpit)
            self.assertIn(b"EHLO", tarpit.received)
            c.close()
            started = time.monotonic()
            self.assertTrue(tarpit.wait_closed(3))
            self.assertLess(time.monotonic() - started, 1.0)  # at once, not at the 1.5 s deadline
            # /metrics counts it as cancelled, not as an SMTP server's timeout.
            deadline = time.monotonic() + 3
            while counted("smtpcheck_smtp_tests_cancelled_total") == cancelled_before and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(counted("smtpcheck_smtp_tests_cancelled_total"), cancelled_before + 1)
            self.assertEqual(counted(timeouts), timeouts_before)
        finally:
            tarpit.stop()


    def test_a_client_that_half_closes_still_reads_a_whole_answer(self):
        # shutdown(SHUT_WR) after the request reads as a disconnect and cancels the test, but the
        # client may still read: it gets the failure document, not an empty answer.
        tarpit = Scripted([(None, b"220 slow\r\n"), (b"EHLO", None)])
        try:
            c = self.held_test(tarpit)
            c.sock.shutdown(socket.SHUT_WR)
            r = c.read_response()
            c.close()
            self.assertEqual(r.status, 200)
            self.assertIs(r.json()["Success"], False, r.body)
            self.assertTrue(r.json()["ErrorMessage"], r.body)
        finally:
            tarpit.stop()


class Statuses(unittest.TestCase):
    """Each status of SPEC 2.7 with its document, in JSON and in XML."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(f"users.alice={hash_of('pw')}", "server.body_limit=200", "server.header_limit=2048",
                            "api.tests_per_minute_per_user=2", "smtp.allowed_ports=*",
                            "smtp.allow_private_destinations=true")

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def check(self, r, status, error_type, xml=False):
        self.assertEqual(r.status, status)
        if xml:
            self.assertTrue(r.body.startswith(XML_DECL + f"<ErrorInfo {XSI}><Error>true</Error><ErrorType>{error_type}</ErrorType>"),
                            r.body)
        else:
            self.assertEqual(r.json()["ErrorType"], error_type)

    def test_401_403_404_405_413_415_431_in_both_formats(self):
        for xml in (False, True):
            accept = ["Accept: application/xml"] if xml else []
            self.check(curl(self.server.url + ROUTE, method="POST", headers=accept), 401, "Unauthorized", xml)
            self.check(curl(self.server.url + "/nope", headers=accept), 404, "NotFound", xml)
            self.check(curl(self.server.url + ROUTE, "-u", "alice:pw", method="PUT", headers=accept), 405,
                       "MethodNotAllowed", xml)
            self.check(curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST", data="x" * 500,
                            headers=accept + ["Content-Type: application/json"]), 413, "PayloadTooLarge", False)
            self.check(curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST", data="a,b",
                            headers=accept + ["Content-Type: text/csv"]), 415, "UnsupportedMediaType", xml)
            self.check(curl(self.server.url + ROUTE, headers=accept + ["X-Big: " + "b" * 3000]), 431,
                       "RequestHeaderFieldsTooLarge", False)

    def test_error_documents_are_localized_like_error_message(self):
        r = curl(self.server.url + "/nope", headers=["SO-Language: sv"])
        self.assertEqual(r.json()["ErrorMessage"], "Ingen resurs matchar begäran.")
        r = curl(self.server.url + ROUTE, headers=["Accept-Language: de-CH", "Accept: application/xml"])
        self.assertIn("<ErrorMessage>Eine Anmeldung ist erforderlich.</ErrorMessage>", r.body)
        r = curl(self.server.url + ROUTE, method="PUT", headers=["SO-Language: x"])
        self.assertEqual(r.json()["ErrorMessage"], "[SR_ERROR_MethodNotAllowed]")
        r = curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST", data="a,b",
                 headers=["Content-Type: text/csv", "SO-Language: nl"])
        self.assertTrue(r.json()["ErrorMessage"].startswith("Het inhoudstype van het verzoek wordt niet ondersteund"))

    def test_429_per_user_limit(self):
        body = json.dumps({"SmtpUri": "smtp://127.0.0.1:1", "From": "bad"})
        statuses = [curl(self.server.url + ROUTE, "-u", "alice:pw", method="POST", data=body,
                         headers=["Content-Type: application/json"]) for _ in range(3)]
        self.assertEqual([r.status for r in statuses], [200, 200, 429])
        self.assertTrue(int(statuses[2].header("retry-after")) >= 1)
        self.assertEqual(statuses[2].json()["ErrorType"], "TooManyRequests")

    def test_403_for_a_missing_required_app_token(self):
        with Server(f"users.alice={hash_of('pw')}", "auth.app_tokens=t1", "auth.require_app_token=true") as s:
            self.check(curl(s.url + ROUTE, "-u", "alice:pw", headers=["Accept: text/xml"]), 403, "Forbidden", True)

    def test_503_when_max_concurrent_tests_are_running(self):
        tarpit = Scripted([(None, None)])
        with Server(f"users.alice={hash_of('pw')}", "api.max_concurrent_tests=1", "smtp.allowed_ports=*",
                    "smtp.allow_private_destinations=true", "api.slow_threshold_ms=2000") as s:
            body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{tarpit.port}", "From": "j@example.com"})
            slow = threading.Thread(target=lambda: curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data=body,
                                                        headers=["Content-Type: application/json"]))
            slow.start()
            deadline = time.monotonic() + 5  # until the slow test is really in flight
            while "smtpcheck_smtp_tests_in_flight 1" not in curl(s.url + "/metrics").body:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            r = curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data=body,
                     headers=["Content-Type: application/json", "Accept: application/xml"])
            slow.join()
            self.check(r, 503, "ServiceUnavailable", True)
            self.assertEqual(r.header("retry-after"), "1")
        tarpit.stop()


if __name__ == "__main__":
    unittest.main()


class Cors(unittest.TestCase):
    def test_preflight_and_matching_origins_only(self):
        with Server(f"users.alice={hash_of('pw')}", "server.cors_origins=https://app.example") as s:
            pre = curl(s.url + ROUTE, method="OPTIONS",
                       headers=["Origin: https://app.example", "Access-Control-Request-Method: POST",
                                "Access-Control-Request-Headers: authorization, so-language"])
            self.assertEqual(pre.status, 204)  # no authentication for a preflight
            self.assertEqual(pre.header("access-control-allow-origin"), "https://app.example")
            self.assertEqual(pre.header("access-control-allow-credentials"), "true")
            self.assertIn("POST", pre.header("access-control-allow-methods"))
            for h in ("Authorization", "Content-Type", "Accept", "X-XSRF-TOKEN", "SO-Language", "SO-AppToken"):
                self.assertIn(h, pre.header("access-control-allow-headers"))
            self.assertEqual(pre.header("vary"), "Origin")
            ok = curl(s.url + ROUTE, "-u", "alice:pw", headers=["Origin: https://app.example"])
            self.assertEqual(ok.header("access-control-allow-origin"), "https://app.example")
            other = curl(s.url + ROUTE, "-u", "alice:pw", headers=["Origin: https://evil.example"])
            self.assertIsNone(other.header("access-control-allow-origin"))
            other_pre = curl(s.url + ROUTE, method="OPTIONS", headers=["Origin: https://evil.example"])
            self.assertEqual(other_pre.status, 204)
            self.assertIsNone(other_pre.header("access-control-allow-methods"))

    def test_a_wildcard_admits_any_origin_without_credentials(self):
        # issue 11: "*" reflected any Origin together with Allow-Credentials: true.
        with Server(f"users.alice={hash_of('pw')}", "server.cors_origins=https://app.example,*") as s:
            listed = curl(s.url + ROUTE, "-u", "alice:pw", headers=["Origin: https://app.example"])
            self.assertEqual(listed.header("access-control-allow-origin"), "https://app.example")
            self.assertEqual(listed.header("access-control-allow-credentials"), "true")
            other = curl(s.url + ROUTE, "-u", "alice:pw", headers=["Origin: https://evil.example"])
            self.assertEqual(other.header("access-control-allow-origin"), "*")
            self.assertIsNone(other.header("access-control-allow-credentials"))

    def test_cors_is_off_by_default(self):
        with Server(f"users.alice={hash_of('pw')}") as s:
            r = curl(s.url + ROUTE, "-u", "alice:pw", headers=["Origin: https://app.example"])
            self.assertIsNone(r.header("access-control-allow-origin"))
            self.assertIsNone(r.header("vary"))


class BasePath(unittest.TestCase):
    def test_api_routes_move_under_base_path_and_the_root_routes_stay(self):
        with Server(f"users.alice={hash_of('pw')}", "server.base_path=/Cust12345") as s:
            body = json.dumps({"SmtpUri": "smtp://127.0.0.1:25", "From": "bad"})
            r = curl(s.url + "/cust12345" + ROUTE, "-u", "alice:pw", method="POST", data=body,
                     headers=["Content-Type: application/json"])
            self.assertEqual(r.status, 200)
            self.assertIs(r.json()["Success"], False)
            self.assertEqual(curl(s.url + "/Cust12345" + DIAGNOSE, "-u", "alice:pw", method="POST", data=body,
                                  headers=["Content-Type: application/json"]).status, 200)
            self.assertEqual(curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data=body,
                                  headers=["Content-Type: application/json"]).status, 404)
            for root in ("/healthz", "/readyz", "/metrics"):
                self.assertEqual(curl(s.url + root).status, 200)
            self.assertEqual(curl(s.url + "/Cust12345/healthz").status, 404)


class Demo(unittest.TestCase):
    def test_serve_demo_prints_a_command_that_succeeds(self):
        import re
        import shlex
        proc = subprocess.Popen([SMTPCHECK, "serve", "--demo", "--set", "server.listen=127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            out = ""
            deadline = time.monotonic() + 15
            while "TestSmtpServer" not in out and time.monotonic() < deadline:
                out += proc.stdout.readline()
            command = re.search(r"(curl .*TestSmtpServer)", out.replace("\\\n", " "), re.S).group(1)
            args = shlex.split(command)
            result = subprocess.run(args, capture_output=True, text=True, timeout=20)
            self.assertEqual(result.stdout,
                             '{"Success":true,"ErrorMessage":null,"TableRight":null,"FieldProperties":{}}')
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(15), 0)


class Metrics(unittest.TestCase):
    def test_metrics_count_requests_tests_and_connections_without_authentication(self):
        with Server(f"users.alice={hash_of('pw')}") as s:
            curl(s.url + "/healthz")
            curl(s.url + "/nope?secret=hunter2")
            curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data='{"From":"x"}',
                 headers=["Content-Type: application/json"])
            curl(s.url + ROUTE, method="POST")
            idle = RawClient(s.port)  # one open connection besides the scrape's own
            r = curl(s.url + "/metrics")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("content-type").startswith("text/plain; version=0.0.4"))
            text = r.body
            self.assertIn('smtpcheck_http_requests_total{route="/healthz",status="200"} 1', text)
            self.assertIn('smtpcheck_http_requests_total{route="(none)",status="404"} 1', text)
            self.assertIn(f'smtpcheck_http_requests_total{{route="{ROUTE}",status="200"}} 1', text)
            self.assertIn(f'smtpcheck_http_requests_total{{route="{ROUTE}",status="401"}} 1', text)
            self.assertIn('smtpcheck_smtp_tests_total{outcome="SR_SMTP_URI_INVALID"} 1', text)
            self.assertIn(f'smtpcheck_http_request_duration_seconds_count{{route="{ROUTE}"}} 2', text)
            self.assertIn('le="+Inf"', text)
            self.assertIn("smtpcheck_smtp_tests_in_flight 0", text)
            self.assertIn("smtpcheck_http_open_connections 2", text)
            self.assertNotIn("hunter2", text)
            idle.close()
