// medperf-server: skeleton answering GET /version; the full API comes with the
// server issue.
#include <httplib.h>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--port=", 0) == 0) port = std::atoi(a.c_str() + 7);
    if (a.rfind("--host=", 0) == 0) host = a.substr(7);
  }
  httplib::Server server;
  server.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"version": "v0"})", "application/json");
  });
  std::cerr << "medperf-server listening on " << host << ":" << port << "\n";
  return server.listen(host, port) ? 0 : 1;
}
