// `medperfctl storage ls|cleanup`: the state directory's asset folders and their
// clutter. The work is daemon/state_storage's; these handlers translate.
#include "daemon/control_service.h"
#include "daemon/state_storage.h"
#include "runners/runner.h"  // DescribeBytes

namespace medperf::daemon {
namespace v1 = medperf::v1;

grpc::Status ControlService::ListStorage(grpc::ServerContext*, const v1::ListStorageRequest*,
                                         v1::StorageList* resp) {
  StorageListing listing = daemon::ListStorage(ctx_.site.state_dir());
  resp->set_state_dir(listing.state_dir.string());
  for (const StorageFolder& f : listing.folders) {
    v1::StorageFolder* out = resp->add_folders();
    out->set_asset(f.asset);
    out->set_path(f.path.string());
    out->set_description(f.description);
    out->set_bytes(static_cast<int64_t>(f.bytes));
    out->set_size(DescribeBytes(f.bytes));
    out->set_items(f.items);
    out->set_error(f.error);
  }
  resp->set_free_bytes(listing.free_bytes ? static_cast<int64_t>(*listing.free_bytes) : -1);
  resp->set_free(listing.free_bytes ? DescribeBytes(*listing.free_bytes) : "unknown");
  return grpc::Status::OK;
}

grpc::Status ControlService::CleanupStorage(grpc::ServerContext*,
                                            const v1::CleanupStorageRequest* req,
                                            v1::CleanupStorageResponse* resp) {
  absl::StatusOr<CleanupReport> report =
      daemon::CleanupStorage(ctx_.site, ctx_.jobs, req->dry_run(), absl::Now());
  if (!report.ok()) return ToGrpc(report.status());
  resp->set_dry_run(report->dry_run);
  for (const CleanupItem& item : report->removed) {
    v1::RemovedItem* out = resp->add_removed();
    out->set_kind(item.kind);
    out->set_path(item.path.string());
    out->set_count(item.count);
    out->set_bytes(static_cast<int64_t>(item.bytes));
    out->set_size(DescribeBytes(item.bytes));
    out->set_reason(item.reason);
  }
  resp->set_bytes_freed(static_cast<int64_t>(report->bytes_freed));
  resp->set_freed(DescribeBytes(report->bytes_freed));
  for (const std::string& k : report->kept) resp->add_kept(k);
  return grpc::Status::OK;
}

}  // namespace medperf::daemon
