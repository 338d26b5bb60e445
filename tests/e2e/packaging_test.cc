// Packaging checks: the systemd unit passes `systemd-analyze verify` and carries the
// directives operations rely on; the generated bash completion is valid bash and
// knows every command.
#include <unistd.h>

#include <iostream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace medperf::testing {
namespace {

std::string Unit() { return ReadFile(SourceDir() / "packaging" / "medperfd.service"); }

TEST(PackagingTest, UnitHasTheRequiredDirectives) {
  std::string unit = Unit();
  ASSERT_FALSE(unit.empty());
  for (const char* line : {"\nType=notify\n", "\nWatchdogSec=", "\nUser=medperf\n",
                           "\nStateDirectory=medperfd\n", "\nRuntimeDirectory=medperfd\n",
                           "\nConfigurationDirectory=medperfd\n", "\nNoNewPrivileges=yes\n",
                           "\nProtectSystem=strict\n", "\nProtectHome=yes\n", "\nPrivateTmp=yes\n",
                           "\nExecStart=/usr/sbin/medperfd ", "\nWantedBy=multi-user.target\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << "missing " << line;
  }
  // These would break the bubblewrap sandbox (see the comment in the unit).
  for (const char* line : {"\nRestrictNamespaces=", "\nPrivateUsers=", "\nSystemCallFilter="}) {
    EXPECT_EQ(unit.find(line), std::string::npos) << "set: " << line;
  }
}

TEST(PackagingTest, SystemdAnalyzeVerifiesTheUnit) {
  if (access("/usr/bin/systemd-analyze", X_OK) != 0 && access("/bin/systemd-analyze", X_OK) != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed";
  }
  TempDir dir;
  // verify insists that ExecStart exists: point it at the binary just built.
  std::string unit = Unit();
  const std::string installed = "/usr/sbin/medperfd";
  unit.replace(unit.find(installed), installed.size(), BinaryPath("daemon/medperfd").string());
  WriteFile(dir / "medperfd.service", unit);
  RunResult r =
      RunProcess({"/usr/bin/systemd-analyze", "verify", (dir / "medperfd.service").string()},
                 std::chrono::seconds(30));
  if (r.exit_code != 0 && (r.err.find("Failed to initialize manager") != std::string::npos ||
                           r.err.find("Failed to setup working directory") != std::string::npos)) {
    GTEST_SKIP() << "systemd-analyze cannot run here: " << r.err;
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Bad values are only warnings ("..., ignoring"): none may appear for our unit.
  for (const std::string& line : {std::string("medperfd.service:"), std::string("Unknown")}) {
    EXPECT_EQ(r.err.find(line), std::string::npos) << r.err;
  }
}

// The front ends link only the system libraries they use (core/CMakeLists.txt): a
// medperfctl or medperf-server that pulls libcurl or libarchive has a dishonest link line.
TEST(PackagingTest, FrontEndsDoNotLinkTheDaemonsLibraries) {
  struct Case {
    const char* binary;
    std::vector<std::string> absent;
  };
  for (const Case& c : {Case{"ctl/medperfctl", {"libcurl", "libsqlite3"}},
                        Case{"server/medperf-server", {"libcurl", "libarchive", "libseccomp"}}}) {
    RunResult r = RunProcess({"/usr/bin/ldd", BinaryPath(c.binary).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& lib : c.absent) {
      EXPECT_EQ(r.out.find(lib), std::string::npos) << c.binary << " links " << lib << ":\n"
                                                    << r.out;
    }
  }
}

TEST(PackagingTest, BashCompletionIsValidAndComplete) {
  RunResult gen = RunProcess({BinaryPath("ctl/medperfctl").string(), "completion", "bash"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  TempDir dir;
  WriteFile(dir / "medperfctl.bash", gen.out);
  RunResult syntax = RunProcess({"/bin/bash", "-n", (dir / "medperfctl.bash").string()});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  // Complete "medperfctl job <TAB>" and "medperfctl watch --f<TAB>" for real.
  std::string script =
      ". '" + (dir / "medperfctl.bash").string() +
      "'\n"
      "COMP_WORDS=(medperfctl job ''); COMP_CWORD=2; _medperfctl; echo \"${COMPREPLY[*]}\"\n"
      "COMP_WORDS=(medperfctl watch --f); COMP_CWORD=2; _medperfctl; echo \"${COMPREPLY[*]}\"\n"
      "COMP_WORDS=(medperfctl s); COMP_CWORD=1; _medperfctl; echo \"${COMPREPLY[*]}\"\n";
  RunResult r = RunProcess({"/bin/bash", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ls"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cancel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("retry"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--follow"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sync"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace medperf::testing

namespace medperf::testing {
namespace {

// One file of the package's data, as its bytes ("" when missing).
std::string PackagedFile(const std::filesystem::path& deb, const std::string& path,
                         const std::string& filter = "cat") {
  RunResult r = RunProcess({"/bin/sh", "-c",
                            "/usr/bin/dpkg-deb --fsys-tarfile '" + deb.string() + "' | tar -xO '" +
                                path + "' | " + filter});
  return r.exit_code == 0 ? r.out : "";
}

// copyright in DEP-5 form, changelog.gz in Debian's changelog form for this version,
// and man pages that say what the programs' --help says.
void ExpectDocsAndManPagesAreDebians(const std::filesystem::path& deb) {
  const std::string doc = "./usr/share/doc/medperf-site-agent/";
  std::string copyright = PackagedFile(deb, doc + "copyright");
  EXPECT_EQ(copyright.rfind(
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n", 0),
            0u)
      << copyright;
  for (const char* field : {"\nFiles: *\n", "\nCopyright: ", "\nLicense: "}) {
    EXPECT_NE(copyright.find(field), std::string::npos) << field;
  }
  std::string changelog = PackagedFile(deb, doc + "changelog.gz", "gzip -dc");
  // StrCat: GCC 12 reports a false -Warray-bounds for std::string + a macro literal here.
  const std::string first_line = absl::StrCat("medperf-site-agent (", MEDPERF_VERSION, ") ");
  EXPECT_EQ(changelog.rfind(first_line, 0), 0u) << changelog;
  EXPECT_NE(changelog.find("\n -- "), std::string::npos) << changelog;
  // gzip -n: no file name or time stamp in the header (reproducible packages).
  std::string header = PackagedFile(deb, doc + "changelog.gz", "head -c 8 | od -An -tx1");
  EXPECT_NE(header.find("1f 8b 08 00 00 00 00 00"), std::string::npos) << header;

  struct Page {
    const char* path;
    const char* title;
    std::vector<std::string> says;
  };
  for (const Page& p :
       {Page{"./usr/share/man/man1/medperfctl.1.gz", ".TH MEDPERFCTL 1", {"dataset submit"}},
        Page{"./usr/share/man/man8/medperfd.8.gz", ".TH MEDPERFD 8", {"\\-\\-state\\-dir"}},
        Page{"./usr/share/man/man1/medperf-server.1.gz",
             ".TH MEDPERF-SERVER 1",
             {"\\-\\-tokens\\-out"}},
        Page{"./usr/share/man/man5/medperfd.yaml.5.gz",
             ".TH MEDPERFD.YAML 5",
             {"token_file", "max_concurrent_jobs"}}}) {
    std::string page = PackagedFile(deb, p.path, "gzip -dc");
    EXPECT_EQ(page.rfind(p.title, 0), 0u) << p.path << "\n" << page.substr(0, 200);
    for (const std::string& s : p.says) EXPECT_NE(page.find(s), std::string::npos) << p.path << s;
  }
}

// lintian (Debian's package checker) reports no error; its warnings are explained in
// docs/operations.md ("Building the package").
void ExpectLintianFindsNoErrors(const std::filesystem::path& deb) {
  if (access("/usr/bin/lintian", X_OK) != 0) {
    std::cout << "lintian is not installed (packaging/deps.sh --tests installs it): not run\n";
    return;
  }
  RunResult r = RunProcess({"/usr/bin/lintian", "--tag-display-limit", "0", deb.string()},
                           std::chrono::minutes(5));
  EXPECT_EQ(r.out.find("\nE: "), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("E: ", 0), std::string::npos) << r.out << r.err;
  std::cout << "lintian:\n" << r.out;
}

// The Debian package builds from this tree and carries what a site install needs.
TEST(PackagingTest, DebianPackageBuildsWithServiceConfigAndScripts) {
  if (access("/usr/bin/cpack", X_OK) != 0 || access("/usr/bin/dpkg-deb", X_OK) != 0) {
    GTEST_SKIP() << "cpack or dpkg-deb not installed";
  }
  TempDir out;
  RunResult pack = RunProcess({"/bin/sh", "-c",
                               // The archive's compression is not under test, and xz over the
                               // sanitizer build's binaries took four minutes of CI.
                               "cd '" + BuildDir().string() +
                                   "' && cpack -G DEB -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip -B '" +
                                   out.path().string() + "'"},
                              std::chrono::minutes(5));
  ASSERT_EQ(pack.exit_code, 0) << pack.out << pack.err;
  std::filesystem::path deb;
  for (const auto& e : std::filesystem::directory_iterator(out.path())) {
    if (e.path().extension() == ".deb") deb = e.path();
  }
  ASSERT_FALSE(deb.empty()) << pack.out;

  RunResult info = RunProcess({"/usr/bin/dpkg-deb", "-I", deb.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  for (const char* want :
       {"Package: medperf-site-agent", "bubblewrap", "postinst", "prerm", "postrm", "conffiles"}) {
    EXPECT_NE(info.out.find(want), std::string::npos) << "missing " << want << "\n" << info.out;
  }
  RunResult files = RunProcess({"/usr/bin/dpkg-deb", "-c", deb.string()});
  ASSERT_EQ(files.exit_code, 0) << files.err;
  for (const char* want :
       {"./usr/sbin/medperfd", "./usr/bin/medperfctl", "./usr/bin/medperf-server",
        "./usr/lib/systemd/system/medperfd.service", "./usr/lib/sysusers.d/medperfd.conf",
        "./usr/share/bash-completion/completions/medperfctl", "./etc/medperfd/medperfd.yaml",
        // zsh and fish completion in Debian's vendor directories.
        "./usr/share/zsh/vendor-completions/_medperfctl",
        "./usr/share/fish/vendor_completions.d/medperfctl.fish",
        // Man pages, gzip'd, and what Debian requires of every package's doc folder.
        "./usr/share/man/man1/medperfctl.1.gz", "./usr/share/man/man1/medperf-server.1.gz",
        "./usr/share/man/man8/medperfd.8.gz", "./usr/share/man/man5/medperfd.yaml.5.gz",
        "./usr/share/doc/medperf-site-agent/copyright",
        "./usr/share/doc/medperf-site-agent/changelog.gz"}) {
    EXPECT_NE(files.out.find(want), std::string::npos) << "missing " << want;
  }
  ExpectDocsAndManPagesAreDebians(deb);
  ExpectLintianFindsNoErrors(deb);
  // No example or test programs in a site's package.
  EXPECT_EQ(files.out.find("chestxray"), std::string::npos);
  EXPECT_EQ(files.out.find("_tests"), std::string::npos);

  RunResult postinst =
      RunProcess({"/bin/sh", "-c",
                  "/usr/bin/dpkg-deb --ctrl-tarfile '" + deb.string() + "' | tar -xO ./postinst"});
  ASSERT_EQ(postinst.exit_code, 0) << postinst.err;
  EXPECT_NE(postinst.out.find("medperf"), std::string::npos);
  EXPECT_NE(postinst.out.find("enable"), std::string::npos) << postinst.out;
}

}  // namespace
}  // namespace medperf::testing
