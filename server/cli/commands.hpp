// The subcommands of the smtpcheck executable, one function each.
#pragma once

#include "smtpcheck/server/config.hpp"

#include <functional>
#include <optional>
#include <string>
#include <span>
#include <string_view>

namespace smtpcheck::cli {

struct common_options {
    config_sources sources;
    bool help = false;
};

/// Handles an argument a command adds: returns true when it took it (advancing `i` past a
/// value), false when it does not know it. Sets `failed` when the argument is malformed.
using extra_option = std::function<bool(std::string_view arg, std::span<char*> args, std::size_t& i, bool& failed)>;

/// --config, --set and --help, plus what `extra` takes. False (after saying why) on an
/// argument nobody knows.
bool parse_common(std::span<char*> args, common_options& out, const extra_option& extra = {});

/// One line from stdin without its line end (a password); nullopt, after saying so, when empty.
std::optional<std::string> read_secret_line();

int run_probe(std::span<char*> args);
int run_credentials(std::span<char*> args);
int run_hash_password(std::span<char*> args);
int run_ticket(std::span<char*> args);

}  // namespace smtpcheck::cli
