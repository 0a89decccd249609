"""GET /openapi.json (issue 13, part 1): the OpenAPI 3.1 document of every route. A real
validator (@redocly/cli, installed by scripts/install-deps from test/openapi's lockfile) passes
it; real responses of the running server validate against its schemas (python3-jsonschema);
every documented operation exists and every path allows exactly the documented methods, so the
document cannot drift from the route table."""

import json
import os
import socket
import subprocess
import threading
import unittest

import jsonschema

from harness import Server, curl, hash_of
from smtp_peers import Aiosmtpd

HERE = os.path.dirname(os.path.abspath(__file__))
REDOCLY = os.path.join(HERE, "..", "openapi", "node_modules", ".bin", "redocly")
BASE = "/Cust12345"
ROUTE = BASE + "/api/v1/Agents/CustomerService/TestSmtpServer"
DIAGNOSE = BASE + "/api/v1/smtpcheck/Diagnose"


class OpenApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = Aiosmtpd(auth=False)
        cls.server = Server(f"server.base_path={BASE}", f"users.alice={hash_of('pw')}",
                            "smtp.allow_private_destinations=true", "smtp.allowed_ports=*",
                            "server.body_limit=4096", "server.header_limit=8192")
        r = curl(cls.server.url + "/openapi.json")
        cls.status, cls.content_type, cls.text = r.status, r.header("content-type"), r.body
        cls.doc = json.loads(r.body)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()
        cls.smtp.stop()

    # --- the document ---------------------------------------------------------------------
    def test_served_without_authentication_with_the_base_path(self):
        self.assertEqual(self.status, 200)
        self.assertEqual(self.content_type, "application/json")
        self.assertEqual(self.doc["openapi"], "3.1.0")
        self.assertIn(ROUTE, self.doc["paths"])
        self.assertIn("/healthz", self.doc["paths"])  # the root routes stay at the root

    def test_redocly_finds_it_valid_without_warnings(self):
        self.assertTrue(os.path.exists(REDOCLY), "run scripts/install-deps test (npm ci in test/openapi)")
        path = os.path.join(self.server_tmp(), "openapi.json")
        with open(path, "w") as f:
            f.write(self.text)
        out = subprocess.run([REDOCLY, "lint", "--format", "stylish", path], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("warning", (out.stdout + out.stderr).lower(), out.stdout + out.stderr)

    def server_tmp(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="smtpcheck-openapi-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d

    def test_every_header_of_spec_2_is_described(self):
        names = {p["name"] for p in self.doc["components"]["parameters"].values()}
        for h in ["SO-Language", "SO-Culture", "SO-TimeZone", "SO-AppToken", "Accept-Language", "X-XSRF-TOKEN", "$select"]:
            self.assertIn(h, names)
        self.assertEqual(set(self.doc["components"]["securitySchemes"]), {"basic", "bearer", "soTicket", "session", "xsrf"})
        types = set(self.doc["components"]["requestBodies"]["SmtpTest"]["content"])
        self.assertEqual(types, {"application/json", "text/json", "application/xml", "text/xml",
                                 "application/x-www-form-urlencoded", "application/merge-patch+json",
                                 "application/json-patch+json"})

    # --- no drift from the route table ------------------------------------------------------
    def test_each_path_allows_exactly_the_documented_methods(self):
        for path, item in self.doc["paths"].items():
            documented = {m.upper() for m in item if m in ("get", "post", "put", "delete", "patch")}
            if "GET" in documented:
                documented.add("HEAD")
            with self.subTest(path):
                r = curl(self.server.url + path, "-u", "alice:pw", method="DELETE")
                self.assertEqual(r.status, 405, f"{path}: DELETE gave {r.status}")
                self.assertEqual({m.strip() for m in r.header("allow").split(",")}, documented)

    # --- real responses against the schemas -------------------------------------------------
    def validate(self, body, schema_name):
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": self.doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(json.loads(body))

    def documented(self, path, method, status):
        responses = self.doc["paths"][path][method]["responses"]
        self.assertIn(str(status), responses, f"{method.upper()} {path} answered {status}, which is not documented")

    def post(self, path, body, content_type="application/json", *args, headers=()):
        return curl(self.server.url + path, *args, method="POST", data=body,
                    headers=[f"Content-Type: {content_type}", *headers])

    def test_test_results_and_reports_validate(self):
        good = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{self.smtp.port}", "From": "jane@example.com"})
        bad = json.dumps({"SmtpUri": "smtp://127.0.0.1:9", "From": "jane@example.com"})
        for body in (good, bad, ""):
            for path, schema in ((ROUTE, "SmtpTestResult"), (DIAGNOSE, "SmtpTestReport")):
                with self.subTest(path=path, body=body):
                    r = self.post(path, body, "application/json" if body else "", "-u", "alice:pw")
                    self.documented(path, "post", r.status)
                    self.assertEqual(r.status, 200, r.body)
                    self.validate(r.body, schema)
        # $select: what it leaves out is null, still valid
        r = curl(self.server.url + DIAGNOSE + "?$select=Success,Server/Port", "-u", "alice:pw", method="POST", data=good,
                 headers=["Content-Type: application/json"])
        self.validate(r.body, "SmtpTestReport")
        r = curl(self.server.url + ROUTE, "-u", "alice:pw")
        self.documented(ROUTE, "get", r.status)
        self.validate(r.body, "MethodDescription")

    def test_each_error_status_is_documented_and_its_document_validates(self):
        body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{self.smtp.port}", "From": "jane@example.com"})
        cases = [
            (400, self.post(ROUTE, "{not json", "application/json", "-u", "alice:pw")),
            (401, self.post(ROUTE, body)),
            (413, self.post(ROUTE, "x" * 10000, "application/json", "-u", "alice:pw")),
            (415, self.post(ROUTE, body, "text/plain", "-u", "alice:pw")),
            (431, self.post(ROUTE, body, "application/json", "-u", "alice:pw", headers=["X-Big: " + "b" * 9000])),
        ]
        # a session without X-XSRF-TOKEN: 403
        login = curl(self.server.url + "/login", method="POST", data=json.dumps({"Username": "alice", "Password": "pw"}),
                     headers=["Content-Type: application/json"])
        self.documented("/login", "post", login.status)
        cookies = "; ".join(v.split(";")[0] for v in login.headers.get("set-cookie", []))
        cases.append((403, self.post(ROUTE, body, headers=[f"Cookie: {cookies}", "X-XSRF-TOKEN: not-the-one"])))
        # failed logins past auth.failed_logins_per_minute (its own server: the limit is per address)
        with Server(f"users.alice={hash_of('pw')}", "auth.failed_logins_per_minute=2") as limited:
            for _ in range(3):
                last = curl(limited.url + "/login", method="POST", data=json.dumps({"Username": "alice", "Password": "no"}),
                            headers=["Content-Type: application/json"])
        cases.append((429, last))
        for status, r in cases:
            with self.subTest(status):
                self.assertEqual(r.status, status, r.body)
                path = "/login" if r is last else ROUTE
                self.documented(path, "post", status)
                self.validate(r.body, "ErrorInfo")

    def test_too_many_tests_at_once_is_a_documented_503(self):
        # api.max_concurrent_tests = 1, and one test held by an SMTP server that accepts and
        # never greets: the next test is refused with 503 and Retry-After.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        self.addCleanup(silent.close)
        held = []
        body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{silent.getsockname()[1]}", "From": "jane@example.com"})
        with Server(f"users.alice={hash_of('pw')}", "api.max_concurrent_tests=1",
                    "smtp.allow_private_destinations=true", "smtp.allowed_ports=*") as busy:
            first = threading.Thread(target=lambda: held.append(
                curl(busy.url + "/api/v1/Agents/CustomerService/TestSmtpServer", "-u", "alice:pw", method="POST",
                     data=body, headers=["Content-Type: application/json"])))
            first.start()
            silent.settimeout(5)
            conn, _ = silent.accept()  # the first test is in flight
            r = curl(busy.url + "/api/v1/Agents/CustomerService/TestSmtpServer", "-u", "alice:pw", method="POST",
                     data=body, headers=["Content-Type: application/json"])
            conn.close()
            first.join(10)
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.header("retry-after"), "1")
        self.documented(ROUTE, "post", 503)
        self.validate(r.body, "ErrorInfo")
        self.assertEqual(held[0].status, 200)  # the held test ends with its own answer

    def test_xml_answers_have_the_documented_roots(self):
        body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{self.smtp.port}", "From": "jane@example.com"})
        r = self.post(DIAGNOSE, body, "application/json", "-u", "alice:pw", headers=["Accept: application/xml"])
        self.assertIn("<SmtpTestReport ", r.body)
        self.assertIn("<Warnings", r.body)


if __name__ == "__main__":
    unittest.main()
