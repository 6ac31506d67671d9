// The benchmark report: the table, the JSON, and the facts about the machine and the libraries
// that make figures from two runs comparable.
#include "bench_report.h"

#include <openssl/crypto.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fieldsync/fieldsync.h"
#include "fieldsync/value.h"

namespace fieldsync::bench {
namespace {

// The value after "<key>:" on the first line of a /proc file that starts with `key`.
std::string proc_value(const char* file, std::string_view key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "unknown";
}

nlohmann::ordered_json machine() {
  const std::string mem_total = proc_value("/proc/meminfo", "MemTotal");  // "24596444 kB"
  std::int64_t memory_bytes = 0;
  std::istringstream(mem_total) >> memory_bytes;
  memory_bytes *= 1024;
  return {{"cpu_model", proc_value("/proc/cpuinfo", "model name")},
          {"cores", std::thread::hardware_concurrency()},
          {"memory_bytes", memory_bytes}};
}

nlohmann::ordered_json versions() {
  return {{"fieldsync", fieldsync_version()},
          {"sqlite", sqlite3_libversion()},
          {"openssl", OpenSSL_version(OPENSSL_VERSION)}};
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return format_timestamp(
      Timestamp{std::chrono::duration_cast<std::chrono::milliseconds>(now).count()});
}

// Enough digits to compare, no more: 12345 rows/s, 0.873 x, 0.412 s.
std::string format_value(double value) {
  char text[32];
  const double size = std::fabs(value);
  std::snprintf(text, sizeof text, size >= 100 ? "%.0f" : size >= 10 ? "%.1f" : "%.3f", value);
  return text;
}

}  // namespace

bool Target::met_by(double value) const {
  switch (comparison) {
    case Comparison::kAtLeast: return value >= bound;
    case Comparison::kAtMost: return value <= bound;
    case Comparison::kBelow: return value < bound;
  }
  return false;
}

std::string Target::describe() const {
  const char* sign = comparison == Comparison::kAtLeast  ? ">= "
                     : comparison == Comparison::kAtMost ? "<= "
                                                         : "< ";
  return sign + format_value(bound);
}

Report::Report(std::string mode) : mode_(std::move(mode)), started_at_(now_rfc3339()) {}

void Report::setting(const std::string& name, nlohmann::ordered_json value) {
  settings_[name] = std::move(value);
}

void Report::figure(std::string name, double value, std::string unit, std::string meaning,
                    std::optional<Target> target) {
  figures_.push_back({std::move(name), value, std::move(unit), std::move(meaning), target});
}

void Report::ratio(const std::string& name, const std::string& numerator,
                   const std::string& denominator, const std::string& meaning,
                   std::optional<Target> target) {
  const double below = value_of(denominator);
  figure(name, below > 0 ? value_of(numerator) / below : 0, "x", meaning, target);
}

double Report::value_of(const std::string& name) const {
  const auto found = std::find_if(figures_.begin(), figures_.end(),
                                  [&](const Figure& figure) { return figure.name == name; });
  if (found == figures_.end()) throw std::logic_error("no figure " + name + " to take a ratio of");
  return found->value;
}

void Report::print_table(std::FILE* out) const {
  const nlohmann::ordered_json about = machine();
  std::fprintf(out, "fieldsync-bench %s (%s, %u cores)\n\n", mode_.c_str(),
               about["cpu_model"].get<std::string>().c_str(), about["cores"].get<unsigned>());
  std::size_t width = 0;
  for (const Figure& figure : figures_) width = std::max(width, figure.meaning.size());
  const int meaning_width = static_cast<int>(width);
  std::fprintf(out, "%-*s  %12s  %-8s  %s\n", meaning_width, "figure", "value", "unit", "target");
  for (const Figure& figure : figures_) {
    std::string target;
    if (figure.target) {
      target =
          figure.target->describe() + (figure.target->met_by(figure.value) ? "  met" : "  MISSED");
    }
    std::fprintf(out, "%-*s  %12s  %-8s  %s\n", meaning_width, figure.meaning.c_str(),
                 format_value(figure.value).c_str(), figure.unit.c_str(), target.c_str());
  }
}

nlohmann::ordered_json Report::to_json() const {
  nlohmann::ordered_json figures = nlohmann::ordered_json::array();
  for (const Figure& figure : figures_) {
    nlohmann::ordered_json entry = {{"name", figure.name},
                                    {"value", figure.value},
                                    {"unit", figure.unit},
                                    {"meaning", figure.meaning}};
    if (figure.target) {
      entry["target"] = figure.target->describe();
      entry["target_met"] = figure.target->met_by(figure.value);
    }
    figures.push_back(std::move(entry));
  }
  return {{"tool", "fieldsync-bench"},    {"mode", mode_},          {"started_at", started_at_},
          {"machine", machine()},         {"versions", versions()}, {"settings", settings_},
          {"figures", std::move(figures)}};
}

bool Report::targets_met() const {
  return std::all_of(figures_.begin(), figures_.end(), [](const Figure& figure) {
    return !figure.target || figure.target->met_by(figure.value);
  });
}

void progress(const std::string& mode, const std::string& message) {
  std::fprintf(stderr, "[%s] %s\n", mode.c_str(), message.c_str());
}

}  // namespace fieldsync::bench
