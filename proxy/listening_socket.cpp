#include "proxy/listening_socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace tg::proxy {

tcp::acceptor open_acceptor(asio::io_context& context, const tcp::endpoint& address,
                            bool reuse_port) {
    tcp::acceptor acceptor(context);
    acceptor.open(address.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    // Connections accepted here inherit it (Linux): no setsockopt per connection.
    acceptor.set_option(tcp::no_delay(true));
    if (reuse_port) {
        // Each worker accepts on its own socket and the kernel spreads connections among them.
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
    }
    acceptor.bind(address);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor;
}

}  // namespace tg::proxy
