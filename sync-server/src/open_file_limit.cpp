// RLIMIT_NOFILE read and raised with getrlimit/setrlimit (see open_file_limit.h).
#include "open_file_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "fieldsync/error.h"

namespace fieldsync::server {

std::uint64_t open_files_needed(std::size_t max_connections, std::size_t database_files) {
  return std::uint64_t{max_connections} + database_files + kSpareOpenFiles;
}

OpenFileLimit ensure_open_file_limit(std::uint64_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    throw Error(ErrorDomain::kPosix, errno,
                std::string("cannot read the open-file limit: ") + std::strerror(errno));
  }
  OpenFileLimit result{needed, limit.rlim_cur, limit.rlim_cur, limit.rlim_max};
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    const rlim_t wanted = limit.rlim_max == RLIM_INFINITY
                              ? static_cast<rlim_t>(needed)
                              : std::min(static_cast<rlim_t>(needed), limit.rlim_max);
    rlimit raised = limit;
    raised.rlim_cur = wanted;
    if (wanted > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) result.soft = wanted;
  }
  return result;
}

}  // namespace fieldsync::server
