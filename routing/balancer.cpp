#include "routing/balancer.hpp"

#include "routing/mix64.hpp"

namespace tg::routing {
namespace {

/// Which endpoints a selection may choose from.
struct Candidates {
    const BalanceRequest& request;
    bool require_healthy;
    bool skip_avoided;

    bool allows(std::size_t index) const {
        const auto in = [index](std::uint64_t mask) {
            return index < 64 && ((mask >> index) & 1u) != 0;
        };
        return !in(request.tried_mask) && !(skip_avoided && in(request.avoid_mask)) &&
               (!require_healthy || request.endpoints[index].healthy);
    }
};

/// Healthy untried endpoints not to avoid if there is one, else healthy untried ones, else all
/// untried ones; nullopt if none is left.
std::optional<Candidates> candidates_for(const BalanceRequest& request) {
    for (const Candidates candidates :
         {Candidates{request, true, true}, Candidates{request, true, false},
          Candidates{request, false, false}})
        for (std::size_t i = 0; i < request.endpoints.size(); ++i)
            if (candidates.allows(i)) return candidates;
    return std::nullopt;
}

std::size_t round_robin(const Candidates& candidates, std::uint64_t& cursor) {
    const std::size_t count = candidates.request.endpoints.size();
    const std::size_t start = static_cast<std::size_t>(cursor % count);
    std::size_t index = start;
    for (std::size_t step = 0; step < count; ++step) {
        index = (start + step) % count;
        if (candidates.allows(index)) break;
    }
    // The cursor moves past the chosen endpoint rather than by one, so skipping an excluded
    // endpoint does not hand its turn to its neighbour twice.
    cursor = index + 1;
    return index;
}

std::size_t least_conn(const Candidates& candidates, std::uint64_t& cursor) {
    const auto endpoints = candidates.request.endpoints;
    const std::size_t count = endpoints.size();
    const std::size_t start = static_cast<std::size_t>(cursor % count);
    std::size_t best = count;
    for (std::size_t step = 0; step < count; ++step) {
        const std::size_t index = (start + step) % count;
        if (candidates.allows(index) &&
            (best == count || endpoints[index].active < endpoints[best].active))
            best = index;
    }
    cursor = best + 1;
    return best;
}

/// Highest random weight (Thaler & Ravishankar, 1998): each (key, endpoint) pair gets a
/// pseudo-random weight and the heaviest candidate wins, so an endpoint leaving or failing
/// moves only the keys it held, and they spread evenly over the others.
std::size_t rendezvous(const Candidates& candidates, std::string_view key) {
    const std::uint64_t key_hash = stable_hash(key);
    const auto endpoints = candidates.request.endpoints;
    std::size_t best = endpoints.size();
    std::uint64_t best_weight = 0;
    for (std::size_t index = 0; index < endpoints.size(); ++index) {
        if (!candidates.allows(index)) continue;
        const std::uint64_t weight = mix64(key_hash ^ mix64(endpoints[index].id));
        if (best == endpoints.size() || weight > best_weight) {
            best = index;
            best_weight = weight;
        }
    }
    return best;
}

bool is_cookie_space(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_cookie_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_cookie_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace

std::optional<std::size_t> select_endpoint(const BalanceRequest& request,
                                           std::uint64_t& round_robin_cursor) {
    const auto candidates = candidates_for(request);
    if (!candidates) return std::nullopt;
    if (request.method == config::Balance::round_robin)
        return round_robin(*candidates, round_robin_cursor);
    if (request.method == config::Balance::cookie_hash && request.affinity_key)
        return rendezvous(*candidates, *request.affinity_key);
    return least_conn(*candidates, round_robin_cursor);
}

std::optional<std::string_view> odoo_session_id(std::string_view cookie_header) noexcept {
    constexpr std::string_view name = "session_id";
    while (!cookie_header.empty()) {
        const std::size_t end = cookie_header.find(';');
        const std::string_view pair = trim(cookie_header.substr(0, end));
        cookie_header =
            end == std::string_view::npos ? std::string_view{} : cookie_header.substr(end + 1);
        const std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos || trim(pair.substr(0, equals)) != name) continue;
        std::string_view value = trim(pair.substr(equals + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (value.empty()) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

std::uint64_t stable_hash(std::string_view text) noexcept {
    std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ull;  // FNV 64-bit prime
    }
    return hash;
}

}  // namespace tg::routing
