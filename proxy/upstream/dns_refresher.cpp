#include "proxy/upstream/dns_refresher.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {

asio::awaitable<DnsAnswers> DnsRefresher::resolve(const config::Snapshot& snapshot,
                                                  const DnsAnswers& previous,
                                                  Clock::duration per_name_timeout) {
    using namespace asio::experimental::awaitable_operators;
    DnsAnswers answers;
    for (const auto& name : names_to_resolve(snapshot)) {
        timer_.expires_after(per_name_timeout);
        auto outcome = co_await (resolver_.async_resolve(name, "", use_nothrow) ||
                                 timer_.async_wait(use_nothrow));
        std::vector<asio::ip::address> addresses;
        std::string failure = "timed out";
        if (outcome.index() == 0) {
            auto [ec, results] = std::get<0>(outcome);
            if (ec) failure = ec.message();
            for (const auto& entry : results) {
                const auto ip = entry.endpoint().address();
                if (std::find(addresses.begin(), addresses.end(), ip) == addresses.end())
                    addresses.push_back(ip);
            }
        }
        if (!addresses.empty()) {
            answers[name] = std::move(addresses);
        } else if (auto kept = previous.find(name); kept != previous.end()) {
            ops_log::warn("dns lookup failed, keeping previous addresses",
                          {{"name", name}, {"reason", failure}});
            answers[name] = kept->second;
        } else {
            ops_log::warn("dns lookup failed", {{"name", name}, {"reason", failure}});
        }
    }
    co_return answers;
}

}  // namespace tg::proxy
