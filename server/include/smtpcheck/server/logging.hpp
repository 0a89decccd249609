// Loggers for the server and the command line: spdlog, text or JSON lines on stderr.
#pragma once

#include "smtpcheck/server/config.hpp"

#include <memory>
#include <string>

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace smtpcheck {

/// A logger writing to stderr in the configured format and level. It is not registered in
/// spdlog's global registry: each server (or embedding program) owns its own.
/// In either format a message cannot forge a line: the text format writes control characters
/// of a message (a CR LF in a user name, a JWT header) as \xNN, the JSON format escapes them.
std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings, std::string name = "smtpcheck");
/// The same, writing to `sink` (tests, embedding programs).
std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings, std::string name,
                                            std::shared_ptr<spdlog::sinks::sink> sink);

}  // namespace smtpcheck
