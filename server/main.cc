// medperf-server: the MedPerf REST API v0 (evaluation part) over HTTP(S) + SQLite.
//   medperf-server serve --db PATH [--host H] [--port P] [--tls-cert F --tls-key F]
//                        [--auto-approve-benchmarks-from a@x,b@y] [--max-body-bytes N]
//                        [--request-read-timeout-ms N] [--max-connections-per-client N]
//                        [--faults rate=R,kinds=K[,K...][,slow_ms=N]] [--fault-seed N]
//   medperf-server user add --db PATH --email E --role admin|user
//   medperf-server seed --db PATH --demo benchmark|model|data --tokens-out FILE [--assets DIR]
//                       [--allow-list-out FILE]
//   medperf-server reset --db PATH
#include <signal.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/seed.h"
#include "server/sqlite_db.h"

namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  medperf-server serve --db PATH [--host 127.0.0.1] [--port 8000]\n"
    "                       [--tls-cert FILE --tls-key FILE]\n"
    "                       [--auto-approve-benchmarks-from EMAIL[,EMAIL...]]\n"
    "                       [--max-body-bytes N] [--request-read-timeout-ms 10000]\n"
    "                       [--max-connections-per-client 16]\n"
    "                       [--faults rate=R,kinds=500,reset,slow,truncated[,slow_ms=N]]\n"
    "                       [--fault-seed N]\n"
    "  medperf-server user add --db PATH --email EMAIL --role admin|user\n"
    "  medperf-server seed --db PATH --demo benchmark|model|data --tokens-out FILE"
    " [--assets DIR]\n"
    "                      [--allow-list-out FILE]\n"
    "  medperf-server reset --db PATH\n"
    "  medperf-server --version\n"
    "\n"
    "The MedPerf REST API v0 (its evaluation part) over HTTP(S), kept in SQLite: a\n"
    "MedPerf server for tests, demos and sites that run their own.\n"
    "\n"
    "commands:\n"
    "  serve     serve the API until SIGTERM or SIGINT (prints \"listening on URL\")\n"
    "  user add  create a user; its API token is printed once on stdout\n"
    "  seed      fill an empty database with the tutorials' users and entities\n"
    "  reset     remove all data, keep the schema\n"
    "\n"
    "options:\n"
    "  --db PATH             the SQLite database (created when missing)\n"
    "  --host ADDR           serve: address to listen on (default 127.0.0.1)\n"
    "  --port N              serve: port (default 8000; 0 picks a free one)\n"
    "  --tls-cert FILE, --tls-key FILE\n"
    "                        serve: HTTPS with this PEM certificate and key\n"
    "  --auto-approve-benchmarks-from EMAIL[,EMAIL...]\n"
    "                        serve: benchmarks these users submit are approved at once\n"
    "  --max-body-bytes N    serve: largest request body (default 8 MiB)\n"
    "  --request-read-timeout-ms N\n"
    "                        serve: time a request may take to arrive (default 10000,\n"
    "                        0 = no bound)\n"
    "  --max-connections-per-client N\n"
    "                        serve: connections one address may hold (default 16,\n"
    "                        0 = no cap)\n"
    "  --faults SPEC, --fault-seed N\n"
    "                        serve: make a fraction of requests misbehave (tests only)\n"
    "  --email EMAIL, --role admin|user\n"
    "                        user add: the new user\n"
    "  --demo benchmark|model|data\n"
    "                        seed: how far the tutorials' entities go (docs/server.md)\n"
    "  --tokens-out FILE     seed: where the users' tokens are written (mode 0600)\n"
    "  --assets DIR          seed: the containers' configs and demo data\n"
    "  --allow-list-out FILE seed: the sandbox section medperfd needs to run them\n"
    "  -h, --help            print this help and exit (also after a command)\n"
    "  --version             print the version and exit\n";

int Fail(const std::string& msg) {
  std::cerr << "medperf-server: " << msg << "\n";
  return 2;
}

