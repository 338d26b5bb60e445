// The benchmark committee's and the model owner's flows (MedPerf tutorials): test run,
// container submit, benchmark submit, model associate. Admin approval of benchmarks is
// SetBenchmarkApproval in service_entities.cc.
// The flows live in daemon/flows/; these handlers turn requests into their inputs and
// their results into answers.
#include <optional>

#include "daemon/control_service.h"
#include "daemon/flows/associate_model.h"
#include "daemon/flows/submit_benchmark.h"
#include "daemon/flows/submit_container.h"
#include "daemon/flows/test_run.h"

namespace medperf::daemon {
namespace v1 = medperf::v1;

grpc::Status ControlService::RunTest(grpc::ServerContext* context, const v1::RunTestRequest* req,
                                     grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::TestRunInput in;
  if (req->benchmark() > 0) in.benchmark = BenchmarkId(req->benchmark());
  in.data_preparator = req->data_preparator();
  if (req->data_preparator_id() > 0) in.data_preparator_id = ContainerId(req->data_preparator_id());
  in.model = req->model();
  if (req->model_id() > 0) {
    if (req->model_is_container()) {
      in.model_container_id = ContainerId(req->model_id());
    } else {
      in.model_id = ModelId(req->model_id());
    }
  }
  in.evaluator = req->evaluator();
  if (req->evaluator_id() > 0) in.evaluator_id = ContainerId(req->evaluator_id());
  in.data_path = req->data_path();
  in.labels_path = req->labels_path();
  in.demo_url = req->demo_url();
  in.demo_hash = req->demo_hash();
  in.skip_demo_data_preparation = req->skip_demo_data_preparation();
  in.no_cache = req->no_cache();
  if (absl::Status st = flows::CheckTestRun(in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::TestRunJob(in), Summarized(&flows::TestRun, in), writer);
}

grpc::Status ControlService::SubmitContainer(grpc::ServerContext* context,
                                             const v1::SubmitContainerRequest* req,
                                             grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::SubmitContainerInput in{.name = req->name(),
                                 .container_config_file = req->container_config_file(),
                                 .legacy_mlcube = req->legacy_mlcube(),
                                 .parameters_file = req->parameters_file(),
                                 .additional_file = req->additional_file(),
                                 .additional_hash = req->additional_hash(),
                                 .image_file = req->image_file(),
                                 .image_hash = req->image_hash(),
                                 .operational = req->operational()};
  if (absl::Status st = flows::CheckSubmitContainer(in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::SubmitContainerJob(in), Summarized(&flows::SubmitContainer, in),
                   writer);
}

grpc::Status ControlService::SubmitBenchmark(grpc::ServerContext* context,
                                             const v1::SubmitBenchmarkRequest* req,
                                             grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::SubmitBenchmarkInput in{
      .name = req->name(),
      .description = req->description(),
      .docs_url = req->docs_url(),
      .data_preparation_container = ContainerId(req->data_preparation_container()),
      .reference_model = req->reference_model() > 0 ? std::optional(ModelId(req->reference_model()))
                                                    : std::nullopt,
      .reference_model_container =
          req->reference_model_container() > 0
              ? std::optional(ContainerId(req->reference_model_container()))
              : std::nullopt,
      .evaluator_container = ContainerId(req->evaluator_container()),
      .demo_url = req->demo_url(),
      .demo_hash = req->demo_hash(),
      .skip_demo_data_preparation = req->skip_demo_data_preparation(),
      .skip_compatibility_test = req->skip_compatibility_test(),
      .operational = req->operational()};
  if (absl::Status st = flows::CheckSubmitBenchmark(in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::SubmitBenchmarkJob(in), Summarized(&flows::SubmitBenchmark, in),
                   writer);
}

grpc::Status ControlService::AssociateModel(grpc::ServerContext* context,
                                            const v1::AssociateModelRequest* req,
                                            grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::AssociateModelInput in{.benchmark = BenchmarkId(req->benchmark()),
                                .model = std::nullopt,
                                .model_container = std::nullopt,
                                .dry_run = req->dry_run(),
                                .no_cache = req->no_cache()};
  if (req->model() > 0) {
    if (req->model_is_container()) {
      in.model_container = ContainerId(req->model());
    } else {
      in.model = ModelId(req->model());
    }
  }
  if (absl::Status st = flows::CheckAssociateModel(in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::AssociateModelJob(in), Summarized(&flows::AssociateModel, in),
                   writer);
}

}  // namespace medperf::daemon
