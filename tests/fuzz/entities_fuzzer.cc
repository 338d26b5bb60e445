// Fuzzes the REST decoders: every *FromJson on whatever JSON the input parses to, the
// re-encoding of what decoded, and StatusFromHttp on the raw body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/entities.h"
#include "core/rest_client.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// A decoded entity must encode to JSON that decodes again (the client echoes records
// back to the server in partial updates).
template <typename T>
void CheckRoundTrip(const absl::StatusOr<T>& decoded,
                    absl::StatusOr<T> (*decode)(const medperf::Json&), const char* what) {
  if (!decoded.ok()) return;
  medperf::Json again = medperf::ToJson(*decoded);
  auto redecoded = decode(again);
  if (!redecoded.ok()) {
    medperf::fuzz::Violation(std::string(what) + ": re-decoding its own encoding failed: " +
                             std::string(redecoded.status().message()) + "\n" + again.dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace medperf;
  std::string_view text = fuzz::AsText(data, size);
  // The first byte picks the HTTP status for StatusFromHttp (100..611).
  long http_status = size > 0 ? 100 + (data[0] * 2) : 500;
  (void)StatusFromHttp(http_status, text, "GET /fuzz/");
  (void)StatusFromHttp(400, text, "POST /fuzz/");

  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  (void)UserFromJson(j);
  CheckRoundTrip(ContainerFromJson(j), &ContainerFromJson, "container");
  CheckRoundTrip(ModelFromJson(j), &ModelFromJson, "model");
  CheckRoundTrip(BenchmarkFromJson(j), &BenchmarkFromJson, "benchmark");
  CheckRoundTrip(DatasetFromJson(j), &DatasetFromJson, "dataset");
  CheckRoundTrip(ResultFromJson(j), &ResultFromJson, "result");
  (void)DatasetAssociationFromJson(j);
  (void)ModelAssociationFromJson(j);
  (void)SanitizeJson(j);
  return 0;
}
