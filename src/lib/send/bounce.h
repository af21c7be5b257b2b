// Bounce messages in QSBMF, the qmail-send Bounce Message Format
// (qmail-send(8), qmail's QSBMF notes). The bounce file bounce/<id>
// accumulates one paragraph per failed recipient:
//   "<rcpt>:\n" report lines "\n" "\n"
// and when the message has no deliveries under way qmail-send injects:
//   single bounce (sender not empty): from bouncefrom@bouncehost, envelope
//     sender "", to the original sender;
//   double bounce (sender ""): to doublebounceto@doublebouncehost,
//     envelope sender "#@[]";
//   triple bounce (sender "#@[]"): discarded.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::send {

// The envelope sender qmail-send uses for double bounces.
inline constexpr std::string_view kDoubleBounceSender = "#@[]";
// Default bound on the quoted copy of the original message
// (control/bouncemaxbytes; 0 means no bound).
inline constexpr std::uint64_t kDefaultBounceMaxBytes = 50000;
// Text added when a temporary failure outlives control/queuelifetime.
inline constexpr std::string_view kGivingUp =
    "I'm not going to try again; this message has been in the queue too long.\n";

// One recipient paragraph for the bounce file: "<rcpt>:\n" (a newline in
// rcpt becomes '_'), the report (NULs dropped, a final newline ensured, an
// empty line inside it marked "/" as qmail-send does), then an empty line.
std::string bounce_paragraph(std::string_view recipient, std::string_view report);

// Where the bounce of a message from `sender` goes: the sender itself,
// except that a VERP sender "owner-@host-@[]" bounces to "owner-@host".
std::string_view bounce_recipient_of(std::string_view sender);

struct BounceConfig {
  std::string me;                // "qmail-send program at ME"
  std::string bouncefrom;        // default MAILER-DAEMON
  std::string bouncehost;        // default me
  std::string doublebounceto;    // default postmaster
  std::string doublebouncehost;  // default me
  std::uint64_t maxbytes = kDefaultBounceMaxBytes;
};

// Reads the bounce controls. Errors: temp on unreadable control files.
Result<BounceConfig> load_bounce_config();

struct BouncePlan {
  bool discard = false;         // triple bounce
  std::string envelope_sender;  // "" or "#@[]"
  std::string recipient;
  std::string head;  // headers, QSBMF text, paragraphs and the copy marker
};

// Plans the bounce of a message whose envelope sender was `sender`, with
// the accumulated `paragraphs`, at time `now`: qmail-send's text, naming
// bouncehost; the copy of the message follows head and starts with
// "Return-Path: <sender>" (in head).
BouncePlan plan_bounce(const BounceConfig& c, std::string_view sender, std::string_view paragraphs,
                       std::time_t now);

// RFC 5322 date in UTC, "22 Nov 2026 00:59:59 -0000".
std::string rfc5322_date(std::time_t t);

}  // namespace qmail::send
