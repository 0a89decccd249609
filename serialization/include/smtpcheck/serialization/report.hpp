// Every mapping of an SMTP test report (smtp/report.hpp) into what a caller reads: the
// ErrorMessage and hint words, the SmtpTestResult and SmtpTestReport documents, the
// TestSmtpServer method description, and probe's readable text. One function per shape; the
// documents go to write_json and write_xml alike (document.hpp).
#pragma once

#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/smtp/report.hpp"

#include <boost/json/storage_ptr.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace smtpcheck::serialization {

/// ErrorMessage (SPEC 3.7): the code's sentence in the caller's language (host, port, phase,
/// the deadline formatted for the culture, the detail), then the server's reply line and the
/// hint; in raw mode `[SR_...]` and the reply line. Null on success.
std::optional<std::string> report_message(const smtp::test_report& report, const language_choice& lang,
                                          const catalogs& texts, std::chrono::milliseconds deadline);

/// The report's hint in words ({uri} filled in), `[HINT_...]` in raw mode; null without one.
std::optional<std::string> report_hint(const smtp::test_report& report, const language_choice& lang,
                                       const catalogs& texts);

/// One finding that does not fail the test, in words (SPEC 3.8 Warnings).
struct worded_warning {
    std::string code;     ///< W_CERT_EXPIRES_SOON, ...
    std::string message;  ///< in the caller's language; `[W_...]` in raw mode
};

/// The report's warnings in the caller's language, in the report's order.
std::vector<worded_warning> report_warnings(const smtp::test_report& report, const language_choice& lang,
                                            const catalogs& texts);

/// A setting to try, and why, in words (SPEC 3.8 Suggestions).
struct worded_suggestion {
    std::string uri;  ///< SmtpUri
    std::string why;  ///< in the caller's language; `[S_...]` in raw mode
};

/// The report's suggestions in the caller's language, best first.
std::vector<worded_suggestion> report_suggestions(const smtp::test_report& report, const language_choice& lang,
                                                  const catalogs& texts);

/// SmtpTestResult (SPEC 3.1): Success, ErrorMessage (`message`), TableRight null, empty
/// FieldProperties. `storage` holds the nodes (an arena for a document written at once).
document test_result_document(const smtp::test_report& report, const std::optional<std::string>& message,
                              boost::json::storage_ptr storage = {});

/// SmtpTestReport (SPEC 3.8), as Diagnose and `probe --json` write it, properties in its
/// order; ErrorMessage is `message`, Hint is `hint`, Warnings and Suggestions are these.
document report_document(const smtp::test_report& report, const std::optional<std::string>& message,
                         const std::optional<std::string>& hint, const std::vector<worded_warning>& warnings = {},
                         const std::vector<worded_suggestion>& suggestions = {});

/// MethodDescription of GET TestSmtpServer: its parameters and what it returns.
const document& test_smtp_server_description();

/// probe's readable form: the verdict and message, then one line per fact (server, addresses
/// tried, greeting, extensions, TLS, certificate, AUTH, timings), and the transcript when asked.
std::string report_text(const smtp::test_report& report, const std::optional<std::string>& message,
                        bool with_transcript, const std::vector<worded_warning>& warnings = {},
                        const std::vector<worded_suggestion>& suggestions = {});

}  // namespace smtpcheck::serialization
