// A child process for integration tests: spawned with posix_spawn, stdout and
// stderr redirected to files, stopped with SIGTERM (then SIGKILL) when the
// object goes away.
#ifndef BUDSTIKKE_TESTS_SUPPORT_PROCESS_H_
#define BUDSTIKKE_TESTS_SUPPORT_PROCESS_H_

#include <string>
#include <vector>

namespace budstikke::testing {

class Process {
 public:
  // Starts `argv[0]` with `argv`, optional extra environment "K=V" entries.
  Process(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path,
          std::vector<std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  int pid() const { return pid_; }
  // Waits up to `timeout_ms`; returns the exit code, 128+signal if killed by a
  // signal, or -1 on timeout.
  int Wait(int timeout_ms);
  // Sends `sig`; Wait() afterwards.
  void Signal(int sig);
  // Stops the process (SIGTERM, then SIGKILL after 5 s); returns the exit code.
  int Stop();

  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string stdout_path_, stderr_path_;
};

// Runs a command to completion (timeout 60 s); returns its exit code and fills
// the captured output if the pointers are set.
int RunCommand(const std::vector<std::string>& argv, std::string* out = nullptr,
               std::string* err = nullptr, std::vector<std::string> extra_env = {});

std::string ReadWholeFile(const std::string& path);

}  // namespace budstikke::testing

#endif  // BUDSTIKKE_TESTS_SUPPORT_PROCESS_H_
