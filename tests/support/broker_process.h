// The real eck-broker binary, started for one test on ipc:// endpoints in a
// private directory, against a database of the test's own.
//
//   eck::test::TestDatabase db;
//   eck::test::BrokerProcess broker(db.url());
//   broker.start();                        // returns once the broker sent READY=1
//   eck::PublisherOptions p; p.endpoint = broker.ingest();
//   ...
//   broker.kill(SIGKILL); broker.start();  // same endpoints, same journal
//
// Readiness comes through the systemd notify protocol: the test listens on a
// NOTIFY_SOCKET of its own, so it also proves READY is sent only when the
// broker is really serving.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "child_process.h"

namespace eck::test {

// Listens on a unix datagram socket for sd_notify messages.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  const std::string& path() const { return path_; }
  // Waits for a datagram containing `line` (e.g. "READY=1"). Drops others.
  bool wait_for(const std::string& line, std::chrono::milliseconds timeout);

 private:
  std::string path_;
  int fd_ = -1;
};

struct BrokerOptions {
  std::string extra_yaml;      // appended under "broker:" (indented by the caller)
  std::string log_level = "info";
};

class BrokerProcess {
 public:
  explicit BrokerProcess(std::string database_url, BrokerOptions opts = {});
  ~BrokerProcess();

  // Starts the binary and waits for READY=1 (fails the test after 30 s).
  void start();
  void kill(int sig);
  // SIGTERM and wait; returns the exit status.
  int stop();
  bool running();

  std::string ingest() const { return "ipc://" + dir_.path() + "/ingest"; }
  std::string fanout() const { return "ipc://" + dir_.path() + "/fanout"; }
  std::string replay() const { return "ipc://" + dir_.path() + "/replay"; }
  std::string config_path() const { return dir_.file("broker.yaml"); }
  std::string log() const;
  ChildProcess* process() { return proc_.get(); }

 private:
  TempDir dir_;
  std::string url_;
  BrokerOptions opts_;
  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace eck::test
