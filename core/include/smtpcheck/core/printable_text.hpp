// Text from outside (an SMTP server's reply, a caller's header) made fit for documents, logs
// and XML: valid UTF-8 without control characters.
#pragma once

#include <string>
#include <string_view>

namespace smtpcheck::core {

/// Valid UTF-8 is kept, a tab becomes a space, every invalid octet and control character (C0,
/// DEL, C1) becomes U+FFFD.
std::string printable_text(std::string_view text);

/// Octets 0x20-0x7E only: the fast path of both functions above, checked eight at a time.
bool is_printable_ascii(std::string_view text);

/// Whether printable_text would leave `text` as it is.
bool is_printable_text(std::string_view text);

}  // namespace smtpcheck::core
