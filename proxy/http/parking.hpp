#pragma once

#include <chrono>
#include <memory>

#include "proxy/http/client_connection.hpp"

namespace tg::proxy {

/// How long a plain connection waits for its next request in its coroutine before it is
/// parked. A connection whose requests come closer together than this keeps its coroutine, so
/// a busy keep-alive connection pays for no new one per request; a connection that came back
/// later than this is parked as soon as its next wait begins.
inline constexpr Clock::duration park_delay = std::chrono::seconds(1);

/// Parks a plain connection idle between two requests: its coroutine frames and Session are
/// gone, and it waits as its ClientConnection alone, owned by a read on its socket. The first
/// bytes of the next request start a new Session on it (start_plain). End of stream, client_idle
/// (the slot's deadline, as for a wait in the coroutine) or a drain (the sweep cancels idle
/// slots) close it instead, with no answer, as an idle keep-alive connection ends.
void park(std::unique_ptr<PlainConnection> connection);

}  // namespace tg::proxy
