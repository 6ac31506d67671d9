// fieldsync-bench's modes as data: each mode is a name, a one-line summary, its help text and the
// function that runs it. main.cpp parses the options, looks the mode up here, runs it and prints
// what it reported. A new mode is one more entry in modes().
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldsync::bench {

class Report;

struct BenchOptions {
  std::size_t records = 50'000;  // rows or records written in bulk
  std::size_t visits = 2'000;    // visits, or rows, written one per transaction
  std::optional<std::size_t> devices;   // sync: 50; load: 500
  std::size_t per_device = 1'000;       // sync: visits each device records and pushes
  std::string notes = "both";           // sync: text, random or both
  std::size_t history = 1'000'000;      // sync: records of history for the pull-cost figure; 0: none
  std::size_t seconds = 30;             // load: how long the devices keep syncing
  std::size_t changes = 4;              // load: changes each device makes before each sync
  std::string json_file;                // empty: no JSON
  std::filesystem::path dir;  // where the scratch directory goes (same file system as the build)
  std::filesystem::path device_dir;  // load: where the device stores go (default: /dev/shm)
  std::string database;  // sync, load: a PostgreSQL server to make scratch databases on; empty: SQLite
  std::size_t nodes = 1;  // sync, load: server nodes sharing the PostgreSQL database
  std::optional<std::size_t> concurrency;  // sync: devices pushing at once (default: see mode)
};

struct Mode {
  std::string_view name;
  std::string_view summary;  // one line, for the list of modes
  std::string_view help;     // what it measures and which options it reads
  void (*run)(const BenchOptions& options, Report& report);
};

const std::vector<Mode>& modes();

// The modes' entry points (one file each).
void run_baseline(const BenchOptions& options, Report& report);
void run_client(const BenchOptions& options, Report& report);
void run_sync(const BenchOptions& options, Report& report);
void run_load(const BenchOptions& options, Report& report);

}  // namespace fieldsync::bench
