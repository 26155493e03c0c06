#pragma once

#include "proxy/io.hpp"

namespace tg::proxy {

/// A socket listening on `address`, with SO_REUSEADDR, and SO_REUSEPORT when `reuse_port` (each
/// worker accepts on its own socket). Its connections come with TCP_NODELAY already set.
/// Throws (a std::runtime_error) when the address cannot be had.
tcp::acceptor open_acceptor(asio::io_context& context, const tcp::endpoint& address,
                            bool reuse_port);

}  // namespace tg::proxy
