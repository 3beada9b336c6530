#include "support/test_pg.h"

#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <vector>

#include <pqxx/pqxx>

extern char** environ;

namespace eck::test {
namespace {

constexpr const char* kHowToRun =
    "The tests need the environment prepared by `./dev test` (it builds, starts a throwaway "
    "PostgreSQL cluster and exports ECK_TEST_PG_URL, ECK_PG_CLUSTER, ECK_PG_CLUSTER_DIR, "
    "ECK_BUILD_DIR and ECK_SOURCE_DIR). Run `./dev test`, or `./dev test -R <regex>` for a subset.";

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::string msg = std::string(name) + " is not set. " + kHowToRun;
    std::fprintf(stderr, "eck test support: %s\n", msg.c_str());
    throw std::runtime_error(msg);
  }
  return v;
}

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string pct_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string conninfo_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Runs argv (argv[0] is a path), inheriting stdout/stderr; returns the
// waitpid status.
int run_command(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(rc));
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid(" + args[0] + "): " + std::strerror(errno));
  }
  return st;
}

void pg_cluster(const std::string& cmd, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{required_env("ECK_PG_CLUSTER"), cmd,
                                required_env("ECK_PG_CLUSTER_DIR")};
  args.insert(args.end(), extra.begin(), extra.end());
  int st = run_command(args);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    std::string all;
    for (const auto& a : args) all += (all.empty() ? "" : " ") + a;
    throw std::runtime_error("`" + all + "` failed (" +
                             (WIFEXITED(st) ? "exit code " + std::to_string(WEXITSTATUS(st))
                                            : "signal " + std::to_string(WTERMSIG(st))) +
                             ")");
  }
}

std::string unique_db_name() {
  static std::atomic<unsigned> counter{0};
  static const std::string suffix_chars = "0123456789abcdef";
  std::random_device rd;
  std::string rnd;
  for (int i = 0; i < 6; ++i) rnd += suffix_chars[rd() % 16];
  return "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)) + "_" + rnd;
}

}  // namespace

std::string superuser_url() { return required_env("ECK_TEST_PG_URL"); }

std::string url_with(const std::string& url, const std::string& user, const std::string& dbname) {
  std::string scheme;
  for (const char* s : {"postgresql://", "postgres://"}) {
    if (url.rfind(s, 0) == 0) scheme = s;
  }
  if (scheme.empty()) {
    // key=value connection string: a later keyword overrides an earlier one.
    std::string out = url;
    if (!user.empty()) out += " user=" + conninfo_quote(user);
    if (!dbname.empty()) out += " dbname=" + conninfo_quote(dbname);
    return out;
  }
  // scheme [userinfo@] hostspec [/dbname] [?query]
  std::string rest = url.substr(scheme.size());
  std::size_t auth_end = rest.find_first_of("/?");
  std::string authority = rest.substr(0, auth_end);
  std::string tail = auth_end == std::string::npos ? "" : rest.substr(auth_end);
  std::string userinfo, hosts = authority;
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    userinfo = authority.substr(0, at);
    hosts = authority.substr(at + 1);
  }
  std::string path, query;
  if (auto q = tail.find('?'); q != std::string::npos) {
    path = tail.substr(0, q);
    query = tail.substr(q);  // with '?'
  } else {
    path = tail;
  }
  if (!path.empty() && path[0] == '/') path.erase(0, 1);

  if (!user.empty()) userinfo = pct_encode(user);
  if (!dbname.empty()) path = pct_encode(dbname);

  std::string out = scheme;
  if (!userinfo.empty()) out += userinfo + "@";
  out += hosts;
  out += "/" + path;
  out += query;
  return out;
}

TestDatabase::TestDatabase() : name_(unique_db_name()) {
  const std::string su = superuser_url();
  try {
    pqxx::connection c{su};
    pqxx::nontransaction tx{c};
    tx.exec0("CREATE DATABASE " + c.quote_name(name_));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot create test database " + name_ + " through " + su + ": " +
                             e.what() + "\n" + kHowToRun);
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c{superuser_url()};
    pqxx::nontransaction tx{c};
    tx.exec0("DROP DATABASE IF EXISTS " + c.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eck test support: cannot drop test database %s: %s\n", name_.c_str(),
                 e.what());
  }
}

std::string TestDatabase::url() const { return url_with(superuser_url(), "", name_); }

std::string TestDatabase::url_as(const std::string& role) const {
  return url_with(superuser_url(), role, name_);
}

void TestDatabase::provision() const { pg_cluster("provision", {name_}); }

void restart_postgres() { pg_cluster("restart"); }
void kill_postgres() { pg_cluster("kill"); }
void start_postgres() { pg_cluster("start"); }
void stop_postgres() { pg_cluster("stop"); }

}  // namespace eck::test
