#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "config/load.hpp"
#include "proxy/admin/ctl.hpp"
#include "proxy/server.hpp"
#include "tls/check.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage =
    "usage: tenantgate [run] [--config FILE]   serve (default: the embedded demo config)\n"
    "       tenantgate check --config FILE     validate a config file and exit\n"
    "       tenantgate ctl [--admin URL] [--token-file F] [--json] COMMAND\n"
    "                  status | tenants | tenant NAME | reload | drain | audit [--limit N]\n"
    "                  maintenance on|off [--tenant NAME] [--message TEXT] [--retry-after S]\n"
    "                  release NAME --to blue|green [--drain-timeout D] [--force]\n"
    "       tenantgate --version | --help\n";

struct CommandLine {
    std::string command = "run";
    std::string config_path;
};

/// Parses argv; returns false (after printing why) on a usage error.
bool parse(int argc, char** argv, CommandLine& out) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    std::size_t i = 0;
    if (i < args.size() && !args[i].starts_with("-")) out.command = args[i++];
    if (out.command != "run" && out.command != "check") {
        std::cerr << "tenantgate: unknown command \"" << out.command << "\"\n" << usage;
        return false;
    }
    for (; i < args.size(); ++i) {
        if (args[i] == "--config" && i + 1 < args.size()) {
            out.config_path = args[++i];
        } else if (args[i].starts_with("--config=")) {
            out.config_path = args[i].substr(9);
        } else {
            std::cerr << "tenantgate: unexpected argument \"" << args[i] << "\"\n" << usage;
            return false;
        }
    }
    if (out.command == "check" && out.config_path.empty()) {
        std::cerr << "tenantgate: check needs --config FILE\n" << usage;
        return false;
    }
    return true;
}

tg::config::LoadResult load(const std::string& path) {
    if (path.empty())
        return tg::config::load_text(tg::config::embedded_demo_config(), "<embedded demo>", ".");
    return tg::config::load_file(path);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::cout << usage;
        return exit_ok;
    }
    if (argc == 2 && std::string_view(argv[1]) == "--version") {
        std::cout << "tenantgate " << TG_VERSION << "\n";
        return exit_ok;
    }
    if (argc >= 2 && std::string_view(argv[1]) == "ctl") {
        const std::vector<std::string_view> args(argv + 2, argv + argc);
        return tg::proxy::run_ctl(args);
    }
    CommandLine command_line;
    if (!parse(argc, argv, command_line)) return exit_usage;

    const auto loaded = load(command_line.config_path);
    for (const auto& warning : loaded.warnings) std::cerr << "warning: " << warning << "\n";
    if (!loaded.snapshot) {
        for (const auto& error : loaded.errors) std::cerr << error.to_string() << "\n";
        return exit_failed;
    }
    if (command_line.command == "check") {
        std::vector<std::string> tls_errors;
        std::vector<std::string> tls_warnings;
        for (const auto& listener : loaded.snapshot->listeners) {
            if (!listener.tls) continue;
            for (auto& e : tg::tls::check_listener_tls(
                     *listener.tls, std::chrono::system_clock::now(), tls_warnings))
                tls_errors.push_back("listener " + listener.name + ": " + e);
        }
        for (const auto& warning : tls_warnings) std::cerr << "warning: " << warning << "\n";
        for (const auto& error : tls_errors) std::cerr << error << "\n";
        if (!tls_errors.empty()) return exit_failed;
        std::cout << "config OK: " << tg::config::describe(*loaded.snapshot) << "\n";
        return exit_ok;
    }
    // Peers that vanish must surface as EPIPE on that socket or pipe, not end the process.
    ::signal(SIGPIPE, SIG_IGN);
    tg::proxy::Server server(command_line.config_path, loaded.snapshot);
    return server.run();
}
