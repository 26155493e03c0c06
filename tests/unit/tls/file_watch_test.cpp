#include "tls/file_watch.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

#include "pki_fixture.hpp"

using tg::tls::changed;
using tg::tls::changes;
using tg::tls::fingerprint;
using tg::tls::ReloadTrigger;
using tg::tls::test::TempDir;
using tg::tls::test::write_text;
namespace fs = std::filesystem;

TEST_CASE("tls_files lists every cert and key once", "[tls][watch]") {
    tg::config::TlsSettings settings;
    settings.certificates = {{"a.pem", "a.key"}, {"b.pem", "a.key"}};
    CHECK(tg::tls::tls_files(settings) == std::vector<std::string>{"a.pem", "a.key", "b.pem"});
}

TEST_CASE("a fingerprint records identity and content", "[tls][watch]") {
    const TempDir dir;
    write_text(dir.file("a.pem"), "one");
    const auto print = fingerprint({dir.file("a.pem"), dir.file("missing.pem")});
    REQUIRE(print.size() == 2);
    CHECK(print[0].error == 0);
    CHECK(print[0].size == 3);
    CHECK(print[0].inode != 0);
    CHECK(print[0].sha256 != decltype(print[0].sha256){});
    CHECK(print[1].error == ENOENT);
    CHECK_FALSE(changed(print, fingerprint({dir.file("a.pem"), dir.file("missing.pem")})));
}

TEST_CASE("an in-place rewrite of the same size is a change", "[tls][watch]") {
    const TempDir dir;
    const std::string path = dir.file("cert.pem");
    write_text(path, "AAAA");
    const auto before = fingerprint({path});
    write_text(path, "BBBB");
    const auto after = fingerprint({path});
    CHECK(before[0].inode == after[0].inode);
    CHECK(changed(before, after));
    CHECK(changes(before, after) == std::vector<std::string>{path + ": rewritten in place"});
}

TEST_CASE("touching a file or re-projecting the same bytes is not a change", "[tls][watch]") {
    const TempDir dir;
    const std::string path = dir.file("cert.pem");
    write_text(path, "same");
    const auto before = fingerprint({path});
    fs::last_write_time(path, fs::last_write_time(path) + std::chrono::hours(1));
    const auto touched = fingerprint({path});
    CHECK(touched[0].mtime_ns != before[0].mtime_ns);
    CHECK_FALSE(changed(before, touched));
    CHECK(changes(before, touched).empty());
}

TEST_CASE("a Kubernetes secret update (..data symlink swap) is a change", "[tls][watch]") {
    // The kubelet's atomic writer: files are links into ..data, itself a link to a timestamped
    // directory that is replaced with a rename.
    const TempDir dir;
    const fs::path root = dir.path();
    fs::create_directory(root / "..2024_01");
    write_text((root / "..2024_01" / "tls.crt").string(), "old certificate");
    fs::create_directory_symlink("..2024_01", root / "..data");
    fs::create_symlink("..data/tls.crt", root / "tls.crt");
    const std::string path = (root / "tls.crt").string();
    const auto before = fingerprint({path});
    REQUIRE(before[0].error == 0);

    fs::create_directory(root / "..2024_02");
    write_text((root / "..2024_02" / "tls.crt").string(), "new certificate");
    fs::create_directory_symlink("..2024_02", root / "..data_tmp");
    fs::rename(root / "..data_tmp", root / "..data");
    fs::remove_all(root / "..2024_01");

    const auto after = fingerprint({path});
    CHECK(after[0].inode != before[0].inode);
    CHECK(changed(before, after));
    CHECK(changes(before, after) == std::vector<std::string>{path + ": replaced"});
}

TEST_CASE("a file that disappears is a change", "[tls][watch]") {
    const TempDir dir;
    const std::string path = dir.file("key.pem");
    write_text(path, "key");
    const auto before = fingerprint({path});
    fs::remove(path);
    const auto after = fingerprint({path});
    CHECK(changed(before, after));
    CHECK(changes(before, after) ==
          std::vector<std::string>{path + ": now unreadable: No such file or directory"});
    write_text(path, "key");
    CHECK(changes(after, fingerprint({path})) ==
          std::vector<std::string>{path + ": readable again"});
}

TEST_CASE("the reload trigger waits for the files to settle, then fires once", "[tls][watch]") {
    const TempDir dir;
    const std::string cert = dir.file("cert.pem");
    const std::string key = dir.file("key.pem");
    write_text(cert, "cert 1");
    write_text(key, "key 1");
    const std::vector<std::string> paths{cert, key};
    ReloadTrigger trigger(fingerprint(paths));
    CHECK_FALSE(trigger.poll(fingerprint(paths)));

    write_text(cert, "cert 2");  // the renewal writes the cert ...
    CHECK_FALSE(trigger.poll(fingerprint(paths)));
    write_text(key, "key 2");  // ... then the key
    CHECK_FALSE(trigger.poll(fingerprint(paths)));
    CHECK(trigger.poll(fingerprint(paths)));  // held still for one poll: rebuild
    CHECK_FALSE(trigger.poll(fingerprint(paths)));

    write_text(cert, "cert 3");
    trigger.reset(fingerprint(paths));  // a config reload rebuilt the store meanwhile
    CHECK_FALSE(trigger.poll(fingerprint(paths)));
}
