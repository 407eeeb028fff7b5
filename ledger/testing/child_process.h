// A child process for tests that drive the binaries as a user would
// (premiumd, premiumctl): standard output and error are read into memory by
// background threads, so the child never blocks on a full pipe, and a child
// still running when the object goes is killed. RunCommand runs one to its
// end; ExpectOneLine and Lines check what it printed; ProcStatusKib reads
// its memory.
#ifndef PREMIUM_LEDGER_TESTING_CHILD_PROCESS_H_
#define PREMIUM_LEDGER_TESTING_CHILD_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

extern char** environ;

namespace premium::testing {

// A child process with its standard output and error read into memory by
// background threads (so it never blocks on a full pipe).
class Child {
 public:
  static std::unique_ptr<Child> Start(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // Default dispositions and an empty mask, whatever this process (and
    // gRPC in it) set up.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signal_number : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) {
      sigaddset(&defaults, signal_number);
    }
    sigset_t mask;
    sigemptyset(&mask);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &mask);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::vector<char*> argv;
    for (const std::string& arg : args) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    // The children must not pick up a server or token from the environment.
    std::vector<char*> envp;
    for (char** variable = environ; *variable != nullptr; ++variable) {
      if (!absl::StartsWith(*variable, "PREMIUM_")) envp.push_back(*variable);
    }
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, argv[0], &actions, &attributes,
                                    argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(out[1]);
    close(err[1]);
    if (spawned != 0) {
      close(out[0]);
      close(err[0]);
      ADD_FAILURE() << "posix_spawn " << args[0] << ": "
                    << std::strerror(spawned);
      return nullptr;
    }
    return std::unique_ptr<Child>(new Child(pid, out[0], err[0]));
  }

  ~Child() {
    if (!exit_code_.has_value()) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    for (std::thread& reader : readers_) {
      if (reader.joinable()) reader.join();
    }
  }

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first line of standard output, without its newline; nullopt if the
  // child closed it or the time ran out first.
  std::optional<std::string> WaitForFirstLine(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    while (out_.find('\n') == std::string::npos && !out_closed_) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) break;
    }
    const size_t newline = out_.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    return out_.substr(0, newline);
  }

  // The exit code (128 + N when killed by signal N), or nullopt if the child
  // still runs after `timeout`. Once it returned a code, all output is read.
  std::optional<int> WaitForExit(absl::Duration timeout) {
    if (exit_code_.has_value()) return exit_code_;
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : -1;
        break;
      }
      if (done < 0 || absl::Now() > deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(10));
    }
    for (std::thread& reader : readers_) reader.join();
    return exit_code_;
  }

  bool running() const { return !exit_code_.has_value(); }
  pid_t pid() const { return pid_; }
  // Sends `signal_number`; a test failure if the child already exited.
  void Signal(int signal_number) {
    EXPECT_TRUE(running()) << "signal " << signal_number << " to a dead child";
    if (running()) {
      EXPECT_EQ(kill(pid_, signal_number), 0);
    }
  }

  std::string out() {
    absl::MutexLock lock(&mu_);
    return out_;
  }
  std::string err() {
    absl::MutexLock lock(&mu_);
    return err_;
  }

 private:
  Child(pid_t pid, int out_fd, int err_fd) : pid_(pid) {
    readers_.emplace_back(
        [this, out_fd] { Drain(out_fd, &out_, &out_closed_); });
    readers_.emplace_back(
        [this, err_fd] { Drain(err_fd, &err_, &err_closed_); });
  }

  void Drain(int fd, std::string* text, bool* closed) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      absl::MutexLock lock(&mu_);
      if (n <= 0) {
        *closed = true;
        changed_.SignalAll();
        break;
      }
      text->append(buffer, static_cast<size_t>(n));
      changed_.SignalAll();
    }
    close(fd);
  }

  const pid_t pid_;
  std::optional<int> exit_code_;
  std::vector<std::thread> readers_;
  absl::Mutex mu_;
  absl::CondVar changed_;
  std::string out_ ABSL_GUARDED_BY(mu_);
  std::string err_ ABSL_GUARDED_BY(mu_);
  bool out_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool err_closed_ ABSL_GUARDED_BY(mu_) = false;
};

// What a command that ran to its end printed, and how it ended.
struct CommandResult {
  int exit_code = -1;  // -1 if it could not start or was killed.
  std::string out;
  std::string err;
  absl::Duration elapsed;  // From start to exit (or to the kill).
};

// Runs `args` (args[0] a path) to its end. A command still running after
// `timeout` is killed and a test failure: a hung binary must not hang the
// test binary with it.
inline CommandResult RunCommand(const std::vector<std::string>& args,
                                absl::Duration timeout = absl::Seconds(30)) {
  CommandResult result;
  const absl::Time start = absl::Now();
  std::unique_ptr<Child> child = Child::Start(args);
  if (child == nullptr) return result;
  const std::optional<int> exit_code = child->WaitForExit(timeout);
  result.elapsed = absl::Now() - start;
  if (!exit_code.has_value()) {
    ADD_FAILURE() << absl::StrJoin(args, " ") << " still runs after " << timeout
                  << "; killed";
    return result;
  }
  result.exit_code = *exit_code;
  result.out = child->out();
  result.err = child->err();
  return result;
}

// DESIGN section 8: a failing command prints one clear line on standard
// error. Checks `text` is exactly one non-empty, newline-ended line.
inline void ExpectOneLine(const std::string& text) {
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_TRUE(absl::EndsWith(text, "\n")) << text;
}

// The non-empty lines of `text`, without their newlines.
inline std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// A line of /proc/PID/status in KiB ("VmRSS", "RssAnon", "VmHWM"); 0 if
// unreadable.
inline int64_t ProcStatusKib(pid_t pid, absl::string_view field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, field) && absl::ConsumePrefix(&rest, ":")) {
      rest = absl::StripAsciiWhitespace(absl::StripSuffix(rest, " kB"));
      int64_t kib = 0;
      if (absl::SimpleAtoi(rest, &kib)) return kib;
    }
  }
  return 0;
}

}  // namespace premium::testing

#endif  // PREMIUM_LEDGER_TESTING_CHILD_PROCESS_H_
