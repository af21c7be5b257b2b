// The notices two delivery helpers send: qbiff(1) writes a short new-mail
// notice to the user's terminals, qreceipt(1) mails a delivery notice back
// to the sender.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "local/header.h"

namespace qmail::local {

// Lines of header shown by qbiff, and the width each is cut to.
inline constexpr std::size_t kBiffColumns = 76;

// The text qbiff writes to a terminal: a bell and "New mail from <sender>"
// then the From and Subject fields. Bytes a remote sender controls are
// made harmless: control characters and bytes >= 127 become '?', and each
// line is cut to kBiffColumns. Lines end in "\r\n" (the tty may be raw).
std::string biff_notice(std::string_view sender, const std::vector<HeaderField>& header);

// Writes `notice` to the terminal device `path` if it is a character
// device owned by `uid` with its owner-execute bit set (what "biff y"
// sets). Never blocks (O_NONBLOCK) and never makes it our controlling
// terminal. Returns whether it wrote.
bool notify_tty(const std::string& path, uid_t uid, std::string_view notice);

// qreceipt(1): does some Notice-Requested-Upon-Delivery-To field list
// `address` (ASCII case ignored)?
bool receipt_requested(const std::vector<HeaderField>& header, std::string_view address);

// Should a notice be sent at all? Not for bounces (sender empty or
// "#@[]"), a sender without '@', or mail marked "Precedence: bulk",
// "junk" or "list".
bool receipt_allowed(std::string_view sender, const std::vector<HeaderField>& header);

// The delivery notice qreceipt sends to `sender` (a complete message).
std::string receipt_message(std::string_view address, std::string_view sender,
                            const std::vector<HeaderField>& header, std::time_t now);

}  // namespace qmail::local
