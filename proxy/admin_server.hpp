#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "config/snapshot.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// What the admin API reports about the process; written by the control thread only.
struct ServerState {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::uint64_t config_generation = 1;
    bool draining = false;
};

/// The admin listener (SPEC §6), on the control thread and never on a public listener.
class AdminServer {
  public:
    AdminServer(asio::io_context& control, tcp::acceptor acceptor, const ServerState& state);
    void start();
    void stop();
    tcp::endpoint local_endpoint() const;

  private:
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(tcp::socket socket);
    http::response<http::string_body> handle(const http::request<http::string_body>& request) const;

    asio::io_context& control_;
    tcp::acceptor acceptor_;
    const ServerState& state_;
};

}  // namespace tg::proxy
