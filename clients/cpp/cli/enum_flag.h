// Command-line values of protobuf enums, checked by CLI11 while parsing.
//
//   v1::AgencyType type = v1::AGENCY_TYPE_UNSPECIFIED;
//   AddEnumOption(cmd, "--type", &type, "bup, ppt or child_welfare");
//
// (an optional last argument is the help text; default: the choices)
// accepts the enum's value names without their prefix, in any case and with
// '-' or '_' ("child-welfare", "CHILD_WELFARE"; "3-5" for AGE_BAND_3_5), never
// the UNSPECIFIED value, and stores the value. Anything else is a usage error
// (exit 2): "<flag> must be <choices>". The names come from the enum's
// descriptor, so a value added to the proto is accepted without a code change.
#ifndef BUDSTIKKE_CLIENTS_CPP_CLI_ENUM_FLAG_H_
#define BUDSTIKKE_CLIENTS_CPP_CLI_ENUM_FLAG_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace budstikke::cli {

// A CLI11 CheckedTransformer from the short names of `type`'s values to their
// full names ("bup" -> "AGENCY_TYPE_BUP"); its error reads "must be <choices>".
CLI::Validator EnumNames(const google::protobuf::EnumDescriptor* type, const std::string& choices);

// The number of `type`'s value named `full_name` (as EnumNames produces it).
int EnumNumber(const google::protobuf::EnumDescriptor* type, const std::string& full_name);

template <typename E>
CLI::Option* AddEnumOption(CLI::App* cmd, const std::string& flag, E* out,
                           const std::string& choices, const std::string& help = "") {
  const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<E>();
  return cmd
      ->add_option_function<std::string>(
          flag, [out, type](const std::string& name) { *out = E(EnumNumber(type, name)); },
          help.empty() ? choices : help)
      ->transform(EnumNames(type, choices));
}

// The same for a repeatable flag (`--status open --status closed`).
template <typename E>
CLI::Option* AddEnumOption(CLI::App* cmd, const std::string& flag, std::vector<E>* out,
                           const std::string& choices, const std::string& help = "") {
  const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<E>();
  return cmd
      ->add_option_function<std::vector<std::string>>(
          flag,
          [out, type](const std::vector<std::string>& names) {
            for (const std::string& name : names) out->push_back(E(EnumNumber(type, name)));
          },
          help.empty() ? choices : help)
      ->transform(EnumNames(type, choices));
}

}  // namespace budstikke::cli

#endif  // BUDSTIKKE_CLIENTS_CPP_CLI_ENUM_FLAG_H_
