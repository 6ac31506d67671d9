// What a benchmark run found: its settings and figures (each with a unit, a meaning and, for the
// figures that have one, the target it must meet), printed as a table for people and written as
// JSON, together with the machine and the library versions, for later comparison.
// Single-threaded, like the rest of fieldsync-bench.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::bench {

struct Target {
  enum class Comparison { kAtLeast, kAtMost, kBelow };
  Comparison comparison;
  double bound;

  bool met_by(double value) const;
  std::string describe() const;  // ">= 0.8", "<= 100", "< 1"

  static Target at_least(double bound) { return {Comparison::kAtLeast, bound}; }
  static Target at_most(double bound) { return {Comparison::kAtMost, bound}; }
  static Target below(double bound) { return {Comparison::kBelow, bound}; }
};

struct Figure {
  std::string name;  // stable, for the JSON: "client.record_visit_per_s"
  double value = 0;
  std::string unit;     // "rows/s", "s", "x" (a ratio)
  std::string meaning;  // one line, for the table
  std::optional<Target> target;
};

class Report {
 public:
  explicit Report(std::string mode);

  void setting(const std::string& name, nlohmann::ordered_json value);
  void figure(std::string name, double value, std::string unit, std::string meaning,
              std::optional<Target> target = std::nullopt);
  // A ratio of two figures already reported, as a figure with unit "x".
  void ratio(const std::string& name, const std::string& numerator, const std::string& denominator,
             const std::string& meaning, std::optional<Target> target = std::nullopt);

  void print_table(std::FILE* out) const;
  // Machine, versions, settings and every figure.
  nlohmann::ordered_json to_json() const;
  // False when a figure misses its target.
  bool targets_met() const;

 private:
  double value_of(const std::string& name) const;

  std::string mode_;
  std::string started_at_;
  nlohmann::ordered_json settings_ = nlohmann::ordered_json::object();
  std::vector<Figure> figures_;
};

// Progress on stderr, so that stdout holds only the table.
void progress(const std::string& mode, const std::string& message);

}  // namespace fieldsync::bench
