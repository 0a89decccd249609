// The error documents of SPEC 2.7.
#pragma once

#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/server/http_types.hpp"

#include <string_view>

namespace smtpcheck::server {

/// SPEC 2.7's ErrorType for a status ("NotFound", "PayloadTooLarge", ...).
std::string_view error_type_name(http::status status);

/// `{"Error":true,"ErrorType":...,"ErrorMessage":...,"ErrorSource":...}` with that status,
/// or `<ErrorInfo>` with the same four children when `media` is XML.
response error_response(http::status status, std::string_view message, std::string_view source,
                        serialization::media_type media = serialization::media_type::json);

}  // namespace smtpcheck::server
