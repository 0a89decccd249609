// Loggers for the server and the command line: spdlog, text or JSON lines on stderr.
#pragma once

#include "smtpcheck/server/config.hpp"

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace smtpcheck {

/// A logger writing to stderr in the configured format and level. It is not registered in
/// spdlog's global registry: each server (or embedding program) owns its own.
std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings, std::string name = "smtpcheck");

}  // namespace smtpcheck
