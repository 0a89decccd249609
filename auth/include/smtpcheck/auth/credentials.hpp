// What a request carries for authentication (SPEC 2.2), as the HTTP layer read it from the
// header: views into the header, which outlives the check.
#pragma once

#include <string_view>

namespace smtpcheck::auth {

struct credentials {
    std::string_view authorization;  ///< Authorization: Basic, SOTicket or Bearer
    std::string_view cookie;         ///< Cookie: the session and XSRF-TOKEN cookies
    std::string_view xsrf_token;     ///< X-XSRF-TOKEN
    std::string_view app_token;      ///< SO-AppToken
};

}  // namespace smtpcheck::auth
