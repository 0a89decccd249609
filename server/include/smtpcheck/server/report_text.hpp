// A test report in words: ErrorMessage and Hint in the caller's language (SPEC 2.6, 3.7).
#pragma once

#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace smtpcheck::server {

/// The code's sentence (host, port, phase, the deadline formatted for the culture) plus the
/// server's reply line and the hint; in raw mode `[SR_...]` plus the reply line. Null on
/// success.
std::optional<std::string> report_message(const smtp::test_report& report, const serialization::language_choice& lang,
                                          const serialization::catalogs& texts, std::chrono::milliseconds deadline);

std::optional<std::string> report_hint(const smtp::test_report& report, const serialization::language_choice& lang,
                                       const serialization::catalogs& texts);

}  // namespace smtpcheck::server
