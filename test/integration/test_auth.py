"""Authentication as callers see it (SPEC 2.2), with curl against the real server: each
scheme, each refusal's status and headers, the browser session end to end, app tokens, 429,
and tickets minted by the CLI accepted by a second server sharing the secret file."""

import base64
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import SMTPCHECK, Server, curl

ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"


def cli(*args, stdin=None):
    out = subprocess.run([SMTPCHECK, *args], input=stdin, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="smtpcheck-auth-")
        cls.secret = os.path.join(cls.dir, "secret")
        with open(cls.secret, "wb") as f:
            f.write(os.urandom(48))
        cls.key = os.path.join(cls.dir, "jwt.key")
        cls.pub = os.path.join(cls.dir, "jwt.pub")
        subprocess.run(["openssl", "genrsa", "-out", cls.key, "2048"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", cls.key, "-pubout", "-out", cls.pub], check=True, capture_output=True)
        cls.hash = cli("hash-password", stdin="s3cret pass\n")
        cls.settings = [f"users.alice={cls.hash}", f"auth.secret_file={cls.secret}", f"auth.jwt_keys_file={cls.pub}",
                        "auth.jwt_issuer=https://idp.example", "auth.jwt_audience=smtpcheck"]
        cls.server = Server(*cls.settings)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def url(self, path=ROUTE):
        return self.server.url + path

    def jwt(self, **claims):
        body = {"sub": "alice", "iss": "https://idp.example", "aud": "smtpcheck", "exp": int(time.time()) + 600}
        body.update(claims)
        signing_input = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(body).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                             capture_output=True, check=True).stdout
        return signing_input + "." + b64url(sig)

    def assert_401(self, r):
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"],
                         ['Basic realm="smtpcheck", charset="UTF-8"', "SOTicket", "Bearer"])
        self.assertEqual(r.json()["ErrorType"], "Unauthorized")

    def test_health_routes_need_no_authentication(self):
        self.assertEqual(curl(self.url("/healthz")).status, 200)
        self.assertEqual(curl(self.url("/readyz")).status, 200)

    def test_no_credentials_is_401_with_every_scheme_named(self):
        self.assert_401(curl(self.url()))

    def test_basic(self):
        r = curl(self.url(), "-u", "alice:s3cret pass")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["Name"], "TestSmtpServer")
        self.assert_401(curl(self.url(), "-u", "alice:wrong"))
        self.assert_401(curl(self.url(), "-u", "bob:s3cret pass"))

    def test_soticket_minted_by_the_cli(self):
        ticket = cli("ticket", "--user", "alice", *sum((["--set", s] for s in self.settings), []))
        self.assertTrue(ticket.startswith("7T:"))
        self.assertEqual(curl(self.url(), headers=[f"Authorization: SOTicket {ticket}"]).status, 200)
        self.assertEqual(curl(self.url(), headers=[f"Authorization: soticket {ticket}"]).status, 200)
        self.assert_401(curl(self.url(), headers=[f"Authorization: SOTicket {ticket[:-2]}xx"]))
        short = cli("ticket", "--user", "alice", "--ttl", "1", *sum((["--set", s] for s in self.settings), []))
        time.sleep(2.1)
        self.assert_401(curl(self.url(), headers=[f"Authorization: SOTicket {short}"]))

    def test_bearer_jwt(self):
        self.assertEqual(curl(self.url(), headers=[f"Authorization: Bearer {self.jwt()}"]).status, 200)
        self.assert_401(curl(self.url(), headers=[f"Authorization: Bearer {self.jwt(aud='other')}"]))
        self.assert_401(curl(self.url(), headers=[f"Authorization: Bearer {self.jwt(exp=int(time.time()) - 3600)}"]))
        none = b64url(b'{"alg":"none"}') + "." + b64url(json.dumps({"sub": "alice", "exp": 9999999999}).encode()) + "."
        self.assert_401(curl(self.url(), headers=[f"Authorization: Bearer {none}"]))

    def test_browser_session_end_to_end(self):
        jar = os.path.join(self.dir, "jar")
        r = curl(self.url("/login"), "-c", jar, method="POST", data="Username=alice&Password=s3cret+pass",
                 headers=["Content-Type: application/x-www-form-urlencoded"])
        self.assertEqual(r.status, 204)
        cookies = r.headers["set-cookie"]
        session = [c for c in cookies if c.startswith("smtpcheck_session=")][0]
        xsrf_cookie = [c for c in cookies if c.startswith("XSRF-TOKEN=")][0]
        self.assertIn("HttpOnly", session)
        self.assertIn("SameSite=Strict", session)
        self.assertNotIn("Secure", session)  # plain HTTP here
        self.assertNotIn("HttpOnly", xsrf_cookie)  # scripts read it
        xsrf = xsrf_cookie.split(";")[0].split("=", 1)[1]

        self.assertEqual(curl(self.url(), "-b", jar, headers=[f"X-XSRF-TOKEN: {xsrf}"]).status, 200)
        self.assertEqual(curl(self.url(), "-b", jar).status, 401)
        wrong = curl(self.url(), "-b", jar, headers=["X-XSRF-TOKEN: not-the-token"])
        self.assertEqual(wrong.status, 403)
        self.assertEqual(wrong.json()["ErrorType"], "Forbidden")

        out = curl(self.url("/logout"), "-b", jar, method="POST")
        self.assertEqual(out.status, 204)
        cleared = out.headers["set-cookie"]
        self.assertEqual(sorted(c.split("=")[0] for c in cleared), ["XSRF-TOKEN", "smtpcheck_session"])
        for c in cleared:
            self.assertEqual(c.split(";")[0].split("=", 1)[1], "")
            self.assertIn("Max-Age=0", c)
        # A client that dropped the cookies, as browsers do, has no session any more.
        self.assertEqual(curl(self.url(), headers=[f"X-XSRF-TOKEN: {xsrf}"]).status, 401)
        # Nor does a copy of the cookies kept from before the logout (issue 14).
        copied = curl(self.url(), "-b", jar, headers=[f"X-XSRF-TOKEN: {xsrf}"])
        self.assertEqual(copied.status, 401)

    def test_login_with_json_and_bad_credentials(self):
        r = curl(self.url("/login"), method="POST", data=json.dumps({"username": "alice", "PASSWORD": "s3cret pass"}),
                 headers=["Content-Type: application/json"])
        self.assertEqual(r.status, 204)
        bad = curl(self.url("/login"), method="POST", data='{"Username":"alice","Password":"nope"}',
                   headers=["Content-Type: application/json"])
        self.assertEqual(bad.status, 401)
        self.assertNotIn("set-cookie", bad.headers)

    def test_no_secret_reaches_the_log(self):
        ticket = cli("ticket", "--user", "alice", *sum((["--set", s] for s in self.settings), []))
        token = self.jwt()
        curl(self.url(), "-u", "alice:s3cret pass")
        curl(self.url(), headers=[f"Authorization: SOTicket {ticket}"])
        curl(self.url(), headers=[f"Authorization: Bearer {token}"])
        r = curl(self.url("/login"), method="POST", data="Username=alice&Password=s3cret+pass",
                 headers=["Content-Type: application/x-www-form-urlencoded"])
        session = r.headers["set-cookie"][0].split(";")[0].split("=", 1)[1]
        log = self.server.log()
        for secret in ("s3cret", base64.b64encode(b"alice:s3cret pass").decode(), ticket[3:20], token[:30],
                       token[-20:], session[:20], self.hash[20:]):
            self.assertNotIn(secret, log)


