"""The admin page (issue 13, part 2) in a real browser: Debian's Chromium driven by
chromium-driver through python3-selenium, headless, against `smtpcheck serve --demo` on
loopback with a base path. It logs in, runs a test that succeeds against the demo SMTP server
and one that fails, reads what an admin would read, and keeps a screenshot of each state under
build/screenshots/ for a person to look at. The page's HTTP side (CSP, ETag, the redirect)
is checked with curl."""

import base64
import json
import os
import re
import tempfile
import unittest

from harness import Server, curl
from smtp_peers import Aiosmtpd, Scripted

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = "/Cust12345"
SCREENSHOTS = os.environ.get("SCREENSHOTS", os.path.join(tempfile.gettempdir(), "smtpcheck-screenshots"))
# A password with every character that must be percent-encoded in an SmtpUri's userinfo.
ODD_PASSWORD = "p@ss:w/rd %41;?#é"


def browser(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-proxy-server", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", f"--window-size={width},{height}",
                "--lang=en-US"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for the CSP reports
    # The installed driver, never one fetched by Selenium Manager.
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    return driver


class Page(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        # The second SMTP server: plaintext AUTH with a user and password that need encoding.
        cls.odd = Aiosmtpd(auth=True, auth_require_tls=False,
                           login=(b"ann@example.com", ODD_PASSWORD.encode()))
        # The third: a greeting that tries to be HTML.
        cls.hostile = Scripted([(None, b'220 <img src=x onerror="window.pwned=1"><script>window.pwned=2</script>\r\n'),
                                ("EHLO", b"554 5.7.1 <b>go away</b>\r\n"), ("QUIT", b"221 bye\r\n")])
        cls.server = Server(f"server.base_path={BASE}", "smtp.allowed_ports=*", "smtp.allow_plaintext_auth=true",
                            options=("--demo",))
        cls.page = cls.server.url + BASE + "/"

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()
        cls.odd.stop()
        cls.hostile.stop()

    def setUp(self):
        self.driver = browser()
        self.addCleanup(self.driver.quit)

    # --- helpers -----------------------------------------------------------------------------
    def shot(self, name):
        """The whole page, not only the window (Chromium's DevTools protocol)."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        png = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        with open(os.path.join(SCREENSHOTS, f"web-{name}.png"), "wb") as f:
            f.write(base64.b64decode(png["data"]))

    def wait_visible(self, element_id, timeout=10):
        return WebDriverWait(self.driver, timeout).until(EC.visibility_of_element_located((By.ID, element_id)))

    def login(self, user="demo", password="demo"):
        self.driver.get(self.page)
        self.wait_visible("login-user").send_keys(user)
        self.driver.find_element(By.ID, "login-password").send_keys(password + Keys.ENTER)

    def fill(self, host, port, tls, user, password, sender="demo@example.com", language=None):
        d = self.driver
        self.wait_visible("host").send_keys(host)
        Select(d.find_element(By.ID, "tls")).select_by_value(tls)
        d.find_element(By.ID, "port").send_keys(str(port))
        d.find_element(By.ID, "smtp-user").send_keys(user)
        d.find_element(By.ID, "smtp-password").send_keys(password)
        d.find_element(By.ID, "from").send_keys(sender)
        if language:
            Select(d.find_element(By.ID, "language")).select_by_value(language)

    def run_test(self):
        self.driver.find_element(By.ID, "run").click()
        self.wait_visible("result", timeout=20)
        return self.driver.find_element(By.ID, "result")

    def texts(self, css):
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def assert_secret_kept(self, secret):
        """Not in a URL the page fetched, a cookie, the page's storage, or what it shows."""
        d = self.driver
        urls = d.execute_script("return performance.getEntries().map(e => e.name)")
        for variant in {secret, json.dumps(secret)[1:-1]}:
            self.assertFalse([u for u in urls if variant in u], urls)
        self.assertNotIn(secret, d.execute_script("return document.cookie"))
        self.assertEqual(d.execute_script("return localStorage.length + sessionStorage.length"), 0)
        self.assertNotIn(secret, d.find_element(By.TAG_NAME, "body").text)
        self.assertNotIn(secret, d.current_url)

    def diagnose_via_api(self, uri, language):
        r = curl(self.server.url + BASE + "/api/v1/smtpcheck/Diagnose", "-u", "demo:demo",
                 headers=[f"SO-Language: {language}", "Content-Type: application/json"],
                 data=json.dumps({"SmtpUri": uri, "From": "demo@example.com"}))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    # --- the browser ---------------------------------------------------------------------------
    def test_log_in_and_a_test_that_succeeds_against_the_demo_smtp_server(self):
        self.login()
        self.fill("127.0.0.1", 2525, "smtp+starttls", "demo", "demo")
        result = self.run_test()
        self.shot("success")
        outcome = self.driver.find_element(By.ID, "outcome")
        self.assertIn("ok", outcome.get_attribute("class"))
        self.assertIn("Success", outcome.text)
        phases = self.texts(".timeline .phase")
        for phase in ["resolve", "connect", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data"]:
            self.assertIn(phase, phases)
        self.assertEqual(len(self.texts(".timeline .ms")), len(phases))
        self.assertTrue(all(t.endswith(" ms") for t in self.texts(".timeline .ms")))
        text = result.text
        self.assertIn("127.0.0.1", text)  # the address tried
        self.assertIn("connected", text)
        self.assertIn("TLSv1.3", text)
        # The certificate, with the days to its expiry (the demo's is made at start for a year).
        self.assertRegex(text, r"Valid until\s+\S+ \(in 36[45] days\)")
        # A clean success: the demo server gives nothing to warn about.
        self.assertEqual(self.texts(".warnings li"), [])
        transcript = self.texts(".transcript .line")
        self.assertTrue(any(l.startswith("220 ") for l in transcript), transcript)
        self.assertTrue(any(l.startswith("AUTH PLAIN") and "***" in l for l in transcript), transcript)
        # The focus moves to the result, for keyboard and screen reader users.
        self.assertEqual(self.driver.switch_to.active_element.get_attribute("id"), "result-heading")

    def test_a_wrong_password_shows_the_localized_message_the_phase_and_the_transcript(self):
        self.login()
        secret = "Wr0ng-Secret-7"
        self.fill("127.0.0.1", 2525, "smtp+starttls", "demo", secret, language="de")
        self.run_test()
        self.shot("failure")
        expected = self.diagnose_via_api(f"smtp+starttls://demo:{secret}@127.0.0.1:2525", "de")
        self.assertEqual(expected["ErrorCode"], "SR_SMTP_AUTH_FAILED")
        outcome = self.driver.find_element(By.ID, "outcome")
        self.assertIn("fail", outcome.get_attribute("class"))
        self.assertIn(expected["ErrorMessage"], outcome.text)  # the German text the API gives
        self.assertNotIn(expected["ErrorMessage"], self.diagnose_via_api(
            f"smtp+starttls://demo:{secret}@127.0.0.1:2525", "en")["ErrorMessage"])
        if expected["Hint"]:
            self.assertIn(expected["Hint"], outcome.text)
        self.assertIn("auth", self.texts(".timeline .failed .phase"))
        self.assertIn("SR_SMTP_AUTH_FAILED", outcome.text)
        transcript = self.texts(".transcript .line")
        self.assertTrue(any(l.startswith("535") for l in transcript), transcript)
        self.assert_secret_kept(secret)
        self.assertEqual(self.driver.find_element(By.ID, "smtp-password").get_attribute("value"), secret)

    def test_a_wrong_login_shows_an_error(self):
        self.login("demo", "not-the-password")
        error = self.wait_visible("login-error")
        self.shot("login-error")
        self.assertTrue(error.text.strip())
        self.assertFalse(self.driver.find_element(By.ID, "test-section").is_displayed())
        self.assert_secret_kept("not-the-password")

    def test_user_and_password_are_percent_encoded_into_the_smtp_uri(self):
        self.login()
        self.fill("127.0.0.1", self.odd.port, "smtp", "ann@example.com", ODD_PASSWORD)
        self.run_test()
        outcome = self.driver.find_element(By.ID, "outcome")
        self.assertIn("Success", outcome.text, outcome.text)  # aiosmtpd got exactly this user and password
        self.assert_secret_kept(ODD_PASSWORD)

    def test_a_host_name_shows_the_addresses_it_resolved_to(self):
        # A name, not a literal: resolved (here from /etc/hosts), each address tried listed, the
        # certificate checked against the name (the demo's names localhost).
        self.login()
        self.fill("localhost", 2525, "smtp+starttls", "demo", "demo")
        result = self.run_test()
        self.assertIn("Success", self.driver.find_element(By.ID, "outcome").text)
        self.assertIn("localhost:2525", result.text)
        rows = [r.split(" ", 1) for r in self.texts(".tried tbody tr")]
        self.assertIn(["127.0.0.1", "connected"], rows)
        self.assertTrue(all(outcome != "connected" for address, outcome in rows if address != "127.0.0.1"), rows)
        self.assertRegex(result.text, r"Verified\s+yes")

    def test_what_an_smtp_server_says_is_shown_as_text(self):
        self.login()
        self.fill("127.0.0.1", self.hostile.port, "smtp", "", "")
        self.run_test()
        self.shot("hostile-greeting")
        self.assertIsNone(self.driver.execute_script("return window.pwned"))
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "#result img, #result script, #result b"))
        self.assertTrue(any("<script>window.pwned=2</script>" in l for l in self.texts(".transcript .line")))

    def test_keyboard_only(self):
        d = self.driver
        d.get(self.page)
        self.wait_visible("login-user")
        keys = lambda *k: d.switch_to.active_element.send_keys(*k)
        focused = lambda: d.switch_to.active_element.get_attribute("id")
        self.assertEqual(focused(), "login-user")  # the page puts the focus where typing starts
        keys("demo", Keys.TAB)
        self.assertEqual(focused(), "login-password")
        keys("demo", Keys.ENTER)
        self.wait_visible("host")
        WebDriverWait(d, 5).until(lambda _: focused() == "host")
        keys("127.0.0.1", Keys.TAB)
        self.assertEqual(focused(), "tls")
        keys(Keys.TAB)  # STARTTLS required is the first choice
        self.assertEqual(focused(), "port")
        keys("2525", Keys.TAB)
        keys("demo", Keys.TAB)
        self.assertEqual(focused(), "smtp-password")
        keys("demo", Keys.TAB)
        self.assertEqual(focused(), "stored")
        keys(Keys.TAB)
        self.assertEqual(focused(), "from")
        keys("demo@example.com", Keys.ENTER)
        self.wait_visible("result", timeout=20)
        self.assertIn("Success", d.find_element(By.ID, "outcome").text)
        self.assertEqual(focused(), "result-heading")
        keys(Keys.SHIFT + Keys.TAB)  # back into the form from the result
        self.assertNotEqual(focused(), "result-heading")

    def test_reads_well_on_a_phone(self):
        self.driver.set_window_size(390, 844)
        self.login()
        self.fill("127.0.0.1", 2525, "smtp+starttls", "demo", "demo")
        self.run_test()
        self.shot("phone")
        d = self.driver
        # No sideways scrolling of the page (the transcript scrolls in its own box)...
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"),
                             d.execute_script("return document.documentElement.clientWidth"))
        # ...and the form is one column.
        host, port = d.find_element(By.ID, "host"), d.find_element(By.ID, "port")
        self.assertEqual(host.rect["x"], port.rect["x"])
        self.assertGreater(port.rect["y"], host.rect["y"])

    def test_a_session_survives_a_reload_until_logout(self):
        self.login()
        self.wait_visible("host")
        self.driver.refresh()
        self.wait_visible("host")  # the session cookie still holds
        self.driver.find_element(By.ID, "logout").click()
        self.wait_visible("login-user")
        self.driver.refresh()
        self.wait_visible("login-user")
        with self.assertRaises(TimeoutException):
            self.wait_visible("host", timeout=1)

    def test_the_content_security_policy_holds_in_the_browser(self):
        self.login()
        self.wait_visible("host")
        # An inline script the policy must refuse, and no report of a refused asset of our own.
        self.driver.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1';"
            "document.body.append(s);")
        self.assertIsNone(self.driver.execute_script("return window.inlineRan"))
        logs = [l for l in self.driver.get_log("browser") if "Content Security Policy" in l["message"]]
        self.assertTrue(logs and all("inline" in l["message"] for l in logs), logs)


