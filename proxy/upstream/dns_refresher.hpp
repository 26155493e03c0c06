#pragma once

#include "config/snapshot.hpp"
#include "proxy/generation.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// Resolves pool host names on the control thread (never on a worker). A name that fails keeps
/// its previous addresses: a DNS hiccup must not empty a pool.
class DnsRefresher {
  public:
    explicit DnsRefresher(asio::io_context& control) : resolver_(control), timer_(control) {}

    /// Answers for every name `snapshot` needs, each lookup bounded by `per_name_timeout`.
    asio::awaitable<DnsAnswers> resolve(const config::Snapshot& snapshot,
                                        const DnsAnswers& previous,
                                        Clock::duration per_name_timeout);

  private:
    tcp::resolver resolver_;
    asio::steady_timer timer_;
};

}  // namespace tg::proxy
