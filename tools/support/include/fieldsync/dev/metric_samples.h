// The samples of a Prometheus text exposition (GET /metrics), for the tests that read the server's
// metrics. Not a full parser: comment lines are skipped, and each sample line is split at its
// last space (the server writes no timestamps). Development support only.
#pragma once

#include <map>
#include <sstream>
#include <string>

namespace fieldsync::dev {

// Each sample's value by its series, "name{labels}" as written.
inline std::map<std::string, double> metric_samples(const std::string& exposition) {
  std::map<std::string, double> samples;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

}  // namespace fieldsync::dev
