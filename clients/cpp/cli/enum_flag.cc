#include "cli/enum_flag.h"

#include <cctype>
#include <map>

namespace budstikke::cli {
namespace {

// "Child-Welfare" -> "child_welfare": how names are compared.
std::string Normalize(std::string s) {
  for (char& c : s)
    c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

CLI::Validator EnumNames(const google::protobuf::EnumDescriptor* type, const std::string& choices) {
  // Value names share the prefix of the zero value "<PREFIX>UNSPECIFIED".
  std::string prefix = type->FindValueByNumber(0)->name();
  prefix.resize(prefix.size() - std::string("UNSPECIFIED").size());
  std::map<std::string, std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    if (type->value(i)->number() == 0) continue;
    names[Normalize(name.substr(prefix.size()))] = name;
  }
  CLI::CheckedTransformer transformer(names, Normalize);
  std::string error = "must be " + choices;
  return CLI::Validator(
      [transformer, error](std::string& value) {
        return transformer(value).empty() ? std::string() : error;
      },
      "");
}

int EnumNumber(const google::protobuf::EnumDescriptor* type, const std::string& full_name) {
  return type->FindValueByName(full_name)->number();
}

}  // namespace budstikke::cli
