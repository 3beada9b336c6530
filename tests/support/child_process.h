// Child processes and temporary directories for tests.
//
//   eck::test::TempDir tmp;
//   eck::test::ChildProcess broker(eck::test::build_dir() + "/broker/eck-broker",
//                                  {"--config", tmp.path() + "/broker.yaml"},
//                                  tmp.path() + "/broker.log");
//   ASSERT_TRUE(broker.wait_for_log("ready", std::chrono::seconds(30))) << broker.log_contents();
//   broker.kill(SIGTERM);
//   auto status = broker.wait_exit(std::chrono::seconds(10));
//   ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eck::test {

// ECK_BUILD_DIR (absolute build directory). Throws with instructions when unset.
std::string build_dir();
// ECK_SOURCE_DIR (absolute source directory). Throws with instructions when unset.
std::string source_dir();

class ChildProcess {
 public:
  using Env = std::vector<std::pair<std::string, std::string>>;

  // Starts `binary` (a path; no PATH search) with `args` (argv[1..]).
  // stdout and stderr are appended to `log_path` (created if missing), stdin
  // is /dev/null. The child inherits this process's environment plus `env`
  // (which overrides variables of the same name), with every signal unblocked
  // and at its default disposition. Throws std::runtime_error when the spawn
  // fails (e.g. the binary does not exist).
  ChildProcess(std::string binary, std::vector<std::string> args, std::string log_path,
               Env env = {});
  // SIGKILLs and reaps the child if it is still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Sends `sig`; no-op once the child has been reaped.
  void kill(int sig);

  // Waits up to `timeout` for the child to exit. Returns its waitpid status
  // (use WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG; 0 means "exit code 0"),
  // or nullopt when it is still running. Once reaped, returns the same
  // status again.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  // True until the child has exited (reaps it when it has).
  bool running();

  // SIGTERM, wait up to `timeout`, then SIGKILL. Returns the status.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Everything the child wrote so far.
  std::string log_contents() const;

  // Polls the log until it contains `needle`. False on timeout or when the
  // child exits first (the log is then complete and still lacks `needle`).
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout);

  // "exited with code N" / "killed by signal N (NAME)".
  static std::string describe_status(int status);

 private:
  std::string binary_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A fresh directory under /tmp (or $TMPDIR), removed with its contents by the
// destructor. Set ECK_KEEP_TEST_TMP=1 to keep it for a post-mortem.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "eck-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

// A fresh directory like TempDir's, owned by a TempDir that lives until the
// test process exits (then it is removed).
std::string temp_dir();

}  // namespace eck::test
