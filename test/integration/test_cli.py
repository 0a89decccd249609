"""The command line (SPEC 4 and 6): help, version, check-config."""

import os
import subprocess
import tempfile
import unittest

SMTPCHECK = os.environ.get("SMTPCHECK", "../../build/server/smtpcheck")


def run(*args, stdin=None):
    return subprocess.run([SMTPCHECK, *args], capture_output=True, text=True, input=stdin, timeout=20)


class Help(unittest.TestCase):
    def test_help_goes_to_stdout_for_every_command(self):
        for args in (["--help"], ["serve", "--help"], ["check-config", "--help"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 0)
                self.assertIn("usage: smtpcheck", r.stdout)
                self.assertEqual(r.stderr, "")

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^smtpcheck \d+\.\d+\.\d+\n$")

    def test_unknown_commands_and_arguments_fail_on_stderr(self):
        r = run("frobnicate")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        self.assertEqual(r.stdout, "")
        r = run("serve", "--bogus")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown argument '--bogus'", r.stderr)


class CheckConfig(unittest.TestCase):
    def test_prints_every_section_with_defaults(self):
        r = run("check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        for section in ("[server]", "[api]", "[smtp]", "[auth]", "[users]", "[log]"):
            self.assertIn(section, r.stdout)
        self.assertIn("listen = 127.0.0.1:8080", r.stdout)
        self.assertIn("slow_threshold_ms = 5000", r.stdout)

    def test_file_and_overrides_are_applied_and_secrets_masked(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[server]\nbody_limit = 2048   ; bytes\n[auth]\napp_tokens = tokA,tokB\n"
                    "[users]\nalice = pbkdf2-sha256$600000$c2FsdA$aGFzaA\n")
        try:
            r = run("check-config", "--config", f.name, "--set", "server.threads=2")
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("body_limit = 2048\n", r.stdout)
        self.assertIn("threads = 2\n", r.stdout)
        self.assertIn("app_tokens = ***", r.stdout)
        self.assertIn("alice = ***", r.stdout)
        self.assertNotIn("tokA", r.stdout)
        self.assertNotIn("aGFzaA", r.stdout)

    def test_unknown_key_fails_naming_it(self):
        r = run("check-config", "--set", "server.listen_port=80")
        self.assertEqual(r.returncode, 1)
        self.assertIn("listen_port", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_bad_value_fails_naming_key_and_value(self):
        r = run("check-config", "--set", "server.idle_timeout_ms=soon")
        self.assertEqual(r.returncode, 1)
        self.assertIn("server.idle_timeout_ms", r.stderr)
        self.assertIn('"soon"', r.stderr)

    def test_serve_refuses_a_bad_configuration_before_listening(self):
        r = run("serve", "--set", "log.level=chatty")
        self.assertEqual(r.returncode, 1)
        self.assertIn("log.level", r.stderr)

    def test_missing_config_file_is_named(self):
        r = run("check-config", "--config", "/nonexistent/smtpcheck.ini")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/smtpcheck.ini", r.stderr)


if __name__ == "__main__":
    unittest.main()
