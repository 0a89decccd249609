// What a route handler receives and returns.
#pragma once

#include "smtpcheck/auth/credentials.hpp"
#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/serialization/localization.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpcheck::auth {
struct remembered_credential;
}

namespace smtpcheck::server {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using request_header = http::request_header<>;

/// A response as handlers build it; the connection adds Date, Content-Length, X-Request-Id
/// and Connection, and writes it from prepared pieces without a Beast serializer.
struct response {
    http::status status = http::status::ok;
    std::string_view content_type;  ///< must outlive the write: use string literals
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< any further fields
    bool close = false;  ///< close the connection after this response
};

/// What the fields of a request's header say, read in one pass over them (each lookup by name
/// in Beast's fields is a case-insensitive search of its own). Views into the header: valid
/// while the request lives. The first of a repeated field counts, as with operator[].
struct header_facts {
    std::string_view accept, accept_language, so_language, so_culture, so_timezone;
    std::string_view content_type, expect, origin, request_id;
    auth::credentials credentials;
    /// A Transfer-Encoding, or a Content-Length other than 0.
    bool has_body = false;
    /// X-Requested-With: XMLHttpRequest, as a page's script sends it (the admin page does): its
    /// 401s leave the Basic challenge out, which would make the browser ask in a dialog of its own.
    bool from_script = false;
    /// Why two parsers could frame this request differently (RFC 9112 6.3, 11.2): more than one
    /// Content-Length or Transfer-Encoding, both, a list in Content-Length, a Transfer-Encoding
    /// that does not end in chunked. Empty when none of these.
    std::string_view framing_problem;
};
header_facts read_header(const request_header& h);

/// What the connection knows of the request besides its bytes.
struct request_context {
    /// The request's header, read once; null when it could not be read.
    const header_facts* header = nullptr;
    /// api.default_language: the language when the request names none.
    std::string_view default_language = "en";
    /// The caller's media type (Accept) and language (SO-Language, Accept-Language,
    /// SO-Culture), worked out on first use. Without a header: JSON and the default language.
    serialization::media_type media();
    const serialization::language_choice& language();
    /// From now on as if no header had been read (JSON, the default language): for an
    /// answer after the request may have been released.
    void forget_header() {
        header = nullptr;
        media_.reset();
        language_.reset();
    }

    /// The connection's memory of its last accepted Basic credential (auth::authenticator::check).
    auth::remembered_credential* remembered = nullptr;
    std::string_view request_id;
    std::string_view peer;  ///< the client's address, for logs and limits
    bool tls = false;
    std::string principal;  ///< set by authentication
    /// For handlers of routes with cancel_on_disconnect: call when the long wait begins; from
    /// then on a client that goes away cancels the handler. Empty on other routes.
    std::function<void()> watch_for_disconnect;

private:
    std::optional<serialization::media_type> media_;
    std::optional<serialization::language_choice> language_;
};

}  // namespace smtpcheck::server
