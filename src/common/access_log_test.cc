// The access log's writer: files made private and never through a symlink,
// one line per Write, and a full queue that drops (and counts) instead of
// holding the request thread.
#include "aegis/common/access_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "aegis/common/file_util.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"

namespace aegis {
namespace {

namespace fs = std::filesystem;

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(AccessLogTest, WritesOneLinePerRequestToAPrivateFile) {
  testing::ScopedTempDir tmp;
  const fs::path path = tmp.path() / "access.log";
  AccessLog log;
  EXPECT_FALSE(log.enabled());
  log.Write("ignored while off");
  auto dest = AccessLog::Open(path.string());
  ASSERT_OK(dest.status());
  log.Use(std::move(dest).value());
  ASSERT_TRUE(log.enabled());
  log.Write(R"({"n":1})");
  log.Write(R"({"n":2})");
  log.Flush();
  EXPECT_EQ(ReadFile(path).value(), "{\"n\":1}\n{\"n\":2}\n");
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(log.written(), 2u);
  EXPECT_EQ(log.dropped(), 0u);
}

TEST(AccessLogTest, AppendsToAnExistingFileAndNarrowsItsMode) {
  testing::ScopedTempDir tmp;
  const fs::path path = tmp.path() / "access.log";
  std::ofstream(path) << "old\n";
  ::chmod(path.c_str(), 0644);
  AccessLog log;
  log.Use(AccessLog::Open(path.string()).value());
  log.Write("new");
  log.Flush();
  EXPECT_EQ(ReadFile(path).value(), "old\nnew\n");
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST(AccessLogTest, RefusesSymlinksAndWhatIsNotARegularFile) {
  testing::ScopedTempDir tmp;
  const fs::path target = tmp.path() / "elsewhere";
  std::ofstream(target) << "keep\n";
  const fs::path link = tmp.path() / "access.log";
  fs::create_symlink(target, link);
  auto through_link = AccessLog::Open(link.string());
  ASSERT_FALSE(through_link.ok());
  EXPECT_NE(through_link.status().message().find("symbolic link"), std::string::npos)
      << through_link.status().message();
  EXPECT_EQ(ReadFile(target).value(), "keep\n");
  const fs::path fifo = tmp.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(AccessLog::Open(fifo.string()).ok());        // and the open does not hang waiting for a reader
  EXPECT_FALSE(AccessLog::Open(tmp.path().string()).ok());  // a folder
  EXPECT_FALSE(AccessLog::Open((tmp.path() / "missing" / "access.log").string()).ok());
}

TEST(AccessLogTest, SwitchingDestinationsMovesLaterLinesAndOffStopsThem) {
  testing::ScopedTempDir tmp;
  const fs::path a = tmp.path() / "a.log", b = tmp.path() / "b.log";
  AccessLog log;
  log.Use(AccessLog::Open(a.string()).value());
  log.Write("1");
  log.Flush();
  log.Use(AccessLog::Open(b.string()).value());
  log.Write("2");
  log.Flush();
  log.Use(AccessLog::Open("").value());
  EXPECT_FALSE(log.enabled());
  log.Write("3");
  log.Flush();
  EXPECT_EQ(ReadFile(a).value(), "1\n");
  EXPECT_EQ(ReadFile(b).value(), "2\n");
}

// A destination that stops taking bytes (a pipe nobody reads, standing in for
// a stuck disk): Write keeps returning at once and counts what it drops.
TEST(AccessLogTest, AFullQueueDropsAndCountsInsteadOfBlocking) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int saved_stderr = ::dup(STDERR_FILENO);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);
  uint64_t sent = 0;
  {
    AccessLog log(/*max_queued=*/4);
    log.Use(AccessLog::Open("-").value());
    const std::string line(4096, 'x');
    // The pipe holds 64 KiB; after that the writer is stuck and the queue fills.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log.dropped() < 10 && std::chrono::steady_clock::now() < deadline) {
      log.Write(line);
      ++sent;
    }
    EXPECT_GE(log.dropped(), 10u);
    // Unstick the writer: drain the pipe (until every write end is closed).
    std::thread reader([fd = pipe_fds[0]] {
      char buf[65536];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
    });
    log.Flush();
    EXPECT_EQ(log.written() + log.dropped(), sent);
    EXPECT_GT(log.written(), 0u);
    log.Use(AccessLog::Open("").value());
    ::dup2(saved_stderr, STDERR_FILENO);  // closes the pipe's last write end: the reader sees its end
    reader.join();
  }
  ::close(pipe_fds[0]);
  ::close(saved_stderr);
}

}  // namespace
}  // namespace aegis
