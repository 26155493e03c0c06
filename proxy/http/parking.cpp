#include "proxy/http/parking.hpp"

#include "proxy/http/session.hpp"
#include "proxy/readiness.hpp"

namespace tg::proxy {

void park(std::unique_ptr<PlainConnection> connection) {
    PlainConnection& parked = *connection;
    const std::size_t limit = parked.worker.generation()->config().limits.max_header_bytes;
    async_read_drained(parked.worker.reactor(), parked.socket(), ClientReadTarget{&parked, limit},
                       [connection = std::move(connection)](error_code ec, std::size_t n) mutable {
                           connection->buffer.commit(n);
                           if (ec) return;  // the connection closes as it is destroyed
                           connection->comes_back_soon =
                               Clock::now() - connection->idle_since < park_delay;
                           start_plain(std::move(connection));
                       });
}

}  // namespace tg::proxy
