#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace budstikke::testing {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Process::Process(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path,
                 std::vector<std::string> extra_env)
    : stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data()) == 0) {
    pid_ = pid;
  }
  posix_spawn_file_actions_destroy(&actions);
}

Process::~Process() {
  if (started() && !exited_) Stop();
}

int Process::Wait(int timeout_ms) {
  if (!started()) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!exited_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

void Process::Signal(int sig) {
  if (started() && !exited_) kill(pid_, sig);
}

int Process::Stop() {
  if (!started()) return -1;
  if (exited_) return status_;
  kill(pid_, SIGTERM);
  // The server's own grace for calls in flight is 5 s; what it does after
  // (flushing refusal aggregates, closing RocksDB) must not be cut short.
  int code = Wait(15000);
  if (code == -1) {
    kill(pid_, SIGKILL);
    code = Wait(5000);
  }
  return code;
}

std::string Process::ReadStdout() const { return ReadWholeFile(stdout_path_); }
std::string Process::ReadStderr() const { return ReadWholeFile(stderr_path_); }

int RunCommand(const std::vector<std::string>& argv, std::string* out, std::string* err,
               std::vector<std::string> extra_env) {
  char out_tmpl[] = "/tmp/budstikke-cmd-out-XXXXXX";
  char err_tmpl[] = "/tmp/budstikke-cmd-err-XXXXXX";
  int fo = mkstemp(out_tmpl);
  int fe = mkstemp(err_tmpl);
  close(fo);
  close(fe);
  int code;
  {
    Process p(argv, out_tmpl, err_tmpl, std::move(extra_env));
    code = p.Wait(60000);
    if (code == -1) code = p.Stop();
    if (out) *out = p.ReadStdout();
    if (err) *err = p.ReadStderr();
  }
  unlink(out_tmpl);
  unlink(err_tmpl);
  return code;
}

}  // namespace budstikke::testing
