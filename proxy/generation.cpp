#include "proxy/generation.hpp"

#include <algorithm>

#include "proxy/upstream/health_board.hpp"
#include "routing/balancer.hpp"

namespace tg::proxy {
namespace {

std::string endpoint_label(const tcp::endpoint& address) {
    // Appended piece by piece: `"[" + text` trips GCC 12's -Wrestrict false positive.
    const auto ip = address.address();
    std::string label;
    if (ip.is_v6()) label += '[';
    label += ip.to_string();
    if (ip.is_v6()) label += ']';
    label += ':';
    label += std::to_string(address.port());
    return label;
}

void add_endpoints(const std::vector<config::HostPort>& configured, const DnsAnswers& dns,
                   std::vector<ResolvedEndpoint>& out) {
    for (const auto& host_port : configured) {
        error_code ec;
        const auto literal = asio::ip::make_address(host_port.host, ec);
        std::vector<asio::ip::address> addresses;
        if (!ec) {
            addresses.push_back(literal);
        } else if (auto found = dns.find(host_port.host); found != dns.end()) {
            addresses = found->second;
        }
        for (const auto& ip : addresses) {
            ResolvedEndpoint endpoint;
            endpoint.address = tcp::endpoint(ip, host_port.port);
            endpoint.label = endpoint_label(endpoint.address);
            endpoint.id = routing::stable_hash(endpoint.label);
            const bool duplicate = std::any_of(out.begin(), out.end(), [&](const auto& e) {
                return e.address == endpoint.address;
            });
            if (!duplicate) out.push_back(std::move(endpoint));
        }
    }
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

Generation::Generation(std::shared_ptr<const config::Snapshot> snapshot, std::uint64_t number,
                       const DnsAnswers& dns, TlsStores tls, const Generation* previous,
                       Limiter& limiter)
    : snapshot_(std::move(snapshot)),
      number_(number),
      hosts_(*snapshot_),
      tls_(std::move(tls)),
      limiter_(&limiter),
      budgets_(limiter.budgets_for(*snapshot_)),
      health_(std::make_unique<HealthBoard>()) {
    for (const auto& [name, pool] : snapshot_->pools) {
        ResolvedPool resolved;
        resolved.config = &pool;
        add_endpoints(pool.web, dns, resolved.web);
        add_endpoints(pool.longpolling, dns, resolved.longpolling);
        resolved.health = health_->add_pool(name, resolved);
        pools_.emplace(name, std::move(resolved));
    }
    if (previous != nullptr) health_->carry_over(previous->health());
}

Generation::~Generation() = default;

const ResolvedPool* Generation::pool(std::string_view name) const {
    const auto found = pools_.find(name);
    return found == pools_.end() ? nullptr : &found->second;
}

bool Generation::has_endpoint(const tcp::endpoint& address) const {
    const auto in = [&](const std::vector<ResolvedEndpoint>& list) {
        return std::any_of(list.begin(), list.end(),
                           [&](const auto& e) { return e.address == address; });
    };
    return std::any_of(pools_.begin(), pools_.end(), [&](const auto& entry) {
        return in(entry.second.web) || in(entry.second.longpolling);
    });
}

std::vector<std::string> names_to_resolve(const config::Snapshot& snapshot) {
    std::vector<std::string> names;
    for (const auto& [_, pool] : snapshot.pools) {
        for (const auto* list : {&pool.web, &pool.longpolling})
            for (const auto& host_port : *list)
                if (!is_ip_literal(host_port.host)) names.push_back(host_port.host);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

}  // namespace tg::proxy
