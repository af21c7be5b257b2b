// Passing descriptors between processes over a Unix socket (SCM_RIGHTS),
// for the listener's and the spawners' reused children.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/fd.h"

namespace qmail::io {

// At most this many descriptors go with one message.
inline constexpr std::size_t kMaxPassedFds = 8;

// Sends `data` (not empty) with `fds` as one message on `sock` (best on
// SOCK_SEQPACKET). False on any error, with errno set; a short send is
// an error.
bool send_with_fds(int sock, std::string_view data, std::span<const int> fds);

// Waits for one message of at most `max` bytes on `sock`; the
// descriptors that came with it are appended to `fds` (close-on-exec).
// nullopt at end of file or on error (errno set; 0 at end of file).
std::optional<std::string> recv_with_fds(int sock, std::size_t max, std::vector<Fd>* fds);

}  // namespace qmail::io
