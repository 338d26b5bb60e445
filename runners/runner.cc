#include "runners/runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace medperf {
namespace fs = std::filesystem;

Runner::~Runner() = default;

TaskLimits DefaultTaskLimits(std::string_view kind) {
  using std::chrono::hours;
  constexpr uint64_t kGiB = uint64_t{1} << 30, kMiB = uint64_t{1} << 20;
  TaskLimits l;
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 8 * kGiB;
  l.memory_bytes = ram / 4 * 3;
  l.max_processes = 4096;
  long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  l.cpus = cores > 0 ? double(cores) : 1;
  l.log_bytes = 64 * kMiB;
  l.tmp_bytes = 2 * kGiB;
  if (kind == "prepare") {
    l.wall_time = hours(24);
    l.output_bytes = 1024 * kGiB;  // prepared images can be larger than the raw data
  } else if (kind == "infer") {
    l.wall_time = hours(24);
    l.output_bytes = 200 * kGiB;  // segmentation masks for a whole dataset
  } else if (kind == "evaluate") {
    l.wall_time = hours(4);
    l.output_bytes = 1 * kGiB;
  } else {  // sanity_check, statistics
    l.wall_time = hours(4);
    l.output_bytes = 64 * kMiB;
  }
  return l;
}

std::string TaskOutcome::Describe() const {
  if (cancelled) return "cancelled";
  if (timed_out) {
    return absl::StrCat("timed out after ", duration.count() / 1000, ".",
                        (duration.count() % 1000) / 100, "s",
                        limit_detail.empty() ? "" : absl::StrCat(" (", limit_detail, ")"));
  }
  if (!limit_hit.empty()) {
    return absl::StrCat("hit its ", limit_hit, " limit (", limit_detail,
                        "); raise it in medperfd's config if the task needs more");
  }
  if (signal != 0) return absl::StrCat("killed by signal ", signal);
  return absl::StrCat("exited with code ", exit_code);
}

absl::StatusOr<std::vector<ResolvedMount>> ResolveMounts(const ContainerConfig& config,
                                                         const TaskRun& run) {
  const TaskSpec* task = config.FindTask(run.task);
  if (task == nullptr) {
    std::vector<std::string> names;
    for (const auto& [name, unused] : config.tasks) names.push_back(name);
    return absl::NotFoundError(absl::StrCat("container '", config.source, "' has no task '",
                                            run.task,
                                            "' (it declares: ", absl::StrJoin(names, ", "), ")"));
  }
  std::vector<ResolvedMount> mounts;
  for (bool declared_input : {true, false}) {
    const auto& volumes = declared_input ? task->input_volumes : task->output_volumes;
    for (const Volume& v : volumes) {
      // The daemon decides what is writable: a volume it supplies as an input stays
      // read-only whatever the config declares, and declaring it as an output is refused
      // before anything runs.
      bool input = declared_input;
      if (run.outputs_decided) {
        input = !run.outputs.contains(v.name);
        if (input && !declared_input) {
          return absl::InvalidArgumentError(absl::StrCat(
              "container '", config.source, "': task '", run.task, "' declares '", v.name,
              "' under output_volumes, but medperfd ",
              run.mounts.contains(v.name) ? "supplies it as a read-only input"
                                          : "supplies no such output",
              "; a container may only write the outputs MedPerf defines for the task"));
        }
      }
      std::string what = absl::StrCat(input ? "input" : "output", " volume '", v.name,
                                      "' of task '", run.task, "'");
      fs::path host;
      if (auto it = run.mounts.find(v.name); it != run.mounts.end() && !it->second.empty()) {
        host = it->second;
      } else if (!v.default_host_path.empty()) {
        host = v.default_host_path;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " (mounted at ", v.mount_path,
                         ") is declared by the container but no host path was supplied"));
      }
      std::error_code ec;
      host = fs::absolute(host, ec).lexically_normal();
      VolumeType type = v.type;
      auto status = fs::status(host, ec);
      bool exists = fs::exists(status);
      if (exists && v.type_guessed) {
        type = fs::is_directory(status) ? VolumeType::kDirectory : VolumeType::kFile;
      }
      if (input) {
        if (!exists) {
          return absl::NotFoundError(
              absl::StrCat(what, ": host path '", host.string(), "' does not exist"));
        }
      } else if (run.outputs_decided && exists) {
        // Outputs are fresh: the daemon created them empty for this task, so nothing a
        // previous task left (a link, a planted file) is inherited.
        auto link = fs::symlink_status(host, ec);
        bool empty = fs::is_directory(link)
                         ? fs::is_empty(host, ec)
                         : fs::is_regular_file(link) && fs::file_size(host, ec) == 0;
        if (fs::is_symlink(link) || !empty) {
          return absl::FailedPreconditionError(
              absl::StrCat(what, ": host path '", host.string(), "' is not a fresh empty ",
                           type == VolumeType::kDirectory ? "directory" : "file"));
        }
      } else if (!exists) {
        if (type == VolumeType::kDirectory) {
          fs::create_directories(host, ec);
        } else {
          fs::create_directories(host.parent_path(), ec);
          int fd = ::open(host.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
          if (fd >= 0) ::close(fd);
        }
        status = fs::status(host, ec);
        if (!fs::exists(status)) {
          return absl::PermissionDeniedError(
              absl::StrCat(what, ": cannot create host path '", host.string(), "'"));
        }
      }
      bool is_dir = fs::is_directory(status);
      if (type == VolumeType::kDirectory && !is_dir) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is a directory, but host path '",
                                                       host.string(), "' is not a directory"));
      }
      if (type == VolumeType::kFile && (is_dir || !fs::is_regular_file(status))) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is a file, but host path '",
                                                       host.string(), "' is not a regular file"));
      }
      mounts.push_back(ResolvedMount{v.name, host, v.mount_path, type, input});
    }
  }
  // Parents before children, so nested mount paths stack correctly.
  std::stable_sort(mounts.begin(), mounts.end(),
                   [](const ResolvedMount& a, const ResolvedMount& b) {
                     return a.mount_path.size() < b.mount_path.size();
                   });
  return mounts;
}

std::string DescribeBytes(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
  if (bytes >= kGiB) return absl::StrFormat("%d bytes (%.1f GiB)", bytes, double(bytes) / kGiB);
  if (bytes >= kMiB) return absl::StrFormat("%d bytes (%.1f MiB)", bytes, double(bytes) / kMiB);
  if (bytes >= kKiB) return absl::StrFormat("%d bytes (%.1f KiB)", bytes, double(bytes) / kKiB);
  return absl::StrCat(bytes, " bytes");
}

}  // namespace medperf
