// The test message of SPEC 3.5, composed without I/O.
#pragma once

#include <chrono>
#include <string>

namespace smtpcheck::smtp {

struct message_fields {
    std::string from;        ///< a validated mailbox
    std::string to;          ///< the test recipient
    std::string subject;     ///< localized, UTF-8
    std::string body;        ///< localized, UTF-8, any line ends
    std::string message_id;  ///< the random local part of Message-ID
    std::chrono::system_clock::time_point date;
};

/// RFC 5322 text ready for DATA: CRLF line ends, lines under 998 octets, dot-stuffed, ending
/// in CRLF and without the terminating ".". Non-ASCII subjects become RFC 2047 encoded
/// words and non-ASCII bodies base64, so any server can carry it without 8BITMIME.
std::string compose_message(const message_fields& fields);

/// 16 random octets from OpenSSL, in hex: a Message-ID local part nobody can guess.
std::string random_message_id();

}  // namespace smtpcheck::smtp
