// The TestSmtpServer request body in its seven media types (SPEC 2.3). Bytes in, a request
// or a precise refusal out: no sockets, fuzz-friendly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace smtpcheck::serialization {

struct test_request_body {
    std::optional<std::string> smtp_uri;
    std::optional<std::string> from;
    bool use_stored_password = false;
};

struct decode_error {
    int status = 400;  ///< 400 (syntax, type, patch, depth) or 415 (media type, charset)
    std::string message;
};

/// `content_type` is the header as sent (parameters included). An empty body needs no type
/// and is the default request.
/// `max_document` bounds what a JSON patch may build (SPEC 7: no larger than the body limit
/// allows).
std::variant<test_request_body, decode_error> decode_request(std::string_view content_type, std::string_view body,
                                                             std::size_t max_document = 65536);

/// Whether a Content-Type (with its charset) is one decode_request reads; for refusing
/// before the body arrives (415).
std::optional<decode_error> check_content_type(std::string_view content_type);

inline constexpr std::size_t max_depth = 32;

}  // namespace smtpcheck::serialization
