// What every real eck daemon binary looks like to a test: started with
// `--config FILE` from a private directory, ready once it sent READY=1
// through the systemd notify protocol, stopped with SIGTERM, and (for the
// domain daemons) ops commands run as `<binary> --config FILE <command>`.
// BrokerProcess (broker_process.h) and InventoryProcess
// (inventory_process.h) are this plus their configuration file; a new daemon
// (pos, reorder, fiscal) is one more small subclass.
//
//   class PosProcess : public eck::test::DaemonProcess {
//    public:
//     PosProcess(...) : DaemonProcess("pos", "services/pos/eck-pos") {
//       write_config(daemon_config_yaml("info", url, bus) + "pos:\n  ...\n");
//     }
//   };
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "child_process.h"
#include "eck/common_config.h"  // eck::BusEndpoints

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

// The sections every client daemon's configuration starts with (log,
// database, bus), as YAML text; the daemon's own section is appended.
std::string daemon_config_yaml(const std::string& log_level, const std::string& database_url,
                               const BusEndpoints& bus);

// What a synchronous run of the binary left behind.
struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally (signal, timeout)
  std::string out;     // its stdout
  std::string err;     // its stderr (the log lines)
};

class DaemonProcess {
 public:
  // `name` ("broker", "inventory") names the private directory
  // (eck-<name>.XXXXXX), the configuration file <name>.yaml and the log
  // <name>.log; `binary` is the path below build_dir() ("broker/eck-broker").
  DaemonProcess(std::string name, std::string binary);
  virtual ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the binary and waits for READY=1 (fails the test after 30 s).
  void start();
  // Sends `sig` and waits (up to 30 s) for the process to exit.
  void kill(int sig);
  // SIGTERM and wait; returns the exit status.
  int stop();
  bool running();

  // Runs `<binary> --config <config_path()> <args...>` to completion (at
  // most `timeout`, then SIGKILL and a test failure). The daemon itself may
  // be running meanwhile or not.
  CommandResult run_command(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

  std::string config_path() const { return dir_.file(name_ + ".yaml"); }
  // Everything the daemon wrote so far, over all its starts.
  std::string log() const;
  ChildProcess* process() { return proc_.get(); }

 protected:
  const TempDir& dir() const { return dir_; }
  // (Re)writes config_path(); subclasses call it from their constructor.
  void write_config(const std::string& yaml) const;

 private:
  std::string binary_path() const;

  std::string name_;
  std::string binary_;
  TempDir dir_;
  int commands_run_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace eck::test
