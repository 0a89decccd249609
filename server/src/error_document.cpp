#include "smtpcheck/server/error_document.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace smtpcheck::server {

std::string_view error_type_name(http::status status) {
    switch (status) {
    case http::status::bad_request: return "BadRequest";
    case http::status::unauthorized: return "Unauthorized";
    case http::status::forbidden: return "Forbidden";
    case http::status::not_found: return "NotFound";
    case http::status::method_not_allowed: return "MethodNotAllowed";
    case http::status::payload_too_large: return "PayloadTooLarge";
    case http::status::unsupported_media_type: return "UnsupportedMediaType";
    case http::status::too_many_requests: return "TooManyRequests";
    case http::status::request_header_fields_too_large: return "RequestHeaderFieldsTooLarge";
    case http::status::service_unavailable: return "ServiceUnavailable";
    default: return "InternalError";
    }
}

response error_response(http::status status, std::string_view message, std::string_view source,
                        serialization::media_type media) {
    serialization::document doc{"ErrorInfo", boost::json::object{{"Error", true},
                                                                 {"ErrorType", error_type_name(status)},
                                                                 {"ErrorMessage", message},
                                                                 {"ErrorSource", source}}};
    response r;
    r.status = status;
    r.content_type = serialization::content_type_of(media);
    r.body = serialization::write(doc, media);
    return r;
}

}  // namespace smtpcheck::server
