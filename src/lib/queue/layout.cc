#include "queue/layout.h"

#include "home/home.h"

namespace qmail::queue {

Layout Layout::from_home() { return Layout(home::path("queue")); }

}  // namespace qmail::queue
