#include "cli/output.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <iomanip>
#include <iostream>

#include "budstikke/client.h"

namespace budstikke::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;

// "AGENCY_TYPE_BUP" of enum AgencyType -> "BUP".
std::string StripEnumPrefix(const EnumDescriptor* e, const std::string& value) {
  std::string prefix;
  for (char c : e->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !prefix.empty()) prefix.push_back('_');
    prefix.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  prefix.push_back('_');
  if (value.rfind(prefix, 0) == 0) return value.substr(prefix.size());
  return value;
}

nlohmann::json FixScalar(const FieldDescriptor* f, const nlohmann::json& v);

void Fix(const Descriptor* d, nlohmann::json& obj) {
  if (!obj.is_object()) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    auto it = obj.find(f->name());
    if (it == obj.end()) continue;
    if (f->is_map()) continue;
    if (f->is_repeated()) {
      if (!it->is_array()) continue;
      for (auto& e : *it) e = FixScalar(f, e);
    } else {
      *it = FixScalar(f, *it);
    }
  }
}

nlohmann::json FixScalar(const FieldDescriptor* f, const nlohmann::json& v) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      if (v.is_string()) return std::stoll(v.get<std::string>());
      return v;
    case FieldDescriptor::CPPTYPE_UINT64:
      if (v.is_string()) return std::stoull(v.get<std::string>());
      return v;
    case FieldDescriptor::CPPTYPE_ENUM:
      if (v.is_string()) return StripEnumPrefix(f->enum_type(), v.get<std::string>());
      return v;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* md = f->message_type();
      if (md->full_name() == "google.protobuf.Timestamp") return v;
      nlohmann::json copy = v;
      Fix(md, copy);
      return copy;
    }
    default:
      return v;
  }
}

std::string Cell(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) {
      if (!out.empty()) out += ",";
      out += Cell(e);
    }
    return out;
  }
  if (v.is_object()) {
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string c = Cell(it.value());
      if (c.empty()) continue;
      if (!out.empty()) out += " ";
      out += it.key() + "=" + c;
    }
    return out;
  }
  return v.dump();
}

}  // namespace

nlohmann::json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(message, &text, options);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  Fix(message.GetDescriptor(), j);
  return j;
}

nlohmann::json ListJson(const std::vector<nlohmann::json>& items,
                        const std::string& next_page_token) {
  return nlohmann::json{{"items", items}, {"next_page_token", next_page_token}};
}

void Print(OutputFormat format, const nlohmann::json& value,
           const std::vector<std::string>& columns) {
  if (format == OutputFormat::kJson) {
    std::cout << value.dump() << std::endl;
    return;
  }
  if (value.is_object() && value.contains("items") && value["items"].is_array()) {
    std::vector<std::string> cols = columns;
    if (cols.empty() && !value["items"].empty()) {
      for (auto it = value["items"][0].begin(); it != value["items"][0].end(); ++it) {
        cols.push_back(it.key());
      }
    }
    std::vector<size_t> width(cols.size());
    std::vector<std::vector<std::string>> rows;
    for (size_t c = 0; c < cols.size(); ++c) width[c] = cols[c].size();
    for (const auto& item : value["items"]) {
      std::vector<std::string> row;
      for (size_t c = 0; c < cols.size(); ++c) {
        row.push_back(item.contains(cols[c]) ? Cell(item[cols[c]]) : "");
        width[c] = std::max(width[c], row.back().size());
      }
      rows.push_back(std::move(row));
    }
    auto print_row = [&](const std::vector<std::string>& row) {
      for (size_t c = 0; c < row.size(); ++c) {
        std::cout << std::left << std::setw(static_cast<int>(width[c]) + 2)
                  << (c + 1 == row.size() ? row[c] : row[c]);
      }
      std::cout << "\n";
    };
    std::vector<std::string> header;
    for (const auto& c : cols) {
      std::string h = c;
      for (char& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      header.push_back(h);
    }
    print_row(header);
    for (const auto& row : rows) print_row(row);
    if (!value["next_page_token"].get<std::string>().empty()) {
      std::cout << "(more: --page-token " << value["next_page_token"].get<std::string>() << ")\n";
    }
    std::cout.flush();
    return;
  }
  if (value.is_object()) {
    size_t w = 0;
    for (auto it = value.begin(); it != value.end(); ++it) w = std::max(w, it.key().size());
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::cout << std::left << std::setw(static_cast<int>(w) + 2) << (it.key() + ":")
                << Cell(it.value()) << "\n";
    }
    std::cout.flush();
    return;
  }
  std::cout << Cell(value) << std::endl;
}

std::string CodeName(absl::StatusCode code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  int c = static_cast<int>(code);
  return c >= 0 && c <= 16 ? kNames[c] : "UNKNOWN";
}

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:  // a request id reused for another request
      return 3;
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return 4;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:  // limits: the message says how long to wait
      return 5;
    default:
      return 1;
  }
}

namespace {

std::string Hint(const absl::Status& status) {
  std::string m(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      if (m.find("handshake") != std::string::npos || m.find("SSL") != std::string::npos ||
          m.find("ssl") != std::string::npos || m.find("certificate") != std::string::npos) {
        return " (TLS handshake failed: check BUDSTIKKE_CA matches the server's CA and that "
               "your certificate is signed by the server's CA)";
      }
      return " (is the server running at BUDSTIKKE_SERVER / --server?)";
    case absl::StatusCode::kDeadlineExceeded:
      return " (the server did not answer in time; is it reachable?)";
    case absl::StatusCode::kUnauthenticated:
      return " (check BUDSTIKKE_CERT / BUDSTIKKE_KEY: a certificate with one SPIFFE ID of this "
             "server's trust domain)";
    default:
      return "";
  }
}

}  // namespace

int ReportError(OutputFormat format, const absl::Status& status) {
  std::string name = CodeName(status.code());
  std::cerr << "budstikke: " << name << ": " << status.message() << Hint(status) << std::endl;
  if (format == OutputFormat::kJson) {
    nlohmann::json err{{"code", name},
                       {"message", std::string(status.message())},
                       {"violations", nlohmann::json::array()},
                       {"findings", nlohmann::json::array()}};
    if (auto details = ErrorDetailsOf(status)) {
      nlohmann::json d = ToJson(*details);
      err["violations"] = d["violations"];
      err["findings"] = d["findings"];
    }
    std::cout << nlohmann::json{{"error", err}}.dump() << std::endl;
  }
  return ExitCodeFor(status.code());
}

}  // namespace budstikke::cli