class Configurations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hash = cli("hash-password", stdin="pw\n")

    def test_switching_schemes_off(self):
        with Server(f"users.alice={self.hash}", "auth.schemes=basic") as server:
            r = curl(server.url + ROUTE)
            self.assertEqual(r.headers["www-authenticate"], ['Basic realm="smtpcheck", charset="UTF-8"'])
            ticket_settings = [f"--set=users.alice={self.hash}"]
            secret = tempfile.NamedTemporaryFile(delete=False)
            secret.write(os.urandom(32))
            secret.close()
            ticket = cli("ticket", "--user", "alice", *ticket_settings, f"--set=auth.secret_file={secret.name}")
            os.unlink(secret.name)
            self.assertEqual(curl(server.url + ROUTE, headers=[f"Authorization: SOTicket {ticket}"]).status, 401)
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw").status, 200)

    def test_app_token_required_or_ignored(self):
        with Server(f"users.alice={self.hash}", "auth.app_tokens=tokA,tokB", "auth.require_app_token=true") as server:
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw").status, 403)
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw", headers=["SO-AppToken: nope"]).status, 403)
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw", headers=["SO-AppToken: tokB"]).status, 200)
            self.assertNotIn("tokA", server.log())
        with Server(f"users.alice={self.hash}", "auth.app_tokens=tokA") as server:
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw").status, 200)
            self.assertEqual(curl(server.url + ROUTE, "-u", "alice:pw", headers=["SO-AppToken: anything"]).status, 200)

    def test_429_after_repeated_failures(self):
        with Server(f"users.alice={self.hash}", "auth.failed_logins_per_minute=3") as server:
            for _ in range(3):
                self.assertEqual(curl(server.url + ROUTE, "-u", "alice:wrong").status, 401)
            r = curl(server.url + ROUTE, "-u", "alice:pw")
            self.assertEqual(r.status, 429)
            self.assertTrue(1 <= int(r.header("retry-after")) <= 61)
            self.assertEqual(r.json()["ErrorType"], "TooManyRequests")
            self.assertEqual(curl(server.url + "/healthz").status, 200)

    def test_a_ticket_from_the_cli_is_accepted_by_a_second_server_sharing_the_secret(self):
        with tempfile.TemporaryDirectory() as d:
            secret = os.path.join(d, "secret")
            with open(secret, "wb") as f:
                f.write(os.urandom(64))
            settings = [f"users.alice={self.hash}", f"auth.secret_file={secret}"]
            ticket = cli("ticket", "--user", "alice", *[f"--set={s}" for s in settings])
            with Server(*settings) as one, Server(*settings) as two:
                for server in (one, two):
                    self.assertEqual(curl(server.url + ROUTE, headers=[f"Authorization: SOTicket {ticket}"]).status, 200)
            with Server(f"users.alice={self.hash}") as stranger:  # a random per-process key
                self.assertEqual(curl(stranger.url + ROUTE, headers=[f"Authorization: SOTicket {ticket}"]).status, 401)
                self.assertIn("auth.secret_file is empty", stranger.log())

    def test_session_cookies_are_secure_over_tls(self):
        with tempfile.TemporaryDirectory() as d:
            key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
            with Server(f"users.alice={self.hash}", "server.tls_listen=127.0.0.1:0", f"server.tls_cert={cert}",
                        f"server.tls_key={key}") as server:
                https = [a for a in server.addresses if a.startswith("https://")][0]
                r = curl(https + "/login", "--cacert", cert, method="POST", data="Username=alice&Password=pw",
                         headers=["Content-Type: application/x-www-form-urlencoded"])
                self.assertEqual(r.status, 204)
                self.assertTrue(all("; Secure" in c for c in r.headers["set-cookie"]))

    def test_cli_refuses_tickets_it_cannot_make_verifiable(self):
        out = subprocess.run([SMTPCHECK, "ticket", "--user", "alice", f"--set=users.alice={self.hash}"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("auth.secret_file", out.stderr)
        out = subprocess.run([SMTPCHECK, "ticket", "--user", "nobody"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("not in [users]", out.stderr)


if __name__ == "__main__":
    unittest.main()
