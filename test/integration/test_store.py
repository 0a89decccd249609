"""[store] backend = redis (issue 14, first part): two real instances share the tests-per-user
limit through a real redis-server (Debian's, on a unix socket of the test's own); /readyz says
why while Redis is away; limits follow store.limits_on_error then; both recover by themselves
when Redis returns; check-config never shows the URL's password."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import SMTPCHECK, Server, curl, free_port, hash_of
from smtp_peers import Pki

ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"
# Refused by validation (no network), but a test that counts against the caller's limit.
BODY = json.dumps({"SmtpUri": "smtp://127.0.0.1:25", "From": "not-an-address"})


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtpcheck-redis-")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.url = "unix:" + self.socket
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")])
        for _ in range(200):
            if os.path.exists(self.socket):
                return
            time.sleep(0.01)
        raise RuntimeError("redis-server did not open its socket")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class SharedState(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        # One auth secret for all: a session made by one instance is good on the others.
        cls.secret = os.path.join(cls.redis.dir, "auth.secret")
        with open(cls.secret, "wb") as f:
            f.write(os.urandom(32))
        cls.credentials = os.path.join(cls.redis.dir, "credentials.json")  # its key: credentials.json.key
        settings = ["store.backend=redis", f"store.redis_url={cls.redis.url}", "api.tests_per_minute_per_user=3",
                    f"smtp.credentials_file={cls.credentials}",
                    f"auth.secret_file={cls.secret}",
                    f"users.alice={hash_of('pw')}", f"users.bob={hash_of('pw')}", f"users.carol={hash_of('pw')}"]
        cls.a = Server(*settings)
        cls.b = Server(*settings, "server.threads=2")  # requests and Redis on different threads
        cls.closed = Server(*settings, "store.limits_on_error=closed")

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b, cls.closed):
            s.__exit__()
        cls.redis.close()

    def run_test(self, server, user):
        return curl(server.url + ROUTE, "-u", f"{user}:pw", method="POST", data=BODY,
                    headers=["Content-Type: application/json"])

    def ready(self, server):
        return curl(server.url + "/readyz")

    def test_1_the_tests_per_user_limit_counts_across_both_instances(self):
        self.assertTrue(wait_for(lambda: self.ready(self.a).status == 200 and self.ready(self.b).status == 200, 5))
        self.assertIn("smtpcheck_store_up 1\n", curl(self.a.url + "/metrics").body)
        for server in (self.a, self.b, self.a):
            r = self.run_test(server, "alice")
            self.assertEqual(r.status, 200, r.body)
            self.assertFalse(r.json()["Success"])
        for server in (self.b, self.a):  # the fourth, wherever it lands
            r = self.run_test(server, "alice")
            self.assertEqual(r.status, 429, r.body)
            self.assertTrue(1 <= int(r.header("retry-after")) <= 61)
        self.assertEqual(self.run_test(self.b, "bob").status, 200)  # another user counts on its own

    def login(self, server):
        r = curl(server.url + "/login", method="POST", data='{"Username":"alice","Password":"pw"}',
                 headers=["Content-Type: application/json"])
        self.assertEqual(r.status, 204)
        jar = {c.split(";")[0].split("=", 1)[0]: c.split(";")[0].split("=", 1)[1] for c in r.headers["set-cookie"]}
        return f"smtpcheck_session={jar['smtpcheck_session']}; XSRF-TOKEN={jar['XSRF-TOKEN']}", jar["XSRF-TOKEN"]

    def describe(self, server, cookies, xsrf):
        return curl(server.url + ROUTE, headers=[f"Cookie: {cookies}", f"X-XSRF-TOKEN: {xsrf}"]).status

    def test_1b_a_session_logged_out_on_one_instance_is_refused_by_the_other(self):
        cookies, xsrf = self.login(self.a)
        self.assertEqual(self.describe(self.b, cookies, xsrf), 200)
        out = curl(self.a.url + "/logout", method="POST", headers=[f"Cookie: {cookies}"])
        self.assertEqual(out.status, 204)
        self.assertEqual(self.describe(self.b, cookies, xsrf), 401)  # a copy of the cookie, elsewhere
        self.assertEqual(self.describe(self.a, cookies, xsrf), 401)
        other, other_xsrf = self.login(self.b)  # another session of the same user is untouched
        self.assertEqual(self.describe(self.a, other, other_xsrf), 200)
        # Redis away: a session cannot be checked, so it is refused, and a logout says it did not hold.
        self.redis.stop()
        try:
            self.assertTrue(wait_for(lambda: self.ready(self.a).status == 503, 5))
            self.assertEqual(self.describe(self.a, other, other_xsrf), 401)
            out = curl(self.a.url + "/logout", method="POST", headers=[f"Cookie: {other}"])
            self.assertEqual(out.status, 503)
            self.assertEqual(sorted(c.split("=")[0] for c in out.headers["set-cookie"]), ["XSRF-TOKEN", "smtpcheck_session"])
        finally:
            self.redis.start()
        for server in (self.a, self.b, self.closed):
            self.assertTrue(wait_for(lambda: self.ready(server).status == 200, 10), self.ready(server).body)

    def test_2_without_redis_readyz_says_why_and_the_limits_follow_limits_on_error(self):
        self.redis.stop()
        try:
            for server in (self.a, self.b):
                self.assertTrue(wait_for(lambda: self.ready(server).status == 503, 5))
                r = self.ready(server)
                self.assertTrue(r.body.startswith("redis at " + self.redis.url), r.body)
                self.assertEqual(r.header("retry-after"), "1")
            # open (the default): each instance counts on its own, so carol still gets 3 per instance.
            statuses = [self.run_test(self.a, "carol").status for _ in range(4)]
            self.assertEqual(statuses, [200, 200, 200, 429])
            metrics = curl(self.a.url + "/metrics").body
            self.assertIn("smtpcheck_store_up 0\n", metrics)
            self.assertIn("smtpcheck_store_limit_errors_total 4\n", metrics)
            # closed: refused with 503, at once (no waiting for Redis).
            started = time.monotonic()
            r = self.run_test(self.closed, "carol")
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.header("retry-after"), "1")
            self.assertLess(time.monotonic() - started, 5)
            # The failed-login limit likewise: a password check is refused with 503 when closed,
            # counted by the instance itself when open.
            wrong = '{"Username":"alice","Password":"wrong"}'
            r = curl(self.closed.url + "/login", method="POST", data=wrong, headers=["Content-Type: application/json"])
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.header("retry-after"), "1")
            r = curl(self.a.url + "/login", method="POST", data=wrong, headers=["Content-Type: application/json"])
            self.assertEqual(r.status, 401, r.body)
        finally:
            self.redis.start()
        # Back by itself (the back-off is at most 2 s).
        for server in (self.a, self.b, self.closed):
            self.assertTrue(wait_for(lambda: self.ready(server).status == 200, 10), self.ready(server).body)
        self.assertEqual(self.run_test(self.closed, "carol").status, 200)  # a new Redis: a new count

    def test_3_a_redis_that_hangs_holds_no_request(self):
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            r = self.run_test(self.closed, "bob")
            self.assertEqual(r.status, 503)  # store.command_timeout_ms (250) and the answer
            self.assertLess(time.monotonic() - started, 5)
            for server in (self.a, self.b):  # found by their heartbeat
                self.assertTrue(wait_for(lambda: self.ready(server).status == 503, 5))
            time.sleep(1)  # hung across several tries to connect again (each handshake times out)
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        for server in (self.a, self.b, self.closed):
            self.assertTrue(wait_for(lambda: self.ready(server).status == 200, 10), self.ready(server).body)

    def credentials_cli(self, *words, password=None):
        args = [SMTPCHECK, "credentials", *words, "--set", "store.backend=redis", "--set",
                f"store.redis_url={self.redis.url}", "--set", f"smtp.credentials_file={self.credentials}"]
        return subprocess.run(args, input=password, capture_output=True, text=True, timeout=30)

    def stored_password_test(self, server, uri):
        r = curl(server.url + "/api/v1/smtpcheck/Diagnose", "-u", "bob:pw", method="POST",
                 data=json.dumps({"SmtpUri": uri, "From": "jane@example.com", "UseStoredPassword": True}),
                 headers=["Content-Type: application/json"])
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_4_stored_passwords_live_in_redis_sealed_and_fail_clearly_without_it(self):
        uri = "smtp://jane%40example.com@127.0.0.1:2599"
        out = self.credentials_cli("set", uri, password="Pa55:w0rd\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        # In Redis, sealed: the field is what the ciphertext is bound to; no password, no key.
        fields = subprocess.run(["redis-cli", "-s", self.redis.socket, "--raw", "HKEYS", "smtpcheck:credentials"],
                                capture_output=True, text=True).stdout
        self.assertIn("jane@example.com", fields)
        value = subprocess.run(["redis-cli", "-s", self.redis.socket, "--raw", "HVALS", "smtpcheck:credentials"],
                               capture_output=True, text=True).stdout
        self.assertIn('"ciphertext"', value)
        self.assertNotIn("Pa55", value)
        self.assertFalse(os.path.exists(self.credentials))  # the file backend's file is not written
        listed = self.credentials_cli("list")
        self.assertEqual((listed.returncode, listed.stdout), (0, "jane@example.com@127.0.0.1:2599\n"), listed.stderr)
        # Found by a test on either instance (which then goes on to the network, refused by policy).
        for server in (self.a, self.b):
            report = self.stored_password_test(server, uri)
            self.assertNotEqual(report["ErrorCode"], "SR_SMTP_NO_STORED_PASSWORD", report)
        report = self.stored_password_test(self.a, "smtp://john@127.0.0.1:2599")
        self.assertEqual(report["ErrorCode"], "SR_SMTP_NO_STORED_PASSWORD", report)
        # probe --use-stored-password reads Redis too.
        for user, found in (("jane%40example.com", True), ("john", False)):
            out = subprocess.run([SMTPCHECK, "probe", f"smtp://{user}@127.0.0.1:2599", "--from", "jane@example.com",
                                  "--use-stored-password", "--json", "--set", "store.backend=redis",
                                  "--set", f"store.redis_url={self.redis.url}",
                                  "--set", f"smtp.credentials_file={self.credentials}",
                                  "--set", "smtp.dns_servers=127.0.0.1:9"],
                                 capture_output=True, text=True, timeout=30)
            code = json.loads(out.stdout)["ErrorCode"]
            self.assertEqual(code == "SR_SMTP_NO_STORED_PASSWORD", not found, out.stdout + out.stderr)

        self.redis.stop()
        try:
            self.assertTrue(wait_for(lambda: self.ready(self.a).status == 503, 5))
            started = time.monotonic()
            report = self.stored_password_test(self.a, uri)
            self.assertLess(time.monotonic() - started, 5)
            self.assertIs(report["Success"], False)
            self.assertEqual(report["ErrorCode"], "SR_SMTP_NO_STORED_PASSWORD", report)
            self.assertIn("store did not answer", report["Hint"])  # the server's fault, said so
            # SPEC 3.4: the stored password replaces the URI's; with none to be had, the URI's is
            # not used instead.
            report = self.stored_password_test(self.a, "smtp://jane%40example.com:from-the-uri@127.0.0.1:2599")
            self.assertEqual(report["ErrorCode"], "SR_SMTP_NO_STORED_PASSWORD", report)
            started = time.monotonic()
            out = self.credentials_cli("list")
            self.assertEqual(out.returncode, 1)
            self.assertIn("cannot reach Redis", out.stderr)
            self.assertLess(time.monotonic() - started, 5)
            out = self.credentials_cli("set", uri, password="Pa55:w0rd\n")
            self.assertEqual(out.returncode, 1)
            self.assertNotIn("Pa55", out.stderr + out.stdout)
        finally:
            self.redis.start()  # a new, empty Redis
        self.assertTrue(wait_for(lambda: self.ready(self.a).status == 200, 10))
        self.assertEqual(self.credentials_cli("set", uri, password="Pa55:w0rd\n").returncode, 0)
        out = self.credentials_cli("delete", uri)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.credentials_cli("delete", uri).returncode, 1)
        self.assertEqual(self.stored_password_test(self.b, uri)["ErrorCode"], "SR_SMTP_NO_STORED_PASSWORD")


class TlsRedis(unittest.TestCase):
    """rediss://: TLS to a real redis-server (its --tls-port), the certificate checked against
    store.tls_ca_file and the URL's address; a wrong certificate or a plaintext port is a
    reason on /readyz, not a hang."""

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.dir = tempfile.mkdtemp(prefix="smtpcheck-redis-tls-")
        cert, key = cls.pki.server("redis", sans=("localhost",), ips=("127.0.0.1",))
        cls.tls_port, cls.plain_port = free_port(), free_port()
        cls.proc = subprocess.Popen(
            ["redis-server", "--port", str(cls.plain_port), "--bind", "127.0.0.1", "--tls-port", str(cls.tls_port),
             "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cls.pki.ca_file,
             "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", cls.dir,
             "--logfile", os.path.join(cls.dir, "redis.log")])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", cls.tls_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)
        cls.pki.close()

    def serve(self, url, *more):
        return Server("store.backend=redis", f"store.redis_url={url}", "api.tests_per_minute_per_user=5",
                      f"users.alice={hash_of('pw')}", *more)

    def test_rediss_with_the_ca_counts_through_tls(self):
        with self.serve(f"rediss://127.0.0.1:{self.tls_port}", f"store.tls_ca_file={self.pki.ca_file}") as s:
            self.assertTrue(wait_for(lambda: curl(s.url + "/readyz").status == 200, 5), curl(s.url + "/readyz").body)
            r = curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data=BODY, headers=["Content-Type: application/json"])
            self.assertEqual(r.status, 200, r.body)
            # Counted in that Redis (asked over its plaintext port, which the test opened too).
            count = subprocess.run(["redis-cli", "-p", str(self.plain_port), "GET", "smtpcheck:limit:tests:alice"],
                                   capture_output=True, text=True).stdout.strip()
            self.assertEqual(count, "1")

    def test_a_certificate_that_is_not_trusted_or_a_plaintext_port_is_a_reason_not_a_hang(self):
        for url, more, reason in ((f"rediss://127.0.0.1:{self.tls_port}", (), "certificate verify failed"),
                                  (f"rediss://127.0.0.1:{self.plain_port}", (f"store.tls_ca_file={self.pki.ca_file}",), "")):
            with self.serve(url, *more) as s:
                self.assertTrue(wait_for(lambda: curl(s.url + "/readyz").status == 503 and
                                         curl(s.url + "/readyz").body.startswith("redis at rediss://"), 5))
                self.assertIn(reason, curl(s.url + "/readyz").body)
                started = time.monotonic()
                r = curl(s.url + ROUTE, "-u", "alice:pw", method="POST", data=BODY,
                         headers=["Content-Type: application/json"])
                self.assertEqual(r.status, 200)  # limits_on_error = open: counted here
                self.assertLess(time.monotonic() - started, 5)

    def test_a_ca_file_that_cannot_be_read_stops_the_start(self):
        out = subprocess.run([SMTPCHECK, "serve", "--set", "server.listen=127.0.0.1:0", "--set", "store.backend=redis",
                              "--set", f"store.redis_url=rediss://127.0.0.1:{self.tls_port}",
                              "--set", "store.tls_ca_file=/nonexistent/ca.pem"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("store.tls_ca_file /nonexistent/ca.pem", out.stderr)


class Configuration(unittest.TestCase):
    def check_config(self, *settings):
        args = [SMTPCHECK, "check-config"]
        for s in settings:
            args += ["--set", s]
        return subprocess.run(args, capture_output=True, text=True, timeout=30)

    def test_check_config_shows_the_url_without_its_password(self):
        out = self.check_config("store.backend=redis", "store.redis_url=redis://app:topsecret@127.0.0.1:6390/1")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("redis_url = redis://app@127.0.0.1:6390/1", out.stdout)
        self.assertNotIn("topsecret", out.stdout + out.stderr)

    def test_unusable_settings_are_refused_with_the_reason_and_no_password(self):
        out = self.check_config("store.backend=redis")
        self.assertEqual(out.returncode, 1)
        self.assertIn("store.redis_url", out.stderr)
        out = self.check_config("store.backend=redis", "store.redis_url=rediss://app:topsecret@h:6380")
        self.assertEqual(out.returncode, 1)
        self.assertIn("numeric address", out.stderr)
        self.assertNotIn("topsecret", out.stderr)
        out = self.check_config("store.backend=redis", "store.redis_url=rediss://app:topsecret@127.0.0.1:6380")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("redis_url = rediss://app@127.0.0.1:6380", out.stdout)
        self.assertNotIn("topsecret", out.stdout + out.stderr)
        out = self.check_config("store.limits_on_error=maybe")
        self.assertEqual(out.returncode, 1)
        self.assertIn("store.limits_on_error", out.stderr)

    def test_an_instance_started_before_redis_serves_and_is_ready_once_redis_is_up(self):
        redis = Redis()
        redis.stop()  # its socket's path, with nothing there yet
        try:
            with Server("store.backend=redis", f"store.redis_url={redis.url}") as s:
                r = curl(s.url + "/readyz")
                self.assertEqual(r.status, 503)
                self.assertTrue(r.body.startswith("redis at " + redis.url), r.body)
                self.assertEqual(curl(s.url + "/healthz").status, 200)  # it serves meanwhile
                redis.start()
                self.assertTrue(wait_for(lambda: curl(s.url + "/readyz").status == 200, 10), curl(s.url + "/readyz").body)
        finally:
            redis.close()

    def test_the_file_backend_needs_no_redis(self):
        with Server() as s:
            r = curl(s.url + "/readyz")
            self.assertEqual((r.status, r.body), (200, "ready"))
            self.assertNotIn("smtpcheck_store", curl(s.url + "/metrics").body)


if __name__ == "__main__":
    unittest.main()
