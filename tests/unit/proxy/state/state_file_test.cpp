#include "proxy/state/state_file.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "tests/unit/file_fixtures.hpp"

namespace fs = std::filesystem;
using tg::config::Color;
using tg::proxy::Maintenance;
using tg::proxy::ReleaseState;
using tg::proxy::RuntimeState;
using tg::proxy::StateFile;
using Outcome = tg::proxy::StateFileLoad::Outcome;

using tg::test::FileSizeLimit;
using tg::test::read_file;
using tg::test::TempDir;

namespace {

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

/// The names in `directory`: a failed save must leave no temporary file behind.
std::set<std::string> names_in(const fs::path& directory) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory))
        names.insert(entry.path().filename().string());
    return names;
}

RuntimeState switched_state() {
    RuntimeState state;
    state.version = 1733380000123;
    state.origin = "host-1";
    state.tenant_maintenance["acme"] = Maintenance{true, "Upgrading", 600};
    state.releases["acme"] = ReleaseState{Color::green, Color::blue, 1733380000123, 120000};
    return state;
}

}  // namespace

TEST_CASE("state file: none yet is a fresh start, not an error", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto load = StateFile((dir / "state.json").string()).load();
    CHECK(load.outcome == Outcome::absent);
    CHECK(load.ok());
    CHECK(load.state == RuntimeState{});
    CHECK(load.error.empty());
}

TEST_CASE("state file: what is saved is loaded, and replaced whole", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    const StateFile file(path.string());
    std::string error;
    REQUIRE(file.save(switched_state(), error));
    CHECK(error.empty());

    auto load = file.load();
    REQUIRE(load.outcome == Outcome::loaded);
    CHECK(load.state == switched_state());
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(read_file(path).ends_with("}\n"));

    RuntimeState next = switched_state();
    next.version += 1;
    next.releases.clear();
    REQUIRE(file.save(next, error));
    load = file.load();
    REQUIRE(load.outcome == Outcome::loaded);
    CHECK(load.state == next);
    CHECK(names_in(dir.path()) == std::set<std::string>{"state.json"});
}

TEST_CASE("state file: a corrupt file is an error naming it, and is left alone", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    const StateFile file(path.string());
    for (
        const std::string text :
        {"", "{\"version\": 3, \"releases\": {\"acme\": {\"act", "{\"version\": 3, \"extra\": 1}",
         R"({"releases": {"acme": {"active": "red", "switched_at_ms": 1, "drain_timeout_ms": 1}}})"}) {
        INFO(text);
        write_file(path, text);
        const auto load = file.load();
        CHECK(load.outcome == Outcome::failed);
        CHECK_FALSE(load.ok());
        CHECK(load.state == RuntimeState{});
        CHECK(load.error.find(path.string()) != std::string::npos);
        CHECK(read_file(path) == text);
    }
    write_file(path, R"({"releases": {"acme": {"active": "red"}}})");
    CHECK(file.load().error ==
          "state file " + path.string() + ": releases.acme.active: expected \"blue\" or \"green\"");
    write_file(path, "{");
    CHECK(file.load().error.find(": invalid JSON at byte ") != std::string::npos);
}

TEST_CASE("state file: an unreadable path is an error with the reason", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    fs::create_directory(path);
    const auto load = StateFile(path.string()).load();
    CHECK(load.outcome == Outcome::failed);
    CHECK(load.error == "cannot read state file " + path.string() + ": Is a directory");
}

TEST_CASE("state file: a failed save keeps the old file and leaves no temporary file",
          "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    const StateFile file(path.string());
    std::string error;
    REQUIRE(file.save(switched_state(), error));
    const std::string before = read_file(path);
    RuntimeState next = switched_state();
    next.version += 1;

    SECTION("the write fails (file size limit, as a full disk)") {
        bool saved = true;
        {
            FileSizeLimit limit(16);
            saved = file.save(next, error);
        }
        CHECK_FALSE(saved);
        CHECK(error.starts_with("cannot write " + path.string() + ".tmp-"));
        CHECK(error.ends_with(": File too large"));
    }
    SECTION("the rename fails (the target became a directory)") {
        fs::remove(path);
        fs::create_directory(path);
        write_file(path / "inside", before);
        CHECK_FALSE(file.save(next, error));
        CHECK(error.starts_with("cannot rename " + path.string() + ".tmp-"));
        CHECK(fs::is_directory(path));
        CHECK(read_file(path / "inside") == before);
    }
    CHECK(names_in(dir.path()) == std::set<std::string>{"state.json"});
    if (fs::is_regular_file(path)) {
        CHECK(read_file(path) == before);
        CHECK(file.load().state == switched_state());
    }
}

TEST_CASE("state file: a save into a vanished directory fails with the reason", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "gone" / "state.json";
    std::string error;
    CHECK_FALSE(StateFile(path.string()).save(switched_state(), error));
    CHECK(error.starts_with("cannot create " + path.string() + ".tmp-"));
    CHECK(error.ends_with(": No such file or directory"));
    CHECK(names_in(dir.path()).empty());
}

TEST_CASE("state file: a relative path saves in the current directory", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto cwd = fs::current_path();
    fs::current_path(dir.path());
    std::string error;
    const bool saved = StateFile("state.json").save(switched_state(), error);
    fs::current_path(cwd);
    INFO(error);
    CHECK(saved);
    CHECK(StateFile((dir / "state.json").string()).load().state == switched_state());
}
