# National id and PII scanner targets.
set(_screening_dir ${CMAKE_CURRENT_LIST_DIR})

budstikke_cc_library(NAME national_id
  SRCS ${_screening_dir}/national_id.cc
  HDRS ${_screening_dir}/national_id.h
  DEPS absl::status absl::statusor absl::time)

# Header-only synthetic-id generator for tests of any module.
budstikke_cc_library(NAME national_id_testing
  HDRS ${_screening_dir}/national_id_testing.h
  DEPS budstikke::national_id)

budstikke_cc_test(NAME national_id_test SRCS ${_screening_dir}/national_id_test.cc
  DEPS budstikke::national_id budstikke::national_id_testing LABELS unit)

# The name list is embedded at build time (the scanner can also load one from
# a path given in ScannerConfig).
set(_pii_names_file ${_screening_dir}/pii/names_no.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pii_names_file})
file(READ ${_pii_names_file} BUDSTIKKE_PII_NAMES)
configure_file(${_screening_dir}/pii/names_embedded.cc.in
  ${CMAKE_CURRENT_BINARY_DIR}/pii/names_embedded.cc @ONLY)

# Public interface: pii/scanner.h. pii/internal/ holds the rules, one job per
# file (character classes, digit runs, numbers, dates, e-mail, names and
# their word lists, addresses); scanner.cc combines them.
set(_pii_dir ${_screening_dir}/pii)
budstikke_cc_library(NAME pii
  SRCS ${_pii_dir}/scanner.cc
       ${_pii_dir}/internal/text.cc
       ${_pii_dir}/internal/digit_run.cc
       ${_pii_dir}/internal/number_rules.cc
       ${_pii_dir}/internal/date_rules.cc
       ${_pii_dir}/internal/email_rule.cc
       ${_pii_dir}/internal/name_rules.cc
       ${_pii_dir}/internal/word_lists.cc
       ${_pii_dir}/internal/address_rules.cc
       ${CMAKE_CURRENT_BINARY_DIR}/pii/names_embedded.cc
  HDRS ${_pii_dir}/scanner.h
       ${_pii_dir}/internal/text.h
       ${_pii_dir}/internal/candidate.h
       ${_pii_dir}/internal/digit_run.h
       ${_pii_dir}/internal/number_rules.h
       ${_pii_dir}/internal/date_rules.h
       ${_pii_dir}/internal/email_rule.h
       ${_pii_dir}/internal/name_rules.h
       ${_pii_dir}/internal/word_lists.h
       ${_pii_dir}/internal/address_rules.h
  DEPS budstikke::national_id PkgConfig::RE2 absl::status absl::statusor
       absl::strings absl::time absl::flat_hash_map absl::flat_hash_set)

budstikke_cc_test(NAME pii_scanner_test SRCS ${_screening_dir}/pii/scanner_test.cc
  DEPS budstikke::pii budstikke::national_id_testing LABELS unit)
if(TARGET pii_scanner_test)
  target_compile_definitions(pii_scanner_test PRIVATE
    BUDSTIKKE_PII_TESTDATA="${_screening_dir}/pii/testdata")
endif()
