// load_config_text: the INI text of --config and the --set overrides. The input up to the
// first NUL is the INI text; each further NUL-separated part is one `section.key=value`
// override. config_error is the documented refusal; any other exception escapes and is a
// finding.
#include "smtpcheck/server/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nul = input.find('\0');
    const std::string_view ini = input.substr(0, nul);
    std::vector<std::string> overrides;
    while (nul != std::string_view::npos) {
        input.remove_prefix(nul + 1);
        nul = input.find('\0');
        overrides.emplace_back(input.substr(0, nul));
    }

    try {
        const smtpcheck::config c = smtpcheck::load_config_text(ini, overrides);
        // What load_config promises of a configuration it returns (SPEC section 4).
        if (c.server.listen.empty()) __builtin_trap();
        if (c.server.header_limit < 1024 || c.server.header_limit > (1u << 20)) __builtin_trap();
        if (c.server.body_limit > (64u << 20)) __builtin_trap();
        if (!c.server.tls_listen.empty() && (c.server.tls_cert.empty() || c.server.tls_key.empty())) __builtin_trap();
        if (!c.server.base_path.empty() && (c.server.base_path.front() != '/' || c.server.base_path.back() == '/'))
            __builtin_trap();
        if (c.smtp.test_recipient.find('@') == std::string::npos) __builtin_trap();
    } catch (const smtpcheck::config_error&) {
    }

    for (const auto& o : overrides) {
        try {
            auto a = smtpcheck::parse_listen_address(o);
            if (a.type == smtpcheck::listen_address::kind::tcp && a.host.empty()) __builtin_trap();
        } catch (const smtpcheck::config_error&) {
        }
    }
    return 0;
}
