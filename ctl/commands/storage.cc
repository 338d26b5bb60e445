// storage ls|cleanup: the daemon's state directory, as the MedPerf CLI's `storage`
// commands show and tidy theirs (mlcommons/medperf cli/medperf/commands/storage.py).
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

absl::StatusOr<Reply> StorageList(CommandContext& ctx) {
  absl::StatusOr<v1::StorageList> list =
      ctx.client().Call(&v1::Control::Stub::ListStorage, v1::ListStorageRequest());
  if (!list.ok()) return list.status();
  return ProtoReply(*list, [list = *list](std::ostream& o) {
    Table t({"Asset", "Location", "Size", "Items"});
    for (const v1::StorageFolder& f : list.folders()) {
      t.AddRow({f.asset(), f.path(), f.error().empty() ? f.size() : "? (" + f.error() + ")",
                std::to_string(f.items())});
    }
    t.Print(o);
    o << "\nFree space on the state directory's filesystem: " << list.free() << "\n";
  });
}

absl::StatusOr<Reply> StorageCleanup(CommandContext& ctx) {
  v1::CleanupStorageRequest req;
  req.set_dry_run(ctx.args.Has("dry-run"));
  absl::StatusOr<v1::CleanupStorageResponse> resp =
      ctx.client().Call(&v1::Control::Stub::CleanupStorage, req);
  if (!resp.ok()) return resp.status();
  return ProtoReply(*resp, [resp = *resp](std::ostream& o) {
    const bool dry = resp.dry_run();
    if (resp.removed().empty()) {
      o << "Nothing to clean up.\n";
    } else {
      o << (dry ? "Would remove (dry run, nothing was removed):\n" : "Removed:\n");
      Table t({"Kind", "Location", "Count", "Size", "Reason"});
      for (const v1::RemovedItem& r : resp.removed()) {
        t.AddRow({r.kind(), r.path(), std::to_string(r.count()), r.size(), r.reason()});
      }
      t.Print(o);
      o << "\n" << (dry ? "Would free " : "Freed ") << resp.freed() << ".\n";
    }
    if (!resp.kept().empty()) {
      o << "Kept:\n";
      for (const std::string& k : resp.kept()) o << "  - " << k << "\n";
    }
  });
}

}  // namespace

std::vector<Command> StorageCommands() {
  return {
      {{"storage", "ls"},
       "Show the state directory's asset folders: location, size, items; and the free space",
       {"medperfctl storage ls"},
       {},
       StorageList},
      {{"storage", "cleanup"},
       "Remove clutter: temporary files, failed tasks' partial outputs, what retention lets go "
       "(never prepared data or results; refused while a job runs)",
       {"medperfctl storage cleanup --dry-run"},
       {{"dry-run", {}, false, false, "only show what would be removed"}},
       StorageCleanup},
  };
}

}  // namespace medperf::ctl