class PageOverHttp(unittest.TestCase):
    """What the browser gets, as curl sees it."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(f"server.base_path={BASE}")
        cls.root = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()
        cls.root.__exit__()

    def test_each_asset_has_its_type_a_strict_policy_and_an_etag(self):
        for path, kind in [("/", "text/html"), ("/app.css", "text/css"), ("/app.js", "text/javascript")]:
            with self.subTest(path):
                r = curl(self.server.url + BASE + path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("content-type"), kind + "; charset=utf-8")
                csp = r.header("content-security-policy")
                self.assertIn("default-src 'none'", csp)
                self.assertIn("script-src 'self'", csp)
                self.assertIn("frame-ancestors 'none'", csp)
                self.assertNotIn("unsafe", csp)
                self.assertEqual(r.header("x-content-type-options"), "nosniff")
                self.assertRegex(r.header("etag"), r'^"[0-9a-f]{32}"$')
                self.assertEqual(r.header("cache-control"), "no-cache")
                # The browser's copy is current: 304, no body, the same ETag.
                again = curl(self.server.url + BASE + path, headers=[f"If-None-Match: W/{r.header('etag')}, \"x\""])
                self.assertEqual(again.status, 304)
                self.assertEqual(again.body, "")
                self.assertEqual(again.header("etag"), r.header("etag"))
                self.assertEqual(curl(self.server.url + BASE + path, headers=['If-None-Match: "other"']).status, 200)

    def test_the_page_needs_no_authentication_and_holds_no_inline_code(self):
        html = curl(self.server.url + BASE + "/").body
        self.assertIn('<script src="app.js" defer></script>', html)
        self.assertNotIn("<script>", html)
        self.assertNotIn(" style=", html)
        self.assertIsNone(re.search(r"\son[a-z]+\s*=", html))  # no onclick= and the like

    def test_the_base_path_without_its_slash_redirects_and_the_root_is_not_the_page(self):
        r = curl(self.server.url + BASE)
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("location"), BASE + "/")
        self.assertEqual(curl(self.server.url + "/").status, 404)
        self.assertEqual(curl(self.root.url + "/").status, 200)  # without a base path: at /
        self.assertEqual(curl(self.root.url + "/app.js").status, 200)

    def test_a_scripts_401_names_no_basic_challenge_that_would_open_a_browser_dialog(self):
        form = dict(method="POST", data='{"Username":"demo","Password":"wrong"}', headers=["Content-Type: application/json"])
        plain = curl(self.server.url + "/login", **form)
        self.assertEqual(plain.status, 401)
        self.assertTrue(any(c.startswith("Basic ") for c in plain.headers["www-authenticate"]))
        form["headers"] = form["headers"] + ["X-Requested-With: XMLHttpRequest"]
        scripted = curl(self.server.url + "/login", **form)
        self.assertEqual(scripted.status, 401)
        self.assertEqual(scripted.headers["www-authenticate"], ["SOTicket", "Bearer"])

    def test_only_get_and_head(self):
        r = curl(self.server.url + BASE + "/", method="POST", data="x=1",
                 headers=["Content-Type: application/x-www-form-urlencoded"])
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")
        head = curl(self.server.url + BASE + "/app.js", "-I")
        self.assertEqual(head.status, 200)
        self.assertGreater(int(head.header("content-length")), 1000)


if __name__ == "__main__":
    unittest.main()