// A command line it cannot read: the message, then where the commands are explained.
int UsageFail(const std::string& msg) { return Fail(msg + "\n(see medperf-server --help)"); }

// One subcommand's flags as "--name" -> value, for the flags given (the last one wins).
using Flags = std::map<std::string, std::string>;

// Declares `names` on `sub`; after parsing, Collect() copies the given ones into Flags.
class FlagTable {
 public:
  void Add(CLI::App* sub, const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      CLI::Option* o = sub->add_option(n, values_[sub][n]);
      o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      options_[sub][n] = o;
    }
  }
  Flags Collect(CLI::App* sub) {
    Flags out;
    for (const auto& [name, option] : options_[sub]) {
      if (option->count() > 0) out[name] = values_[sub][name];
    }
    return out;
  }

 private:
  std::map<CLI::App*, std::map<std::string, std::string>> values_;
  std::map<CLI::App*, std::map<std::string, CLI::Option*>> options_;
};

int Serve(const Flags& f) {
  medperf::server::ServeOptions o;
  o.db = f.at("--db");
  if (f.count("--host")) o.host = f.at("--host");
  if (f.count("--port")) {
    if (!absl::SimpleAtoi(f.at("--port"), &o.port) || o.port < 0 || o.port > 65535) {
      return Fail("--port: expected a number from 0 to 65535, got '" + f.at("--port") + "'");
    }
  }
  if (f.count("--tls-cert")) o.tls_cert = f.at("--tls-cert");
  if (f.count("--tls-key")) o.tls_key = f.at("--tls-key");
  if (f.count("--max-body-bytes")) {
    if (!absl::SimpleAtoi(f.at("--max-body-bytes"), &o.max_body_bytes) || o.max_body_bytes == 0) {
      return Fail("--max-body-bytes: expected a positive number");
    }
  }
  if (f.count("--request-read-timeout-ms")) {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(f.at("--request-read-timeout-ms"), &ms) || ms < 0) {
      return Fail("--request-read-timeout-ms: expected milliseconds (0 = no bound), got '" +
                  f.at("--request-read-timeout-ms") + "'");
    }
    o.request_read_timeout = std::chrono::milliseconds(ms);
  }
  if (f.count("--max-connections-per-client")) {
    if (!absl::SimpleAtoi(f.at("--max-connections-per-client"), &o.max_connections_per_client) ||
        o.max_connections_per_client < 0) {
      return Fail("--max-connections-per-client: expected a count (0 = no cap), got '" +
                  f.at("--max-connections-per-client") + "'");
    }
  }
  if (f.count("--auto-approve-benchmarks-from")) {
    for (absl::string_view e :
         absl::StrSplit(f.at("--auto-approve-benchmarks-from"), ',', absl::SkipWhitespace())) {
      o.auto_approve_benchmarks_from.emplace_back(absl::StripAsciiWhitespace(e));
    }
  }
  if (f.count("--faults")) {
    auto faults = medperf::server::ParseFaultSpec(f.at("--faults"));
    if (!faults.ok()) return Fail(std::string(faults.status().message()));
    o.faults = *faults;
  }
  if (f.count("--fault-seed")) {
    if (!f.count("--faults")) return Fail("--fault-seed needs --faults");
    if (!absl::SimpleAtoi(f.at("--fault-seed"), &o.faults.seed)) {
      return Fail("--fault-seed: expected a non-negative number, got '" + f.at("--fault-seed") +
                  "'");
    }
  }
  // Block the shutdown signals before any thread starts, so only Serve's waiter sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  absl::Status s = medperf::server::Serve(o);
  if (!s.ok()) {
    std::cerr << "medperf-server: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

int UserAdd(const Flags& f) {
  if (!f.count("--email") || !f.count("--role")) return Fail("user add needs --email and --role");
  const std::string& role = f.at("--role");
  if (role != "admin" && role != "user") {
    return Fail("--role: expected admin or user, got '" + role + "'");
  }
  auto db = medperf::server::Db::Open(f.at("--db"));
  if (!db.ok()) return Fail(std::string(db.status().message()));
  medperf::server::Api api(db->get(), {});
  auto user = api.AddUser(f.at("--email"), role == "admin");
  if (!user.ok()) return Fail(std::string(user.status().message()));
  std::cout << user->token << std::endl;
  std::cerr << "created user " << user->id << " (" << f.at("--email") << ", " << role
            << "); the token above is shown only once\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() < 2) {
    std::cerr << kUsage;
    return 2;
  }
  if (args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (args[1] == "--version") {
    std::cout << "medperf-server " << MEDPERF_VERSION << " (API v0)\n";
    return 0;
  }
  const std::string cmd = args[1];
  if (cmd != "serve" && cmd != "user" && cmd != "seed" && cmd != "reset") {
    return UsageFail("unknown command '" + cmd + "'");
  }
  // `medperf-server seed --help` (any command's --help) shows the usage, as the bare
  // --help does; CLI11's own help flag is off so that it cannot print a second text.
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  CLI::App app("MedPerf REST API v0", "medperf-server");
  app.set_help_flag();  // before the subcommands, which copy it: help is kUsage above
  app.require_subcommand(1, 1);
  app.allow_extras();  // inherited by the subcommands; reported below in our words
  FlagTable table;
  CLI::App* serve = app.add_subcommand("serve");
  table.Add(serve, {"--db", "--host", "--port", "--tls-cert", "--auto-approve-benchmarks-from",
                    "--tls-key", "--max-body-bytes", "--faults", "--fault-seed",
                    "--request-read-timeout-ms", "--max-connections-per-client"});
  CLI::App* user_add = app.add_subcommand("user")->require_subcommand(1, 1)->add_subcommand("add");
  table.Add(user_add, {"--db", "--email", "--role"});
  CLI::App* seed = app.add_subcommand("seed");
  table.Add(seed, {"--db", "--demo", "--tokens-out", "--assets", "--allow-list-out"});
  CLI::App* reset = app.add_subcommand("reset");
  table.Add(reset, {"--db"});
  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError&) {
    return UsageFail("expected `user add`");  // the only required part
  } catch (const CLI::ParseError& e) {
    return UsageFail(e.what());
  }
  CLI::App* chosen = cmd == "serve"  ? serve
                     : cmd == "user" ? user_add
                     : cmd == "seed" ? seed
                                     : reset;
  if (std::vector<std::string> extras = app.remaining(/*recurse=*/true); !extras.empty()) {
    const std::string& e = extras.front();
    return UsageFail(e.rfind("-", 0) == 0 ? "unknown option " + e
                                          : "unexpected argument '" + e + "'");
  }
  Flags flags = table.Collect(chosen);
  if (!flags.count("--db") || flags["--db"].empty()) return Fail(cmd + " needs --db PATH");

  if (cmd == "serve") return Serve(flags);
  if (cmd == "user") return UserAdd(flags);
  if (cmd == "seed") {
    if (!flags.count("--demo") || !flags.count("--tokens-out")) {
      return Fail("seed needs --demo and --tokens-out");
    }
    medperf::server::SeedOptions o{
        flags["--db"], flags["--demo"], flags["--tokens-out"],
        flags.count("--assets") ? flags["--assets"] : "",
        flags.count("--allow-list-out") ? flags["--allow-list-out"] : ""};
    absl::Status s = medperf::server::Seed(o);
    if (!s.ok()) return Fail(std::string(s.message()));
    return 0;
  }
  // reset
  auto db = medperf::server::Db::Open(flags["--db"]);
  if (!db.ok()) return Fail(std::string(db.status().message()));
  absl::Status s = (*db)->WipeData();
  if (!s.ok()) return Fail(std::string(s.message()));
  std::cerr << "medperf-server: all data removed from " << flags["--db"] << " (schema kept)\n";
  return 0;
}
