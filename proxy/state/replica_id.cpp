#include "proxy/state/replica_id.hpp"

#include <unistd.h>

#include <random>

namespace tg::proxy {

std::string make_replica_id() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" +
           std::to_string(std::random_device{}() % 1000000);
}

}  // namespace tg::proxy
