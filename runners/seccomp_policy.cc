#include "runners/seccomp_policy.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace medperf {

const std::vector<std::string>& DeniedSyscalls() {
  // Grouped as in Docker's default profile; each is denied there unless the container
  // is given the capability it needs, and our tasks get no capability at all.
  static const std::vector<std::string> names = {
      // Mounts and namespaces: a task must not rearrange what it sees.
      "mount",
      "umount",
      "umount2",
      "pivot_root",
      "chroot",
      "unshare",
      "setns",
      "move_mount",
      "open_tree",
      "fsopen",
      "fsconfig",
      "fsmount",
      "fspick",
      "mount_setattr",
      // Looking into or steering other processes.
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "kcmp",
      "pidfd_getfd",
      // Kernel attack surface and tracing.
      "bpf",
      "perf_event_open",
      "userfaultfd",
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
      "lookup_dcookie",
      "fanotify_init",
      "open_by_handle_at",
      "name_to_handle_at",
      // Keys.
      "keyctl",
      "add_key",
      "request_key",
      // Kernel code and machine state.
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "reboot",
      "swapon",
      "swapoff",
      "acct",
      "quotactl",
      "quotactl_fd",
      "syslog",
      "vhangup",
      "iopl",
      "ioperm",
      "uselib",
      "ustat",
      "sysfs",
      "_sysctl",
      "nfsservctl",
      "get_kernel_syms",
      "query_module",
      "create_module",
      "vm86",
      "vm86old",
      // Clocks shared with the host.
      "settimeofday",
      "stime",
      "clock_settime",
      "clock_settime64",
      "clock_adjtime",
      "clock_adjtime64",
      "adjtimex",
  };
  return names;
}

absl::StatusOr<int> SeccompProgramFd() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  auto fail = [&](const std::string& what, int rc) {
    seccomp_release(ctx);
    return absl::InternalError(absl::StrCat("seccomp filter: ", what, ": ", std::strerror(-rc)));
  };
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) return fail("bad-arch action", rc);
  for (const std::string& name : DeniedSyscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc != 0 && rc != -EEXIST) return fail(name, rc);
  }
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  // One rule per flag: rules for one call are OR-ed, and "any flag set" has no single
  // comparison.
  for (uint64_t flag = 1; flag != 0; flag <<= 1) {
    if ((kNamespaceFlags & flag) == 0) continue;
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc != 0) return fail("clone", rc);
  }
  int nr_clone3 = seccomp_syscall_resolve_name("clone3");
  if (nr_clone3 != __NR_SCMP_ERROR) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr_clone3, 0);
    if (rc != 0) return fail("clone3", rc);
  }
  int fd = ::memfd_create("medperf-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    seccomp_release(ctx);
    return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  }
  rc = seccomp_export_bpf(ctx, fd);
  seccomp_release(ctx);
  if (rc != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("seccomp_export_bpf: ", std::strerror(-rc)));
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

}  // namespace medperf
