// eck::log: level names and the two output formats (terminal and journal).
#include "eck/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace {

TEST(Log, LevelNames) {
  for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_TRUE(eck::log::valid_level(l)) << l;
  }
  for (const char* l : {"", "INFO", "warning", "err", "verbose", "info "}) {
    EXPECT_FALSE(eck::log::valid_level(l)) << l;
  }
  EXPECT_THROW(eck::log::init("x", "loud"), std::invalid_argument);
  EXPECT_THROW(eck::log::set_level("warning"), std::invalid_argument);
}

TEST(Log, SetLevelChangesTheDefaultLogger) {
  eck::log::init("eck-test", "info");
  EXPECT_EQ(spdlog::default_logger()->name(), "eck-test");
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::info));
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::debug));
  eck::log::set_level("debug");
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::debug));
  eck::log::set_level("error");
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::warn));
}

// Death-test children: their stderr is what the matcher sees.
TEST(LogDeathTest, TerminalFormatHasTimestampLevelAndName) {
  EXPECT_EXIT(
      {
        ::unsetenv("JOURNAL_STREAM");
        eck::log::init("eck-test", "info");
        spdlog::debug("hidden");
        spdlog::warn("careful {}", 42);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0),
      "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} warning \\[eck-test\\] "
      "careful 42\n$");
}

TEST(LogDeathTest, JournalFormatPrefixesEveryLineWithItsPriority) {
  EXPECT_EXIT(
      {
        struct stat st {};
        ::fstat(STDERR_FILENO, &st);
        const std::string js = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        ::setenv("JOURNAL_STREAM", js.c_str(), 1);
        eck::log::init("eck-test", "debug");
        spdlog::info("started");
        spdlog::error("two\nlines");
        spdlog::debug("detail");
        spdlog::critical("bad");
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "^<6>started\n<3>two\n<3>lines\n<7>detail\n<2>bad\n$");
}

TEST(LogDeathTest, InheritedJournalStreamForAnotherFileIsIgnored) {
  // A daemon started from a unit's shell with stderr redirected: the
  // variable is inherited but stderr is not the journal.
  EXPECT_EXIT(
      {
        ::setenv("JOURNAL_STREAM", "1:2", 1);
        eck::log::init("eck-test", "info");
        spdlog::info("plain");
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "info \\[eck-test\\] plain\n$");
}

}  // namespace
